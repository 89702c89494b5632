// Newline-delimited JSON-RPC framing for stdio (MCP stdio transport). A line longer
// than the limit means a broken or hostile peer: we report it instead of buffering
// without bound.
export class LineSplitter {
  #parts: Buffer[] = [];
  #size = 0;
  readonly #maxLine: number;
  readonly #onLine: (line: string) => void;
  readonly #onOverflow: () => void;

  constructor(maxLine: number, onLine: (line: string) => void, onOverflow: () => void) {
    this.#maxLine = maxLine;
    this.#onLine = onLine;
    this.#onOverflow = onOverflow;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      start = nl + 1;
      let line: Buffer;
      if (this.#parts.length > 0) {
        this.#parts.push(piece);
        line = Buffer.concat(this.#parts, this.#size + piece.length);
        this.#parts = [];
        this.#size = 0;
      } else {
        line = piece;
      }
      if (line.length > this.#maxLine) {
        this.#onOverflow();
        continue;
      }
      const text = line.toString('utf8').replace(/\r$/, '');
      if (text.trim().length > 0) this.#onLine(text);
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.#size += rest.length;
      if (this.#size > this.#maxLine) {
        this.#parts = [];
        this.#size = 0;
        this.#onOverflow();
        return;
      }
      this.#parts.push(Buffer.from(rest));
    }
  }
}
