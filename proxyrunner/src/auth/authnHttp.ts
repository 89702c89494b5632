// The one HTTP client authentication uses to reach the issuer (discovery, JWKS,
// introspection), shaped like fetch so jose's remote JWKS can use it too. It exists for
// three things global fetch does not give without another dependency: a private CA bundle
// (an in-cluster apiserver, a company issuer), a bearer token read fresh from a file on every
// request (projected service-account tokens rotate), and a hard bound on response size and
// time so a broken or hostile issuer cannot exhaust the proxy's memory or hang a request.
import { fs, http, httpClient, loadHttps } from '../../../common/builtins.ts';
import { rootCertificates } from 'node:tls';

export interface AuthnHttpOptions {
  /** PEM bundle trusted in addition to the system CAs. */
  caBundle: string | undefined;
  /** Sent as `Authorization: Bearer <file contents>` (re-read on each request). */
  bearerTokenFile?: string | undefined;
  timeoutMs: number;
  maxBytes: number;
}

export interface FetchInit {
  method?: string;
  headers?: Headers | Record<string, string>;
  body?: string;
  signal?: AbortSignal;
}

export type AuthnFetch = (url: string | URL, init?: FetchInit) => Promise<Response>;

export class ResponseTooLargeError extends Error {}

export function createAuthnFetch(options: AuthnHttpOptions): AuthnFetch {
  const ca = options.caBundle ? [...rootCertificates, options.caBundle] : undefined;
  const httpsAgent = new (loadHttps().Agent)({ keepAlive: true, maxSockets: 4, ...(ca ? { ca } : {}) });
  const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });

  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const target = typeof input === 'string' ? new URL(input) : input;
      const secure = target.protocol === 'https:';
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => (headers[name] = value));
      if (options.bearerTokenFile) {
        try {
          headers['authorization'] = `Bearer ${fs.readFileSync(options.bearerTokenFile, 'utf8').trim()}`;
        } catch (err) {
          reject(new Error(`cannot read the token file ${options.bearerTokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`));
          return;
        }
      }
      if (init.body !== undefined) headers['content-length'] = String(Buffer.byteLength(init.body));
      const request = httpClient(secure).request(target, {
        method: init.method ?? 'GET',
        headers,
        agent: secure ? httpsAgent : httpAgent,
        timeout: options.timeoutMs,
      });
      const timer = setTimeout(() => request.destroy(new Error(`no complete answer from ${target.origin} within ${options.timeoutMs}ms`)), options.timeoutMs);
      timer.unref();
      const onAbort = (): void => void request.destroy(new Error('aborted'));
      init.signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => {
        clearTimeout(timer);
        init.signal?.removeEventListener('abort', onAbort);
      };
      request.on('timeout', () => request.destroy(new Error(`${target.origin} did not answer within ${options.timeoutMs}ms`)));
      request.on('error', (err) => {
        done();
        reject(err);
      });
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) {
            response.destroy();
            request.destroy(new ResponseTooLargeError(`${target.origin} sent more than ${options.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        response.on('end', () => {
          done();
          const responseHeaders = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            if (typeof value === 'string') responseHeaders.set(name, value);
          }
          const status = response.statusCode ?? 502;
          // Response cannot carry 1xx or a body on 204/304; those are failures for us anyway.
          const usable = status >= 200 && status <= 599 && status !== 204 && status !== 304;
          resolve(new Response(usable ? Buffer.concat(chunks) : null, { status: usable ? status : 502, headers: responseHeaders }));
        });
        response.on('error', (err) => {
          done();
          reject(err);
        });
      });
      request.end(init.body);
    });
}

/** GETs a JSON object; throws with the URL and status on anything else. */
export async function fetchJsonObject(fetchImpl: AuthnFetch, url: URL): Promise<Record<string, unknown>> {
  const response = await fetchImpl(url, { headers: { accept: 'application/json' } });
  if (response.status !== 200) throw new Error(`GET ${url.href} answered ${response.status}`);
  const body: unknown = await response.json().catch(() => undefined);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error(`GET ${url.href} did not return a JSON object`);
  return body as Record<string, unknown>;
}
