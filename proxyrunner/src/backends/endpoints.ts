// Which backend pods may take traffic, computed from the backend Service's EndpointSlices
// (pure: no I/O). A backend is one endpoint address with the MCP port; it is usable only
// while the endpoint is `ready` and not `terminating` (Kubernetes sets ready=false on a
// terminating endpoint already; both are checked so a hand-written slice cannot route to a
// pod on its way out). Its key ("pod@host:port") is what a session is pinned to: the same
// on every proxy replica (the key is stored in the shared session table), and new when a
// pod comes back with a new address, so a re-created pod never inherits old pins.
//
// Address types: IPv4 and IPv6 (what the EndpointSlice controller writes) and FQDN. A
// `*.localhost` FQDN is the loopback address (RFC 6761 §6.3), resolved here rather than by
// the system resolver; the apiserver refuses loopback IPs in slices, so this is also how the
// test suite points real EndpointSlices at servers on 127.0.0.1 (distinct ports per slice).
import type { KubeObject } from '../../../common/kube/kinds.ts';

export interface EndpointSlice extends KubeObject {
  addressType?: string;
  ports?: { name?: string; port?: number; protocol?: string }[] | null;
  endpoints?:
    | {
        addresses?: string[];
        conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
        targetRef?: { kind?: string; name?: string; uid?: string };
      }[]
    | null;
}

export interface Backend {
  /** "pod@host:port" (pod omitted when the endpoint names none): the pin stored with a session. */
  key: string;
  /** The upstream URL for this backend: the target URL's scheme and path, this host and port. */
  url: URL;
}

/** `--backend-port`: a port name in the slices, or a number used as is. */
export type PortSelector = { name: string } | { number: number };

export function parsePortSelector(text: string): PortSelector {
  if (/^\d{1,5}$/.test(text)) {
    const number = Number(text);
    if (number >= 1 && number <= 65535) return { number };
  }
  if (/^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/.test(text) && /[a-z]/.test(text)) return { name: text }; // an IANA name has a letter
  throw new Error(`--backend-port must be a port number or an IANA port name (as in the Service), got ${JSON.stringify(text)}`);
}

const ADDRESS_TYPES = new Set(['IPv4', 'IPv6', 'FQDN']);

/** The port of this slice for the selector; undefined when the slice has none that matches. */
function slicePort(slice: EndpointSlice, selector: PortSelector): number | undefined {
  const ports = (slice.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP' && typeof p.port === 'number');
  if ('name' in selector) return ports.find((p) => p.name === selector.name)?.port;
  // A number: the backend listens there whatever the slice calls it (a slice may even list no ports).
  return selector.number;
}

function hostOf(address: string, addressType: string): string {
  if (addressType === 'FQDN' && (address === 'localhost' || address.endsWith('.localhost'))) return '127.0.0.1';
  return addressType === 'IPv6' ? `[${address}]` : address;
}

/** The ready backends of these slices, sorted by key (stable across replicas and calls). */
export function readyBackends(slices: Iterable<EndpointSlice>, selector: PortSelector, target: URL): Backend[] {
  const byKey = new Map<string, Backend>();
  for (const slice of slices) {
    const type = slice.addressType ?? '';
    if (!ADDRESS_TYPES.has(type)) continue;
    const port = slicePort(slice, selector);
    if (port === undefined) continue;
    for (const endpoint of slice.endpoints ?? []) {
      const conditions = endpoint.conditions ?? {};
      // The API's rule: a nil `ready` means ready.
      if (conditions.ready === false || conditions.terminating === true) continue;
      const address = endpoint.addresses?.[0]; // all addresses of one endpoint are the same pod
      if (typeof address !== 'string' || address === '') continue;
      const pod = endpoint.targetRef?.kind === 'Pod' || endpoint.targetRef?.kind === undefined ? endpoint.targetRef?.name : undefined;
      const hostPort = `${address}:${port}`;
      const key = pod ? `${pod}@${hostPort}` : hostPort;
      const url = new URL(target.href);
      url.host = `${hostOf(address, type)}:${port}`;
      byKey.set(key, { key, url });
    }
  }
  return [...byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}
