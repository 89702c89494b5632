// The pure parts of authorization, with the real Cedar engine where a decision is asked:
// action mapping, entity building, claim conversion, config parsing, list filtering.
import { describe, expect, it } from '@jest/globals';
import { toCedarRecord, argumentAttributes } from './cedarValues.ts';
import { parseAuthzConfig, AuthzConfigError } from './config.ts';
import { compilePolicies } from './engine.ts';
import { ANONYMOUS, buildQuery, groupsOf, sanitizeResourceUri } from './entities.ts';
import { filterListResponse } from './listFilter.ts';
import { itemOperation, operationOf } from './operations.ts';
import type { Principal } from './principal.ts';

const req = (method: string, params?: Record<string, unknown>) => ({ jsonrpc: '2.0' as const, id: 1, method, params });

describe('operationOf: MCP methods to ToolHive actions', () => {
  it('maps calls, gets, reads and lists', () => {
    expect(operationOf(req('tools/call', { name: 'echo', arguments: { message: 'x' } }))).toEqual({
      action: 'call_tool',
      feature: 'tool',
      operation: 'call',
      target: 'echo',
      arguments: { message: 'x' },
    });
    expect(operationOf(req('prompts/get', { name: 'p' }))).toMatchObject({ action: 'get_prompt', target: 'p' });
    expect(operationOf(req('resources/read', { uri: 'file:///a' }))).toMatchObject({ action: 'read_resource', target: 'file:///a' });
    expect(operationOf(req('resources/subscribe', { uri: 'file:///a' }))).toMatchObject({ action: 'read_resource', target: 'file:///a' });
    expect(operationOf(req('tools/list'))).toMatchObject({ action: 'list_tools', feature: 'tool', target: undefined });
    expect(operationOf(req('prompts/list'))).toMatchObject({ action: 'list_prompts' });
    expect(operationOf(req('resources/list'))).toMatchObject({ action: 'list_resources' });
  });

  it('checks completions against the prompt or resource they reveal', () => {
    expect(operationOf(req('completion/complete', { ref: { type: 'ref/prompt', name: 'p' } }))).toMatchObject({ action: 'get_prompt', target: 'p' });
    expect(operationOf(req('completion/complete', { ref: { type: 'ref/resource', uri: 'u' } }))).toMatchObject({ action: 'read_resource', target: 'u' });
  });

  it('asks nothing of protocol plumbing and responses', () => {
    for (const method of ['initialize', 'ping', 'notifications/initialized', 'logging/setLevel', 'tasks/get']) expect(operationOf(req(method))).toBeUndefined();
    expect(operationOf({ jsonrpc: '2.0', id: 1, result: {} })).toBeUndefined();
  });

  it('treats a missing or non-string name as the empty name (which no sensible policy permits)', () => {
    expect(operationOf(req('tools/call', { name: 42 }))).toMatchObject({ target: '' });
  });
});

describe('Cedar values from JSON', () => {
  it('converts claims, dropping what Cedar cannot hold and its escape keys', () => {
    const record = toCedarRecord(
      { s: 'x', n: 3, f: 1.5, big: 1e300, b: true, nil: null, list: ['a', null, 2], obj: { __entity: { type: 'Admin', id: 'x' }, k: 'v' } },
      0,
      'claim_',
    );
    expect(record).toEqual({
      claim_s: 'x',
      claim_n: 3,
      claim_f: { __extn: { fn: 'decimal', arg: '1.5000' } },
      claim_b: true,
      claim_list: ['a', 2],
      claim_obj: { k: 'v' },
    });
  });

  it('caps nesting depth', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 50; i++) deep = { d: deep };
    expect(JSON.stringify(toCedarRecord({ deep: deep }))).not.toContain('bottom');
  });

  it('exposes scalar arguments as arg_* and structured ones by presence', () => {
    expect(argumentAttributes({ city: 'Paris', n: 2, opts: { a: 1 }, list: [1], nothing: null })).toEqual({
      arg_city: 'Paris',
      arg_n: 2,
      arg_opts_present: true,
      arg_list_present: true,
    });
  });
});

describe('entities', () => {
  const settings = { groupClaimName: undefined, roleClaimName: undefined, groupEntityType: 'THVGroup', configured: new Map() };

  it('finds groups in the configured claim, else the well-known ones, plus roles', () => {
    expect(groupsOf({ groups: ['a', 'b'], roles: ['c'] }, settings)).toEqual(['a', 'b']);
    expect(groupsOf({ roles: ['c'] }, settings)).toEqual(['c']);
    expect(groupsOf({ 'cognito:groups': ['g'] }, settings)).toEqual(['g']);
    expect(groupsOf({ realm_access: { roles: ['r'] }, groups: ['a'] }, { groupClaimName: 'realm_access.roles', roleClaimName: undefined })).toEqual(['r']);
    expect(groupsOf({ groups: ['a'], perms: ['a', 'p'] }, { groupClaimName: undefined, roleClaimName: 'perms' })).toEqual(['a', 'p']);
    expect(groupsOf({ groups: 'not-a-list' }, settings)).toEqual([]);
  });

  it('builds principal, action, resource and context like ToolHive', () => {
    const principal: Principal = { subject: 'alice', claims: { sub: 'alice', groups: ['eng'] } };
    const query = buildQuery(settings, principal, itemOperation('tool', 'weather', { city: 'Oslo' }));
    expect(query.principal).toEqual({ type: 'Client', id: 'alice' });
    expect(query.action).toEqual({ type: 'Action', id: 'call_tool' });
    expect(query.resource).toEqual({ type: 'Tool', id: 'weather' });
    expect(query.context).toEqual({ claim_sub: 'alice', claim_groups: ['eng'], arg_city: 'Oslo', authenticated: true });
    expect(query.entities[0]).toEqual({
      uid: { type: 'Client', id: 'alice' },
      attrs: { claim_sub: 'alice', claim_groups: ['eng'] },
      parents: [{ type: 'THVGroup', id: 'eng' }],
    });
    expect(query.entities[2]?.attrs).toEqual({ arg_city: 'Oslo', name: 'weather', operation: 'call', feature: 'tool' });
  });

  it('makes the unauthenticated caller Anonymous, and resource ids ToolHive-sanitized', () => {
    const query = buildQuery(settings, undefined, itemOperation('resource', 'file:///a b.txt'));
    expect(query.principal).toEqual(ANONYMOUS);
    expect(query.context).toEqual({ authenticated: false });
    expect(query.resource).toEqual({ type: 'Resource', id: 'file____a_b_txt' });
    expect(query.entities[2]?.attrs).toMatchObject({ uri: 'file:///a b.txt', name: 'file:///a b.txt' });
    expect(sanitizeResourceUri('a?b=c&d#e\\f')).toBe('a_b_c_d_e_f');
  });
});

describe('config', () => {
  it('reads ToolHive JSON and YAML, entities_json as a string or a list', () => {
    const json = parseAuthzConfig(
      JSON.stringify({
        version: '1.0',
        type: 'cedarv1',
        cedar: { policies: ['permit(principal, action, resource);'], entities_json: '[{"uid":{"type":"Tool","id":"x"}}]' },
      }),
    );
    expect(json.entities).toEqual([{ uid: { type: 'Tool', id: 'x' }, attrs: {}, parents: [] }]);
    expect(json.groupEntityType).toBe('THVGroup');
    const yaml = parseAuthzConfig(
      'type: cedarv1\ncedar:\n  policies: ["permit(principal, action, resource);"]\n  group_claim_name: roles\n  group_entity_type: Team\n',
    );
    expect(yaml).toMatchObject({ groupClaimName: 'roles', groupEntityType: 'Team', entities: [] });
  });

  it('rejects what it cannot use, naming the field', () => {
    expect(() => parseAuthzConfig('type: opa')).toThrow(/type must be "cedarv1"/);
    expect(() => parseAuthzConfig('type: cedarv1\ncedar: {policies: []}')).toThrow(/non-empty list/);
    expect(() => parseAuthzConfig('type: cedarv1\ncedar: {policies: ["x"], entities_json: "{"}')).toThrow(/entities_json is not valid JSON/);
    expect(() => parseAuthzConfig('type: cedarv1\ncedar: {policies: ["x"], group_entity_type: "A::B"}')).toThrow(AuthzConfigError);
    expect(() => parseAuthzConfig('[')).toThrow(/not valid JSON or YAML/);
  });
});

describe('engine (real Cedar)', () => {
  const compile = (policies: string[], entities = '[]', id = `test-${Math.random()}`) =>
    compilePolicies(parseAuthzConfig(JSON.stringify({ type: 'cedarv1', cedar: { policies, entities_json: entities } })), id);
  const alice: Principal = { subject: 'alice', claims: { sub: 'alice', groups: ['eng'], level: 3 } };
  const decide = (compiled: ReturnType<typeof compile>, principal: Principal | undefined, tool: string, args?: Record<string, unknown>) =>
    compiled.evaluate(buildQuery(compiled.settings, principal, itemOperation('tool', tool, args))).decision;

  it('decides the policy matrix: allowed, default-denied, group, forbid over permit, claims and arguments', () => {
    const compiled = compile([
      'permit(principal, action == Action::"call_tool", resource == Tool::"echo");',
      'permit(principal in THVGroup::"eng", action == Action::"call_tool", resource == Tool::"deploy");',
      'forbid(principal, action, resource == Tool::"deploy") when { context.arg_env == "prod" };',
      'permit(principal, action == Action::"call_tool", resource == Tool::"grade") when { principal.claim_level >= 3 };',
    ]);
    expect(decide(compiled, alice, 'echo')).toBe('allow');
    expect(decide(compiled, undefined, 'echo')).toBe('allow');
    expect(decide(compiled, alice, 'other')).toBe('deny');
    expect(decide(compiled, alice, 'deploy', { env: 'dev' })).toBe('allow');
    expect(decide(compiled, { subject: 'bob', claims: { sub: 'bob' } }, 'deploy', { env: 'dev' })).toBe('deny');
    expect(decide(compiled, alice, 'deploy', { env: 'prod' })).toBe('deny');
    expect(decide(compiled, alice, 'grade')).toBe('allow');
    expect(decide(compiled, undefined, 'grade')).toBe('deny');
  });

  it('tells a forbid apart from the default deny (lists are open unless forbidden)', () => {
    const compiled = compile([
      'forbid(principal is Anonymous, action == Action::"list_tools", resource);',
      'permit(principal, action == Action::"call_tool", resource);',
    ]);
    const list = (p: Principal | undefined) => compiled.evaluate(buildQuery(compiled.settings, p, operationOf(req('tools/list')) as never));
    expect(list(undefined)).toMatchObject({ decision: 'deny', forbiddenBy: 1 });
    expect(list(alice)).toMatchObject({ decision: 'deny', forbiddenBy: 0 });
  });

  it('merges configured entities into the request, so tools can be grouped', () => {
    const compiled = compile(
      ['permit(principal, action, resource in ToolGroup::"safe");'],
      '[{"uid":{"type":"Tool","id":"echo"},"parents":[{"type":"ToolGroup","id":"safe"}]}]',
    );
    expect(decide(compiled, alice, 'echo')).toBe('allow');
    expect(decide(compiled, alice, 'rm')).toBe('deny');
  });

  it('cannot be tricked by claims that look like Cedar entity escapes', () => {
    const compiled = compile(['permit(principal, action, resource) when { principal.claim_x == Admin::"root" };']);
    expect(decide(compiled, { subject: 'eve', claims: { x: { __entity: { type: 'Admin', id: 'root' } } } }, 'echo')).toBe('deny');
  });

  it("refuses bad policies and entities with the engine's message", () => {
    expect(() => compile(['permit(principal, action, resource'])).toThrow(/cedar.policies/);
    expect(() => compile(['permit(principal, action, resource);'], '[{"uid":{"type":"Tool"}}]')).toThrow(/entities_json/);
  });
});

describe('list filtering', () => {
  const allowOnly = (names: string[]) => (op: { target: string | undefined }) => names.includes(op.target ?? '');
  const list = (result: unknown) => ({ jsonrpc: '2.0' as const, id: 7, result });

  it('keeps what is allowed and everything else of the result', () => {
    const filtered = filterListResponse('tools/list', list({ tools: [{ name: 'a' }, { name: 'b' }, { nameless: true }], nextCursor: 'c' }), allowOnly(['a']));
    expect(filtered).toEqual(list({ tools: [{ name: 'a' }], nextCursor: 'c' }));
    expect(filterListResponse('resources/list', list({ resources: [{ uri: 'u1' }, { uri: 'u2', name: 'u1' }] }), allowOnly(['u1']))).toEqual(
      list({ resources: [{ uri: 'u1' }] }),
    );
    expect(filterListResponse('prompts/list', list({ prompts: [{ name: 'p' }] }), allowOnly([]))).toEqual(list({ prompts: [] }));
  });

  it('passes errors and non-list methods unchanged', () => {
    const error = { jsonrpc: '2.0' as const, id: 7, error: { code: 1, message: 'x' } };
    expect(filterListResponse('tools/list', error, allowOnly([]))).toBe(error);
    const other = list({ tools: [{ name: 'a' }] });
    expect(filterListResponse('tools/call', other, allowOnly([]))).toBe(other);
  });
});
