// The MCPOIDCConfig schema, typed against its types (schemaTypes.ts), with CEL where fields
// cross: the type names which variant is set (and only that one), introspection needs the
// client credentials the proxy sends to the endpoint, and useClusterAuth cannot be turned off.
import { DNS_SUBDOMAIN } from '../schema.ts';
import type { AnySchema, ObjectSchema } from '../schemaTypes.ts';
import type { CrdKind } from '../crdKind.ts';
import { configPrinterColumns, configStatusSchema } from '../configStatus.ts';
import {
  DEFAULT_CA_BUNDLE_KEY,
  OIDC_CONFIG_TYPES,
  OIDC_KIND,
  OIDC_PLURAL,
  OIDC_SHORT_NAMES,
  OIDC_SINGULAR,
  type CABundleSource,
  type InlineOIDCSharedConfig,
  type KubernetesServiceAccountOIDCConfig,
  type MCPOIDCConfigSpec,
} from './types.ts';

/** A CA bundle from a ConfigMap key (ToolHive's caBundleRef), shared by the config kinds that reach out over TLS. */
export function caBundleRefSchema(description: string): ObjectSchema<CABundleSource> {
  return {
    type: 'object',
    description,
    required: { configMapRef: true },
    properties: {
      configMapRef: {
        type: 'object',
        description: 'The ConfigMap in this namespace and its key.',
        required: { name: true },
        properties: {
          name: { type: 'string', description: 'Name of the ConfigMap.', pattern: DNS_SUBDOMAIN, maxLength: 253 },
          key: {
            type: 'string',
            description: `The key holding the PEM bundle (default ${DEFAULT_CA_BUNDLE_KEY}).`,
            pattern: '^[-._a-zA-Z0-9]+$',
            maxLength: 253,
          },
        },
      },
    },
  };
}

/** Key material comes over TLS only (the proxy refuses anything else outside loopback). */
const HTTPS_URL = '^https://[^\\s]+$';
const DNS_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';

const kubernetesServiceAccount: ObjectSchema<KubernetesServiceAccountOIDCConfig> = {
  type: 'object',
  description:
    "Accept the cluster's own service-account tokens (TokenRequest or projected tokens, e.g. an agent pod's), checked against the " +
    "apiserver's keys (/openid/v1/jwks), which the proxy reads with its pod's own token. Restrict callers with serviceAccount and namespace.",
  properties: {
    serviceAccount: {
      type: 'string',
      description: "Only this service account may call (in namespace, default the MCPServer's namespace). Unset: any account of namespace.",
      pattern: DNS_SUBDOMAIN,
      maxLength: 253,
    },
    namespace: {
      type: 'string',
      description: 'Only service accounts of this namespace may call. Unset with serviceAccount unset: any service account of the cluster.',
      pattern: DNS_LABEL,
      maxLength: 63,
    },
    issuer: {
      type: 'string',
      description: "The token issuer (iss) to expect. Unset: the issuer named by the apiserver's discovery document (its --service-account-issuer).",
      pattern: HTTPS_URL,
      maxLength: 2048,
    },
    jwksUrl: {
      type: 'string',
      description: "Where the signing keys are. Unset: the apiserver's /openid/v1/jwks.",
      pattern: HTTPS_URL,
      maxLength: 2048,
    },
    useClusterAuth: {
      type: 'boolean',
      description: "Use the pod's service-account token and the cluster CA to read discovery and keys from the apiserver. Must be true (the default).",
      default: true,
      'x-kubernetes-validations': [
        {
          rule: 'self',
          message: "useClusterAuth: false is not supported: the proxy reads the apiserver's discovery document and keys with its pod's token",
        },
      ],
    },
  },
};

const inline: ObjectSchema<InlineOIDCSharedConfig> = {
  type: 'object',
  description: 'An OpenID Connect provider: tokens are JWTs signed by its keys (from discovery, or jwksUrl), or opaque tokens it introspects.',
  required: { issuer: true },
  properties: {
    issuer: {
      type: 'string',
      description: 'The issuer URL; tokens must name it (iss), and its /.well-known/openid-configuration names the keys.',
      pattern: HTTPS_URL,
      maxLength: 2048,
    },
    jwksUrl: { type: 'string', description: 'The JWKS URL (default: jwks_uri from discovery).', pattern: HTTPS_URL, maxLength: 2048 },
    introspectionUrl: {
      type: 'string',
      description: 'RFC 7662 introspection endpoint for opaque tokens; needs clientId and clientSecretRef.',
      pattern: HTTPS_URL,
      maxLength: 2048,
    },
    clientId: { type: 'string', description: 'Client id the proxy introspects tokens as.', minLength: 1, maxLength: 1024 },
    clientSecretRef: {
      type: 'object',
      description:
        'A Secret key in the namespace holding the client secret. It reaches the proxy as an environment variable from the Secret: the operator never reads it.',
      required: { name: true, key: true },
      properties: {
        name: { type: 'string', description: 'Name of the Secret.', pattern: DNS_SUBDOMAIN, maxLength: 253 },
        key: { type: 'string', description: 'The key holding the secret.', pattern: '^[-._a-zA-Z0-9]+$', maxLength: 253 },
      },
    },
    caBundleRef: caBundleRefSchema(
      'CA certificates (PEM) trusted for the issuer, JWKS and introspection, from a ConfigMap mounted into the proxy (default: system CAs).',
    ),
  },
  'x-kubernetes-validations': [
    {
      rule: '!has(self.introspectionUrl) || (has(self.clientId) && has(self.clientSecretRef))',
      message: 'introspectionUrl needs clientId and clientSecretRef: the proxy authenticates to the introspection endpoint',
      fieldPath: '.introspectionUrl',
      reason: 'FieldValueRequired',
    },
  ],
};

export const oidcSpecSchema: ObjectSchema<MCPOIDCConfigSpec> = {
  type: 'object',
  description: 'An issuer of bearer tokens and how to check them, shared by the MCPServers that name it in spec.oidcConfigRef (each adds its own audience).',
  required: { type: true },
  properties: {
    type: {
      type: 'string',
      description: "kubernetesServiceAccount: the cluster's own service-account tokens; inline: an OpenID Connect provider.",
      enum: OIDC_CONFIG_TYPES,
    },
    kubernetesServiceAccount,
    inline,
  },
  'x-kubernetes-validations': [
    {
      rule: "self.type == 'kubernetesServiceAccount' ? has(self.kubernetesServiceAccount) : !has(self.kubernetesServiceAccount)",
      message: "kubernetesServiceAccount must be set when type is 'kubernetesServiceAccount', and must not be set otherwise",
    },
    {
      rule: "self.type == 'inline' ? has(self.inline) : !has(self.inline)",
      message: "inline must be set when type is 'inline', and must not be set otherwise",
    },
  ],
};

export const OIDC_CRD: CrdKind = {
  kind: OIDC_KIND,
  plural: OIDC_PLURAL,
  singular: OIDC_SINGULAR,
  shortNames: OIDC_SHORT_NAMES,
  description:
    'MCPOIDCConfig says how the mcpfleet proxy authenticates MCP clients: which issuer signs their bearer tokens and how to check them. ' +
    'MCPServers in the same namespace use it through spec.oidcConfigRef; cross-namespace references are not supported.',
  spec: oidcSpecSchema as unknown as AnySchema,
  status: configStatusSchema(OIDC_KIND) as unknown as AnySchema,
  specRequired: true,
  printerColumns: configPrinterColumns([
    { name: 'Source', type: 'string', jsonPath: '.spec.type', description: 'kubernetesServiceAccount or inline.' },
    { name: 'Issuer', type: 'string', jsonPath: '.spec.inline.issuer', description: 'The inline issuer.', priority: 1 },
  ]),
};
