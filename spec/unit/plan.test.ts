import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEmpty, mirrorAnnotations, plan, probeKey, toProbe, type EndpointsObject } from '../../lib/plan/index.ts';
import { aggregateLabels, applyToTarget, ep, ips, mirrorLabels, options, storedMirror } from '../support/fixtures.ts';

const ok = (...items: ReturnType<typeof ep>[]) => ({ ok: true as const, items });
const down = (error = 'connect ECONNREFUSED') => ({ ok: false as const, error });

describe('plan', () => {
  it('mirrors every cluster (the target too) and merges one aggregate per name', () => {
    const p = plan(options, {
      sources: {
        a: ok(ep('shop', 'web', [ips(['10.1.0.1'])])),
        b: ok(ep('shop', 'web', [ips(['10.2.0.1'], ['10.2.0.2'])])),
      },
      targets: { a: ok() },
    });
    assert.deepEqual(
      p.creates.map((c) => [c.name, c.role, c.cluster ?? '']),
      [
        ['web', 'aggregate', ''],
        ['web-a', 'mirror', 'a'],
        ['web-b', 'mirror', 'b'],
      ],
    );
    assert.deepEqual(p.creates[1]!.object!.metadata.labels, mirrorLabels('web', 'a'));
    assert.deepEqual(p.creates[0]!.object!.metadata.labels, aggregateLabels('web'));
    assert.deepEqual((p.creates[0]!.object as EndpointsObject).subsets, [
      { addresses: [{ ip: '10.1.0.1' }, { ip: '10.2.0.1' }], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    ]);
    assert.equal(p.creates[0]!.object!.metadata.namespace, 'mefi-system');
    // The mirror records what its source says, not-ready addresses included.
    assert.deepEqual(p.creates[2]!.after![0]!.notReadyAddresses, [{ ip: '10.2.0.2' }]);
  });

  it('serves only ready addresses in an aggregate: what the mirroring controller makes of notReadyAddresses looks serving to Traefik', () => {
    const p = plan(options, {
      sources: {
        a: ok(ep('x', 'web', [ips([], ['10.1.0.1'])])),
        b: ok(ep('x', 'web', [ips(['10.2.0.1'], ['10.2.0.2'], 8080)])),
      },
      targets: { a: ok() },
    });
    const agg = p.creates.find((c) => c.role === 'aggregate')!;
    assert.deepEqual((agg.object as EndpointsObject).subsets, [
      { addresses: [{ ip: '10.2.0.1' }], ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] },
    ]);
  });

  it('keeps an aggregate whose addresses are all not ready, empty, and deletes it only when its mirrors have none', () => {
    const p = plan(options, { sources: { a: ok(ep('x', 'web', [ips([], ['10.1.0.1'])])) }, targets: { a: ok() } });
    const agg = p.creates.find((c) => c.role === 'aggregate')!;
    assert.deepEqual((agg.object as EndpointsObject).subsets, []);
    const state = applyToTarget([], p, 'a');
    assert.ok(
      isEmpty(
        plan(options, { sources: { a: ok(ep('x', 'web', [ips([], ['10.1.0.1'])])) }, targets: { a: ok(...state) } }),
      ),
      'a fixed point',
    );
    const gone = plan(options, { sources: { a: ok() }, targets: { a: ok(...state) } });
    assert.deepEqual(gone.deletes.map((d) => d.name).sort(), ['web', 'web-a']);
  });

  it('counts an IP ready in one cluster and not ready in another as ready', () => {
    const p = plan(options, {
      sources: { a: ok(ep('x', 'web', [ips(['10.0.0.1'])])), b: ok(ep('x', 'web', [ips([], ['10.0.0.1'])])) },
      targets: { a: ok() },
    });
    const agg = p.creates.find((c) => c.role === 'aggregate')!;
    assert.deepEqual(agg.after, [
      { addresses: [{ ip: '10.0.0.1' }], notReadyAddresses: [], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
    ]);
  });

  it('makes no call for objects that already equal the desired ones', () => {
    const sources = { a: ok(ep('x', 'web', [ips(['10.0.0.1'])])) };
    const first = plan(options, { sources, targets: { a: ok() } });
    const state = applyToTarget([], first, 'a');
    assert.ok(isEmpty(plan(options, { sources, targets: { a: ok(...state) } })));
  });

  it('updates with the resourceVersion read and keeps metadata it does not manage', () => {
    const current = ep('mefi-system', 'web-a', [ips(['10.0.0.9'])], mirrorLabels('web', 'a'), '42');
    current.metadata.annotations = { note: 'kept' };
    current.metadata.managedFields = [{ manager: 'x' }];
    const p = plan(options, { sources: { a: ok(ep('x', 'web', [ips(['10.0.0.1'])])) }, targets: { a: ok(current) } });
    const u = p.updates.find((c) => c.name === 'web-a')!;
    assert.equal(u.resourceVersion, '42');
    assert.equal(u.object!.metadata.resourceVersion, '42');
    assert.deepEqual(u.object!.metadata.annotations, { note: 'kept', ...mirrorAnnotations });
    assert.equal(u.object!.metadata.managedFields, undefined);
    assert.deepEqual(u.before![0]!.addresses, [{ ip: '10.0.0.9' }]);
  });

  it('restores labels edited by hand', () => {
    const edited = ep('mefi-system', 'web-a', [ips(['10.0.0.1'])], { ...mirrorLabels('web', 'a'), extra: 'x' }, '7');
    const p = plan(options, { sources: { a: ok(ep('x', 'web', [ips(['10.0.0.1'])])) }, targets: { a: ok(edited) } });
    assert.deepEqual(
      p.updates.map((u) => u.name),
      ['web-a'],
    );
    assert.deepEqual(p.updates[0]!.object!.metadata.labels, mirrorLabels('web', 'a'));
  });

  it('deletes owned objects no source wants, with a precondition, and aggregates left without addresses', () => {
    const p = plan(options, {
      sources: { a: ok(ep('x', 'web', [])) },
      targets: {
        a: ok(
          ep('mefi-system', 'old-a', [ips(['10.0.0.5'])], mirrorLabels('old', 'a'), '5'),
          ep('mefi-system', 'old', [ips(['10.0.0.5'])], aggregateLabels('old'), '6'),
          ep('mefi-system', 'web', [ips(['10.0.0.5'])], aggregateLabels('web'), '7'),
        ),
      },
    });
    assert.deepEqual(
      p.creates.map((c) => c.name),
      ['web-a'],
      'a source with no address still has its mirror',
    );
    assert.deepEqual(
      p.deletes.map((d) => [d.name, d.role, d.resourceVersion]),
      [
        ['old', 'aggregate', '6'],
        ['old-a', 'mirror', '5'],
        ['web', 'aggregate', '7'],
      ],
    );
  });

  it('never writes an object it does not own, and reports the conflict', () => {
    const foreign = ep('mefi-system', 'web', [ips(['10.9.9.9'])], { app: 'mine' }, '3');
    const p = plan(options, { sources: { a: ok(ep('x', 'web', [ips(['10.0.0.1'])])) }, targets: { a: ok(foreign) } });
    assert.deepEqual(
      p.creates.map((c) => c.name),
      ['web-a'],
    );
    assert.equal(p.updates.length + p.deletes.length, 0);
    assert.deepEqual(
      p.problems.map((x) => [x.code, x.cluster, x.name]),
      [['conflict', 'a', 'web']],
    );
  });

  it('never deletes an unowned object that no source wants', () => {
    const p = plan(options, {
      sources: { a: ok() },
      targets: { a: ok(ep('mefi-system', 'ingress', [ips(['10.0.0.1'])], {})) },
    });
    assert.ok(isEmpty(p));
  });

  it('does not echo: objects mefi wrote are never sources, even when the selector matches them', () => {
    const echo = ep('mefi-system', 'web-a', [ips(['10.0.0.1'])], { ...mirrorLabels('web', 'a'), isMefiRemote: 'true' });
    const p = plan(options, { sources: { a: ok(echo) }, targets: { a: ok(echo) } });
    assert.deepEqual(p.creates, []);
    assert.deepEqual(
      p.deletes.map((d) => d.name),
      ['web-a'],
    );
  });

  it('keeps the mirrors and aggregate addresses of an unreadable cluster', () => {
    const mirrorB = storedMirror('web', 'b', [ips(['10.2.0.1'])], '11');
    const aggregate = ep('mefi-system', 'web', [ips(['10.1.0.1', '10.2.0.1'])], aggregateLabels('web'), '12');
    const mirrorA = storedMirror('web', 'a', [ips(['10.1.0.1'])], '13');
    const p = plan(options, {
      sources: { a: ok(ep('x', 'web', [ips(['10.1.0.1'])])), b: down('timeout') },
      targets: { a: ok(mirrorA, mirrorB, aggregate) },
    });
    assert.ok(isEmpty(p), JSON.stringify(p));
    assert.deepEqual(p.unreadable, [{ cluster: 'b', role: 'source', error: 'timeout' }]);

    // A changed readable source still updates the aggregate, keeping b's addresses.
    const p2 = plan(options, {
      sources: { a: ok(ep('x', 'web', [ips(['10.1.0.7'])])), b: down() },
      targets: { a: ok(mirrorA, mirrorB, aggregate) },
    });
    assert.deepEqual(
      p2.updates.map((u) => u.name),
      ['web', 'web-a'],
    );
    assert.deepEqual(p2.updates[0]!.after![0]!.addresses, [{ ip: '10.1.0.7' }, { ip: '10.2.0.1' }]);
  });

  it('plans nothing for an unreadable target and says so', () => {
    const p = plan(options, {
      sources: { a: ok(ep('x', 'web', [ips(['10.0.0.1'])])) },
      targets: { a: down('403 Forbidden') },
    });
    assert.ok(isEmpty(p));
    assert.deepEqual(p.unreadable, [{ cluster: 'a', role: 'target', error: '403 Forbidden' }]);
  });

  it('reports two namespaces with one name as ambiguous and keeps the existing mirror', () => {
    const mirror = ep('mefi-system', 'web-a', [ips(['10.0.0.1'])], mirrorLabels('web', 'a'), '9');
    const p = plan(options, {
      sources: { a: ok(ep('one', 'web', [ips(['10.0.0.1'])]), ep('two', 'web', [ips(['10.0.0.2'])])) },
      targets: { a: ok(mirror) },
    });
    assert.deepEqual(
      p.problems.map((x) => [x.code, x.name]),
      [['ambiguous-source', 'web']],
    );
    assert.match(p.problems[0]!.message, /namespaces one, two/);
    assert.equal(p.updates.length + p.deletes.length, 0);
    assert.deepEqual(
      p.creates.map((c) => c.name),
      ['web'],
      'the aggregate still counts the kept mirror',
    );
  });

  it('skips a pair whose mirror name would be too long, and one whose name cannot be a label value', () => {
    const long = 'a'.repeat(251); // 251 + '-c1' = 254 characters
    const longLabel = 'b'.repeat(64);
    const p = plan(options, {
      sources: { c1: ok(ep('x', long, [ips(['10.0.0.1'])]), ep('x', longLabel, [ips(['10.0.0.2'])])) },
      targets: { c1: ok() },
    });
    assert.deepEqual(p.creates, []);
    assert.deepEqual(
      p.problems.map((x) => x.code),
      ['invalid-name', 'invalid-name'],
    );
    assert.match(
      p.problems.find((x) => x.name === long)!.message,
      /not a DNS-1123 subdomain of at most 253 characters/,
    );
  });

  it('writes neither of two objects that want one name', () => {
    // web from cluster "a-b" and web-a from cluster "b" both want the mirror name web-a-b.
    const p = plan(options, {
      sources: { 'a-b': ok(ep('x', 'web', [ips(['10.0.0.1'])])), b: ok(ep('x', 'web-a', [ips(['10.0.0.2'])])) },
      targets: { b: ok() },
    });
    assert.ok(!p.creates.some((c) => c.name === 'web-a-b'));
    const collision = p.problems.find((x) => x.code === 'name-collision')!;
    assert.equal(collision.name, 'web-a-b');
    assert.match(collision.message, /mirror of web from cluster a-b and as the mirror of web-a from cluster b/);
  });

  it('drops bad addresses with a problem naming the source, never the whole object', () => {
    const p = plan(options, {
      sources: { a: ok(ep('shop', 'web', [ips(['10.0.0.1', '127.0.0.1'])])) },
      targets: { a: ok() },
    });
    assert.deepEqual(p.problems, [
      {
        code: 'invalid-address',
        cluster: 'a',
        namespace: 'shop',
        name: 'web',
        message: 'address 127.0.0.1 is loopback',
        blocking: false,
      },
    ]);
    assert.deepEqual(p.creates.find((c) => c.name === 'web-a')!.after![0]!.addresses, [{ ip: '10.0.0.1' }]);
  });

  it("recognises the original mefi's mirrors (no source-cluster label) by name", () => {
    const legacy = ep(
      'mefi-system',
      'web-b',
      [ips(['10.2.0.1'])],
      { isMefiLocal: 'true', isMefiOriginalName: 'web' },
      '4',
    );
    const p = plan(options, { sources: { a: ok(), b: down() }, targets: { a: ok(legacy) } });
    assert.equal(p.deletes.length, 0, 'kept: its cluster b is unreadable');
    const p2 = plan(options, {
      sources: { a: ok(), b: ok(ep('x', 'web', [ips(['10.2.0.1'])])) },
      targets: { a: ok(legacy) },
    });
    assert.deepEqual(
      p2.updates.map((u) => [u.name, u.role, u.cluster]),
      [['web-b', 'mirror', 'b']],
      'adopted: the cluster label is added',
    );
  });

  it('upsert-only never deletes', () => {
    const p = plan(
      { ...options, policy: 'upsert-only' },
      {
        sources: { a: ok() },
        targets: { a: ok(ep('mefi-system', 'web-a', [ips(['10.0.0.1'])], mirrorLabels('web', 'a'))) },
      },
    );
    assert.equal(p.deletes.length, 0);
  });

  it('plans every target from one read of the sources', () => {
    const p = plan(options, {
      sources: { a: ok(ep('x', 'web', [ips(['10.0.0.1'])])), b: ok() },
      targets: { a: ok(), b: ok() },
    });
    assert.deepEqual(
      p.creates.map((c) => `${c.target}/${c.name}`),
      ['a/web', 'a/web-a', 'b/web', 'b/web-a'],
    );
  });

  it("drops addresses outside a cluster's podCIDRs, with a problem, keeping the rest", () => {
    const p = plan(
      { ...options, podCIDRs: { b: ['10.2.0.0/16', 'fd00:2::/64'] } },
      {
        sources: {
          a: ok(ep('x', 'web', [ips(['192.0.2.7'])])),
          b: ok(ep('x', 'web', [ips(['10.2.1.1', '10.1.0.1', 'fd00:2::5', 'fd00:3::5'])])),
        },
        targets: { a: ok() },
      },
    );
    assert.deepEqual(
      p.creates.find((c) => c.name === 'web-b')!.after![0]!.addresses.map((a) => a.ip),
      ['10.2.1.1', 'fd00:2::5'],
    );
    assert.deepEqual(
      p.creates.find((c) => c.name === 'web-a')!.after![0]!.addresses.map((a) => a.ip),
      ['192.0.2.7'],
      'clusters without podCIDRs are not filtered',
    );
    assert.deepEqual(
      p.problems.map((x) => [x.code, x.cluster, x.message]),
      [
        ['disallowed-address', 'b', "address 10.1.0.1 is outside cluster b's podCIDRs (10.2.0.0/16, fd00:2::/64)"],
        ['disallowed-address', 'b', "address fd00:3::5 is outside cluster b's podCIDRs (10.2.0.0/16, fd00:2::/64)"],
      ],
    );
  });
});

describe('beside kube-controller-manager', () => {
  const sources = { a: ok(ep('x', 'web', [ips(['10.1.0.1'])])), b: ok(ep('y', 'web', [ips(['10.2.0.1'])])) };

  it('writes mirrors with the annotation its Endpoints controller spares, and aggregates without it', () => {
    const p = plan(options, { sources, targets: { a: ok() } });
    for (const c of p.creates)
      assert.deepEqual(c.object!.metadata.annotations, c.role === 'mirror' ? mirrorAnnotations : undefined, c.name);
  });

  it('annotates a mirror written before, once, and removes the annotation from a name that becomes an aggregate', () => {
    const old = ep('mefi-system', 'web-a', [ips(['10.1.0.1'])], mirrorLabels('web', 'a'), '3');
    const formerMirror = ep('mefi-system', 'web', [ips(['10.1.0.1', '10.2.0.1'])], aggregateLabels('web'), '4');
    formerMirror.metadata.annotations = { ...mirrorAnnotations, keep: 'me' };
    const items = [old, storedMirror('web', 'b', [ips(['10.2.0.1'])], '5'), formerMirror];
    const p = plan(options, { sources, targets: { a: ok(...items) } });
    assert.deepEqual(
      p.updates.map((u) => [u.name, u.object!.metadata.annotations]),
      [
        ['web', { keep: 'me' }],
        ['web-a', mirrorAnnotations],
      ],
    );
    assert.ok(isEmpty(plan(options, { sources, targets: { a: ok(...applyToTarget(items, p, 'a')) } })));
  });

  it('reports an aggregate whose subset exceeds what the mirroring controller copies to slices', () => {
    const many = (net: string, n: number) =>
      Array.from({ length: n }, (_, i) => `10.${net}.${i >> 8}.${(i & 255) + 0}`);
    const big = { a: ok(ep('x', 'web', [ips(many('1', 600))])), b: ok(ep('y', 'web', [ips(many('2', 401))])) };
    const p = plan(options, { sources: big, targets: { a: ok() } });
    assert.deepEqual(
      p.problems.map((x) => [x.code, x.name]),
      [['too-many-addresses', 'web']],
    );
    assert.match(p.problems[0]!.message, /1001 addresses.*at most 1000.*miss 1.*--target endpointslices/);
    const fits = plan(options, {
      sources: { a: big.a, b: ok(ep('y', 'web', [ips(many('2', 400))])) },
      targets: { a: ok() },
    });
    assert.deepEqual(fits.problems, []);
  });
});

describe('converged means converged', () => {
  it('marks conflicts, collisions, invalid names and ambiguous sources as blocking, and dropped addresses as informing', () => {
    const p = plan(options, {
      sources: {
        'a-b': ok(ep('x', 'web', [ips(['10.1.0.1', '127.0.0.1'])])),
        b: ok(
          ep('x', 'web-a', [ips(['10.2.0.1'])]),
          ep('x', 'api', [ips(['10.2.0.2'])]),
          ep('y', 'api', [ips(['10.2.0.3'])]),
        ),
      },
      targets: { 'a-b': ok(ep('mefi-system', 'web', [ips(['10.9.9.9'])], { mine: 'yes' })) },
    });
    const by = Object.fromEntries(p.problems.map((x) => [x.code, x.blocking]));
    assert.deepEqual(by, {
      'invalid-address': false,
      'name-collision': true,
      conflict: true,
      'ambiguous-source': true,
    });
  });
});

describe("adopting the original mefi's aggregates", () => {
  // What the original left: mirrors labelled without their cluster, an aggregate with no labels at all.
  const legacyMirror = ep(
    'mefi-system',
    'web-b',
    [ips(['10.2.0.1'])],
    { isMefiLocal: 'true', isMefiOriginalName: 'web' },
    '4',
  );
  const legacyAggregate = ep(
    'mefi-system',
    'web',
    [{ addresses: [{ ip: '10.2.0.1' }, { ip: '10.1.0.1' }], ports: [{ port: 80 }] }],
    {},
    '5',
  );
  const world = (extra: ReturnType<typeof ep>[] = []) => ({
    sources: { a: ok(ep('x', 'web', [ips(['10.1.0.1'])])), b: ok(ep('y', 'web', [ips(['10.2.0.1'])])) },
    targets: { a: ok(legacyMirror, legacyAggregate, ...extra) },
  });

  it('without --adopt: a blocking conflict that says how to take it over', () => {
    const p = plan(options, world());
    const conflict = p.problems.find((x) => x.code === 'conflict')!;
    assert.match(conflict.message, /original mefi's aggregate.*--adopt takes it over/);
    assert.equal(
      p.updates.some((u) => u.name === 'web'),
      false,
    );
  });

  it('with --adopt: one update that labels it and follows its sources, then nothing', () => {
    const p = plan({ ...options, adopt: true }, world());
    const u = p.updates.find((x) => x.name === 'web')!;
    assert.equal(u.adopted, true);
    assert.deepEqual(u.object!.metadata.labels, aggregateLabels('web'));
    assert.equal(u.resourceVersion, '5');
    assert.deepEqual(p.problems, []);
    const after = applyToTarget([legacyMirror, legacyAggregate], p, 'a');
    assert.ok(isEmpty(plan({ ...options, adopt: true }, { ...world(), targets: { a: ok(...after) } })));
  });

  it("never takes over an unlabelled object without the original's mirrors beside it, nor a labelled one", () => {
    const lone = {
      sources: { a: ok(ep('x', 'web', [ips(['10.1.0.1'])])) },
      targets: { a: ok(ep('mefi-system', 'web', [ips(['10.9.9.9'])], {}, '5')) },
    };
    const p = plan({ ...options, adopt: true }, lone);
    assert.equal(
      p.updates.some((u) => u.name === 'web'),
      false,
    );
    assert.doesNotMatch(p.problems.find((x) => x.code === 'conflict')!.message, /--adopt/);
    const mine = ep('mefi-system', 'web', [ips(['10.9.9.9'])], { owner: 'me' }, '6');
    const q = plan({ ...options, adopt: true }, { ...world(), targets: { a: ok(legacyMirror, mine) } });
    assert.equal(
      q.updates.some((u) => u.name === 'web'),
      false,
    );
  });
});

describe('affinity', () => {
  const o = { ...options, affinityLabel: 'isMefiAffinity' };
  const src = (ready: string[], notReady: string[] = [], labels: Record<string, string> = {}) =>
    ok(ep('x', 'web', [ips(ready, notReady)], { isMefiRemote: 'true', ...labels }));
  const aggregate = (p: ReturnType<typeof plan>) => p.creates.find((c) => c.name === 'web')!.after!;
  const ready = (subsets: { addresses: { ip: string }[] }[]) =>
    subsets.flatMap((s) => s.addresses.map((a) => a.ip)).sort();

  it("local: only the target cluster's ready addresses are served while it has any; the mirrors stay as their sources", () => {
    const p = plan(
      { ...o, affinity: 'local' },
      { sources: { a: src(['10.1.0.1']), b: src(['10.2.0.1']) }, targets: { a: ok() } },
    );
    assert.deepEqual(ready(aggregate(p)), ['10.1.0.1']);
    assert.deepEqual(p.creates.find((c) => c.name === 'web-b')!.after![0]!.addresses, [{ ip: '10.2.0.1' }]);
  });

  it('spills over the moment the local cluster has no ready address, and remote is the reverse', () => {
    const none = plan(
      { ...o, affinity: 'local' },
      { sources: { a: src([], ['10.1.0.1']), b: src(['10.2.0.1']) }, targets: { a: ok() } },
    );
    assert.deepEqual(ready(aggregate(none)), ['10.2.0.1']);
    const remote = plan(
      { ...o, affinity: 'remote' },
      { sources: { a: src(['10.1.0.1']), b: src(['10.2.0.1']) }, targets: { a: ok() } },
    );
    assert.deepEqual(ready(aggregate(remote)), ['10.2.0.1']);
  });

  it("takes the service's own label over the flag: the target's source first, else the lowest-named cluster's", () => {
    const labelled = plan(
      { ...o, affinity: 'none' },
      {
        sources: { a: src(['10.1.0.1']), b: src(['10.2.0.1'], [], { isMefiAffinity: 'local' }) },
        targets: { a: ok() },
      },
    );
    assert.deepEqual(ready(aggregate(labelled)), ['10.1.0.1'], 'b says local (a has no label)');
    const own = plan(
      { ...o, affinity: 'none' },
      {
        sources: {
          a: src(['10.1.0.1'], [], { isMefiAffinity: 'none' }),
          b: src(['10.2.0.1'], [], { isMefiAffinity: 'local' }),
        },
        targets: { a: ok() },
      },
    );
    assert.deepEqual(ready(aggregate(own)), ['10.1.0.1', '10.2.0.1'], 'a, the target, says none');
  });
});

describe('reachability (--probe)', () => {
  const src = (ready: string[], notReady: string[] = []) => ok(ep('x', 'web', [ips(ready, notReady)]));
  const aggregate = (p: ReturnType<typeof plan>) => [...p.creates, ...p.updates].find((c) => c.name === 'web')!.after!;
  const ready = (subsets: { addresses: { ip: string }[] }[]) =>
    subsets.flatMap((s) => s.addresses.map((a) => a.ip)).sort();
  const notReady = (subsets: { notReadyAddresses: { ip: string }[] }[]) =>
    subsets.flatMap((s) => s.notReadyAddresses.map((a) => a.ip)).sort();

  it("probes every remote ready address on its TCP ports, never the target's own, never a not-ready one", () => {
    const input = {
      sources: { a: src(['10.1.0.1']), b: src(['10.2.0.2', '10.2.0.1'], ['10.2.0.9']), c: src(['10.3.0.1']) },
      targets: { a: ok() },
    };
    assert.deepEqual(
      toProbe(options, input, 'a').map((p) => `${p.cluster} ${probeKey(p.ip, p.port)}`),
      ['b 10.2.0.1:80', 'b 10.2.0.2:80', 'c 10.3.0.1:80'],
    );
  });

  it("never probes outside a cluster's podCIDRs, nor UDP ports", () => {
    const udp = ok(
      ep('x', 'dns', [{ addresses: [{ ip: '10.2.0.5' }], ports: [{ name: 'dns', port: 53, protocol: 'UDP' }] }]),
    );
    const input = {
      sources: { a: src([]), b: ok(...udp.items, ...src(['10.2.0.1', '192.168.0.1']).items) },
      targets: { a: ok() },
    };
    assert.deepEqual(
      toProbe({ ...options, podCIDRs: { b: ['10.2.0.0/16'] } }, input, 'a').map((p) => probeKey(p.ip, p.port)),
      ['10.2.0.1:80'],
    );
  });

  it('probes the kept mirrors of an unreadable cluster too: they are still served', () => {
    const first = plan(options, { sources: { a: src(['10.1.0.1']), b: src(['10.2.0.1']) }, targets: { a: ok() } });
    const state = applyToTarget([], first, 'a');
    const input = { sources: { a: src(['10.1.0.1']), b: down() }, targets: { a: ok(...state) } };
    assert.deepEqual(
      toProbe(options, input, 'a').map((p) => `${p.cluster} ${probeKey(p.ip, p.port)}`),
      ['b 10.2.0.1:80'],
    );
    const gated = plan(options, { ...input, unreachable: { a: new Set(['10.2.0.1:80']) } });
    assert.deepEqual(ready(aggregate(gated)), ['10.1.0.1']);
    assert.deepEqual(notReady(aggregate(gated)), [], 'held back is left out, never written as not ready');
  });

  it('leaves an address that did not answer out of the aggregate, reports it, and leaves the mirror as its source says', () => {
    const input = { sources: { a: src(['10.1.0.1']), b: src(['10.2.0.1', '10.2.0.2']) }, targets: { a: ok() } };
    const p = plan(options, { ...input, unreachable: { a: new Set(['10.2.0.2:80']) } });
    assert.deepEqual(ready(aggregate(p)), ['10.1.0.1', '10.2.0.1']);
    assert.deepEqual(notReady(aggregate(p)), []);
    assert.deepEqual(ready(p.creates.find((c) => c.name === 'web-b')!.after!), ['10.2.0.1', '10.2.0.2']);
    const problem = p.problems.find((x) => x.code === 'unreachable')!;
    assert.equal(problem.blocking, false);
    assert.equal(problem.name, 'web-b');
    assert.match(
      problem.message,
      /1 of 2 ready addresses of web from cluster b do not answer from a \(10\.2\.0\.2:80\)/,
    );
  });

  it("ignores results for the target's own addresses and for other targets", () => {
    const input = { sources: { a: src(['10.1.0.1']), b: src(['10.2.0.1']) }, targets: { a: ok() } };
    const p = plan(options, { ...input, unreachable: { a: new Set(['10.1.0.1:80']), b: new Set(['10.2.0.1:80']) } });
    assert.deepEqual(ready(aggregate(p)), ['10.1.0.1', '10.2.0.1']);
    assert.equal(p.problems.length, 0);
  });

  it('once an address answers again, the next plan serves it again', () => {
    const input = { sources: { a: src(['10.1.0.1']), b: src(['10.2.0.1']) }, targets: { a: ok() } };
    const gated = plan(options, { ...input, unreachable: { a: new Set(['10.2.0.1:80']) } });
    const state = applyToTarget([], gated, 'a');
    const again = plan(options, { ...input, targets: { a: ok(...state) }, unreachable: { a: new Set() } });
    assert.deepEqual(
      again.updates.map((u) => u.name),
      ['web'],
    );
    assert.deepEqual(ready(aggregate(again)), ['10.1.0.1', '10.2.0.1']);
  });

  it('gates before affinity: with local affinity and no local pod, only reachable remote addresses are served', () => {
    const input = {
      sources: { a: src([], ['10.1.0.1']), b: src(['10.2.0.1']), c: src(['10.3.0.1']) },
      targets: { a: ok() },
    };
    const p = plan({ ...options, affinity: 'local' }, { ...input, unreachable: { a: new Set(['10.3.0.1:80']) } });
    assert.deepEqual(ready(aggregate(p)), ['10.2.0.1']);
  });
});
