import { expect, it } from 'vitest';
import { formatReport, runSoak } from './soak.js';

// CI's short soak: 5 s of the mixed traffic against the real server process (dist/, built by
// `npm test`); `npm run soak` runs the same for 60 s.

it('5 s of mixed traffic: no unexpected answer, flat RSS, bounded event-loop delay, clean exit', { timeout: 90_000 }, async () => {
  const report = await runSoak({ seconds: 5 });
  const text = formatReport(report, 5);
  expect(report.ok, text).toBe(true);
  expect(report.requests, text).toBeGreaterThan(100);
  expect(report.samples.length, text).toBeGreaterThanOrEqual(5);
});
