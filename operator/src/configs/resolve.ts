// Pure: an MCPServer's references to config kinds -> what they contribute to its proxy, and one
// verdict per reference for its conditions. A reference to a config that does not exist, or that
// the operator finds invalid, contributes nothing and marks the resolution broken: the reconciler
// then holds the proxy at its last good Deployment (see reconciler.ts for why) and the MCPServer
// is not Ready, with the reason in the reference's condition.
//
// ConfigMaps count as part of what they configure: a ConfigMap a config reads at proxy start (an
// MCPOIDCConfig's CA bundle) and the ConfigMap of the MCPServer's own authzConfig (type configMap)
// break the resolution when missing, exactly like a missing config (a pod that mounts a missing
// ConfigMap never starts). A start-time ConfigMap's content hash annotates the proxy pod template
// (CONFIGMAPS_HASH_ANNOTATION) so an edit rolls the proxy; the authzConfig ConfigMap is re-read by
// the proxy itself, so only its existence matters. The operator keeps a hash of each ConfigMap's
// data, never the data (controller/watches.ts).
import { sha256 } from '../builders/canonical.ts';
import { GROUP, type MCPServer } from '../api/types.ts';
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
/** A ConfigMap's data hash, or undefined when it does not exist. */
export type ConfigMapLookup = (namespace: string, name: string) => string | undefined;

/** The proxy pod template annotation with the hash of the ConfigMaps its configs read at start. */
export const CONFIGMAPS_HASH_ANNOTATION = `${GROUP}/configmaps-hash`;
/** The MCPServer condition of its own authzConfig (type configMap): does the ConfigMap exist. */
export const AUTHZ_CONFIG_CONDITION = 'AuthzConfigValidated';

/** The index key of an MCPServer by a ConfigMap it depends on directly (authzConfig.configMap). */
export function configMapIndexKey(namespace: string, name: string): string {
  return `configmaps:${namespace}/${name}`;
}

/** The ConfigMap named by the MCPServer's own authzConfig (type configMap), if any. */
export function authzConfigMapName(mcp: MCPServer): string | undefined {
  const authz = mcp.spec?.authzConfig;
  return authz !== undefined && authz.type !== 'inline' ? authz.configMap?.name : undefined;
}

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
  const configMap = authzConfigMapName(mcp);
  if (configMap !== undefined) keys.push(configMapIndexKey(ns, configMap));
  return keys;
}

export function resolveConfigs(
  mcp: MCPServer,
  kinds: readonly AnyConfigKind[],
  lookup: ConfigLookup,
  configMapLookup: ConfigMapLookup = () => undefined,
): Resolution {
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
    const configMaps = (kind.configMaps?.(config.spec) ?? []).map((cm) => ({ name: cm, hash: configMapLookup(namespace, cm) }));
    const missing = configMaps.filter((cm) => cm.hash === undefined).map((cm) => cm.name);
    if (missing.length > 0) {
      broken = true;
      verdicts.push({
        type: kind.refCondition,
        ok: false,
        reason: `${kind.reasonPrefix}ConfigMapNotFound`,
        message: `${what} reads ConfigMap ${missing.join(', ')}, which does not exist in namespace ${namespace}; the proxy keeps its last good configuration`,
      });
      continue;
    }
    const contribution = kind.contribute(config, mcp);
    if (configMaps.length > 0) {
      const hash = sha256(configMaps.map((cm) => `${cm.name}:${cm.hash ?? ''}`));
      contribution.podAnnotations = { ...contribution.podAnnotations, [CONFIGMAPS_HASH_ANNOTATION]: hash };
    }
    contributions.push(contribution);
    used.push(
      `${kind.info.plural}/${name}@${config.metadata.uid ?? ''}:${config.metadata.generation ?? config.metadata.resourceVersion ?? ''}` +
        configMaps.map((cm) => `+${cm.name}:${cm.hash ?? ''}`).join(''),
    );
    verdicts.push({ type: kind.refCondition, ok: true, reason: `${kind.reasonPrefix}Valid`, message: `${what} is valid and in use` });
  }
  const authzConfigMap = authzConfigMapName(mcp);
  if (authzConfigMap !== undefined) {
    if (configMapLookup(namespace, authzConfigMap) === undefined) {
      broken = true;
      verdicts.push({
        type: AUTHZ_CONFIG_CONDITION,
        ok: false,
        reason: 'AuthzConfigMapNotFound',
        message: `spec.authzConfig.configMap names ConfigMap ${authzConfigMap}, which does not exist in namespace ${namespace}; the proxy keeps its last good configuration`,
      });
    } else {
      verdicts.push({ type: AUTHZ_CONFIG_CONDITION, ok: true, reason: 'AuthzConfigMapFound', message: `ConfigMap ${authzConfigMap} exists` });
    }
  }
  return { contributions, verdicts, broken, fingerprint: used.join(',') };
}
