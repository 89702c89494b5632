// MCPAuthzConfig as a config kind. Hot reload, not a roll: the operator renders the config into
// a ConfigMap owned by each MCPServer that references it (mcp-<name>-proxy-authz, the file in
// ToolHive's format), mounted in the proxy at the --authz-config path. The pod template names
// only the ConfigMap, so an edit of the MCPAuthzConfig rewrites that ConfigMap and no pod: the
// kubelet swaps the mounted file (within its sync period, about a minute) and the proxy, which
// watches the file, compiles the new policies and switches to them with sessions intact; a set
// that does not compile is refused there too and the last good one stays. A roll would end
// every session of every proxy using the config for a policy edit, the most frequent change.
// The operator checks the config first (validate) with the proxy's own parser and the Cedar
// engine's parser (policies and entities, as the proxy compiles them), so a config the proxy
// would refuse is never written to the ConfigMap: the proxies keep the last good policies, and
// a proxy started later (a roll, a new replica) never starts on a file it cannot load. The
// engine (about 14 MiB of WebAssembly) is loaded on the first MCPAuthzConfig, not before, and
// verdicts are remembered by spec hash, so a reconcile does not re-parse an unchanged config.
// One ConfigMap per MCPServer (not one per MCPAuthzConfig) keeps the one-owner rule: every
// object the operator writes is owned by one MCPServer and written by that MCPServer's reconcile.
import { createRequire } from 'node:module';
import type * as CedarWasm from '@cedar-policy/cedar-wasm/nodejs';
import { authzConfigFile, parseAuthzConfig } from '../../../common/contract/authzConfig.ts';
import { CONFIGMAP, kindInfo } from '../../../common/kube/kinds.ts';
import { AUTHZ_KIND, AUTHZ_PLURAL, type MCPAuthzConfigSpec } from '../api/mcpauthzconfig/types.ts';
import { DEFAULT_AUTHZ_CONFIG_KEY, GROUP, VERSION, type MCPServer } from '../api/types.ts';
import { childMeta, finish } from '../builders/desired.ts';
import { childNames } from '../builders/meta.ts';
import { sha256 } from '../builders/canonical.ts';
import type { ConfigKind, ConfigObject, ProxyContribution } from './configKind.ts';
import { configHash } from './resolve.ts';

/** Annotation on the rendered ConfigMap (not on the pod template: an edit must not roll the proxy). */
export const AUTHZ_HASH_ANNOTATION = `${GROUP}/${AUTHZ_PLURAL.replace(/s$/, '')}-hash`;
export const AUTHZ_REF_MOUNT_PATH = '/etc/mcpfleet/authz-ref';
const VOLUME = 'authz-ref';

export const authzConfigMapName = (mcp: MCPServer): string => `${childNames(mcp.metadata.name).proxy}-authz`;

/** The file the proxy loads. */
function render(spec: MCPAuthzConfigSpec): string {
  return authzConfigFile(spec.config);
}

const load = createRequire(import.meta.url);
let cedar: typeof CedarWasm | undefined;
/** Verdicts by spec hash (bounded: cleared past MEMO_MAX; an entry is a few strings). */
const memo = new Map<string, string[]>();
const MEMO_MAX = 1024;

function cedarErrors(result: CedarWasm.CheckParseAnswer): string {
  return result.type === 'failure' ? result.errors.map((e) => e.message).join('; ') : '';
}

/** What the proxy's loader would refuse: the file format (shared parser), then Cedar syntax. */
function check(spec: MCPAuthzConfigSpec): string[] {
  let parsed;
  try {
    parsed = parseAuthzConfig(render(spec));
  } catch (err) {
    return [`config: ${(err as Error).message}`];
  }
  cedar ??= load('@cedar-policy/cedar-wasm/nodejs') as typeof CedarWasm;
  const staticPolicies: Record<string, string> = {};
  parsed.policies.forEach((text, i) => (staticPolicies[`policy${i}`] = text));
  const problems: string[] = [];
  const policies = cedar.checkParsePolicySet({ staticPolicies });
  if (policies.type === 'failure') problems.push(`config.policies: ${cedarErrors(policies)}`);
  const entities = cedar.checkParseEntities({ entities: parsed.entities });
  if (entities.type === 'failure') problems.push(`config.entities_json: ${cedarErrors(entities)}`);
  return problems;
}

export function validateAuthzSpec(spec: MCPAuthzConfigSpec): string[] {
  if (spec.type !== 'cedarv1') return [`type ${JSON.stringify(spec.type)} is not supported (cedarv1 only)`];
  if (typeof spec.config !== 'object' || spec.config === null || Array.isArray(spec.config)) return ['config must be an object'];
  const key = sha256(spec);
  let problems = memo.get(key);
  if (problems === undefined) {
    problems = check(spec);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(key, problems);
  }
  return [...problems];
}

export function authzContribution(config: ConfigObject<MCPAuthzConfigSpec>, mcp: MCPServer): ProxyContribution {
  const name = authzConfigMapName(mcp);
  const meta = childMeta(mcp, name, 'proxy');
  const configMap = finish({
    apiVersion: CONFIGMAP.apiVersion,
    kind: CONFIGMAP.kind,
    metadata: { ...meta, annotations: { [AUTHZ_HASH_ANNOTATION]: configHash(config) } },
    data: { [DEFAULT_AUTHZ_CONFIG_KEY]: render(config.spec) },
  });
  return {
    options: { authzConfigFile: `${AUTHZ_REF_MOUNT_PATH}/${DEFAULT_AUTHZ_CONFIG_KEY}` },
    volumes: [{ name: VOLUME, configMap: { name } }],
    volumeMounts: [{ name: VOLUME, mountPath: AUTHZ_REF_MOUNT_PATH, readOnly: true }],
    children: [configMap],
  };
}

export const AUTHZ_CONFIG_KIND: ConfigKind<MCPAuthzConfigSpec> = {
  info: kindInfo(AUTHZ_KIND, GROUP, VERSION, AUTHZ_PLURAL),
  refCondition: 'AuthzConfigRefValidated',
  reasonPrefix: 'AuthzConfigRef',
  refField: 'spec.authzConfigRef',
  refName: (spec) => spec.authzConfigRef?.name,
  validate: validateAuthzSpec,
  contribute: authzContribution,
};
