// The access stage of the request pipeline (after the body is parsed, before the
// upstream): every JSON-RPC request of a POST is authorized, list requests get their
// answers filtered, and each operation is audited when the response closes.
//   - a denied request answers the whole POST 403 with JSON-RPC errors; in a batch, every
//     request gets one (denied ones "Forbidden", the rest "not executed") and nothing of
//     the batch reaches the upstream — a batch is not partly executed.
//   - the error names the action and target the client itself sent, never a policy.
//   - list filtering is attached to the exchange (rewriteResponse) for the upstream kind
//     to apply: ClientSession on the message path, the response rewrite on the
//     transparent path.
import { performance } from 'node:perf_hooks';
import type { Exchange } from '../http/exchange.ts';
import { FORBIDDEN, type RpcMessage } from '../jsonrpc.ts';
import { idKey } from '../upstream/link.ts';
import type { AuditSink } from '../audit/sink.ts';
import { buildEvent, type AuditOutcome, type EventSettings } from '../audit/event.ts';
import type { Authorizer } from './authorizer.ts';
import { LIST_METHODS, operationOf } from './operations.ts';
import type { PrincipalSource } from './principal.ts';

export interface AccessStageDeps {
  authorizer: Authorizer | undefined;
  audit: { sink: AuditSink; settings: EventSettings } | undefined;
  principalOf: PrincipalSource;
  /** Counts a refusal (mcpfleet_proxy_requests_rejected_total{reason="forbidden"}). */
  onForbidden(): void;
}

/** Returns false when the stage answered the exchange itself (denied). */
export type AccessStage = (exchange: Exchange) => boolean;

export function createAccessStage(deps: AccessStageDeps): AccessStage | undefined {
  const { authorizer, audit } = deps;
  if (!authorizer && !audit) return undefined;

  return (exchange) => {
    const rpc = exchange.rpc;
    if (!rpc) return true;
    const principal = deps.principalOf(exchange);
    const started = audit ? performance.now() : 0;
    let denied: Set<RpcMessage> | undefined;
    let lists: Map<string, string> | undefined;

    if (authorizer) {
      for (const message of rpc.messages) {
        const operation = operationOf(message);
        if (!operation) continue;
        if (operation.operation === 'list') {
          if (authorizer.listForbidden(principal, operation)) (denied ??= new Set()).add(message);
          else if (message.id !== undefined && message.id !== null) (lists ??= new Map()).set(idKey(message.id), message.method);
        } else if (authorizer.decide(principal, operation) === 'deny') {
          (denied ??= new Set()).add(message);
        }
      }
    }

    if (audit) {
      exchange.onClose(() => {
        const { res, req } = exchange;
        const status = res.headersSent ? res.statusCode : 499;
        const failed: AuditOutcome = status >= 400 ? 'error' : 'success';
        for (const message of rpc.messages) {
          if (message.method === undefined) continue;
          const outcome: AuditOutcome = denied ? (denied.has(message) ? 'denied' : 'error') : failed;
          audit.sink.write(
            buildEvent(
              {
                message,
                principal,
                outcome,
                status,
                durationMs: performance.now() - started,
                sourceAddress: req.socket.remoteAddress ?? '',
                userAgent: req.headers['user-agent'],
                sessionId: exchange.sessionId,
                endpoint: (req.url ?? '/').split('?')[0] as string,
              },
              audit.settings,
            ),
          );
        }
      });
    }

    if (denied) {
      deps.onForbidden();
      answerForbidden(exchange, rpc.messages, denied);
      return false;
    }
    if (lists && authorizer) {
      const pending = lists;
      // The tool stage's rewrite (if any) runs first: Cedar filters the names the client sees.
      const inner = exchange.rewriteResponse;
      exchange.rewriteResponse = (received) => {
        const message = inner ? inner(received) : received;
        if (message.method !== undefined || message.id === undefined || message.id === null) return message;
        const method = pending.get(idKey(message.id));
        return method && LIST_METHODS[method] ? authorizer.filterList(principal, method, message) : message;
      };
    }
    return true;
  };
}

function describe(message: RpcMessage): string {
  const operation = operationOf(message);
  if (!operation) return message.method ?? 'request';
  return operation.target === undefined ? operation.action : `${operation.action} ${JSON.stringify(operation.target)}`;
}

function answerForbidden(exchange: Exchange, messages: readonly RpcMessage[], denied: ReadonlySet<RpcMessage>): void {
  const { res } = exchange;
  const errors = messages
    .filter((m) => m.method !== undefined && m.id !== undefined && m.id !== null)
    .map((m) => ({
      jsonrpc: '2.0',
      id: m.id,
      error: denied.has(m)
        ? { code: FORBIDDEN, message: `Forbidden: not authorized to ${describe(m)}` }
        : { code: FORBIDDEN, message: 'Forbidden: not executed, another request in this batch was not authorized' },
    }));
  const single = messages.length === 1;
  const body = JSON.stringify(
    single
      ? (errors[0] ?? { jsonrpc: '2.0', id: null, error: { code: FORBIDDEN, message: `Forbidden: not authorized to ${describe(messages[0] as RpcMessage)}` } })
      : errors,
  );
  res.statusCode = 403;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}
