// autocannon (which ships no typings), bounded in time, as the load generator of the HTTP scenarios.
import { createRequire } from 'node:module';

export interface LoadOptions {
  url: string;
  body: string;
  connections: number;
  /** seconds */
  duration: number;
}

export interface LoadResult {
  /** 2xx responses per second over the run */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** responses that were not 2xx, plus connection errors and timeouts */
  failures: number;
  responses: number;
}

interface AutocannonResult {
  requests: { average: number };
  latency: { p50: number; p99: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  '2xx': number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

export async function load(o: LoadOptions): Promise<LoadResult> {
  const r = await autocannon({
    url: o.url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: o.body,
    connections: o.connections,
    duration: o.duration,
    timeout: 30,
  });
  return {
    rps: r['2xx'] / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    failures: r.non2xx + r.errors + r.timeouts,
    responses: r['2xx'],
  };
}
