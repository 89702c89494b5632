// Bounded server-sent-events framing: splits an upstream's event stream into whole
// events (the raw bytes up to and including the blank line that ends each), holding one
// event at a time within --max-message-bytes and the buffer budget. An event past either
// is discarded as it streams (head and tail windows kept, see oversized.ts). Full SSE
// parsers (eventsource-parser, the SDK's) buffer a whole event before they look at it;
// placed in front of one, this splitter is what bounds it.
// Line ends are CRLF, LF or CR (WHATWG HTML §9.2.5); an empty line ends the event.
import { FrameCollector, type Discarded, type FrameLimits } from './lines.ts';
import { describeTruncated, type MessageShape } from './oversized.ts';

const LF = 10;
const CR = 13;

export class SseEventSplitter {
  readonly #frames: FrameCollector;
  readonly #onEvent: (event: Buffer) => void;
  readonly #onDiscarded: (discarded: Discarded) => void;
  /** Bytes in the current line so far (0: at the start of a line). */
  #lineBytes = 0;
  /** The previous chunk ended in CR: a leading LF belongs to that line end. */
  #afterCR = false;

  constructor(limits: FrameLimits, onEvent: (event: Buffer) => void, onDiscarded: (discarded: Discarded) => void) {
    this.#frames = new FrameCollector(limits);
    this.#onEvent = onEvent;
    this.#onDiscarded = onDiscarded;
  }

  push(chunk: Buffer): void {
    let start = 0; // first byte of chunk not yet handed to the collector
    let i = 0;
    if (this.#afterCR && chunk[0] === LF) i = 1;
    this.#afterCR = false;
    let nextLF = chunk.indexOf(LF, i);
    let nextCR = chunk.indexOf(CR, i);
    while (i < chunk.length) {
      if (nextLF !== -1 && nextLF < i) nextLF = chunk.indexOf(LF, i);
      if (nextCR !== -1 && nextCR < i) nextCR = chunk.indexOf(CR, i);
      const end = nextLF === -1 ? nextCR : nextCR === -1 ? nextLF : Math.min(nextLF, nextCR);
      if (end === -1) {
        this.#lineBytes += chunk.length - i;
        break;
      }
      let after = end + 1;
      if (chunk[end] === CR) {
        if (after < chunk.length) {
          if (chunk[after] === LF) after++;
        } else {
          this.#afterCR = true;
        }
      }
      const blank = this.#lineBytes === 0 && end === i;
      this.#lineBytes = 0;
      i = after;
      if (!blank) continue;
      // A blank line: the event ends here, terminator included.
      this.#frames.add(chunk.subarray(start, after), true);
      start = after;
      const done = this.#frames.finish();
      if (done.kind === 'discarded') {
        this.#onDiscarded(done.discarded);
        continue;
      }
      try {
        this.#onEvent(done.frame);
      } finally {
        this.#frames.release();
      }
    }
    if (start < chunk.length) this.#frames.add(chunk.subarray(start), false);
  }

  close(): void {
    this.#frames.close();
  }
}

/** The event type and data of an event known only by its two ends. */
export function describeTruncatedEvent(head: Buffer, tail: Buffer): { event: string; shape: MessageShape } {
  const headLines = head.toString('utf8').split(/\r\n|\r|\n/);
  let event = 'message';
  const data: string[] = [];
  for (const line of headLines) {
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  // The tail ends with the blank line; before it, drop complete non-data fields (id:,
  // event:, retry:) so what remains ends where the JSON of the last data line ends.
  const tailLines = tail.toString('utf8').split(/\r\n|\r|\n/);
  while (tailLines.length > 1 && (tailLines.at(-1) === '' || /^(id|event|retry)(:|$)/.test(tailLines.at(-1) as string))) tailLines.pop();
  return { event, shape: describeTruncated(data.join('\n'), tailLines.join('\n')) };
}
