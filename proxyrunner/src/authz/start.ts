// Starts what --authz-config/--authz-config-inline and --audit ask for: the policy store
// (hot-reloading a file), the authorizer, the audit sink, their metrics, and the pipeline
// stage that uses them. Loaded by app.ts only when one of them is configured.
import type { Logger } from '../../../common/log.ts';
import type { ProxyConfig } from '../config.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { createAuditSink, type AuditSink } from '../audit/sink.ts';
import { createAuthorizer } from './authorizer.ts';
import { createAccessMetrics } from './metrics.ts';
import type { PrincipalSource } from './principal.ts';
import { createAccessStage, type AccessStage } from './stage.ts';
import { createPolicyStore, type PolicyStore } from './store.ts';

export interface Access {
  stage: AccessStage | undefined;
  store: PolicyStore | undefined;
  close(): Promise<void>;
}

export function startAccess(config: ProxyConfig, metrics: ProxyMetrics, log: Logger, principalOf: PrincipalSource): Access {
  const accessMetrics = createAccessMetrics(metrics.registry);
  let store: PolicyStore | undefined;
  if (config.authz) {
    store = createPolicyStore({ file: config.authz.file, inline: config.authz.inline, log, onReload: (result) => accessMetrics.authzReload(result) });
  }
  let sink: AuditSink | undefined;
  if (config.audit) sink = createAuditSink(config.audit.file, accessMetrics, log);
  const current = store;
  const stage = createAccessStage({
    authorizer: current ? createAuthorizer(() => current.current(), accessMetrics, log) : undefined,
    audit:
      sink && config.audit
        ? {
            sink,
            settings: {
              component: config.audit.component,
              transport: config.transport,
              includeRequestData: config.audit.includeRequestData,
              maxDataSize: config.audit.maxDataSize,
            },
          }
        : undefined,
    principalOf,
    onForbidden: () => metrics.rejected('forbidden'),
  });
  return {
    stage,
    store,
    async close() {
      store?.close();
      await sink?.close();
    },
  };
}
