// The Prometheus text format (0.0.4), written here: mefi's ten series need
// counters, gauges and one histogram, and prom-client cost every process
// about 15 MiB to load.

type Labels = Record<string, string>;

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const labelText = (l: Labels) => {
  const keys = Object.keys(l);
  return keys.length ? `{${keys.map((k) => `${k}="${escapeLabel(l[k]!)}"`).join(',')}}` : '';
};
const num = (n: number) => (n === Infinity ? '+Inf' : String(n));

/** A counter or gauge: one value per label set. */
export class Series {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  constructor(name: string, help: string, type: 'counter' | 'gauge') {
    this.name = name;
    this.help = help;
    this.type = type;
  }

  private entry(labels: Labels) {
    const key = labelText(labels);
    let e = this.values.get(key);
    if (!e) this.values.set(key, (e = { labels, value: 0 }));
    return e;
  }

  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels).value += by;
  }

  set(labels: Labels, value: number): void {
    this.entry(labels).value = value;
  }

  lines(): string[] {
    return [...this.values.values()].map((e) => `${this.name}${labelText(e.labels)} ${num(e.value)}`);
  }
}

export class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  readonly type = 'histogram';
  readonly name: string;
  readonly help: string;
  private readonly buckets: number[];
  constructor(name: string, help: string, buckets: number[]) {
    this.name = name;
    this.help = help;
    this.buckets = buckets;
    this.counts = buckets.map(() => 0);
  }

  observe(v: number): void {
    this.buckets.forEach((le, i) => {
      if (v <= le) this.counts[i]!++;
    });
    this.sum += v;
    this.count++;
  }

  lines(): string[] {
    return [
      ...this.buckets.map((le, i) => `${this.name}_bucket{le="${num(le)}"} ${this.counts[i]}`),
      `${this.name}_bucket{le="+Inf"} ${this.count}`,
      `${this.name}_sum ${this.sum}`,
      `${this.name}_count ${this.count}`,
    ];
  }
}

/** Every series, in the text format. */
export function exposition(series: (Series | Histogram)[]): string {
  return (
    series
      .map((m) =>
        [
          `# HELP ${m.name} ${m.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`,
          `# TYPE ${m.name} ${m.type}`,
          ...m.lines(),
        ].join('\n'),
      )
      .join('\n') + '\n'
  );
}

export const contentType = 'text/plain; version=0.0.4; charset=utf-8';
