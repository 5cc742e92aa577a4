// The soak (test/soak/soak.ts) for 10 minutes: mixed small, large, failing and abandoned requests
// against the real server; the memory slopes after the warm-up and the unexpected answers as rows.
import { runSoak } from '../soak/soak.js';
import { round, type Ctx, type Row } from './common.js';

const MINUTES = 10;

export async function run(ctx: Ctx): Promise<Row[]> {
  const r = await runSoak({ seconds: MINUTES * 60, log: (l) => ctx.log(`soak: ${l}`) });
  const unexpected = Object.values(r.perRoute).reduce((a, c) => a + c.unexpected, 0);
  const row = (name: string, value: number, unit: string, extra: Partial<Row> = {}): Row => ({ scenario: 'soak', name, value, unit, ...extra });
  return [
    row(`answers in ${MINUTES} min (hang-ups: ${r.hangUps.sent}, stopped ${r.hangUps.stopped || 'none'})`, r.requests, ''),
    row('unexpected answers, connection errors, timeouts', unexpected + r.errors + r.timeouts, '', { target: { op: '<=', limit: 0, label: 'soak: unexpected answers' } }),
    row('RSS slope after the warm-up', round(r.rss.slopeMbPerMin, 2), 'MB/min'),
    row('RSS outside the main heap, slope', round(r.offHeap.slopeMbPerMin, 2), 'MB/min'),
    row('RSS outside the main heap, first → last third', round(r.offHeap.growthMb, 1), 'MB', { failures: r.failures }),
    row('main heap in use, slope', round(r.heap.slopeMbPerMin, 2), 'MB/min'),
    row('main heap lows, first → last third (the process whose rose most)', round(r.heapLows.growthMb, 1), 'MB'),
    row('soak verdict (memory flat, no unexpected answer, clean exit)', r.ok ? 1 : 0, '', { target: { op: '>=', limit: 1, label: 'soak passes' }, note: r.failures.join('; ') }),
  ];
}
