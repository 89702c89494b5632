// The authorization config format (ToolHive's), parsed by the one parser the operator shares
// (common/contract/authzConfig.ts); re-exported here for the proxy's authorization modules.
export { AuthzConfigError, parseAuthzConfig, type AuthzConfig } from '../../../common/contract/authzConfig.ts';
