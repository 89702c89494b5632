// A minimal legacy HTTP+SSE (2024-11-05) MCP client on node:http: opens GET /sse, reads
// the endpoint event, POSTs messages there and waits for the answer on the stream.
import http from 'node:http';

export class LegacySseClient {
  readonly #waiters = new Map<string, { resolve(message: Record<string, unknown>): void; reject(err: Error): void }>();
  #request: http.ClientRequest | undefined;
  endpoint: URL | undefined;

  /** Opens the stream; resolves with the endpoint, or rejects with the HTTP status. */
  open(sseUrl: string): Promise<URL> {
    return new Promise((resolve, reject) => {
      this.#request = http.get(sseUrl, { headers: { accept: 'text/event-stream' } }, (res) => {
        if (res.statusCode !== 200) {
          let body = '';
          res
            .setEncoding('utf8')
            .on('data', (c: string) => (body += c))
            .on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, headers: res.headers, body })));
          return;
        }
        let buffered = '';
        // A stream that ends fails every call still waiting (instead of leaving it hanging).
        res.once('close', () => {
          for (const waiter of this.#waiters.values()) waiter.reject(new Error('the SSE stream closed before the answer came'));
          this.#waiters.clear();
        });
        res.setEncoding('utf8').on('data', (chunk: string) => {
          buffered += chunk;
          for (let end = buffered.indexOf('\n\n'); end !== -1; end = buffered.indexOf('\n\n')) {
            const event = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const type = /^event: (.*)$/m.exec(event)?.[1] ?? 'message';
            const data = [...event.matchAll(/^data: ?(.*)$/gm)].map((m) => m[1]).join('\n');
            if (type === 'endpoint') {
              this.endpoint = new URL(data, sseUrl);
              resolve(this.endpoint);
            } else if (type === 'message') {
              const message = JSON.parse(data) as Record<string, unknown>;
              const key = JSON.stringify(message.id);
              this.#waiters.get(key)?.resolve(message);
              this.#waiters.delete(key);
            }
          }
        });
      });
      this.#request.on('error', reject);
    });
  }

  /** POSTs a request and resolves with its answer from the stream. */
  async call(id: number, method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const answered = new Promise<Record<string, unknown>>((resolve, reject) => this.#waiters.set(JSON.stringify(id), { resolve, reject }));
    await this.notify({ jsonrpc: '2.0', id, method, params });
    return answered;
  }

  async notify(message: Record<string, unknown>): Promise<void> {
    const res = await fetch(this.endpoint as URL, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(message) });
    if (res.status !== 202) throw new Error(`POST ${this.endpoint?.href}: HTTP ${res.status} ${await res.text()}`);
  }

  close(): void {
    this.#request?.destroy();
  }
}
