// Loaded with `node --import` into a process under test: prints one line to stderr for every
// OpenTelemetry module the process resolves ("otel-module-loaded <url>"), so a test can prove
// that with tracing off none of the SDK is ever loaded (and, as its control, that with tracing
// on it is). Node's synchronous module hooks (module.registerHooks) see static and dynamic imports.
import { registerHooks } from 'node:module';

registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context);
    if (resolved.url.includes('/@opentelemetry/')) process.stderr.write(`otel-module-loaded ${resolved.url}\n`);
    return resolved;
  },
});
