import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterBackoff } from '../../lib/loop/backoff.ts';
import { parseAddr } from '../../lib/report/metrics.ts';

describe('per-cluster backoff', () => {
  it('skips a failing cluster for doubling periods, capped, and forgets it once it answers', () => {
    const b = new ClusterBackoff(1000, 5000);
    const fail = (at: number) =>
      b.record(
        new Map([
          ['beta', 'ECONNREFUSED'],
          ['alpha', undefined],
        ]),
        at,
      );
    fail(0);
    assert.deepEqual([...b.skipped(500).keys()], ['beta']);
    assert.match(
      b.skipped(500).get('beta')!,
      /^not asked this run: 1 failed read\(s\) in a row, next try in 1s \(last error: ECONNREFUSED\)$/,
    );
    assert.equal(b.skipped(1000).size, 0, 'tried again after 1s');
    fail(1000);
    assert.ok(b.skipped(2999).has('beta'));
    assert.ok(!b.skipped(3000).has('beta'), 'then after 2s');
    fail(3000);
    fail(7000);
    fail(12000);
    assert.ok(b.skipped(16999).has('beta'));
    assert.ok(!b.skipped(17000).has('beta'), 'capped at 5s');
    b.record(new Map([['beta', undefined]]), 17000);
    assert.equal(b.skipped(17000).size, 0);
    fail(20000);
    assert.ok(!b.skipped(21000).has('beta'), 'a cluster that recovered starts again at the base period');
  });
});

describe('--metrics-addr', () => {
  it('reads [host]:port', () => {
    assert.deepEqual(parseAddr(':9090'), { host: undefined, port: 9090 });
    assert.deepEqual(parseAddr('127.0.0.1:9090'), { host: '127.0.0.1', port: 9090 });
    assert.deepEqual(parseAddr('[::1]:9090'), { host: '::1', port: 9090 });
    assert.equal(parseAddr('9090'), undefined);
    assert.equal(parseAddr(':99999'), undefined);
  });
});
