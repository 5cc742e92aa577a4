import { destination } from 'pino';

// The service's log lines go to stdout through one asynchronous writer per process, not pino's default
// of one write(2) per line on the event loop: each write is a hand-off to libuv's thread pool and a
// callback back, which one access line per request would otherwise pay. Past 64 MiB waiting (stdout
// not read), lines are dropped rather than held.

/** lines are handed on once this many characters of them wait, or every FLUSH_MS */
const BATCH_CHARS = 4096;
const FLUSH_MS = 100;

/**
 * Lines wait here and reach pino's writer (sonic-boom) joined, 4 KiB at a time: sonic-boom measures
 * the UTF-8 length of the text it already holds on every write, which for one short line at a time
 * cost each request more than its line. At exit what waits is written synchronously.
 */
class LineBatch {
  private lines: string[] = [];
  private chars = 0;

  constructor(private readonly out: ReturnType<typeof destination>) {
    setInterval(() => this.flush(), FLUSH_MS).unref();
  }

  write(line: string): boolean {
    this.lines.push(line);
    this.chars += line.length;
    if (this.chars >= BATCH_CHARS) this.flush();
    return true;
  }

  flush(): void {
    if (this.lines.length === 0) return;
    const text = this.lines.join('');
    this.lines = [];
    this.chars = 0;
    this.out.write(text);
  }

  /** At exit, after `beforeExit` (whose flush pino's writer has finished and closed), nothing waits. */
  flushSync(): void {
    if (this.lines.length === 0) return;
    this.flush();
    this.out.flushSync();
  }
}

let stream: LineBatch | undefined;

/** The process's log stream, made on first use. */
export function logStream(): LineBatch {
  if (stream === undefined) {
    // before pino's own exit handler for its writer, which this one's lines must reach first
    process.once('beforeExit', () => stream?.flush());
    process.once('exit', () => stream?.flushSync());
    stream = new LineBatch(destination({ dest: 1, sync: false, maxLength: 64 * 1024 * 1024 }));
  }
  return stream;
}
