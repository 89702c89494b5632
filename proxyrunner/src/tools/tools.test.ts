// The pure parts of tool control: parsing ToolHive's MCPToolConfig spec, routing a
// tools/call, and rewriting a tools/list result.
import { describe, expect, it } from '@jest/globals';
import { parseToolConfig, ToolConfigError } from '../../../common/contract/toolConfig.ts';
import { renameCall, refusal, rewriteToolList, routeToolCall } from './rewrite.ts';

const list = (tools: unknown[], extra: Record<string, unknown> = {}) => ({ jsonrpc: '2.0' as const, id: 1, result: { tools, ...extra } });
const names = (message: { result?: unknown }): string[] => ((message.result as { tools: { name: string }[] }).tools ?? []).map((t) => t.name);

describe('parseToolConfig', () => {
  it('reads the spec in JSON or YAML, or a whole MCPToolConfig resource', () => {
    const spec = parseToolConfig('{"toolsFilter": ["a"], "toolsOverride": {"b": {"name": "c", "description": "d"}}}');
    expect([...(spec.filter ?? [])]).toEqual(['a']);
    expect(spec.overrides.get('b')).toEqual({ name: 'c', description: 'd', annotations: undefined });
    expect(spec.upstreamNameOf.get('c')).toBe('b');
    const resource = parseToolConfig(
      'apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPToolConfig\nmetadata: {name: x}\nspec:\n  toolsOverride:\n    b: {annotations: {readOnlyHint: false, title: T}}\n',
    );
    expect(resource.filter).toBeUndefined();
    expect(resource.overrides.get('b')?.annotations).toEqual({ readOnlyHint: false, title: 'T' });
    expect(parseToolConfig('{}').overrides.size).toBe(0);
    // ToolHive: empty strings mean "not overridden".
    expect(parseToolConfig('toolsOverride: {b: {name: "", description: x}}').upstreamNameOf.size).toBe(0);
  });

  it.each([
    ['', /empty/],
    ['[1]', /the config must be an object/],
    ['toolFilter: [a]', /unknown field "toolFilter"/],
    ['kind: MCPServer\nspec: {}', /kind must be MCPToolConfig/],
    ['toolsFilter: a', /toolsFilter must be a list/],
    ['toolsFilter: [a, 3]', /toolsFilter\[1\] must be a non-empty tool name/],
    ['toolsOverride: {b: {}}', /toolsOverride\.b: give a name, a description or annotations/],
    ['toolsOverride: {b: {nam: c}}', /toolsOverride\.b: unknown field "nam"/],
    ['toolsOverride: {b: {annotations: {readOnlyHint: "yes"}}}', /toolsOverride\.b\.annotations\.readOnlyHint must be a boolean/],
    ['toolsOverride: {b: {annotations: {hint: true}}}', /unknown field "hint"/],
    ['toolsOverride: {a: {name: x}, b: {name: x}}', /a and b are both renamed to "x"/],
    ['{ not yaml', /not valid JSON or YAML/],
  ])('refuses %j', (text, message) => {
    expect(() => parseToolConfig(text)).toThrow(ToolConfigError);
    expect(() => parseToolConfig(text)).toThrow(message);
  });
});

describe('routeToolCall', () => {
  const config = parseToolConfig(
    'toolsFilter: [web_fetch, echo, sum]\ntoolsOverride: {fetch: {name: web_fetch}, sum: {name: add}, a: {name: b}, b: {name: a}}',
  );

  it('renames, refuses the upstream names of renamed tools and filtered ones, passes the rest', () => {
    expect(routeToolCall(config, 'web_fetch')).toEqual({ kind: 'rename', upstreamName: 'fetch' });
    expect(routeToolCall(config, 'add')).toEqual({ kind: 'rename', upstreamName: 'sum' }); // listed by its upstream name
    expect(routeToolCall(config, 'echo')).toEqual({ kind: 'pass' });
    expect(routeToolCall(config, 'fetch')).toEqual({ kind: 'refuse', reason: 'renamed' });
    expect(routeToolCall(config, 'sum')).toEqual({ kind: 'refuse', reason: 'renamed' });
    expect(routeToolCall(config, 'secret')).toEqual({ kind: 'refuse', reason: 'filtered' });
    expect(routeToolCall(config, '')).toEqual({ kind: 'refuse', reason: 'filtered' });
  });

  it('handles two tools that swap names, and no filter at all', () => {
    const swap = parseToolConfig('toolsOverride: {a: {name: b}, b: {name: a}}');
    expect(routeToolCall(swap, 'a')).toEqual({ kind: 'rename', upstreamName: 'b' });
    expect(routeToolCall(swap, 'b')).toEqual({ kind: 'rename', upstreamName: 'a' });
    expect(routeToolCall(swap, 'c')).toEqual({ kind: 'pass' });
  });

  it('builds the upstream request and the refusal without touching the client message', () => {
    const message = { jsonrpc: '2.0' as const, id: 7, method: 'tools/call', params: { name: 'web_fetch', arguments: { u: 1 }, _meta: { progressToken: 't' } } };
    expect(renameCall(message, 'fetch')).toEqual({ ...message, params: { ...message.params, name: 'fetch' } });
    expect(message.params.name).toBe('web_fetch');
    expect(refusal(message, 'x')).toEqual({ jsonrpc: '2.0', id: 7, error: { code: -32602, message: 'Unknown tool: x' } });
  });
});

describe('rewriteToolList', () => {
  const config = parseToolConfig(
    'toolsFilter: [web_fetch, echo, sum]\ntoolsOverride:\n  fetch: {name: web_fetch, description: D, annotations: {readOnlyHint: true}}\n  sum: {name: add}\n',
  );

  it('drops filtered and shadowed tools, applies overrides, merges annotations, keeps other fields', () => {
    const out = rewriteToolList(
      config,
      list(
        [
          { name: 'fetch', description: 'd', inputSchema: {}, annotations: { title: 'F', readOnlyHint: false } },
          { name: 'echo', inputSchema: {} },
          { name: 'secret' },
          { name: 'sum' },
          { name: 'web_fetch', description: 'the upstream one' },
          { nameless: true },
          'junk',
        ],
        { nextCursor: 'c', _meta: { m: 1 } },
      ),
    );
    expect(out.result).toEqual({
      tools: [
        { name: 'web_fetch', description: 'D', inputSchema: {}, annotations: { title: 'F', readOnlyHint: true } },
        { name: 'echo', inputSchema: {} },
        { name: 'add' },
      ],
      nextCursor: 'c',
      _meta: { m: 1 },
    });
  });

  it('keeps the cursor of a page that filters to empty, and leaves errors and odd results alone', () => {
    expect(rewriteToolList(config, list([{ name: 'secret' }], { nextCursor: 'n' })).result).toEqual({ tools: [], nextCursor: 'n' });
    const error = { jsonrpc: '2.0' as const, id: 1, error: { code: -1, message: 'x' } };
    expect(rewriteToolList(config, error)).toBe(error);
    const odd = { jsonrpc: '2.0' as const, id: 1, result: { tools: 'no' } };
    expect(rewriteToolList(config, odd)).toBe(odd);
    expect(names(rewriteToolList(parseToolConfig('{}'), list([{ name: 'a' }])))).toEqual(['a']);
  });
});
