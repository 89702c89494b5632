import { describe, expect, it } from '@jest/globals';
import { decodePin, encodePin, pinOf } from './pin.ts';

describe('pins', () => {
  it('round-trip, and anything else is no pin', () => {
    const pin = { backend: 'mcp-0@10.0.0.1:3001', upstreamId: 'u-1', initialize: '{"jsonrpc":"2.0"}' };
    expect(decodePin(encodePin(pin))).toEqual(pin);
    expect(decodePin(encodePin({ backend: 'k' }))).toEqual({ backend: 'k' });
    for (const text of ['', 'not json', '{"u":"x"}', '[1]']) expect(decodePin(text)).toBeUndefined();
  });

  it('are decoded again when the stored string changes', () => {
    const data = { pin: encodePin({ backend: 'a' }) };
    expect(pinOf(data)?.backend).toBe('a');
    data.pin = encodePin({ backend: 'b' });
    expect(pinOf(data)?.backend).toBe('b');
  });
});
