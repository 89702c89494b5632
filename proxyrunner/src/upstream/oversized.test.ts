import { describe, expect, it } from '@jest/globals';
import { describeTruncated, scanHead } from './oversized.ts';
import { describeTruncatedEvent } from './sseEvents.ts';

describe('describeTruncated', () => {
  it('reads only top-level keys from the head', () => {
    expect(scanHead('{"jsonrpc":"2.0","id":3,"result":{"id":9,"method":"x"')).toMatchObject({ id: 3, keys: new Set(['jsonrpc', 'id', 'result']) });
    expect(scanHead('{"result":{"text":"a\\"},\\"id\\":5,"}, "id": "q"}')).toMatchObject({ id: 'q', keys: new Set(['result', 'id']) });
  });

  it('takes the id from the tail only when the final brace closes its object', () => {
    expect(describeTruncated('{"result":{"t":"aaa', 'aaa"},"jsonrpc":"2.0","id":12}')).toEqual({ kind: 'response', id: 12 });
    expect(describeTruncated('{"result":{"t":"aaa', 'aaa","id":12}}')).toEqual({ kind: 'response', id: undefined });
    expect(describeTruncated('{"jsonrpc":"2.0","id":4,"result":[', '{"id":12}]}')).toEqual({ kind: 'response', id: 4 });
  });

  it('tells requests from responses and gives up on anything else', () => {
    expect(describeTruncated('{"method":"sampling/createMessage","params":{"x":"', '"},"jsonrpc":"2.0","id":0}')).toEqual({
      kind: 'request',
      id: 0,
      method: 'sampling/createMessage',
    });
    expect(describeTruncated('[{"jsonrpc":"2.0","id":1,"result":', '}]')).toEqual({ kind: 'unknown' });
    expect(describeTruncated('garbage', 'garbage')).toEqual({ kind: 'unknown' });
  });

  it('reads an SSE event by its data lines, ignoring trailing fields', () => {
    const head = Buffer.from('event: message\ndata: {"result":{"text":"aaaa');
    const tail = Buffer.from('aaaa"},"jsonrpc":"2.0","id":"r1"}\nid: 55\n\n');
    expect(describeTruncatedEvent(head, tail)).toEqual({ event: 'message', shape: { kind: 'response', id: 'r1' } });
    expect(describeTruncatedEvent(Buffer.from('event: endpoint\ndata: /x'), Buffer.from('x\n\n')).event).toBe('endpoint');
  });
});
