// The pure parts of config kinds: reference resolution (found, missing, invalid, being deleted),
// each kind's checks and contribution, the config status, and an MCPServer's status with a
// broken reference.
import { describe, expect, it } from '@jest/globals';
import { httpSpec, stored } from '../../../test/support/mcpServers.ts';
import type { MCPAuthzConfigSpec } from '../api/mcpauthzconfig/types.ts';
import type { MCPOIDCConfigSpec } from '../api/mcpoidcconfig/types.ts';
import type { MCPServerSpec } from '../api/types.ts';
import { desiredObjects } from '../builders/desired.ts';
import { computeConfigStatus, configStatusEqual } from '../controller/configStatus.ts';
import { computeStatus } from '../controller/status.ts';
import { AUTHZ_CONFIG_KIND, AUTHZ_HASH_ANNOTATION, validateAuthzSpec } from './authz.ts';
import type { AnyConfigKind, ConfigObject } from './configKind.ts';
import { OIDC_CONFIG_KIND, OIDC_HASH_ANNOTATION, validateOidcSpec } from './oidc.ts';
import { CONFIG_KINDS } from './registry.ts';
import { CONFIGMAPS_HASH_ANNOTATION, configHash, refIndexKeys, resolveConfigs, type ConfigLookup } from './resolve.ts';

const NOW = '2026-02-02T10:00:00Z';
const POLICY = 'permit(principal, action == Action::"call_tool", resource == Tool::"echo");';

function config<S>(kind: string, name: string, spec: S, generation = 1): ConfigObject<S> {
  return { apiVersion: 'mcpfleet.dev/v1alpha1', kind, metadata: { name, namespace: 'team-a', uid: `uid-${name}`, generation }, spec };
}

const idp = config<MCPOIDCConfigSpec>('MCPOIDCConfig', 'idp', { type: 'inline', inline: { issuer: 'https://idp.example.com' } });
const policies = config<MCPAuthzConfigSpec>('MCPAuthzConfig', 'policies', { type: 'cedarv1', config: { policies: [POLICY], entities_json: '[]' } });

function lookupOf(...objects: ConfigObject[]): ConfigLookup {
  return (kind, namespace, name) => objects.find((o) => o.kind === kind.info.kind && o.metadata.namespace === namespace && o.metadata.name === name);
}

const withRefs: MCPServerSpec = { ...httpSpec, oidcConfigRef: { name: 'idp', audience: 'web' }, authzConfigRef: { name: 'policies' } };

describe('resolveConfigs', () => {
  it('finds every referenced config, contributes each, and says so per reference', () => {
    const r = resolveConfigs(stored('web', withRefs), CONFIG_KINDS, lookupOf(idp, policies));
    expect(r.broken).toBe(false);
    expect(r.contributions).toHaveLength(2);
    expect(r.verdicts).toEqual([
      { type: 'OIDCConfigRefValidated', ok: true, reason: 'OIDCConfigRefValid', message: 'MCPOIDCConfig idp is valid and in use' },
      { type: 'AuthzConfigRefValidated', ok: true, reason: 'AuthzConfigRefValid', message: 'MCPAuthzConfig policies is valid and in use' },
    ]);
    expect(r.fingerprint).toBe('mcpoidcconfigs/idp@uid-idp:1,mcpauthzconfigs/policies@uid-policies:1');
  });

  it('without references: nothing to do, no conditions', () => {
    expect(resolveConfigs(stored('web', httpSpec), CONFIG_KINDS, lookupOf())).toEqual({ contributions: [], verdicts: [], broken: false, fingerprint: '' });
  });

  it('a missing, a deleting and an invalid config are broken references with their reasons', () => {
    const missing = resolveConfigs(stored('web', withRefs), CONFIG_KINDS, lookupOf(policies));
    expect(missing.broken).toBe(true);
    expect(missing.verdicts[0]).toMatchObject({ ok: false, reason: 'OIDCConfigRefNotFound' });
    expect(missing.verdicts[0]?.message).toMatch(/^spec.oidcConfigRef names MCPOIDCConfig idp, which does not exist in namespace team-a/);

    const deleting = { ...idp, metadata: { ...idp.metadata, deletionTimestamp: NOW } };
    expect(resolveConfigs(stored('web', withRefs), CONFIG_KINDS, lookupOf(deleting, policies)).verdicts[0]).toMatchObject({ reason: 'OIDCConfigRefNotFound' });

    const bad = config<MCPAuthzConfigSpec>('MCPAuthzConfig', 'policies', { type: 'cedarv1', config: { policies: [] } });
    const invalid = resolveConfigs(stored('web', withRefs), CONFIG_KINDS, lookupOf(idp, bad));
    expect(invalid.broken).toBe(true);
    expect(invalid.contributions).toHaveLength(1); // the valid one still resolves
    expect(invalid.verdicts[1]).toMatchObject({ ok: false, reason: 'AuthzConfigRefNotValid' });
    expect(invalid.verdicts[1]?.message).toMatch(/MCPAuthzConfig policies is not valid: config: cedar.policies must be a non-empty list/);
  });

  it('ConfigMaps: a missing CA bundle or authzConfig ConfigMap breaks the resolution; the CA bundle content hash annotates the pod', () => {
    const caIdp = config<MCPOIDCConfigSpec>('MCPOIDCConfig', 'idp', {
      type: 'inline',
      inline: { issuer: 'https://idp.example.com', caBundleRef: { configMapRef: { name: 'idp-ca' } } },
    });
    const spec: MCPServerSpec = { ...httpSpec, oidcConfigRef: { name: 'idp', audience: 'web' } };
    const none = resolveConfigs(stored('web', spec), CONFIG_KINDS, lookupOf(caIdp), () => undefined);
    expect(none.broken).toBe(true);
    expect(none.contributions).toEqual([]);
    expect(none.verdicts[0]).toMatchObject({ ok: false, reason: 'OIDCConfigRefConfigMapNotFound' });
    expect(none.verdicts[0]?.message).toMatch(/^MCPOIDCConfig idp reads ConfigMap idp-ca, which does not exist in namespace team-a/);

    const hashes: Record<string, string> = { 'idp-ca': 'h1' };
    const found = (): ReturnType<typeof resolveConfigs> => resolveConfigs(stored('web', spec), CONFIG_KINDS, lookupOf(caIdp), (_ns, name) => hashes[name]);
    const first = found();
    expect(first.broken).toBe(false);
    const annotation = first.contributions[0]?.podAnnotations?.[CONFIGMAPS_HASH_ANNOTATION];
    expect(annotation).toMatch(/^[0-9a-f]{64}$/);
    hashes['idp-ca'] = 'h2';
    const second = found();
    expect(second.contributions[0]?.podAnnotations?.[CONFIGMAPS_HASH_ANNOTATION]).not.toBe(annotation);
    expect(second.fingerprint).not.toBe(first.fingerprint); // the desired-objects memo is rebuilt

    const inline: MCPServerSpec = { ...httpSpec, authzConfig: { type: 'configMap', configMap: { name: 'rules' } } };
    expect(refIndexKeys(stored('web', inline), CONFIG_KINDS)).toEqual(['configmaps:team-a/rules']);
    const gone = resolveConfigs(stored('web', inline), CONFIG_KINDS, lookupOf(), () => undefined);
    expect(gone.broken).toBe(true);
    expect(gone.verdicts).toEqual([
      {
        type: 'AuthzConfigValidated',
        ok: false,
        reason: 'AuthzConfigMapNotFound',
        message: 'spec.authzConfig.configMap names ConfigMap rules, which does not exist in namespace team-a; the proxy keeps its last good configuration',
      },
    ]);
    const there = resolveConfigs(stored('web', inline), CONFIG_KINDS, lookupOf(), () => 'h');
    expect(there.broken).toBe(false);
    expect(there.verdicts[0]).toMatchObject({ type: 'AuthzConfigValidated', ok: true });
  });

  it('indexes an MCPServer under every config it references', () => {
    expect(refIndexKeys(stored('web', withRefs), CONFIG_KINDS)).toEqual(['mcpoidcconfigs:team-a/idp', 'mcpauthzconfigs:team-a/policies']);
    expect(refIndexKeys(stored('web', httpSpec), CONFIG_KINDS)).toEqual([]);
  });
});

describe('config kinds', () => {
  it('MCPOIDCConfig: the CEL rules again, for objects written around them', () => {
    expect(validateOidcSpec(idp.spec)).toEqual([]);
    expect(validateOidcSpec({ type: 'kubernetesServiceAccount', kubernetesServiceAccount: {} })).toEqual([]);
    expect(validateOidcSpec({ type: 'inline' })).toEqual(["inline must be set if and only if type is 'inline'"]);
    expect(validateOidcSpec({ type: 'inline', inline: { issuer: 'http://idp' }, kubernetesServiceAccount: {} })).toEqual([
      "kubernetesServiceAccount must be set if and only if type is 'kubernetesServiceAccount'",
      'inline.issuer must be an https URL',
    ]);
    expect(validateOidcSpec({ type: 'inline', inline: { issuer: 'https://i', introspectionUrl: 'https://i/x' } })).toEqual([
      'inline.introspectionUrl needs clientId and clientSecretRef',
    ]);
    expect(validateOidcSpec({ type: 'kubernetesServiceAccount', kubernetesServiceAccount: { useClusterAuth: false, jwksUrl: 'not a url' } })).toEqual([
      'useClusterAuth: false is not supported',
      'kubernetesServiceAccount.jwksUrl "not a url" is not a URL',
    ]);
  });

  it('MCPAuthzConfig: checked with the proxy’s own parser', () => {
    expect(validateAuthzSpec(policies.spec)).toEqual([]);
    expect(validateAuthzSpec({ type: 'httpv1' as 'cedarv1', config: {} })).toEqual(['type "httpv1" is not supported (cedarv1 only)']);
    expect(validateAuthzSpec({ type: 'cedarv1', config: { policies: [POLICY], entities_json: '{not json' } })[0]).toMatch(
      /^config: cedar.entities_json is not valid JSON/,
    );
    expect(validateAuthzSpec({ type: 'cedarv1', config: { policies: [POLICY], group_entity_type: 'a::b' } })[0]).toMatch(/not a Cedar identifier/);
  });

  it('MCPAuthzConfig: Cedar syntax is checked by the engine, as the proxy compiles it (a file the proxy could not load never reaches it)', () => {
    expect(validateAuthzSpec({ type: 'cedarv1', config: { policies: [POLICY, 'permit(principal, action, resource'] } })).toEqual([
      expect.stringMatching(/^config.policies: failed to parse policy with id `policy1`/) as unknown,
    ]);
    expect(validateAuthzSpec({ type: 'cedarv1', config: { policies: [POLICY], entities_json: '[{"uid": {"type": "Tool"}}]' } })).toEqual([
      expect.stringMatching(/^config.entities_json: /) as unknown,
    ]);
    // Remembered by spec: the same answer again, and a copy the caller may change.
    const again = validateAuthzSpec({ type: 'cedarv1', config: { policies: [POLICY, 'permit(principal, action, resource'] } });
    again.push('x');
    expect(validateAuthzSpec({ type: 'cedarv1', config: { policies: [POLICY, 'permit(principal, action, resource'] } })).toHaveLength(1);
  });

  it('MCPOIDCConfig rolls its users (hash on the pod template); MCPAuthzConfig does not (the hash is on its ConfigMap)', () => {
    const mcp = stored('web', withRefs);
    const build = (o: ConfigObject<MCPOIDCConfigSpec>, a: ConfigObject<MCPAuthzConfigSpec>): ReturnType<typeof desiredObjects> =>
      desiredObjects(mcp, { proxyrunnerImage: 'p:1' }, resolveConfigs(mcp, CONFIG_KINDS, lookupOf(o, a)).contributions);
    const template = (objs: ReturnType<typeof desiredObjects>): string =>
      JSON.stringify((objs.find((d) => d.kind === 'Deployment')?.['spec'] as { template: unknown }).template);
    const base = build(idp, policies);
    const configMap = base.find((d) => d.kind === 'ConfigMap');
    expect(configMap?.metadata).toMatchObject({ name: 'mcp-web-proxy-authz', annotations: { [AUTHZ_HASH_ANNOTATION]: configHash(policies) } });
    expect(template(base)).toContain(`"${OIDC_HASH_ANNOTATION}":"${configHash(idp)}"`);

    const otherPolicy = config<MCPAuthzConfigSpec>(
      'MCPAuthzConfig',
      'policies',
      { type: 'cedarv1', config: { policies: ['forbid(principal, action, resource);'] } },
      2,
    );
    const authzEdit = build(idp, otherPolicy);
    expect(template(authzEdit)).toBe(template(base));
    expect(JSON.stringify(authzEdit.find((d) => d.kind === 'ConfigMap'))).toContain('forbid(principal');

    const otherIssuer = config<MCPOIDCConfigSpec>('MCPOIDCConfig', 'idp', { type: 'inline', inline: { issuer: 'https://other.example.com' } }, 2);
    expect(template(build(otherIssuer, policies))).not.toBe(template(base));
  });

  it('every kind names its reference and condition', () => {
    const kinds: AnyConfigKind[] = [OIDC_CONFIG_KIND, AUTHZ_CONFIG_KIND];
    expect(kinds.map((k) => [k.info.kind, k.info.plural, k.refCondition, k.refName(withRefs)])).toEqual([
      ['MCPOIDCConfig', 'mcpoidcconfigs', 'OIDCConfigRefValidated', 'idp'],
      ['MCPAuthzConfig', 'mcpauthzconfigs', 'AuthzConfigRefValidated', 'policies'],
    ]);
  });
});

describe('config status', () => {
  it('Valid with the generation and the spec hash; the transition time carries over; an equal status is not rewritten', () => {
    const s = computeConfigStatus(OIDC_CONFIG_KIND, idp, NOW);
    expect(s).toEqual({
      observedGeneration: 1,
      configHash: configHash(idp),
      conditions: [
        { type: 'Valid', status: 'True', reason: 'ConfigValid', message: 'the MCPOIDCConfig is valid', lastTransitionTime: NOW, observedGeneration: 1 },
      ],
    });
    const later = computeConfigStatus(OIDC_CONFIG_KIND, { ...idp, status: s }, '2026-02-03T00:00:00Z');
    expect(configStatusEqual(s, later)).toBe(true);
    expect(configStatusEqual(undefined, later)).toBe(false);
  });

  it('ConfigInvalid with the problems', () => {
    const bad = config<MCPAuthzConfigSpec>('MCPAuthzConfig', 'p', { type: 'cedarv1', config: {} }, 3);
    const s = computeConfigStatus(AUTHZ_CONFIG_KIND, bad, NOW);
    expect(s.observedGeneration).toBe(3);
    expect(s.conditions?.[0]).toMatchObject({ type: 'Valid', status: 'False', reason: 'ConfigInvalid' });
    expect(s.conditions?.[0]?.message).toMatch(/cedar.policies must be a non-empty list/);
  });
});

describe('an MCPServer with a broken reference', () => {
  it('is Failed and not Ready, with the reference’s reason first, and lists the reference condition', () => {
    const mcp = stored('web', withRefs);
    const r = resolveConfigs(mcp, CONFIG_KINDS, lookupOf(policies));
    const status = computeStatus({
      mcp,
      desired: [],
      observed: () => undefined,
      backendPods: [],
      proxyPods: [],
      applyErrors: [],
      refs: r.verdicts,
      now: NOW,
    });
    expect(status.phase).toBe('Failed');
    expect(status.message).toMatch(/^spec.oidcConfigRef names MCPOIDCConfig idp, which does not exist/);
    const byType = Object.fromEntries((status.conditions ?? []).map((c) => [c.type, [c.status, c.reason]]));
    expect(byType).toMatchObject({
      Ready: ['False', 'OIDCConfigRefNotFound'],
      OIDCConfigRefValidated: ['False', 'OIDCConfigRefNotFound'],
      AuthzConfigRefValidated: ['True', 'AuthzConfigRefValid'],
    });
  });
});
