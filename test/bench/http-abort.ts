// Hang-ups (issue 21): one client sends a heavy MLP request (base64) and hangs up 5–20 ms
// later, 20 times a second, while another client runs the two-weight chain on 4 connections. The small
// client's rate beside the hang-ups over its rate alone, in the same run (alone first, then disturbed,
// each ROUND_S, three times in alternation; medians), and the workers started meanwhile (none should be).
// Two heavy requests: the (0.8 MB of base64, about 0.15 s of compute: five training steps of
// a narrow, deep MLP; what a hang-up saves is the compute after it), the target; and the large MLP's
// gradients (4.6 MB of base64, a few ms of compute: its body arrives whole, and is parsed, before the
// client leaves), reported beside it. Then the heavy row's floor: the same clients against a server
// that computes nothing.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { twoWeight } from '../../src/routes/shared/examples.js';
import { LARGE, median, mlpBody, round, startGradserve, startServer, type Child, type Ctx, type MlpModel, type Row } from './common.js';
import { hangUpAfter } from '../reliability/hang-up.js';
import { load } from './load.js';

const CONNECTIONS = 4;
const ROUND_S = 5;
const ROUNDS = 3;
const WARMUP_S = 3;
const HANGUPS_PER_S = 20;
/** the heavy row's floor, which its target's reach names */
const HANGUP_FLOOR = "hand-off floor: beside heavy hang-ups / alone (what the clients cost, the heavy row's floor)";

/** narrow and deep: many products per sample, few parameters to send */
const HEAVY: MlpModel = { key: 'heavy', batch: 2048, sizes: [4, 256, 256, 256, 10] };
const HEAVY_STEPS = 5;

/** The hung-up request: its route and body. */
function heavyRequest(model: MlpModel): { path: string; body: Buffer } {
  if (model !== HEAVY) return { path: '/v1/gradients', body: Buffer.from(mlpBody(model, 'base64')) };
  const body = { ...(JSON.parse(mlpBody(model, 'base64')) as object), optimizer: { type: 'sgd', lr: 0.01 }, steps: HEAVY_STEPS };
  return { path: '/v1/train', body: Buffer.from(JSON.stringify(body)) };
}

async function metric(url: string, name: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name));
}

/** The small client's rates alone and beside hang-ups of `heavy` (sent to `heavyUrl`), ROUNDS each, alternating. */
async function hangUpRounds(ctx: Ctx, what: string, url: string, small: string, heavyUrl: string, heavy: Buffer): Promise<{ alone: number[]; beside: number[] }> {
  for (let i = 0; i < 20; i++) void hangUpAfter(heavyUrl, heavy, 5 + (i % 16));
  await new Promise((r) => setTimeout(r, 500));
  const alone: number[] = [];
  const beside: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    ctx.log(`http-abort: ${what}, round ${r + 1}, alone`);
    alone.push((await load({ url, body: small, connections: CONNECTIONS, duration: ROUND_S })).rps);
    ctx.log(`http-abort: ${what}, round ${r + 1}, beside ${HANGUPS_PER_S} hang-ups a second`);
    const timer = setInterval(() => void hangUpAfter(heavyUrl, heavy, 5 + Math.random() * 15), 1000 / HANGUPS_PER_S);
    try {
      beside.push((await load({ url, body: small, connections: CONNECTIONS, duration: ROUND_S })).rps);
    } finally {
      clearInterval(timer);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { alone, beside };
}

export async function run(ctx: Ctx): Promise<Row[]> {
  const server = await startGradserve();
  const dir = mkdtempSync(join(tmpdir(), 'gradserve-bench-'));
  let floor: Child | undefined;
  try {
    const url = `${server.url}/v1/gradients`;
    const small = JSON.stringify(twoWeight);
    const starts = async () => Number((await metric(server.url, 'gradserve_worker_starts_total'))[0]?.split(' ')[1] ?? NaN);
    ctx.log('http-abort: warm-up');
    await load({ url, body: small, connections: CONNECTIONS, duration: WARMUP_S });
    const rows: Row[] = [];
    const requests = new Map([HEAVY, LARGE].map((m) => [m, heavyRequest(m)]));
    for (const [model, { path, body: heavy }] of requests) {
      const what = `${(heavy.length / 1e6).toFixed(1)} MB ${model.key} ${path} request`;
      const startsBefore = await starts();
      const { alone, beside } = await hangUpRounds(ctx, what, url, small, `${server.url}${path}`, heavy);
      const restarts = (await starts()) - startsBefore;
      const stopped = (await metric(server.url, 'gradserve_stopped_tasks_total')).map((l) => l.replace('gradserve_stopped_tasks_total', '')).join(', ');
      ctx.log(`http-abort: ${what}: stopped so far: ${stopped}`);
      const ratio = median(beside) / median(alone);
      const target = model === HEAVY;
      rows.push(
        { scenario: 'http-abort', name: `two-weight chain alone, 4 connections (${model.key} round)`, value: round(median(alone), 0), unit: 'req/s', rounds: alone.map((x) => round(x, 0)) },
        { scenario: 'http-abort', name: `the same beside ${HANGUPS_PER_S} hang-ups/s (5–20 ms) of the ${what}`, value: round(median(beside), 0), unit: 'req/s', rounds: beside.map((x) => round(x, 0)), stopped },
        {
          scenario: 'http-abort',
          name: `beside ${model.key} hang-ups / alone`,
          value: round(ratio, 2),
          exact: ratio,
          unit: '×',
          ...(target ? { target: { op: '>=', limit: 0.8, label: 'small client rate beside hang-ups / alone', reach: HANGUP_FLOOR } } : {}),
        },
        {
          scenario: 'http-abort',
          name: `workers started during the ${model.key} hang-ups`,
          value: restarts,
          unit: '',
          target: { op: '<=', limit: 0, label: `worker restarts under ${model.key} hang-ups` },
        },
      );
    }
    // The floor of the heavy row: the same two clients against the hand-off floor (http-small.ts), a
    // server that parses each body and hands it to a worker that does nothing. What the small client
    // loses there is what the load generator's sends and the bodies' receipt cost on these cores, not
    // any computation.
    const answerFile = join(dir, 'answer.json');
    writeFileSync(answerFile, await (await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: small })).text());
    await server.stop();
    floor = await startServer(join(ctx.root, 'dist/test/bench/bare-server.js'), { BARE_RESPONSE_FILE: answerFile, BARE_POOL: String(os.availableParallelism()) }, '/readyz');
    const floorUrl = `${floor.url}/v1/gradients`;
    await load({ url: floorUrl, body: small, connections: CONNECTIONS, duration: WARMUP_S });
    const heavy = requests.get(HEAVY)!.body;
    const { alone, beside } = await hangUpRounds(ctx, `hand-off floor, ${(heavy.length / 1e6).toFixed(1)} MB heavy body`, floorUrl, small, floorUrl, heavy);
    const ratio = median(beside) / median(alone);
    rows.push(
      { scenario: 'http-abort', name: 'hand-off floor: two-weight chain alone, 4 connections', value: round(median(alone), 0), unit: 'req/s', rounds: alone.map((x) => round(x, 0)) },
      { scenario: 'http-abort', name: `hand-off floor: the same beside ${HANGUPS_PER_S} hang-ups/s of the heavy body`, value: round(median(beside), 0), unit: 'req/s', rounds: beside.map((x) => round(x, 0)) },
      { scenario: 'http-abort', name: HANGUP_FLOOR, value: round(ratio, 2), exact: ratio, unit: '×' },
    );
    return rows;
  } finally {
    await server.stop();
    await floor?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
