import { pathToFileURL } from 'node:url';
import { autocannon } from '../reliability/autocannon.js';
import { hangUpAfter } from '../reliability/hang-up.js';
import { freshRequest, startServer } from '../reliability/server-process.js';
import { LARGE_CONTAINS, largeBody, mix } from './mix.js';

// `npm run soak [-- --seconds N | --minutes N]`: mixed traffic (every route, small and large requests,
// valid and invalid bodies, and clients that hang up on a large request 5–20 ms after sending it)
// against the real server process for N seconds (default 60; the bench's soak scenario runs 10
// minutes). Reports unexpected statuses (must be 0), the
// server's RSS and heap over time (must stay flat) and its event-loop delay (perf_hooks
// monitorEventLoopDelay, read per second from /metrics); exits 1 on a failure.
//
// NOTE: under load V8 grows its heaps (main thread and workers) for the first half-minute or so, and
// RSS follows: flatness is judged after that warm-up, on the two parts a leak would grow: RSS
// outside the main thread's V8 heap (worker threads, native memory) and the main heap's lows after
// collections (its sawtooth of garbage says nothing). Raw RSS is reported beside them. A slow leak
// needs a longer run to stand out: `--seconds 300`.

export interface SoakOptions {
  seconds: number;
  connections?: number;
  workers?: number;
  /** progress lines; default: none */
  log?: (line: string) => void;
  /** more environment for the server (e.g. NODE_OPTIONS) */
  env?: Record<string, string>;
  /** clients hanging up on a large request, a second; default 4, 0 = none */
  hangUpsPerS?: number;
  /** large requests, one at a time, this long apart; default 500 ms, null = none */
  largePauseMs?: number | null;
}

interface Sample {
  t: number;
  /** each a sum over the service's processes (PROCESSES) */
  rssMb: number;
  /** the main threads' V8 heaps: used, and committed (workers' heaps are in RSS only) */
  heapMb: number;
  /** each process's main heap in use, by its index ('' for a service of one process) */
  heapEachMb: Record<string, number>;
  heapTotalMb: number;
  /** ArrayBuffers and other memory outside the main heap */
  externalMb: number;
  /** the worst process's */
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
}

export interface Trend {
  firstThirdMb: number;
  lastThirdMb: number;
  growthMb: number;
  slopeMbPerMin: number;
}

export interface SoakReport {
  ok: boolean;
  failures: string[];
  requests: number;
  perRoute: Record<string, { count: number; unexpected: number }>;
  unexpected: string[];
  errors: number;
  timeouts: number;
  samples: Sample[];
  rss: Trend;
  /** RSS less the main thread's committed V8 heap: worker threads and native memory */
  offHeap: Trend;
  /**
   * a main thread's heap in use at its lowest in each third (after collections), for the process whose
   * lows rose most: the lows of a sum of processes' heaps are not any process's
   */
  heapLows: { firstMb: number; lastMb: number; growthMb: number; judged: boolean };
  /** the main threads' heaps in use (sawtooth: the slope says more than the thirds) */
  heap: Trend;
  /** worstP99Ms after the warm-up (judged), startUpP99Ms during it (reported) */
  eventLoop: { p50Ms: number; worstP99Ms: number; worstMaxMs: number; startUpP99Ms: number };
  /** requests abandoned 5–20 ms after they were sent, and where the server stopped them */
  hangUps: { sent: number; stopped: string };
  exitCode: number | string;
}

const API_KEY = 'soak-key';
const LARGE = 'gradients large';
/** RSS may grow this much from the first to the last third (allocator slack, JIT) before it counts as a leak. */
const RSS_SLACK_MB = 32;
const RSS_SLACK_RATIO = 0.15;
/** the main heap's lows may rise this much; judged only with 3+ samples a third (a low needs several) */
const HEAP_LOW_SLACK_MB = 24;
const LOOP_P99_LIMIT_MS = 1000;

/** A metric's value in each process: by the `process` label Node's metrics carry with PROCESSES > 1, else ''. */
function metricEach(text: string, name: string): Record<string, number> {
  const each: Record<string, number> = {};
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{process="(\\d+)"\\})? ([0-9.eE+-]+)$`, 'gm'))) each[m[1] ?? ''] = Number(m[2]);
  return each;
}

/** A metric summed over the processes; NaN when absent. */
function metric(text: string, name: string): number {
  const values = Object.values(metricEach(text, name));
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0);
}

/**
 * prom-client's event-loop figures come from perf_hooks.monitorEventLoopDelay at its default 10 ms
 * resolution, and each sample includes that interval: the delay itself is the excess over it.
 */
const LOOP_RESOLUTION_MS = 10;
const loopDelayMs = (text: string, stat: 'p50' | 'p99' | 'max') =>
  Math.max(0, ...Object.values(metricEach(text, `nodejs_eventloop_lag_${stat}_seconds`)).map((s) => s * 1000 - LOOP_RESOLUTION_MS));

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/** Least-squares slope of y over t (seconds), per minute. */
function slopePerMin(ts: number[], ys: number[]): number {
  const mt = mean(ts);
  const my = mean(ys);
  let num = 0;
  let den = 0;
  for (let i = 0; i < ts.length; i++) {
    num += (ts[i]! - mt) * (ys[i]! - my);
    den += (ts[i]! - mt) ** 2;
  }
  return den === 0 ? 0 : (num / den) * 60;
}

/**
 * The samples after the warm-up: the first half of the run, at most its first 30 s (start-up, JIT,
 * V8 sizing its heaps to the load); at least three samples are kept when there are.
 */
const WARM_UP_S = 30;
function steady(xs: Sample[]): Sample[] {
  const end = xs[xs.length - 1]?.t ?? 0;
  const from = Math.min(WARM_UP_S, end / 2);
  const kept = xs.filter((s) => s.t >= from);
  return kept.length >= 3 ? kept : xs.slice(-3);
}

/** First and last third of the steady samples (at least one sample each). */
function thirds<T>(xs: T[]): [T[], T[]] {
  const k = Math.max(1, Math.floor(xs.length / 3));
  return [xs.slice(0, k), xs.slice(-k)];
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const log = o.log ?? (() => {});
  const workers = o.workers ?? 2;
  const connections = o.connections ?? 2 * workers + 2;
  const server = await startServer({ WORKERS: String(workers), API_KEYS: API_KEY, LOG_LEVEL: 'warn', TIMEOUT_MS: '30000', ...o.env });
  const requests = mix(API_KEY);
  const perRoute: SoakReport['perRoute'] = Object.fromEntries([...requests.map((r) => r.name), LARGE].map((name) => [name, { count: 0, unexpected: 0 }]));
  const unexpected: string[] = [];
  const samples: Sample[] = [];
  const t0 = performance.now();

  const sample = async () => {
    const r = await freshRequest(`${server.base}/metrics`);
    const text = r.body;
    const s: Sample = {
      t: (performance.now() - t0) / 1000,
      rssMb: metric(text, 'process_resident_memory_bytes') / 2 ** 20,
      heapMb: metric(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
      heapEachMb: Object.fromEntries(Object.entries(metricEach(text, 'nodejs_heap_size_used_bytes')).map(([k, v]) => [k, v / 2 ** 20])),
      heapTotalMb: metric(text, 'nodejs_heap_size_total_bytes') / 2 ** 20,
      externalMb: metric(text, 'nodejs_external_memory_bytes') / 2 ** 20,
      loopP50Ms: loopDelayMs(text, 'p50'),
      loopP99Ms: loopDelayMs(text, 'p99'),
      loopMaxMs: loopDelayMs(text, 'max'),
    };
    samples.push(s);
    log(`${s.t.toFixed(0).padStart(4)} s  rss ${s.rssMb.toFixed(1)} MB  heap ${s.heapMb.toFixed(1)}/${s.heapTotalMb.toFixed(1)} MB  external ${s.externalMb.toFixed(1)} MB  event loop p99 ${s.loopP99Ms.toFixed(1)} ms  max ${s.loopMaxMs.toFixed(1)} ms`);
  };

  let exitCode: number | string = -1;
  let result;
  const large = Buffer.from(largeBody());
  let hangUps = 0;
  let stopped = '';
  try {
    await sample(); // also resets the server's event-loop histogram
    const sampler = setInterval(() => void sample().catch((e: unknown) => unexpected.push(`metrics: ${String(e)}`)), 1000);
    const perS = o.hangUpsPerS ?? 4;
    const hangingUp =
      perS > 0
        ? setInterval(() => {
            hangUps++;
            void hangUpAfter(`${server.base}/v1/gradients`, large, 5 + Math.random() * 15, { authorization: `Bearer ${API_KEY}` });
          }, 1000 / perS)
        : undefined;
    let loading = o.largePauseMs !== null;
    const largeOnes = (async () => {
      const body = large.toString();
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` };
      while (loading) {
        const r = await freshRequest(`${server.base}/v1/gradients`, { method: 'POST', body, headers });
        const c = perRoute[LARGE]!;
        c.count++;
        if (!(r.status === 200 && r.body.includes(LARGE_CONTAINS))) {
          c.unexpected++;
          if (unexpected.length < 20) unexpected.push(`${LARGE}: ${r.status} (expected 200) ${r.body.slice(0, 200)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, o.largePauseMs ?? 500));
      }
    })();
    try {
      result = await autocannon({
        url: server.base,
        connections,
        duration: o.seconds,
        timeout: 30,
        // autocannon may hand a response to the next request's onResponse: each request is told
        // apart by its X-Request-Id, which the service echoes
        requests: requests.map((r, i) => ({
          method: r.method,
          path: r.path,
          headers: { ...r.headers, 'x-request-id': `soak-${i}` },
          ...(r.body === undefined ? {} : { body: r.body }),
          onResponse: (status: number, body: string, _context: unknown, headers?: Record<string, string>) => {
            const r = requests[Number(/^soak-(\d+)$/.exec(headers?.['x-request-id'] ?? '')?.[1] ?? NaN)];
            if (!r) {
              unexpected.push(`an answer without its request id: ${status} ${body.slice(0, 200)}`);
              return;
            }
            const c = perRoute[r.name]!;
            c.count++;
            if (status === r.status && (r.contains === undefined || body.includes(r.contains))) return;
            c.unexpected++;
            if (unexpected.length < 20) unexpected.push(`${r.name}: ${status} (expected ${r.status}) ${body.slice(0, 200)}`);
          },
        })),
      });
    } finally {
      clearInterval(sampler);
      clearInterval(hangingUp);
      loading = false;
      await largeOnes.catch((e: unknown) => unexpected.push(`${LARGE}: ${String(e)}`));
    }
    await sample();
    const metrics = (await freshRequest(`${server.base}/metrics`)).body;
    stopped = [...metrics.matchAll(/^gradserve_stopped_tasks_total\{stage="(\w+)",reason="(\w+)"\} (\d+)/gm)].map((m) => `${m[1]} ${m[3]}`).join(', ');
  } finally {
    server.child.kill('SIGTERM');
    exitCode = await Promise.race([server.exited, new Promise<string>((r) => setTimeout(() => r('no exit within 40 s'), 40_000))]);
    server.child.kill('SIGKILL');
  }

  // the last sample, taken after the load stopped, is not part of the steady state
  const run = steady(samples.slice(0, -1));
  const [firstS, lastS] = thirds(run);
  const ts = run.map((s) => s.t);
  const trend = (f: (s: Sample) => number): Trend => {
    const first = mean(firstS.map(f));
    const last = mean(lastS.map(f));
    return { firstThirdMb: first, lastThirdMb: last, growthMb: last - first, slopeMbPerMin: slopePerMin(ts, run.map(f)) };
  };
  const low = (xs: Sample[], p: string) => Math.min(...xs.map((s) => s.heapEachMb[p] ?? Infinity));
  const lows = Object.keys(run[0]?.heapEachMb ?? {}).map((p) => ({ firstMb: low(firstS, p), lastMb: low(lastS, p) }));
  const worst = lows.reduce((a, b) => (b.lastMb - b.firstMb > a.lastMb - a.firstMb ? b : a), lows[0] ?? { firstMb: NaN, lastMb: NaN });
  const report: SoakReport = {
    ok: false,
    failures: [],
    requests: Object.values(perRoute).reduce((a, c) => a + c.count, 0),
    perRoute,
    unexpected,
    errors: result.errors,
    timeouts: result.timeouts,
    samples,
    rss: trend((s) => s.rssMb),
    offHeap: trend((s) => s.rssMb - s.heapTotalMb),
    heapLows: { ...worst, growthMb: worst.lastMb - worst.firstMb, judged: firstS.length >= 3 },
    heap: trend((s) => s.heapMb),
    hangUps: { sent: hangUps, stopped },
    eventLoop: {
      p50Ms: mean(samples.map((s) => s.loopP50Ms)),
      // judged after the warm-up, as memory is: start-up under load (JIT, the workers' first products) stalls once
      worstP99Ms: Math.max(...steady(samples).map((s) => s.loopP99Ms)),
      worstMaxMs: Math.max(...samples.map((s) => s.loopMaxMs)),
      startUpP99Ms: Math.max(...samples.filter((s) => !steady(samples).includes(s)).map((s) => s.loopP99Ms), 0),
    },
    exitCode,
  };
  const f = report.failures;
  if (unexpected.length > 0) f.push(`${Object.values(perRoute).reduce((a, c) => a + c.unexpected, 0)} unexpected answers`);
  if (report.errors + report.timeouts > 0) f.push(`${report.errors} connection errors, ${report.timeouts} timeouts`);
  const sent = [...requests.filter((r) => !r.optional).map((r) => r.name), ...(o.largePauseMs === null ? [] : [LARGE])];
  for (const name of sent) if (perRoute[name]!.count === 0) f.push(`no answer for "${name}"`);
  const slack = Math.max(RSS_SLACK_MB, RSS_SLACK_RATIO * report.offHeap.firstThirdMb);
  if (!(report.offHeap.growthMb <= slack)) f.push(`RSS outside the main heap grew ${report.offHeap.growthMb.toFixed(1)} MB (allowed ${slack.toFixed(1)})`);
  if (report.heapLows.judged && !(report.heapLows.growthMb <= HEAP_LOW_SLACK_MB)) {
    f.push(`the main heap's lows rose ${report.heapLows.growthMb.toFixed(1)} MB (allowed ${HEAP_LOW_SLACK_MB})`);
  }
  if (!(report.eventLoop.worstP99Ms < LOOP_P99_LIMIT_MS)) f.push(`event-loop delay p99 reached ${report.eventLoop.worstP99Ms.toFixed(0)} ms`);
  if (exitCode !== 0) f.push(`the server did not exit 0 on SIGTERM: ${exitCode}`);
  if (hangUps > 0 && stopped === '') f.push(`${hangUps} clients hung up and the server stopped none of their requests`);
  report.ok = f.length === 0;
  return report;
}

const trendText = (t: Trend) =>
  `${t.firstThirdMb.toFixed(1)} → ${t.lastThirdMb.toFixed(1)} MB (growth ${t.growthMb.toFixed(1)} MB, slope ${t.slopeMbPerMin.toFixed(1)} MB/min)`;

export function formatReport(r: SoakReport, seconds: number): string {
  const lines = [
    `soak: ${seconds} s, ${r.requests} answers (${(r.requests / seconds).toFixed(0)}/s), ${r.errors} connection errors, ${r.timeouts} timeouts`,
    ...Object.entries(r.perRoute).map(([name, c]) => `  ${name.padEnd(20)} ${String(c.count).padStart(7)}  unexpected ${c.unexpected}`),
    ...r.unexpected.map((u) => `  ! ${u}`),
    `memory after the warm-up (${WARM_UP_S} s or half the run), first third → last third:`,
    `  RSS                          ${trendText(r.rss)}`,
    `  RSS outside the main heap    ${trendText(r.offHeap)}`,
    `  main heap lows (after GC)    ${r.heapLows.firstMb.toFixed(1)} → ${r.heapLows.lastMb.toFixed(1)} MB${r.heapLows.judged ? '' : ' (too few samples to judge)'}`,
    `  main heap in use             ${trendText(r.heap)}`,
    `hang-ups: ${r.hangUps.sent} large requests abandoned 5–20 ms after sending; stopped by stage: ${r.hangUps.stopped || 'none'}`,
    `event-loop delay (monitorEventLoopDelay, per second): mean p50 ${r.eventLoop.p50Ms.toFixed(1)} ms, worst p99 after the warm-up ${r.eventLoop.worstP99Ms.toFixed(1)} ms (during it ${r.eventLoop.startUpP99Ms.toFixed(1)} ms), worst max ${r.eventLoop.worstMaxMs.toFixed(1)} ms`,
    `server exit on SIGTERM: ${r.exitCode}`,
    r.ok ? 'PASS' : `FAIL: ${r.failures.join('; ')}`,
  ];
  return lines.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const s = argv.indexOf('--seconds');
  const m = argv.indexOf('--minutes');
  const seconds = s >= 0 ? Number(argv[s + 1]) : m >= 0 ? 60 * Number(argv[m + 1]) : 60;
  if (!Number.isFinite(seconds) || seconds <= 0 || (s >= 0 && m >= 0)) {
    process.stderr.write('usage: soak.js [--seconds N | --minutes N]\n');
    return 2;
  }
  const report = await runSoak({ seconds, log: (l) => process.stdout.write(`${l}\n`) });
  process.stdout.write(`${formatReport(report, seconds)}\n`);
  return report.ok ? 0 : 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`soak: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
