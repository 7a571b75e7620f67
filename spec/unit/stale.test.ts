import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { plan, type LeaseObject, type PlanInput } from '../../lib/plan/index.ts';
import { aggregateLabels, ep, ips, options, storedMirror } from '../support/fixtures.ts';

const minute = 60_000;
const t0 = Date.parse('2026-11-21T10:00:00Z');
const stale = { ...options, staleAfter: { b: 10 * minute } };

function lease(cluster: string, at: number, rv = '5'): LeaseObject {
  return {
    metadata: {
      name: `mefi-source-${cluster}`,
      namespace: 'mefi-system',
      resourceVersion: rv,
      labels: { isMefiLocal: 'true', 'multicluster.kubernetes.io/source-cluster': cluster },
    },
    spec: { holderIdentity: 'mefi', renewTime: new Date(at).toISOString().replace('Z', '000Z') },
  };
}

function world(bReadable: boolean, leases: LeaseObject[], now: number): PlanInput {
  const items = [
    storedMirror('web', 'a', [ips(['10.1.0.1'])], '1'),
    storedMirror('web', 'b', [ips(['10.2.0.1'])], '2'),
    ep('mefi-system', 'web', [ips(['10.1.0.1', '10.2.0.1'])], aggregateLabels('web'), '3'),
  ];
  return {
    sources: {
      a: { ok: true, items: [ep('x', 'web', [ips(['10.1.0.1'])])] },
      b: bReadable ? { ok: true, items: [ep('x', 'web', [ips(['10.2.0.1'])])] } : { ok: false, error: 'ECONNREFUSED' },
    },
    targets: { a: { ok: true, items, leases } },
    now,
  };
}

describe('staleAfter', () => {
  it("is off by default: an unreadable cluster's mirrors are kept however old its lease", () => {
    const p = plan(options, world(false, [lease('b', t0 - 999 * minute)], t0));
    assert.equal(p.deletes.length + p.updates.length + p.leases.length, 0);
  });

  it('creates the lease on the first run, then renews it only after a quarter of staleAfter', () => {
    const first = plan(stale, world(true, [], t0));
    assert.deepEqual(
      first.leases.map((l) => [l.action, l.name, l.cluster]),
      [['create', 'mefi-source-b', 'b']],
    );
    assert.equal(first.leases[0]!.object.spec!.renewTime, '2026-11-21T10:00:00.000000Z', 'metav1.MicroTime');
    assert.deepEqual(first.leases[0]!.object.metadata.labels, {
      isMefiLocal: 'true',
      'multicluster.kubernetes.io/source-cluster': 'b',
    });
    assert.equal(plan(stale, world(true, [lease('b', t0)], t0 + 2 * minute)).leases.length, 0, 'fresh: no write');
    const renew = plan(stale, world(true, [lease('b', t0, '9')], t0 + 2.5 * minute)).leases;
    assert.deepEqual(
      renew.map((l) => [l.action, l.resourceVersion]),
      [['update', '9']],
    );
  });

  it("keeps an unreadable cluster's mirrors until its lease is older than staleAfter, then removes them", () => {
    const young = plan(stale, world(false, [lease('b', t0)], t0 + 10 * minute));
    assert.equal(young.deletes.length + young.updates.length, 0);
    const old = plan(stale, world(false, [lease('b', t0)], t0 + 10 * minute + 1));
    assert.deepEqual(
      old.deletes.map((d) => d.name),
      ['web-b'],
    );
    assert.deepEqual(
      old.updates.map((u) => [u.name, u.after![0]!.addresses.map((a) => a.ip)]),
      [['web', ['10.1.0.1']]],
    );
    assert.deepEqual(
      old.problems.map((x) => [x.code, x.name]),
      [['stale-cluster', 'b']],
    );
    assert.match(
      old.problems[0]!.message,
      /cluster b was last read at 2026-11-21T10:00:00.000Z, more than staleAfter \(600s\) ago: its mirrors are removed from a/,
    );
    assert.equal(old.leases.length, 0, "an unreadable cluster's lease is not renewed");
  });

  it('keeps the mirrors of an unreadable cluster that has no lease yet: its age is unknown', () => {
    const p = plan(stale, world(false, [], t0 + 999 * minute));
    assert.equal(p.deletes.length, 0);
  });
});

describe('clusters no longer in the config', () => {
  // The config lists only a: b's mirror is there from when b was configured.
  const withoutB = (leases: LeaseObject[], now: number): PlanInput => {
    const w = world(true, leases, now);
    return { ...w, sources: { a: w.sources.a! } };
  };

  it('keeps their mirrors and their addresses in the aggregate, reported as unknown-cluster (informing)', () => {
    const p = plan(options, withoutB([], t0));
    assert.equal(p.creates.length + p.updates.length + p.deletes.length, 0);
    assert.deepEqual(
      p.problems.map((x) => [x.code, x.name, x.blocking]),
      [['unknown-cluster', 'b', false]],
    );
    assert.match(p.problems[0]!.message, /1 mirror of cluster b.*--prune removes it/);
  });

  it('removes them with --prune (which a dry run or diff shows first: the same plan)', () => {
    const p = plan({ ...options, prune: true }, withoutB([], t0));
    assert.deepEqual(
      p.deletes.map((d) => d.name),
      ['web-b'],
    );
    assert.deepEqual(
      p.updates.map((u) => u.name),
      ['web'],
    );
    assert.deepEqual(p.problems, []);
  });

  it('removes them once the top-level staleAfter has passed since their last read', () => {
    const o = { ...options, staleAfterDefault: 10 * minute };
    const fresh = plan(o, withoutB([lease('b', t0 - 5 * minute)], t0));
    assert.equal(fresh.deletes.length, 0);
    assert.deepEqual(fresh.leases, [], "an unconfigured cluster's lease is never renewed");
    const old = plan(o, withoutB([lease('b', t0 - 11 * minute)], t0));
    assert.deepEqual(
      old.deletes.map((d) => d.name),
      ['web-b'],
    );
    assert.deepEqual(
      old.problems.map((x) => x.code),
      ['stale-cluster'],
    );
  });
});
