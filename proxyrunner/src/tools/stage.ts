// The tool stage of the request pipeline (--tool-config), in two steps around authorization
// so that Cedar judges the names the client sees (tool control first, then policy):
//   admit     (before authorization) a tools/call of a tool the client may not see is
//             refused here and never reaches the upstream (counted in
//             mcpfleet_proxy_tool_calls_refused_total{reason}); a tools/list gets its answer
//             rewritten (exchange.rewriteResponse, which the authorization stage wraps, so
//             its filter sees the rewritten list).
//   translate (after authorization) a call of a renamed tool is sent upstream under its
//             upstream name; on the transparent path the body is re-serialized, only then.
// Refusals are answered where the client waits for them: on /mcp the POST itself gets
// the JSON-RPC error (200, as an MCP server answers an unknown tool; in a batch every
// request is answered and none is forwarded — a batch is not partly executed, as with
// authorization); on the legacy SSE /messages route (Route.answersOnStream) the errors
// go to the session's event stream (exchange.localAnswers) and the rest is forwarded.
// A refused notification (a tools/call without id) is dropped. Both steps read the config
// once per request, so a reload never splits one request between two configs.
import type { Exchange } from '../http/exchange.ts';
import type { RpcMessage } from '../jsonrpc.ts';
import { idKey } from '../upstream/link.ts';
import type { ToolConfig } from '../../../common/contract/toolConfig.ts';
import { refusal, renameCall, rewriteToolList, routeToolCall, type RefusalReason } from './rewrite.ts';

export interface ToolStage {
  /** false = the stage answered the exchange itself. `route` is the pipeline's Route. */
  admit(exchange: Exchange, route: { answersOnStream?: boolean }): boolean;
  translate(exchange: Exchange): void;
}

export interface ToolStageDeps {
  current(): ToolConfig;
  refused(reason: RefusalReason): void;
}

const nameOf = (message: RpcMessage): string => {
  const name = message.params?.name;
  return typeof name === 'string' ? name : '';
};

const hasId = (message: RpcMessage): boolean => message.id !== undefined && message.id !== null;

export function createToolStage(deps: ToolStageDeps): ToolStage {
  /** Exchanges whose message list admit() changed: their body must be re-serialized. */
  const reshaped = new WeakSet<Exchange>();
  return {
    admit(exchange, route) {
      const rpc = exchange.rpc;
      if (!rpc) return true;
      const config = deps.current();
      let dropped: Set<RpcMessage> | undefined;
      let answers: RpcMessage[] | undefined;
      let lists: Set<string> | undefined;
      for (const message of rpc.messages) {
        if (message.method === 'tools/call') {
          const decision = routeToolCall(config, nameOf(message));
          if (decision.kind !== 'refuse') continue;
          deps.refused(decision.reason);
          (dropped ??= new Set()).add(message);
          if (hasId(message)) (answers ??= []).push(refusal(message, nameOf(message)));
        } else if (message.method === 'tools/list' && hasId(message)) {
          (lists ??= new Set()).add(idKey(message.id as string | number));
        }
      }
      if (lists && (config.filter || config.overrides.size > 0)) {
        const pending = lists;
        const inner = exchange.rewriteResponse;
        exchange.rewriteResponse = (message) => {
          const own = message.method === undefined && hasId(message) && pending.has(idKey(message.id as string | number));
          const rewritten = own ? rewriteToolList(config, message) : message;
          return inner ? inner(rewritten) : rewritten;
        };
      }
      if (!dropped) return true;
      const remaining = rpc.messages.filter((m) => !dropped.has(m));
      if (route.answersOnStream) {
        exchange.localAnswers = answers;
      } else if (answers) {
        answerPost(exchange, rpc.batch, rpc.messages, dropped, answers);
        return false;
      } else if (remaining.length === 0) {
        exchange.res.writeHead(202).end();
        return false;
      }
      exchange.rpc = { ...rpc, messages: remaining };
      reshaped.add(exchange);
      return true;
    },

    translate(exchange) {
      const rpc = exchange.rpc;
      if (!rpc) return;
      let messages: RpcMessage[] | undefined;
      const config = deps.current();
      for (let i = 0; i < rpc.messages.length; i++) {
        const message = rpc.messages[i] as RpcMessage;
        if (message.method !== 'tools/call') continue;
        const decision = routeToolCall(config, nameOf(message));
        if (decision.kind !== 'rename') continue;
        messages ??= rpc.messages.slice();
        messages[i] = renameCall(message, decision.upstreamName);
      }
      if (messages) exchange.rpc = { ...rpc, messages };
      if (!messages && !reshaped.has(exchange)) return;
      const out = exchange.rpc as typeof rpc;
      // The transparent path sends the body as bytes; the message path sends `messages`.
      if (out.messages.length > 0) exchange.body = Buffer.from(JSON.stringify(out.batch ? out.messages : out.messages[0]));
    },
  };
}

/** The POST's answer when tool calls in it were refused: every request answered, none forwarded. */
function answerPost(exchange: Exchange, batch: boolean, messages: readonly RpcMessage[], dropped: ReadonlySet<RpcMessage>, answers: RpcMessage[]): void {
  for (const answer of answers) exchange.observeResponse?.(answer); // tracing sees the refusal
  let body: string;
  if (!batch) {
    body = JSON.stringify(answers[0]);
  } else {
    const byMessage = new Map<RpcMessage, RpcMessage>();
    let next = 0;
    for (const m of messages) if (dropped.has(m) && hasId(m)) byMessage.set(m, answers[next++] as RpcMessage);
    const all = messages
      .filter((m) => m.method !== undefined && hasId(m))
      .map(
        (m) =>
          byMessage.get(m) ?? {
            jsonrpc: '2.0',
            id: m.id,
            error: { code: -32600, message: 'Not executed: another request in this batch names a tool this server does not have' },
          },
      );
    body = JSON.stringify(all);
  }
  const { res } = exchange;
  res.statusCode = 200;
  res.setHeader('content-type', 'application/json');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}
