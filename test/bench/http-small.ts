// Small requests: the README's two-weight chain, 16 connections, gradserve (default config) against a bare
// Fastify server that parses the same body and answers the same bytes. Both servers run side by side
// and are loaded in alternation (bare, gradserve, bare, ...), so drifting load from other processes on
// the machine hits both alike; each figure is the median of the rounds. Each server's CPU time per
// request (its event loop, and its other threads) is reported beside: the budget the target is about.
// A third server, the bare one handing each parsed body to a piscina worker that does nothing with it
// (as many workers as gradserve), is loaded in the same alternation, just before and just after the
// three rows measured against it: what one task per request costs in throughput before any work, the
// floor under a server that computes in worker threads. The targets are stated against it; the
// same floor in as many processes as gradserve runs by default is loaded in the rounds too, reported beside.
// gradserve runs as many event loops as its default gives (PROCESSES: two where there are two workers or
// more, each process with its share of them); the same service as one event loop (PROCESSES=1) is
// loaded in the same alternation, by ref. A cluster's CPU is its processes' summed. A 200-node graph by ref
// goes to the workers, where the chain is computed on the event loop (IN_PLACE_FLOPS); the chain by ref
// with IN_PLACE_FLOPS=0, handed off as the graph is, is loaded too: only the spec's size then differs.
// The peer a user would pick instead (PyTorch behind FastAPI, test/bench/torch_server.py) is loaded in the
// same alternation, once its answer matches gradserve's.
// The same requests also go through the worker pool alone (no HTTP, the default worker count, 16 in
// flight) once the servers are stopped: the hand-off's own ceiling, before any HTTP cost.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import os from 'node:os';
import { twoWeight, twoWeightModel } from '../../src/routes/shared/examples.js';
import { breathe, median, processCpuMs, round, startGradserve, startServer, type Child, type Ctx, type Row } from './common.js';
import { load, type LoadResult } from './load.js';
import { poolThroughput, type PoolRate } from './pool-alone.js';
import { peerLabel, peerMissing, sameAnswer, startPeer } from './torch-server.js';

const CONNECTIONS = 16;
const ROUNDS = 5;
const ROUND_S = 2;
/**
 * Unmeasured load on each server first. A fresh gradserve under load on a busy machine took several
 * seconds to reach its speed (V8 optimizes its request path on compiler threads that wait for a core):
 * after 1 s of warm-up its first rounds measured a third to a tenth of its later ones.
 */
const WARMUP_S = 4;
/** the hand-off floor's p99 row, which the p99 targets' reach names */
const HANDOFF_P99 = 'p99 latency (the floor under the p99 target)';

/** A 200-node graph: w applied 199 times to x, then the loss; by reference it should cost what the chain does. */
function longChain(): { model: object; params: object; inputs: object } {
  const nodes = [{ id: 'n0', op: 'mul', inputs: ['w', 'x'] }];
  for (let i = 1; i < 199; i++) nodes.push({ id: `n${i}`, op: 'mul', inputs: ['w', `n${i - 1}`] });
  nodes.push({ id: 'L', op: 'mse_loss', inputs: ['n198', 't'] });
  return { model: { type: 'graph', inputs: ['x', 't'], params: { w: { shape: [] } }, nodes, output: 'L' }, params: { w: 1 }, inputs: { x: 2, t: 1 } };
}

/**
 * One server measured before and after others, as one figure: what it would have measured between them
 * were the host's load drifting steadily (the means)
 */
const bracket = (a: LoadResult, b: LoadResult): LoadResult => ({
  rps: (a.rps + b.rps) / 2,
  p50Ms: (a.p50Ms + b.p50Ms) / 2,
  p99Ms: (a.p99Ms + b.p99Ms) / 2,
  failures: a.failures + b.failures,
  responses: a.responses + b.responses,
});

/** Registers a model (POST /v1/models) and answers a request body naming it by reference. */
async function byRef(url: string, model: object, rest: object): Promise<string> {
  const r = await fetch(`${url}/v1/models`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(model) });
  if (r.status !== 201 && r.status !== 200) throw new Error(`registering a model answered ${r.status}: ${await r.text()}`);
  const { id } = (await r.json()) as { id: string };
  return JSON.stringify({ ...rest, model: { ref: id } });
}

export async function run(ctx: Ctx): Promise<Row[]> {
  const body = JSON.stringify(twoWeight);
  const dir = mkdtempSync(join(tmpdir(), 'gradserve-bench-'));
  const servers: Child[] = [];
  try {
    ctx.log('http-small: starting gradserve (default config) and bare Fastify');
    const ours = await startGradserve();
    servers.push(ours);
    const res = await fetch(`${ours.url}/v1/gradients`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const answer = await res.text();
    if (res.status !== 200) throw new Error(`two-weight request answered ${res.status}: ${answer}`);
    const { model: _inline, ...chainRest } = twoWeight;
    const refBody = await byRef(ours.url, twoWeightModel, chainRest);
    const { model: long, ...longRest } = longChain();
    const ref200Body = await byRef(ours.url, long, longRest);
    for (const b of [refBody, ref200Body]) {
      const r = await fetch(`${ours.url}/v1/gradients`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b });
      if (r.status !== 200) throw new Error(`a request by reference answered ${r.status}: ${await r.text()}`);
    }
    // the same service as one event loop (PROCESSES=1): the chain by ref
    const ours1 = await startGradserve({ PROCESSES: '1' });
    servers.push(ours1);
    const ref1Body = await byRef(ours1.url, twoWeightModel, chainRest);
    // and with every computation in a worker (IN_PLACE_FLOPS=0): the chain handed off as the 200-node graph is
    const oursW = await startGradserve({ IN_PLACE_FLOPS: '0' });
    servers.push(oursW);
    const refWBody = await byRef(oursW.url, twoWeightModel, chainRest);
    const file = join(dir, 'answer.json');
    writeFileSync(file, answer);
    const bare = await startServer(join(ctx.root, 'dist/test/bench/bare-server.js'), { BARE_RESPONSE_FILE: file }, '/readyz');
    servers.push(bare);

    const workers = os.availableParallelism();
    const handoff = await startServer(join(ctx.root, 'dist/test/bench/bare-server.js'), { BARE_RESPONSE_FILE: file, BARE_POOL: String(workers) }, '/readyz');
    servers.push(handoff);
    // the same floor in as many processes as gradserve's default (PROCESSES): like with like, reported beside
    const processes = Math.min(2, workers);
    const handoff2 = processes > 1 ? await startServer(join(ctx.root, 'dist/test/bench/bare-server.js'), { BARE_RESPONSE_FILE: file, BARE_POOL: String(workers), BARE_PROCESSES: String(processes) }, '/readyz') : null;
    if (handoff2) servers.push(handoff2);

    const peerOptions = { threads: 1 };
    const missing = await peerMissing();
    let peer: Child | null = null;
    if (missing === null) {
      ctx.log(`http-small: starting ${peerLabel(peerOptions)}`);
      peer = await startPeer(ctx, peerOptions);
      servers.push(peer);
      const r = await fetch(`${peer.url}/v1/gradients`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const differs = r.status === 200 ? sameAnswer(answer, await r.text()) : `status ${r.status}: ${await r.text()}`;
      if (differs !== null) throw new Error(`the PyTorch peer's answer differs from gradserve's: ${differs}`);
    }

    // ours: the chain's spec inline; ref: the chain by reference; ref200: the 200-node graph by reference;
    // ref1: the chain by reference, PROCESSES=1; refW: the chain by reference, IN_PLACE_FLOPS=0
    type Who = 'ours' | 'ref' | 'ref200' | 'ref1' | 'refW' | 'bare' | 'handoff' | 'handoff2' | 'peer';
    const server = { ours, ref: ours, ref200: ours, ref1: ours1, refW: oursW, bare, handoff, handoff2: handoff2!, peer: peer! };
    const bodies: Record<Who, string> = { ours: body, ref: refBody, ref200: ref200Body, ref1: ref1Body, refW: refWBody, bare: body, handoff: body, handoff2: body, peer: body };
    const runs: Record<Who, LoadResult[]> = { ours: [], ref: [], ref200: [], ref1: [], refW: [], bare: [], handoff: [], handoff2: [], peer: [] };
    // each server's CPU time over its measured rounds, event loop and other threads apart
    const zero = () => ({ mainMs: 0, otherMs: 0, responses: 0 });
    const cpu = { ours: zero(), ref: zero(), ref200: zero(), ref1: zero(), refW: zero(), bare: zero(), handoff: zero(), handoff2: zero() };
    const hit = (who: Who, duration: number) => load({ url: `${server[who].url}/v1/gradients`, body: bodies[who], connections: CONNECTIONS, duration });
    const measured = async (who: keyof typeof cpu) => {
      const pid = server[who].pid;
      const before = processCpuMs(pid);
      const result = await hit(who, ROUND_S);
      const after = processCpuMs(pid);
      if (before && after) {
        cpu[who].mainMs += after.mainMs - before.mainMs;
        cpu[who].otherMs += after.otherMs - before.otherMs;
        cpu[who].responses += result.responses;
      }
      return result;
    };
    await hit('bare', WARMUP_S);
    await hit('ours', WARMUP_S);
    await hit('ref', WARMUP_S);
    // the only row computed in the workers: their code paths need warming as much as the event loop's
    await hit('ref200', WARMUP_S);
    await hit('ref1', WARMUP_S);
    await hit('refW', WARMUP_S);
    await hit('handoff', WARMUP_S);
    if (handoff2) await hit('handoff2', WARMUP_S);
    if (peer) await hit('peer', WARMUP_S);
    for (let r = 0; r < ROUNDS; r++) {
      ctx.log(`http-small: round ${r + 1} of ${ROUNDS}`);
      runs.bare.push(await measured('bare'));
      await breathe(100);
      // the floor just before and just after the three rows measured against it: their mean
      const before = await measured('handoff');
      await breathe(100);
      runs.ours.push(await measured('ours'));
      await breathe(100);
      runs.ref.push(await measured('ref'));
      await breathe(100);
      runs.ref1.push(await measured('ref1'));
      await breathe(100);
      runs.handoff.push(bracket(before, await measured('handoff')));
      await breathe(100);
      if (handoff2) {
        runs.handoff2.push(await measured('handoff2'));
        await breathe(100);
      }
      runs.ref200.push(await measured('ref200'));
      await breathe(100);
      runs.refW.push(await measured('refW'));
      await breathe(100);
      if (peer) {
        runs.peer.push(await hit('peer', ROUND_S));
        await breathe(100);
      }
    }

    const rows: Row[] = [];
    const throughput = (name: string, rs: LoadResult[]): Row => ({
      scenario: 'http-small',
      name,
      value: round(median(rs.map((r) => r.rps)), 0),
      unit: 'req/s',
      rounds: rs.map((r) => round(r.rps, 0)),
      failures: rs.reduce((n, r) => n + r.failures, 0),
    });
    // One server against another: the median of each round's ratio, the two measured seconds apart,
    // so that load drifting across the rounds cancels (a ratio of the two medians could pair a quiet
    // round of one with a busy round of the other)
    const ratio = (name: string, of: LoadResult[], to: LoadResult[], target?: Row['target']): Row => {
      const each = of.map((r, i) => r.rps / to[i]!.rps);
      const value = median(each);
      return { scenario: 'http-small', name, value: round(value, 2), exact: value, unit: '×', rounds: each.map((x) => round(x, 2)), ...(target ? { target } : {}) };
    };
    // Where a request's CPU goes (the load generator shares the two cores, so this is the budget)
    const loopRow = (name: string) => `${name} CPU per request, event loop`;
    const cpuRows = (name: string, c: (typeof cpu)['ours'], target?: Row['target']) => {
      if (c.responses === 0) return;
      const perRequest = (ms: number) => round((ms * 1000) / c.responses, 0);
      rows.push({ scenario: 'http-small', name: loopRow(name), value: perRequest(c.mainMs), unit: 'µs', ...(target ? { target } : {}) });
      rows.push({ scenario: 'http-small', name: `${name} CPU per request, other threads (workers, GC)`, value: perRequest(c.otherMs), unit: 'µs' });
    };
    const rps = { ours: median(runs.ours.map((r) => r.rps)), bare: median(runs.bare.map((r) => r.rps)) };
    const floor = (s: string) => `two-weight chain: bare Fastify handing each body to a no-op worker task (piscina, ${workers} workers): ${s}`;
    const LABELS = { ours: 'gradserve, spec inline', ref: 'gradserve, by ref', ref1: 'gradserve, by ref, PROCESSES=1', bare: 'bare Fastify' } as const;
    for (const who of ['ours', 'ref', 'ref1', 'bare'] as const) {
      const label = LABELS[who];
      rows.push(throughput(`two-weight chain, ${CONNECTIONS} connections: ${label} throughput`, runs[who]));
      rows.push({
        scenario: 'http-small',
        name: `two-weight chain, ${CONNECTIONS} connections: ${label} p99 latency`,
        value: median(runs[who].map((r) => r.p99Ms)),
        unit: 'ms',
        ...(who === 'bare' || who === 'ref1' ? {} : { target: { op: '<=', limit: 5, label: `small-request p99 latency, ${label} (issue 17)`, reach: floor(HANDOFF_P99) } }),
      });
      cpuRows(
        `two-weight chain: ${label}`,
        cpu[who],
        who === 'ref' ? { op: '<=', limit: 60, label: 'event-loop CPU per small request by ref (issue 17)', reach: loopRow(floor('').trimEnd()) } : undefined,
      );
    }
    for (const who of ['ours', 'ref', 'ref1'] as const) {
      const target = who === 'ref1' ? undefined : ({ op: '>=', limit: 0.3, label: `small-request throughput vs bare Fastify, ${LABELS[who]} (issue 17)` } as const);
      rows.push(ratio(`two-weight chain: ${LABELS[who]} / bare Fastify throughput`, runs[who], runs.bare, target));
    }
    rows.push(throughput(`200-node graph, ${CONNECTIONS} connections: gradserve, by ref throughput`, runs.ref200));
    cpuRows('200-node graph: gradserve, by ref', cpu.ref200);
    // the 200-node graph's event-loop CPU per request over another row's
    const loopRatio = (of: (typeof cpu)['ref'], to: (typeof cpu)['ref']) => of.mainMs / of.responses / (to.mainMs / to.responses);
    if (cpu.ref.responses > 0 && cpu.ref200.responses > 0) {
      const r = loopRatio(cpu.ref200, cpu.ref);
      rows.push({
        scenario: 'http-small',
        name: '200-node graph by ref / two-weight chain by ref: event-loop CPU per request',
        value: round(r, 2),
        exact: r,
        unit: '×',
        target: { op: '<=', limit: 1.2, label: 'a large model by ref costs the event loop what a small one does (issue 17)' },
      });
    }
    // like for like: the chain handed to a worker too, as the 200-node graph is (the chain above is
    // computed on the event loop, IN_PLACE_FLOPS), so that only the spec's size differs
    rows.push(throughput(`two-weight chain, ${CONNECTIONS} connections: gradserve, by ref, IN_PLACE_FLOPS=0 throughput`, runs.refW));
    cpuRows('two-weight chain: gradserve, by ref, IN_PLACE_FLOPS=0', cpu.refW);
    if (cpu.refW.responses > 0 && cpu.ref200.responses > 0) {
      const r = loopRatio(cpu.ref200, cpu.refW);
      rows.push({ scenario: 'http-small', name: '200-node graph by ref / two-weight chain by ref, both in a worker (IN_PLACE_FLOPS=0 for the chain): event-loop CPU per request', value: round(r, 2), exact: r, unit: '×' });
    }
    rows.push(throughput(floor('throughput'), runs.handoff));
    rows.push({ scenario: 'http-small', name: floor(HANDOFF_P99), value: median(runs.handoff.map((r) => r.p99Ms)), unit: 'ms' });
    cpuRows(floor('').trimEnd(), cpu.handoff);
    rows.push(ratio(floor('/ bare Fastify throughput (the hand-off alone, one task per request)'), runs.handoff, runs.bare));
    for (const who of ['ours', 'ref', 'ref1'] as const) {
      const target = who === 'ref1' ? undefined : ({ op: '>=', limit: 0.75, label: `small-request throughput vs the hand-off floor, ${LABELS[who]} (issue 17)` } as const);
      rows.push(ratio(`two-weight chain: ${LABELS[who]} / the hand-off floor throughput`, runs[who], runs.handoff, target));
    }
    if (handoff2) {
      const floor2 = (s: string) => `two-weight chain: the hand-off floor as ${processes} processes (node:cluster, ${workers} workers in all): ${s}`;
      rows.push(throughput(floor2('throughput'), runs.handoff2));
      rows.push({ scenario: 'http-small', name: floor2('p99 latency'), value: median(runs.handoff2.map((r) => r.p99Ms)), unit: 'ms' });
      cpuRows(floor2('').trimEnd(), cpu.handoff2);
      for (const who of ['ours', 'ref'] as const) rows.push(ratio(`two-weight chain: ${LABELS[who]} / the hand-off floor as ${processes} processes throughput`, runs[who], runs.handoff2));
    }
    if (peer) {
      const label = peerLabel(peerOptions);
      rows.push(throughput(`two-weight chain, ${CONNECTIONS} connections: ${label} throughput`, runs.peer));
      rows.push({ scenario: 'http-small', name: `two-weight chain, ${CONNECTIONS} connections: ${label} p99 latency`, value: median(runs.peer.map((r) => r.p99Ms)), unit: 'ms' });
      rows.push(ratio('two-weight chain: gradserve / PyTorch + FastAPI throughput', runs.ours, runs.peer, { op: '>=', limit: 2, label: 'small-request throughput vs PyTorch + FastAPI (issue 17)' }));
      rows.push(ratio(`two-weight chain: ${LABELS.ref} / PyTorch + FastAPI throughput`, runs.ref, runs.peer, { op: '>=', limit: 2, label: `small-request throughput vs PyTorch + FastAPI, ${LABELS.ref} (issue 17)` }));
      rows.push(ratio(`two-weight chain: ${LABELS.ref1} / PyTorch + FastAPI throughput`, runs.ref1, runs.peer));
    } else {
      rows.push({ scenario: 'http-small', name: 'PyTorch + FastAPI', value: NaN, unit: 'req/s', note: `skipped: ${missing}` });
    }

    for (const s of servers.splice(0)) await s.stop();
    const pooled: PoolRate[] = [];
    for (let r = 0; r < 2; r++) {
      ctx.log(`http-small: the pool alone, round ${r + 1} of 2`);
      pooled.push(await poolThroughput(body, workers, CONNECTIONS, ROUND_S, 1));
    }
    const best = pooled.reduce((a, b) => (b.tasksPerSecond > a.tasksPerSecond ? b : a));
    const alone = (s: string) => `two-weight chain through the pool alone (no HTTP, ${workers} workers, ${CONNECTIONS} in flight): ${s}`;
    rows.push({ scenario: 'http-small', name: alone('throughput'), value: round(best.tasksPerSecond, 0), unit: 'tasks/s', rounds: pooled.map((p) => round(p.tasksPerSecond, 0)) });
    rows.push({ scenario: 'http-small', name: alone('/ bare Fastify throughput'), value: round(best.tasksPerSecond / rps.bare, 2), unit: '×' });
    if (best.cpuPerTask) {
      rows.push({ scenario: 'http-small', name: alone('CPU per task, the pool\'s thread'), value: round(best.cpuPerTask.mainUs, 0), unit: 'µs' });
      rows.push({ scenario: 'http-small', name: alone('CPU per task, other threads (workers, GC)'), value: round(best.cpuPerTask.otherUs, 0), unit: 'µs' });
    }
    return rows;
  } finally {
    for (const s of servers) await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
