// Scrapes a real /metrics endpoint and reads samples from the Prometheus text format.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) throw new Error(`unparseable metrics line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1] as string] = pair[2] as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return samples;
}

export class Scrape {
  readonly samples: Sample[];
  readonly text: string;

  constructor(text: string) {
    this.text = text;
    this.samples = parsePrometheus(text);
  }

  /** Sum of the samples named `name` whose labels include `labels` (undefined if none). */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const matching = this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
    return matching.length ? matching.reduce((sum, s) => sum + s.value, 0) : undefined;
  }

  has(name: string): boolean {
    return this.samples.some((s) => s.name === name);
  }
}

export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`scrape ${url}: HTTP ${res.status}`);
  return new Scrape(await res.text());
}

/**
 * Polls until `check` passes (metrics settle asynchronously after a response). The timeout only
 * turns a hang into a failure, it asserts no speed: generous, because CI machines get loaded.
 */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
