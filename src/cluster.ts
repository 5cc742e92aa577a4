import cluster, { type Worker } from 'node:cluster';
import { pino, type Logger } from 'pino';
import { AggregatorRegistry } from 'prom-client';
import type { AppConfig } from './config.js';
import { Lru } from './engine/lru.js';
import { logStream } from './log-stream.js';

// Several event loops on one port (PROCESSES > 1). node:cluster's primary accepts the connections and
// hands them to its processes in turn; each process runs the whole app with its share of the WORKERS.
// What the processes must agree on goes through the primary, which computes nothing and serves no
// HTTP: the registered models (a process that does not know a ref asks for it; a model deleted in one
// is forgotten in all), /metrics (summed over the processes), the requests each has in flight,
// which size OpenBLAS's threads in all of them (kernels/threads.ts: a lone request may use the
// cores of every process's idle workers), and RATE_LIMIT's counts. Everything else is per process:
// each keeps its own queue (QUEUE_LIMIT), caches and /readyz. Messages go both ways over the
// processes' IPC channels; a request carries a sequence number its reply names.

/** a process that ends on its own is started again after this */
const RESTART_DELAY_MS = 1_000;
/** how long the primary waits for a process's metrics */
const METRICS_WAIT_MS = 2_000;
/** how long a process waits for the primary to count a request against RATE_LIMIT */
const RATE_WAIT_MS = 1_000;
/** how often a stopping primary closes the connections node:cluster stranded (closeStranded) */
const STRANDED_SWEEP_MS = 100;
/** clients whose requests the primary counts at once, least recently seen first out (as @fastify/rate-limit's own store) */
const RATE_KEYS = 5_000;

type Ask =
  | { t: 'model-put'; id: string; canonical: string }
  | { t: 'model-get'; id: string }
  | { t: 'model-delete'; id: string }
  | { t: 'metrics' }
  | { t: 'metrics-json' }
  | { t: 'rate'; key: string; windowMs: number };
type Message = { seq: number } & Ask;
type Reply = { seq: number; reply: true; value: unknown };
type Notice =
  | { t: 'model-forget'; id: string }
  | { t: 'shutdown' }
  | { t: 'ready' }
  | { t: 'listener-closed' }
  | { t: 'replica-ready' }
  | { t: 'in-flight'; n: number }
  | { t: 'in-flight-elsewhere'; n: number };

/** A message to a process that has gone is dropped: its end of the channel is handled where it ends. */
const ignoreSendError = (): void => {};

/** One end of an IPC channel: requests that the other end answers, and notices that need none. */
class Channel {
  private seq = 0;
  private readonly waiting = new Map<number, (value: unknown) => void>();

  constructor(private readonly post: (m: Message | Reply | Notice) => void) {}

  ask(m: Ask, timeoutMs?: number): Promise<unknown> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.waiting.delete(seq);
        reject(new Error(`no answer to ${m.t} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(seq, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
      this.post({ ...m, seq });
    });
  }

  notify(n: Notice): void {
    this.post(n);
  }

  /** Routes an incoming message: a reply to its request, a request to `answer`, a notice to `notice`. */
  receive(m: unknown, answer: (a: Ask) => Promise<unknown> | unknown, notice: (n: Notice) => void): void {
    if (m === null || typeof m !== 'object' || typeof (m as { t?: unknown }).t !== 'string') {
      if ((m as Reply | null)?.reply === true) {
        const r = m as Reply;
        const resolve = this.waiting.get(r.seq);
        this.waiting.delete(r.seq);
        resolve?.(r.value);
      }
      return;
    }
    const msg = m as Message | Notice;
    if (!('seq' in msg)) return notice(msg);
    void Promise.resolve()
      .then(() => answer(msg))
      .then(
        (value) => this.post({ seq: msg.seq, reply: true, value: value ?? null }),
        () => this.post({ seq: msg.seq, reply: true, value: null }),
      );
  }
}

/**
 * The primary: starts the processes and keeps what they share, the registered models by id as
 * canonical text (plugins/models.ts), bounded like a process's own cache.
 */
export function runPrimary(config: AppConfig): void {
  const log: Logger = pino({ level: config.logLevel }, logStream());
  const models = new Lru<string, string>(config.modelCacheEntries, config.modelCacheBytes);
  const rates = new RateWindows(RATE_KEYS);
  const channels = new Map<Worker, Channel>();
  const listening = new Set<Worker>();
  const closedListeners = new Set<Worker>();
  let stopping = false;
  let sweeping = false;
  // once every process has closed its listener, node:cluster's in this process is closed too: see closeStranded
  const sweepWhenClosed = () => {
    if (sweeping || !stopping || [...channels.keys()].some((w) => !closedListeners.has(w))) return;
    sweeping = true;
    setInterval(closeStranded, STRANDED_SWEEP_MS).unref();
  };
  const inFlight = new InFlightRelay<Worker>((worker, n) => channels.get(worker)?.notify({ t: 'in-flight-elsewhere', n }));

  const fork = (index: number) => {
    const worker = cluster.fork({ GRADSERVE_PROCESS: String(index) });
    let ready = false;
    // A process may close its end while connected still reads true (it is exiting: a shutdown, a
    // crash): the send then fails, and without a callback its EPIPE is an 'error' event on the worker,
    // which nothing handles, and the primary would end with it. Its 'exit' follows, and is handled.
    const channel = new Channel((m) => {
      if (worker.isConnected()) worker.send(m, ignoreSendError);
    });
    channels.set(worker, channel);
    worker.on('message', (m: unknown) =>
      channel.receive(m, (a) => answer(worker, a), (n) => {
        if (n.t === 'ready') {
          ready = true;
          listening.add(worker);
          inFlight.set(worker, inFlight.get(worker) ?? 0);
          // every process listens: the primary hands connections to all of them from now on
          if (listening.size === config.processes) for (const c of channels.values()) c.notify({ t: 'replica-ready' });
        } else if (n.t === 'listener-closed') {
          closedListeners.add(worker);
          sweepWhenClosed();
        } else if (n.t === 'in-flight') inFlight.set(worker, n.n);
      }),
    );
    worker.on('exit', (code, signal) => {
      channels.delete(worker);
      listening.delete(worker);
      closedListeners.delete(worker);
      inFlight.set(worker, undefined);
      if (stopping) {
        sweepWhenClosed();
        // a process that did not close cleanly (its grace period ran out) fails the replica's exit too
        if (code !== 0) process.exitCode = code || 1;
        if (channels.size === 0) process.exit();
        return;
      }
      // one that never started (its kernels or port failed) would fail again: stop as one process would
      if (!ready) {
        log.fatal({ process: index, code, signal }, 'a service process could not start');
        process.exitCode = code || 1;
        stopAll();
        return;
      }
      log.error({ process: index, code, signal }, 'a service process ended; starting another');
      setTimeout(() => stopping || fork(index), RESTART_DELAY_MS);
    });
  };

  const answer = async (from: Worker, a: Ask): Promise<unknown> => {
    switch (a.t) {
      case 'model-put':
        return models.set(a.id, a.canonical, a.canonical.length);
      case 'model-get':
        return models.get(a.id) ?? null;
      case 'model-delete': {
        const had = models.delete(a.id) !== undefined;
        for (const [worker, channel] of channels) if (worker !== from) channel.notify({ t: 'model-forget', id: a.id });
        return had;
      }
      case 'rate':
        return rates.count(a.key, a.windowMs);
      case 'metrics': {
        const each = await Promise.all(
          [...channels.values()].map((c) => c.ask({ t: 'metrics-json' }, METRICS_WAIT_MS).catch(() => null)),
        );
        return AggregatorRegistry.aggregate(each.filter((m): m is object[] => Array.isArray(m))).metrics();
      }
      default:
        return null;
    }
  };

  const stopAll = () => {
    stopping = true;
    for (const channel of channels.values()) channel.notify({ t: 'shutdown' });
    if (channels.size === 0) process.exit();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      log.info({ signal }, 'closing: each process drains its requests');
      stopAll();
    });
  }
  for (let i = 0; i < config.processes; i++) fork(i);
}

/**
 * Closes the connections node:cluster's primary holds after every process closed its listener. The
 * primary hands each connection to a process and waits for its answer; a process that closed its
 * listener meanwhile hands it back, and the primary queues it on the listener it has just closed when
 * that process was the last (nodejs/node#21746): neither refused nor answered, it would wait until the
 * replica exits, for as long as the in-flight requests take. Such a connection is a raw TCP handle
 * that nothing here owns, and this process holds no other TCP handle once the listener is closed (one
 * still in flight to a process is that process's too: it keeps its own copy). So each is closed, and
 * its client sees a reset. Node lists them only through process._getActiveHandles.
 */
function closeStranded(): void {
  const handles = (process as unknown as { _getActiveHandles?: () => unknown[] })._getActiveHandles?.() ?? [];
  for (const h of handles) if ((h as object | null)?.constructor?.name === 'TCP') (h as { close(): void }).close();
}

/**
 * The requests each process has in flight, as it last said: each is told the sum of the others'
 * whenever it changes.
 */
export class InFlightRelay<P> {
  private readonly counts = new Map<P, number>();
  private readonly told = new Map<P, number>();

  constructor(private readonly tell: (to: P, elsewhere: number) => void) {}

  get(p: P): number | undefined {
    return this.counts.get(p);
  }

  /** A process's count; undefined once it has ended. */
  set(p: P, n: number | undefined): void {
    if (n === undefined) {
      this.counts.delete(p);
      this.told.delete(p);
    } else this.counts.set(p, n);
    let total = 0;
    for (const c of this.counts.values()) total += c;
    for (const [q, c] of this.counts) {
      const elsewhere = total - c;
      if (this.told.get(q) === elsewhere) continue;
      this.told.set(q, elsewhere);
      this.tell(q, elsewhere);
    }
  }
}

/**
 * Each client's requests in fixed windows (RATE_LIMIT), counted for all the processes of a replica at
 * once, as @fastify/rate-limit's own store counts them in one: a window starts with a client's first
 * request and lasts `windowMs`.
 */
export class RateWindows {
  private readonly windows: Lru<string, { count: number; start: number }>;

  constructor(maxKeys: number) {
    this.windows = new Lru(maxKeys, Number.MAX_SAFE_INTEGER);
  }

  /** Counts a request of `key`: the requests in its window so far, and the ms until the window ends. */
  count(key: string, windowMs: number, now = Date.now()): { current: number; ttl: number } {
    let w = this.windows.get(key);
    if (w === undefined || w.start + windowMs <= now) {
      w = { count: 0, start: now };
      this.windows.set(key, w, 1);
    }
    w.count++;
    return { current: w.count, ttl: w.start + windowMs - now };
  }
}

/** This process's share of `workers` among `processes` (the first ones get one more when it does not divide). */
export function workersOf(config: AppConfig, index: number): number {
  return Math.floor(config.workers / config.processes) + (index < config.workers % config.processes ? 1 : 0);
}

/** In a process of the cluster: its channel to the primary, and what it answers the primary. */
export class Primary {
  // nothing once the primary is gone (a draining process still starts and ends tasks), and a send that
  // fails as it goes is dropped: either would otherwise be an 'error' event on process, which nothing handles
  private readonly channel = new Channel((m) => {
    if (process.connected) process.send?.(m, undefined, undefined, ignoreSendError);
  });
  /** this process's place among the replica's (0, 1, ...; one started in place of another takes its place) */
  readonly index = process.env.GRADSERVE_PROCESS ?? '0';
  /** the app's metrics, for the primary to sum */
  metricsJson: () => Promise<object[]> = async () => [];
  /** forgets a model another process deleted */
  forget: (id: string) => void = () => {};
  /** drains and ends this process (server.ts) */
  shutdown: () => void = () => process.exit();
  /** the requests in flight in the other processes changed */
  inFlightElsewhere: (n: number) => void = () => {};
  /**
   * Whether every process of the replica has listened: until then the primary hands every connection
   * to those that do, and a client that keeps its connections would keep them there (/readyz says 503)
   */
  replicaReady = false;

  constructor() {
    process.on('message', (m: unknown) =>
      this.channel.receive(m, (a) => (a.t === 'metrics-json' ? this.metricsJson() : null), (n) => {
        if (n.t === 'model-forget') this.forget(n.id);
        else if (n.t === 'shutdown') this.shutdown();
        else if (n.t === 'in-flight-elsewhere') this.inFlightElsewhere(n.n);
        else if (n.t === 'replica-ready') this.replicaReady = true;
      }),
    );
    // the primary is gone: nothing routes connections here any more
    process.once('disconnect', () => this.shutdown());
  }

  ready(): void {
    this.channel.notify({ t: 'ready' });
  }

  /** Says this process's listener is closed (server.ts): once all are, the primary closes what it stranded. */
  listenerClosed(): void {
    this.channel.notify({ t: 'listener-closed' });
  }

  /** Tells the others how many requests this process has in flight. */
  inFlight(n: number): void {
    this.channel.notify({ t: 'in-flight', n });
  }

  /** Keeps a registered model where every process finds it. */
  async put(id: string, canonical: string): Promise<void> {
    await this.channel.ask({ t: 'model-put', id, canonical });
  }

  /** A model another process registered: its canonical text, or null. */
  async get(id: string): Promise<string | null> {
    const v = await this.channel.ask({ t: 'model-get', id });
    return typeof v === 'string' ? v : null;
  }

  /** Forgets a model in every process; whether the primary held it. */
  async delete(id: string): Promise<boolean> {
    return (await this.channel.ask({ t: 'model-delete', id })) === true;
  }

  /** Counts a request of a client against RATE_LIMIT, in every process's window together. */
  async rate(key: string, windowMs: number): Promise<{ current: number; ttl: number }> {
    const v = (await this.channel.ask({ t: 'rate', key, windowMs }, RATE_WAIT_MS)) as { current?: unknown; ttl?: unknown } | null;
    if (typeof v?.current !== 'number' || typeof v.ttl !== 'number') throw new Error('the primary did not count the request');
    return { current: v.current, ttl: v.ttl };
  }

  /** /metrics summed over the processes (prom-client's aggregation: counters and gauges add up). */
  async metrics(): Promise<string> {
    const v = await this.channel.ask({ t: 'metrics' }, 2 * METRICS_WAIT_MS);
    return typeof v === 'string' ? v : '';
  }
}

/** The channel to the primary when this process is one of a cluster's, else null. */
export const primary: Primary | null = cluster.isWorker ? new Primary() : null;
