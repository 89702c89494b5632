// The version reported in mcpfleet_proxy_build_info and logs; kept in step with package.json.
export const VERSION = '0.1.0';
