import type { Registry } from 'prom-client';

// Counters and histograms for the per-request metrics, whose label sets are made once and counted in
// place. prom-client checks, orders and hashes a labels object on every inc() and observe(), its
// children too: a measurable share of a small request's event-loop time. These register in a
// prom-client Registry as its own metrics do and export the same values (so /metrics, and the cluster's
// primary summing the processes' JSON, read them alike).

/** One label set's counts. */
export class Series {
  /** counted by inc(): a counter's value */
  total = 0;
  /** observed by observe(): a histogram's count and sum, and its observations per bucket (not cumulative) */
  count = 0;
  sum = 0;
  readonly perBucket: Float64Array;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.perBucket = new Float64Array(bounds.length);
  }

  inc(): void {
    this.total++;
  }

  observe(v: number): void {
    this.count++;
    this.sum += v;
    const { bounds } = this;
    for (let i = 0; i < bounds.length; i++) {
      if (v <= bounds[i]!) {
        this.perBucket[i]!++;
        return;
      }
    }
  }
}

interface Value {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** The label sets of one counter or histogram, each made once by series(). */
export class SeriesMetric {
  readonly aggregator = 'sum';
  private readonly all = new Map<string, Series>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'histogram',
    register: Registry,
    private readonly bounds: readonly number[] = [],
  ) {
    register.registerMetric(this as never);
  }

  /** The label set's series, made on first use: keep it, rather than ask again per observation. */
  series(labels: Record<string, string>): Series {
    const key = JSON.stringify(labels);
    let s = this.all.get(key);
    if (s === undefined) this.all.set(key, (s = new Series(labels, this.bounds)));
    return s;
  }

  /** prom-client's export: what Registry.metrics() formats and getMetricsAsJSON() returns. */
  get(): { name: string; help: string; type: string; aggregator: string; values: Value[] } {
    const values: Value[] = [];
    for (const s of this.all.values()) {
      if (this.type === 'counter') {
        if (s.total > 0) values.push({ labels: { ...s.labels }, value: s.total });
        continue;
      }
      if (s.count === 0) continue;
      let below = 0;
      this.bounds.forEach((le, i) => {
        below += s.perBucket[i]!;
        values.push({ labels: { le, ...s.labels }, value: below, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: `${this.name}_bucket` });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
