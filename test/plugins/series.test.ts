import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { SeriesMetric } from '../../src/plugins/series.js';

// The per-request metrics count in place (plugins/series.ts) but must read exactly as prom-client's
// own counter and histogram would, in the text format and in the JSON the cluster's primary sums.

const BOUNDS = [0.001, 0.01, 0.1, 1];
const OBSERVED: [Record<string, string>, number][] = [
  [{ route: '/v1/gradients', status: '200' }, 0.0004],
  [{ route: '/v1/gradients', status: '200' }, 0.001], // on a bound: counted in it, as prom-client does
  [{ route: '/v1/gradients', status: '200' }, 0.05],
  [{ route: '/v1/gradients', status: '200' }, 7], // past the last bound: only in +Inf
  [{ route: 'unmatched', status: '404' }, 0.002],
];

function both() {
  const theirs = new Registry();
  const ours = new Registry();
  const counter = new Counter({ name: 'answers_total', help: 'answers', labelNames: ['route', 'status'], registers: [theirs] });
  const histogram = new Histogram({ name: 'seconds', help: 'time', labelNames: ['route', 'status'], buckets: BOUNDS, registers: [theirs] });
  const counted = new SeriesMetric('answers_total', 'answers', 'counter', ours);
  const observed = new SeriesMetric('seconds', 'time', 'histogram', ours, BOUNDS);
  for (const [labels, v] of OBSERVED) {
    counter.inc(labels);
    histogram.observe(labels, v);
    counted.series(labels).inc();
    observed.series(labels).observe(v);
  }
  // counted, never observed: a counter's line, no histogram lines
  counter.inc({ route: 'unmatched', status: '400' });
  counted.series({ route: 'unmatched', status: '400' }).inc();
  return { theirs, ours };
}

describe('SeriesMetric', () => {
  it('exports what prom-client exports for the same observations', async () => {
    const { theirs, ours } = both();
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('seconds_bucket{le="0.001",route="/v1/gradients",status="200"} 2');
    expect(text).toContain('seconds_bucket{le="+Inf",route="/v1/gradients",status="200"} 4');
    expect(text).toContain('answers_total{route="unmatched",status="400"} 1');
    expect(text).not.toContain('seconds_count{route="unmatched",status="400"}');
    // as the processes send it to the primary; without prom-client's exemplars, which are not enabled (null)
    const sent = async (r: Registry) => JSON.parse(JSON.stringify(await r.getMetricsAsJSON(), (k, v) => (k === 'exemplar' ? undefined : v))) as unknown;
    expect(await sent(ours)).toEqual(await sent(theirs));
  });

  it('is summed across processes as prom-client\'s metrics are', async () => {
    const a = both();
    const b = both();
    const theirs = AggregatorRegistry.aggregate([await a.theirs.getMetricsAsJSON(), await b.theirs.getMetricsAsJSON()]);
    const ours = AggregatorRegistry.aggregate([await a.ours.getMetricsAsJSON(), await b.ours.getMetricsAsJSON()]);
    expect(await ours.metrics()).toBe(await theirs.metrics());
    expect(await ours.metrics()).toContain('seconds_count{route="/v1/gradients",status="200"} 8');
  });

  it('keeps one series per label set', () => {
    const m = new SeriesMetric('x', 'x', 'counter', new Registry());
    expect(m.series({ a: '1' })).toBe(m.series({ a: '1' }));
    expect(m.series({ a: '1' })).not.toBe(m.series({ a: '2' }));
  });
});
