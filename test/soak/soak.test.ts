import { expect, it } from 'vitest';
import { formatReport, runSoak } from './soak.js';

// CI's short soak: 5 s of the small requests of the mix against the real server process (dist/, built
// by `npm test`); `npm run soak` runs 60 s of them with large requests and hang-ups beside, the
// bench's soak 10 minutes. In 5 s on a shared machine the large ones would leave some of the mix unsent.

it('5 s of mixed traffic: no unexpected answer, flat RSS, bounded event-loop delay, clean exit', { timeout: 90_000 }, async () => {
  const report = await runSoak({ seconds: 5, hangUpsPerS: 0, largePauseMs: null });
  const text = formatReport(report, 5);
  expect(report.ok, text).toBe(true);
  expect(report.requests, text).toBeGreaterThan(100);
  expect(report.samples.length, text).toBeGreaterThanOrEqual(5);
});
