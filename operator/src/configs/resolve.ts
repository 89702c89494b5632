// Pure: an MCPServer's references to config kinds -> what they contribute to its proxy, and one
// verdict per reference for its conditions. A reference to a config that does not exist, or that
// the operator finds invalid, contributes nothing and marks the resolution broken: the reconciler
// then holds the proxy at its last good Deployment (see reconciler.ts for why) and the MCPServer
// is not Ready, with the reason in the reference's condition.
import { sha256 } from '../builders/canonical.ts';
import type { MCPServer } from '../api/types.ts';
import type { AnyConfigKind, ConfigObject, ProxyContribution } from './configKind.ts';

export interface RefVerdict {
  /** The MCPServer condition type (kind.refCondition). */
  type: string;
  ok: boolean;
  reason: string;
  message: string;
}

export interface Resolution {
  contributions: ProxyContribution[];
  verdicts: RefVerdict[];
  /** Some reference is missing or invalid. */
  broken: boolean;
  /** Which config versions were used ("" without references): part of the desired-objects memo key. */
  fingerprint: string;
}

export type ConfigLookup = (kind: AnyConfigKind, namespace: string, name: string) => ConfigObject | undefined;

/** sha256 of a config's spec: its status.configHash, and the proxy pod annotation of kinds that roll. */
export function configHash(config: ConfigObject): string {
  return sha256(config.spec ?? {});
}

/** The index key under which an MCPServer is found from a config it references: "<plural>:<namespace>/<name>". */
export function refIndexKey(kind: AnyConfigKind, namespace: string, name: string): string {
  return `${kind.info.plural}:${namespace}/${name}`;
}

/** Every config reference of an MCPServer, as index keys. */
export function refIndexKeys(mcp: MCPServer, kinds: readonly AnyConfigKind[]): string[] {
  const ns = mcp.metadata.namespace;
  if (ns === undefined || mcp.spec === undefined) return [];
  const keys: string[] = [];
  for (const kind of kinds) {
    const name = kind.refName(mcp.spec);
    if (name !== undefined) keys.push(refIndexKey(kind, ns, name));
  }
  return keys;
}

export function resolveConfigs(mcp: MCPServer, kinds: readonly AnyConfigKind[], lookup: ConfigLookup): Resolution {
  const namespace = mcp.metadata.namespace ?? '';
  const contributions: ProxyContribution[] = [];
  const verdicts: RefVerdict[] = [];
  const used: string[] = [];
  let broken = false;
  for (const kind of kinds) {
    const name = kind.refName(mcp.spec);
    if (name === undefined) continue;
    const what = `${kind.info.kind} ${name}`;
    const config = lookup(kind, namespace, name);
    if (config === undefined || (config.metadata.deletionTimestamp !== undefined && config.metadata.deletionTimestamp !== null)) {
      broken = true;
      verdicts.push({
        type: kind.refCondition,
        ok: false,
        reason: `${kind.reasonPrefix}NotFound`,
        message: `${kind.refField} names ${what}, which does not exist in namespace ${namespace}; the proxy keeps its last good configuration`,
      });
      continue;
    }
    const problems = kind.validate(config.spec);
    if (problems.length > 0) {
      broken = true;
      verdicts.push({
        type: kind.refCondition,
        ok: false,
        reason: `${kind.reasonPrefix}NotValid`,
        message: `${what} is not valid: ${problems.join('; ')}; the proxy keeps its last good configuration`,
      });
      continue;
    }
    contributions.push(kind.contribute(config, mcp));
    used.push(`${kind.info.plural}/${name}@${config.metadata.uid ?? ''}:${config.metadata.generation ?? config.metadata.resourceVersion ?? ''}`);
    verdicts.push({ type: kind.refCondition, ok: true, reason: `${kind.reasonPrefix}Valid`, message: `${what} is valid and in use` });
  }
  return { contributions, verdicts, broken, fingerprint: used.join(',') };
}
