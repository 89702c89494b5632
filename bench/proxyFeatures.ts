// The optional proxyrunner features whose cost bench:proxy measures (issue 16, goal 3):
// `npm run bench:proxy -- --<flag>` serves, in each round, a plain proxyrunner and one
// proxyrunner per variant of the feature side by side (the same upstream, the clients shared
// out, all at the same moment), and reports each variant's CPU per request as a ratio to the
// plain one's. One entry per flag; adding a feature is adding an entry here (and the flag in
// bench/proxy.ts's option list).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startTestIssuer } from '../test/support/testIssuer.ts';

/** What one feature-on proxyrunner needs. */
export interface FeatureSetup {
  /** Flags added to the proxyrunner's command line. */
  proxyArgs: string[];
  /** Headers every client sends to it (e.g. a bearer token). */
  headers?: Record<string, string>;
  /** The tool its clients call, when the feature renames it (default echo). */
  tool?: string;
  /** Releases what setup made (servers, files); called once the round is over. */
  close(): Promise<void>;
}

export interface FeatureVariant {
  /** Short name in the output, e.g. "jwt+cedar". */
  label: string;
  setup(): Promise<FeatureSetup>;
}

/** The resource URL the authenticating proxies serve as (RFC 9728 `resource`, the tokens' `aud`). */
const RESOURCE = 'https://mcp.example.test/mcp';

/**
 * Cedar policies of the shape ToolHive documents: the bench's tool allowed to everyone, an
 * admin group allowed everything, one tool forbidden. They read no claim_/arg_ attributes.
 */
const POLICIES = [
  'permit(principal, action == Action::"call_tool", resource == Tool::"echo");',
  'permit(principal in THVGroup::"admins", action, resource);',
  'permit(principal, action == Action::"get_prompt", resource);',
  'forbid(principal, action == Action::"call_tool", resource == Tool::"get-env");',
];

/**
 * JWT validation against a local issuer (discovery + JWKS over loopback, keys made by jose),
 * each client sending a valid RS256 token with realistic claims; optionally with Cedar.
 */
function authVariant(label: string, withCedar: boolean): FeatureVariant {
  return {
    label,
    async setup() {
      const issuer = await startTestIssuer();
      const token = await issuer.sign({
        sub: 'bench-user',
        aud: RESOURCE,
        exp: Math.floor(Date.now() / 1000) + 3600,
        azp: 'bench-client',
        scope: 'openid profile mcp:tools',
        email: 'bench@example.test',
        groups: ['engineering', 'oncall'],
      });
      const args = ['--oidc-issuer', issuer.url, '--resource-url', RESOURCE];
      let dir: string | undefined;
      if (withCedar) {
        dir = mkdtempSync(path.join(os.tmpdir(), 'bench-proxy-authz-'));
        const file = path.join(dir, 'authz.json');
        writeFileSync(file, JSON.stringify({ version: '1.0', type: 'cedarv1', cedar: { policies: POLICIES, entities_json: '[]' } }));
        args.push('--authz-config', file);
      }
      return {
        proxyArgs: args,
        headers: { authorization: `Bearer ${token}` },
        async close() {
          await issuer.close();
          if (dir) rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  };
}

/**
 * Tool control (--tool-config): echo renamed to say (so every call takes the costliest path, a
 * body re-serialized under the upstream name) and a filter; its clients call say.
 */
const toolConfigVariant: FeatureVariant = {
  label: 'rename+filter',
  setup: async () => ({
    proxyArgs: ['--tool-config-inline', 'toolsFilter: [say, get-sum]\ntoolsOverride: {echo: {name: say, description: Says it back}}'],
    tool: 'say',
    close: async () => {},
  }),
};

export const FEATURES: Record<string, FeatureVariant[]> = {
  auth: [authVariant('jwt', false), authVariant('jwt+cedar', true)],
  'tool-config': [toolConfigVariant],
};
