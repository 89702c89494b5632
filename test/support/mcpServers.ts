// MCPServer objects for integration tests and benchmarks (shared with the unit tests).
export { httpSpec, manifest, sseSpec, stdioSpec, stored } from '../../operator/src/testing.ts';
