import { describe, expect, it } from '@jest/globals';
import { parsePortSelector, readyBackends, type EndpointSlice } from './endpoints.ts';

const target = new URL('http://backends.team-a.svc:3001/mcp');

function slice(
  name: string,
  endpoints: EndpointSlice['endpoints'],
  addressType = 'IPv4',
  ports: EndpointSlice['ports'] = [{ name: 'mcp', port: 3001 }],
): EndpointSlice {
  return { metadata: { name }, addressType, ports, endpoints };
}

describe('readyBackends', () => {
  it('keeps ready, not terminating endpoints, keyed by pod and address, with the target path', () => {
    const backends = readyBackends(
      [
        slice('s1', [
          { addresses: ['10.0.0.2'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'mcp-1' } },
          { addresses: ['10.0.0.1'], conditions: {}, targetRef: { kind: 'Pod', name: 'mcp-0' } }, // nil ready means ready
          { addresses: ['10.0.0.3'], conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'mcp-2' } },
          { addresses: ['10.0.0.4'], conditions: { ready: true, terminating: true }, targetRef: { kind: 'Pod', name: 'mcp-3' } },
          { addresses: [], conditions: { ready: true } },
        ]),
      ],
      { name: 'mcp' },
      target,
    );
    expect(backends.map((b) => [b.key, b.url.href])).toEqual([
      ['mcp-0@10.0.0.1:3001', 'http://10.0.0.1:3001/mcp'],
      ['mcp-1@10.0.0.2:3001', 'http://10.0.0.2:3001/mcp'],
    ]);
  });

  it('takes the named port of each slice, skips slices without it and unknown address types', () => {
    const backends = readyBackends(
      [
        slice('a', [{ addresses: ['10.0.0.1'] }], 'IPv4', [
          { name: 'metrics', port: 9464 },
          { name: 'mcp', port: 4000 },
        ]),
        slice('b', [{ addresses: ['10.0.0.2'] }], 'IPv4', [{ name: 'metrics', port: 9464 }]),
        slice('c', [{ addresses: ['fd00::5'] }], 'IPv6'),
        slice('d', [{ addresses: ['10.0.0.9'] }], 'Bogus'),
      ],
      { name: 'mcp' },
      target,
    );
    expect(backends.map((b) => b.url.host)).toEqual(['10.0.0.1:4000', '[fd00::5]:3001']);
  });

  it('maps *.localhost FQDNs to the loopback address (RFC 6761) and uses a numeric port as is', () => {
    const [backend] = readyBackends([slice('f', [{ addresses: ['b.localhost'] }], 'FQDN', [])], { number: 5000 }, target);
    expect(backend?.url.href).toBe('http://127.0.0.1:5000/mcp');
    expect(backend?.key).toBe('b.localhost:5000');
  });
});

describe('parsePortSelector', () => {
  it('reads names and numbers, refuses anything else', () => {
    expect(parsePortSelector('mcp')).toEqual({ name: 'mcp' });
    expect(parsePortSelector('3001')).toEqual({ number: 3001 });
    expect(() => parsePortSelector('0')).toThrow(/port number or an IANA port name/);
    expect(() => parsePortSelector('Not_A_Name')).toThrow(/port number or an IANA port name/);
  });
});
