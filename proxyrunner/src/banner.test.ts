import { describe, expect, it } from '@jest/globals';
import { bannerText, shouldPrintBanner } from './banner.ts';

const urls = { mcpUrl: 'http://127.0.0.1:8080/mcp', metricsUrl: 'http://127.0.0.1:9464/metrics' };

describe('banner', () => {
  it('is printed for a terminal, or when asked; never into a pipe by default', () => {
    expect(shouldPrintBanner('auto', true)).toBe(true);
    expect(shouldPrintBanner('auto', false)).toBe(false);
    expect(shouldPrintBanner('always', false)).toBe(true);
    expect(shouldPrintBanner('never', true)).toBe(false);
  });

  it('says where to connect, with the transport an MCP client must choose', () => {
    const text = bannerText(
      { transport: 'stdio', proxyMode: 'streamable-http', command: ['npx', 'server-everything'], targetUrl: undefined, attach: undefined },
      urls,
    );
    expect(text).toContain('in front of stdio: npx server-everything');
    expect(text).toContain('MCP endpoint  http://127.0.0.1:8080/mcp');
    expect(text).toContain('Metrics       http://127.0.0.1:9464/metrics');
    expect(text).toContain('npx @modelcontextprotocol/inspector');
    expect(text).toContain('transport "Streamable HTTP" and URL http://127.0.0.1:8080/mcp');
    const sse = bannerText(
      { transport: 'sse', proxyMode: 'sse', command: [], targetUrl: new URL('http://up:1/sse'), attach: undefined },
      { ...urls, mcpUrl: 'http://127.0.0.1:8080/sse' },
    );
    expect(sse).toContain('in front of sse: http://up:1/sse');
    expect(sse).toContain('transport "SSE" and URL http://127.0.0.1:8080/sse');
  });
});
