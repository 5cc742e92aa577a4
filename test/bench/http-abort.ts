// Hang-ups (issue 21): one client sends the large MLP's gradients request (base64, ~0.7 MB) and hangs up
// 5–20 ms later, 20 times a second, while another client runs the two-weight chain on 4 connections.
// The small client's rate beside the hang-ups over its rate alone, in the same run (alone first, then
// disturbed, each ROUND_S, twice in alternation; medians), and the workers started meanwhile (none should be).
import { join } from 'node:path';
import { twoWeight } from '../../src/routes/shared/examples.js';
import { LARGE, median, mlpBody, round, startServer, type Ctx, type Row } from './common.js';
import { hangUpAfter } from '../reliability/hang-up.js';
import { load } from './load.js';

const CONNECTIONS = 4;
const ROUND_S = 5;
const ROUNDS = 2;
const WARMUP_S = 3;
const HANGUPS_PER_S = 20;

async function metric(url: string, name: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name));
}

export async function run(ctx: Ctx): Promise<Row[]> {
  const server = await startServer(join(ctx.root, 'dist/src/server.js'), {}, '/readyz');
  try {
    const url = `${server.url}/v1/gradients`;
    const small = JSON.stringify(twoWeight);
    const heavy = Buffer.from(mlpBody(LARGE, 'base64'));
    const starts = async () => Number((await metric(server.url, 'gradserve_worker_starts_total'))[0]?.split(' ')[1] ?? NaN);
    ctx.log('http-abort: warm-up');
    await load({ url, body: small, connections: CONNECTIONS, duration: WARMUP_S });
    for (let i = 0; i < 20; i++) void hangUpAfter(url, heavy, 5 + (i % 16));
    await new Promise((r) => setTimeout(r, 500));
    const startsBefore = await starts();
    const alone: number[] = [];
    const beside: number[] = [];
    let sent = 0;
    for (let round = 0; round < ROUNDS; round++) {
      ctx.log(`http-abort: round ${round + 1}, alone`);
      alone.push((await load({ url, body: small, connections: CONNECTIONS, duration: ROUND_S })).rps);
      ctx.log(`http-abort: round ${round + 1}, beside ${HANGUPS_PER_S} hang-ups a second`);
      const timer = setInterval(() => {
        void hangUpAfter(url, heavy, 5 + Math.random() * 15);
        sent++;
      }, 1000 / HANGUPS_PER_S);
      try {
        beside.push((await load({ url, body: small, connections: CONNECTIONS, duration: ROUND_S })).rps);
      } finally {
        clearInterval(timer);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const restarts = (await starts()) - startsBefore;
    const stopped = (await metric(server.url, 'gradserve_stopped_tasks_total')).map((l) => l.replace('gradserve_stopped_tasks_total', '')).join(', ');
    ctx.log(`http-abort: ${sent} hang-ups; stopped: ${stopped}`);
    const ratio = median(beside) / median(alone);
    return [
      { scenario: 'http-abort', name: 'two-weight chain alone, 4 connections', value: round(median(alone), 0), unit: 'req/s', rounds: alone.map((x) => round(x, 0)) },
      { scenario: 'http-abort', name: `the same beside ${HANGUPS_PER_S} heavy hang-ups/s (5–20 ms)`, value: round(median(beside), 0), unit: 'req/s', rounds: beside.map((x) => round(x, 0)), stopped },
      { scenario: 'http-abort', name: 'beside hang-ups / alone', value: round(ratio, 2), exact: ratio, unit: '×', target: { op: '>=', limit: 0.8, label: 'small client rate beside hang-ups / alone' } },
      { scenario: 'http-abort', name: 'workers started during the hang-ups', value: restarts, unit: '', target: { op: '<=', limit: 0, label: 'worker restarts under hang-ups' } },
    ];
  } finally {
    await server.stop();
  }
}
