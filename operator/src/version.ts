// The version reported in mcpfleet_operator_build_info, logs and the default proxyrunner image tag;
// kept in step with package.json.
export const VERSION = '0.1.0';
