import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { plan } from '../../lib/plan/index.ts';
import { addressDelta, render, toReport } from '../../lib/report/report.ts';
import { exitCodeFor, type RunResult } from '../../lib/report/result.ts';
import { ep, ips, mirrorLabels, options } from '../support/fixtures.ts';

const calls = { list: 4, get: 0, create: 2, update: 0, delete: 0, watch: 0 };

function result(overrides: Partial<RunResult> = {}): RunResult {
  const p = plan(options, {
    sources: {
      a: { ok: true, items: [ep('shop', 'web', [ips(['10.0.0.1'], ['10.0.0.2'])])] },
      b: { ok: false, error: 'connect ECONNREFUSED 127.0.0.1:1' },
    },
    targets: {
      a: { ok: true, items: [ep('mefi-system', 'old-a', [ips(['10.0.0.9'])], mirrorLabels('old', 'a'), '3')] },
    },
  });
  return {
    plan: p,
    outcomes: [],
    leaseOutcomes: [],
    applied: false,
    durationMs: 12.4,
    phases: { readMs: 8, planMs: 2, applyMs: 2 },
    planned: 2,
    calls,
    warnings: [],
    ...overrides,
  };
}

describe('report', () => {
  it('describes address changes as a person reads them', () => {
    const s = (ready: string[], notReady: string[] = [], port = 80) => [
      {
        addresses: ready.map((ip) => ({ ip })),
        notReadyAddresses: notReady.map((ip) => ({ ip })),
        ports: [{ port, protocol: 'TCP' as const }],
      },
    ];
    assert.equal(addressDelta(undefined, s(['10.0.0.1'], ['10.0.0.2'])), '+10.0.0.1:80 +10.0.0.2:80(not ready)');
    assert.equal(addressDelta(s(['10.0.0.1', '10.0.0.2']), s(['10.0.0.1'], ['10.0.0.2'])), '~10.0.0.2:80(not ready)');
    assert.equal(addressDelta(s(['fd00::1']), undefined), '-[fd00::1]:80');
    assert.equal(addressDelta(s(['10.0.0.1']), s(['10.0.0.1'], [], 8080)), '+10.0.0.1:8080 -10.0.0.1:80');
    assert.equal(addressDelta(s(['10.0.0.1']), s(['10.0.0.1'])), 'labels only');
    assert.equal(
      addressDelta(undefined, s(['1.1.1.1', '1.1.1.2', '1.1.1.3', '1.1.1.4', '1.1.1.5', '1.1.1.6'])),
      '+1.1.1.1:80 +1.1.1.2:80 +1.1.1.3:80 +1.1.1.4:80 (+2 more)',
    );
  });

  it('says what --probe probed: in the summary line, and per cluster in the JSON report', () => {
    const probe = {
      target: 'a',
      candidates: 1004,
      probed: 102,
      unprobed: 902,
      unreachable: new Map([
        ['gamma', 100],
        ['beta', 2],
      ]),
      ms: 1017,
    };
    const out = render('table', 'sync', result({ probe }), 2);
    assert.match(
      out,
      /probed 102 of 1004 remote \(address, port\)s from a in 1\.02s, 102 not answering, 902 not probed \(budget spent\)/,
    );
    const json = JSON.parse(render('json', 'sync', result({ probe }), 2)) as { probe: unknown };
    assert.deepEqual(json.probe, {
      target: 'a',
      candidates: 1004,
      probed: 102,
      unprobed: 902,
      unreachable: { beta: 2, gamma: 100 },
      durationMs: 1017,
    });
    assert.equal(
      (JSON.parse(render('json', 'sync', result(), 2)) as { probe?: unknown }).probe,
      undefined,
      'no probe section without --probe',
    );
  });

  it('prints a table with one line per object, problems, unreadable clusters and a summary', () => {
    const out = render('table', 'sync', result(), 2);
    const lines = out.split('\n');
    assert.match(lines[0]!, /^ACTION\s+TARGET\s+ENDPOINTS\s+CLUSTER\s+ADDRESSES$/);
    assert.match(out, /^create\s+a\s+mefi-system\/web\s+\(aggregate\)\s+\+10\.0\.0\.1:80$/m);
    assert.match(out, /^create\s+a\s+mefi-system\/web-a\s+a\s+\+10\.0\.0\.1:80 \+10\.0\.0\.2:80\(not ready\)$/m);
    assert.match(out, /^delete\s+a\s+mefi-system\/old-a\s+a\s+-10\.0\.0\.9:80$/m);
    assert.match(out, /^UNREADABLE b \(source\): connect ECONNREFUSED 127\.0\.0\.1:1$/m);
    assert.match(
      out,
      /^Plan \(dry run\): 2 to create, 0 to update, 1 to delete; 0 problems; 1 unreadable \(b as source\); 4 reads, 2 writes in 0\.01s$/m,
    );
  });

  it('does not call a run in sync when a cluster could not be read', () => {
    const p = plan(options, { sources: { a: { ok: false, error: 'x' } }, targets: { a: { ok: true, items: [] } } });
    const out = render(
      'table',
      'sync',
      {
        plan: p,
        outcomes: [],
        leaseOutcomes: [],
        applied: true,
        durationMs: 1,
        phases: { readMs: 1, planMs: 0, applyMs: 0 },
        planned: 0,
        calls,
        warnings: [],
      },
      2,
    );
    assert.match(out, /^No changes planned, but not every cluster could be read/);
    assert.doesNotMatch(out, /in sync/);
  });

  it('prints a kubectl-diff-style patch for diff', () => {
    const out = render('table', 'diff', result(), 2);
    assert.match(out, /^--- a\/a\/mefi-system\/endpoints\/web-a\n\+\+\+ b\/a\/mefi-system\/endpoints\/web-a$/m);
    assert.match(out, /^\+    isMefiOriginalName: web$/m);
    assert.match(out, /^-  - addresses:\n-      - ip: 10\.0\.0\.9$/m);
    assert.match(out, /^Diff: 2 to create/m);
  });

  it('carries the whole plan in a stable machine document', () => {
    const doc = JSON.parse(render('json', 'sync', result(), 2));
    assert.deepEqual(Object.keys(doc), [
      'apiVersion',
      'kind',
      'command',
      'dryRun',
      'changes',
      'unreadable',
      'problems',
      'leases',
      'warnings',
      'summary',
      'exitCode',
    ]);
    assert.deepEqual(Object.keys(doc.changes[0]), [
      'action',
      'target',
      'kind',
      'role',
      'namespace',
      'name',
      'originalName',
      'after',
      'result',
    ]);
    assert.equal(doc.changes[0].result, 'planned');
    assert.equal(doc.exitCode, 2);
    // Counted from the plan and the outcomes, not handed in.
    const summary = toReport('sync', result({ outcomes: [] }), 2).summary;
    assert.deepEqual(
      [summary.create, summary.update, summary.delete, summary.problems, summary.blocking, summary.unreadable],
      [2, 0, 1, 0, 0, 1],
    );
  });
});

describe('exit codes', () => {
  const clean = (): RunResult => {
    const p = plan(options, { sources: { a: { ok: true, items: [] } }, targets: { a: { ok: true, items: [] } } });
    return {
      plan: p,
      outcomes: [],
      leaseOutcomes: [],
      applied: true,
      durationMs: 1,
      phases: { readMs: 1, planMs: 0, applyMs: 0 },
      planned: 0,
      calls,
      warnings: [],
    };
  };
  it('sync: 0 when everything was read and applied, 2 when a cluster was unreadable or a write failed', () => {
    assert.equal(exitCodeFor('sync', clean()), 0);
    assert.equal(exitCodeFor('sync', result()), 2);
    const failed = clean();
    failed.outcomes = [{ action: 'create', change: {} as never, result: 'failed', retried: false }];
    assert.equal(exitCodeFor('sync', failed), 2);
    const skipped = clean();
    skipped.outcomes = [{ action: 'create', change: {} as never, result: 'skipped', retried: true }];
    assert.equal(exitCodeFor('sync', skipped), 0, 'skipped because fresh state already was as wanted: converged');
    const blocked = clean();
    blocked.outcomes = [{ action: 'create', change: {} as never, result: 'skipped', retried: true, blocking: true }];
    assert.equal(exitCodeFor('sync', blocked), 2, 'skipped because a foreign object holds the name: not converged');
  });
  it('sync and diff: 2 on a blocking problem, not on an informing one', () => {
    const withProblem = (blocking: boolean): RunResult => {
      const r = clean();
      r.plan.problems = [{ code: blocking ? 'conflict' : 'invalid-address', cluster: 'a', message: 'x', blocking }];
      return r;
    };
    assert.equal(exitCodeFor('sync', withProblem(true)), 2);
    assert.equal(exitCodeFor('diff', withProblem(true)), 2);
    assert.equal(exitCodeFor('sync', withProblem(false)), 0);
    assert.equal(exitCodeFor('diff', withProblem(false)), 0);
  });
  it('diff: 0 without drift, 1 with drift, 2 when it could not see everything', () => {
    assert.equal(exitCodeFor('diff', clean()), 0);
    const drift = result();
    drift.plan.unreadable = [];
    assert.equal(exitCodeFor('diff', drift), 1);
    assert.equal(exitCodeFor('diff', result()), 2);
  });
});
