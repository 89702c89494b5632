import { describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { CRD_FILE, crdObject, crdYaml, rootSchema } from './crd.ts';
import { crdFile, crdObjectOf, crdYamlOf } from './crdKind.ts';
import { API_KINDS } from './registry.ts';
import { specSchema, statusSchema } from './schema.ts';
import { undocumented, type AnySchema } from './schemaTypes.ts';
import { DEFAULTS, PHASES, PROXY_MODES, TRANSPORTS } from './types.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface Version {
  name: string;
  subresources: { status: object };
  additionalPrinterColumns: { name: string; jsonPath: string }[];
  schema: { openAPIV3Schema: AnySchema };
}

function version(): Version {
  const crd = crdObject() as { spec: { versions: Version[] } };
  return crd.spec.versions[0] as Version;
}

function openapi(): AnySchema {
  return version().schema.openAPIV3Schema;
}

function node(...names: string[]): AnySchema {
  let n = openapi();
  for (const name of names) {
    const next = name === '[]' ? n.items : n.properties?.[name];
    if (next === undefined) throw new Error(`no ${names.join('.')}`);
    n = next;
  }
  return n;
}

describe('the MCPServer CRD', () => {
  it('is exactly the committed deploy/crd file (run `node scripts/gen-crd.ts` after changing operator/src/api)', async () => {
    const committed = await readFile(path.join(ROOT, CRD_FILE), 'utf8');
    expect(committed).toBe(crdYaml());
  });

  it('generates byte-identical YAML every time', () => {
    expect(crdYaml()).toBe(crdYaml());
  });

  it('parses back as the object it was made from', () => {
    const docs = crdYaml().split('\n---\n');
    expect(parse(docs[1] as string)).toEqual(crdObject());
  });

  it('names group, kind, short name, category, scope and status subresource', () => {
    const crd = crdObject() as { metadata: { name: string }; spec: Record<string, unknown> };
    expect(crd.metadata.name).toBe('mcpservers.mcpfleet.dev');
    expect(crd.spec).toMatchObject({
      group: 'mcpfleet.dev',
      scope: 'Namespaced',
      names: { kind: 'MCPServer', plural: 'mcpservers', singular: 'mcpserver', shortNames: ['mcps'], categories: ['mcpfleet'] },
    });
    expect(version().name).toBe('v1alpha1');
    expect(version().subresources).toEqual({ status: {} });
  });

  it('prints Phase, Ready, Replicas, URL and Age', () => {
    expect(version().additionalPrinterColumns.map((c) => [c.name, c.jsonPath])).toEqual([
      ['Phase', '.status.phase'],
      ['Ready', '.status.conditions[?(@.type=="Ready")].status'],
      ['Replicas', '.status.readyReplicas'],
      ['URL', '.status.url'],
      ['Age', '.metadata.creationTimestamp'],
    ]);
  });

  it('describes every field of spec and status (kubectl explain)', () => {
    expect(undocumented(specSchema as unknown as AnySchema)).toEqual([]);
    expect(undocumented(statusSchema as unknown as AnySchema)).toEqual([]);
    expect(rootSchema().description).toMatch(/MCPServer/);
  });

  it('has enums for transport, proxyMode and phase, and the defaults of the API', () => {
    expect(node('spec', 'transport')).toMatchObject({ enum: [...TRANSPORTS], default: DEFAULTS.transport });
    expect(node('spec', 'proxyMode')).toMatchObject({ enum: [...PROXY_MODES], default: DEFAULTS.proxyMode });
    expect(node('spec', 'proxyPort')).toMatchObject({ minimum: 1, maximum: 65535, default: DEFAULTS.proxyPort });
    // No default: unset leaves the Deployment's replicas to an autoscaler (ToolHive's rule).
    expect(node('spec', 'replicas')).toMatchObject({ minimum: 0 });
    expect(node('spec', 'replicas')).not.toHaveProperty('default');
    expect(node('spec', 'sessionAffinity')).toMatchObject({ enum: ['ClientIP', 'None'], default: 'ClientIP' });
    // No default: unset is None, and an object written before the field existed reads back unchanged.
    expect(node('spec', 'sessionRecovery')).toEqual(expect.objectContaining({ enum: ['None', 'Replay'] }));
    expect(node('spec', 'sessionRecovery')).not.toHaveProperty('default');
    expect(node('spec', 'sessionStorage', 'provider')).toMatchObject({ enum: ['memory', 'redis'] });
    expect(node('spec', 'sessionStorage').required).toEqual(['provider']);
    // Operator-level defaults (--default-*), so the CRD must not pin them.
    expect(node('spec', 'maxSessions')).toMatchObject({ minimum: 1 });
    expect(node('spec', 'maxSessions')).not.toHaveProperty('default');
    expect(node('spec', 'sessionIdleTimeout')).not.toHaveProperty('default');
    expect(node('status', 'phase').enum).toEqual([...PHASES]);
  });

  it('requires image, keeps podTemplateSpec as given, and keys env and conditions by name/type', () => {
    expect(node('spec').required).toEqual(['image']);
    expect(openapi().required).toEqual(['spec']);
    expect(node('spec', 'podTemplateSpec')['x-kubernetes-preserve-unknown-fields']).toBe(true);
    expect(node('spec', 'env')).toMatchObject({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'] });
    expect(node('status', 'conditions')).toMatchObject({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] });
    expect(node('spec', 'env', '[]').required).toEqual(['name']);
  });

  it('states the cross-field rules in CEL with readable messages', () => {
    const rules = node('spec')['x-kubernetes-validations'] ?? [];
    expect(rules.map((r) => r.fieldPath)).toEqual([
      '.mcpPort',
      '.replicas',
      '.authzConfigRef',
      '.backendReplicas',
      '.sessionStorage',
      '.sessionStorage',
      '.sessionRecovery',
    ]);
    expect(rules[6]?.message).toMatch(/^sessionRecovery Replay needs backendReplicas/);
    expect(rules[4]?.message).toMatch(/^sessionStorage with provider redis is required when replicas > 1 and sessionAffinity is None/);
    expect(rules[5]?.message).toMatch(/^sessionStorage redis needs transport streamable-http and proxyMode streamable-http/);
    expect(rules[0]?.message).toMatch(/^mcpPort is required when transport is streamable-http or sse/);
    expect(rules[1]?.message).toMatch(/^replicas must be 0 or 1 when transport is stdio/);
    expect(rules[2]?.message).toMatch(/^authzConfig and authzConfigRef are mutually exclusive/);
    expect(rules[3]?.message).toMatch(/^backendReplicas needs transport stdio, or transport streamable-http with proxyMode streamable-http/);
    expect(openapi()['x-kubernetes-validations']?.[0]?.message).toMatch(/^metadata.name must be a DNS label of at most 48/);
  });

  it('is a structural schema: every node has a type (or is int-or-string)', () => {
    const untyped: string[] = [];
    const walk = (n: AnySchema, at: string): void => {
      if (n.type === undefined && n['x-kubernetes-int-or-string'] !== true) untyped.push(at);
      for (const [k, child] of Object.entries(n.properties ?? {})) walk(child, `${at}.${k}`);
      if (n.items) walk(n.items, `${at}[]`);
    };
    walk(openapi(), '');
    expect(untyped).toEqual([]);
  });
});

describe('every kind of the API', () => {
  it('has its committed deploy/crd file, exactly as generated', async () => {
    for (const k of API_KINDS) expect(await readFile(path.join(ROOT, crdFile(k)), 'utf8')).toBe(crdYamlOf(k));
  });

  it('is documented, structural, has a status subresource and a Valid/Phase column', () => {
    for (const k of API_KINDS) {
      const crd = crdObjectOf(k) as { spec: { versions: Version[] } };
      const v = crd.spec.versions[0] as Version;
      expect(undocumented(k.spec)).toEqual([]);
      expect(undocumented(k.status)).toEqual([]);
      expect(v.subresources).toEqual({ status: {} });
      expect(v.additionalPrinterColumns.map((c) => c.name)).toEqual(expect.arrayContaining([k.kind === 'MCPServer' ? 'Phase' : 'Valid', 'Age']));
    }
    expect(API_KINDS.map((k) => k.kind)).toEqual(['MCPServer', 'MCPOIDCConfig', 'MCPAuthzConfig', 'MCPTelemetryConfig', 'MCPToolConfig']);
  });

  it('config kinds report observedGeneration, conditions keyed by type, and the config hash', () => {
    for (const k of API_KINDS.filter((x) => x.kind !== 'MCPServer')) {
      expect(Object.keys(k.status.properties ?? {})).toEqual(['observedGeneration', 'conditions', 'configHash']);
      expect(k.status.properties?.['conditions']).toMatchObject({ 'x-kubernetes-list-map-keys': ['type'] });
    }
  });
});
