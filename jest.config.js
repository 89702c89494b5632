// Jest runs our TypeScript as native ES modules (Node's --experimental-vm-modules):
// @swc/jest strips the types and leaves the imports alone, so tests load the same
// module graph the runtime does.
const swc = ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }];
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
};
export default {
  // A test that fails midway can leave an SDK client behind whose EventSource reconnects every
  // 3 s forever (seen in CI: the run hung after printing its failures). End the run with its
  // result instead; tests still close what they open when they pass.
  forceExit: true,
  reporters: ['default', '<rootDir>/test/support/summaryReporter.js'],
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{common,proxyrunner,operator}/**/*.test.ts', '<rootDir>/test/{structure,contract}/**/*.test.ts'] },
    { ...common, displayName: 'proxy', testMatch: ['<rootDir>/test/proxy/**/*.test.ts'] },
    { ...common, displayName: 'operator', testMatch: ['<rootDir>/test/operator/**/*.test.ts'] },
    // Helm chart, generated install, RBAC and image layout, on the real control plane.
    { ...common, displayName: 'deploy', testMatch: ['<rootDir>/test/{deploy,images}/**/*.test.ts'] },
    // PromQL of the alerts and dashboard against a real Prometheus scraping a real proxyrunner.
    { ...common, displayName: 'monitoring', testMatch: ['<rootDir>/test/monitoring/**/*.test.ts'] },
    // The product on a real node (kubelet, containerd, our images): needs root and the cluster of
    // test/cluster/cluster-up.sh, so only `make test-e2e` (test/cluster/e2e.sh) turns it on.
    ...(process.env.MCPFLEET_E2E === '1' ? [{ ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.test.ts'] }] : []),
  ],
};
