import { createWriteStream, type WriteStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/**
 * Every line a process writes, to stdout or stderr, appended whole to its log file (across
 * restarts), so the PAN scan sees exactly what an operator's log shipper would. The last lines
 * are also kept in memory for a finding's context.
 */
export class LogCapture {
  readonly file: string;
  readonly #out: WriteStream;
  readonly #recent: string[] = [];
  #lines = 0;

  constructor(file: string) {
    this.file = file;
    this.#out = createWriteStream(file, { flags: 'a' });
  }

  get lines(): number {
    return this.#lines;
  }

  follow(stream: Readable | null, onLine?: (line: string) => void): void {
    if (stream === null) return;
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
      this.#lines += 1;
      this.#out.write(`${line}\n`);
      this.#recent.push(line);
      if (this.#recent.length > 15) this.#recent.shift();
      onLine?.(line);
    });
  }

  recent(): readonly string[] {
    return [...this.#recent];
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#out.end(resolve));
  }
}
