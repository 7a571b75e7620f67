import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Histogram as PromHistogram, Registry } from 'prom-client';
import { exposition, Histogram, Series } from '../../lib/report/prometheus.ts';

/** The sample and comment lines of an exposition, in order (blank lines are not part of the format's meaning). */
const linesOf = (text: string) => text.split('\n').filter((l) => l.trim() !== '');

describe('the Prometheus text format', () => {
  it('says what prom-client, the reference client, says for the same observations', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'x_total',
      help: 'Runs, by "result".\nSecond line \\ here.',
      labelNames: ['result', 'cluster'],
      registers: [registry],
    });
    const gauge = new Gauge({ name: 'x_gauge', help: 'A gauge.', labelNames: ['cluster'], registers: [registry] });
    const plain = new Gauge({ name: 'x_plain', help: 'No labels.', registers: [registry] });
    const hist = new PromHistogram({
      name: 'x_seconds',
      help: 'A histogram.',
      buckets: [0.05, 0.5, 5],
      registers: [registry],
    });

    const c = new Series('x_total', 'Runs, by "result".\nSecond line \\ here.', 'counter');
    const g = new Series('x_gauge', 'A gauge.', 'gauge');
    const p = new Series('x_plain', 'No labels.', 'gauge');
    const h = new Histogram('x_seconds', 'A histogram.', [0.05, 0.5, 5]);

    for (const [labels, by] of [
      [{ result: 'ok', cluster: 'a' }, 1],
      [{ result: 'partial', cluster: 'we"ird\\name\n' }, 3],
      [{ result: 'ok', cluster: 'a' }, 2],
    ] as const) {
      counter.inc(labels, by);
      c.inc(labels, by);
    }
    gauge.set({ cluster: 'a' }, 1764633600.123);
    g.set({ cluster: 'a' }, 1764633600.123);
    gauge.set({ cluster: 'a' }, 17);
    g.set({ cluster: 'a' }, 17);
    plain.set(0.25);
    p.set({}, 0.25);
    for (const v of [0.01, 0.05, 0.2, 7, 3]) {
      hist.observe(v);
      h.observe(v);
    }
    assert.deepEqual(linesOf(exposition([c, g, p, h])), linesOf(await registry.metrics()));
  });
});
