import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { plan, slicesAsEndpoints, type Plan, type PlanInput, type SliceObject } from '../../lib/plan/index.ts';
import { ep, ips, options } from '../support/fixtures.ts';

const slices = { ...options, target: 'endpointslices' as const, maxEndpointsPerSlice: 100 };
const range = (n: number, net = '10.2') => Array.from({ length: n }, (_, i) => `${net}.${i >> 8}.${i & 255}`);

/** The target's slices after the plan's writes (pure stand-in for the API). */
function applySlices(current: SliceObject[], p: Plan): SliceObject[] {
  const state = new Map(current.map((s) => [s.metadata.name, s]));
  let rv = 100;
  for (const c of [...p.creates, ...p.updates])
    state.set(c.name, {
      ...(JSON.parse(JSON.stringify(c.object)) as SliceObject),
      metadata: { ...(c.object!.metadata as SliceObject['metadata']), resourceVersion: String(rv++) },
    });
  for (const c of p.deletes) state.delete(c.name);
  return [...state.values()];
}

function input(sources: PlanInput['sources'], current: SliceObject[]): PlanInput {
  return { sources, targets: { a: { ok: true, items: [], slices: current } } };
}

const ok = (...items: ReturnType<typeof ep>[]) => ({ ok: true as const, items });

describe('EndpointSlice sources', () => {
  it('reads the slices of a Service as the Endpoints they stand for', () => {
    const slice = (
      name: string,
      addressType: string,
      endpoints: SliceObject['endpoints'],
      labels: Record<string, string> = {},
    ): SliceObject => ({
      metadata: {
        name,
        namespace: 'shop',
        labels: { 'kubernetes.io/service-name': 'web', isMefiRemote: 'true', ...labels },
      },
      addressType,
      endpoints,
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    const got = slicesAsEndpoints([
      slice('web-abc', 'IPv4', [
        { addresses: ['10.0.0.1', '10.9.9.9'], conditions: { ready: true } },
        { addresses: ['10.0.0.2'], conditions: {} },
        { addresses: ['10.0.0.3'], conditions: { ready: false, serving: false, terminating: false } },
        { addresses: ['10.0.0.4'], conditions: { ready: false, serving: true, terminating: true } },
      ]),
      slice('web-def', 'IPv6', [{ addresses: ['fd00::1'], hostname: 'h' }]),
      slice('web-fqdn', 'FQDN', [{ addresses: ['db.example.com'] }]),
      slice('web-mefi', 'IPv4', [{ addresses: ['10.5.5.5'] }], { 'endpointslice.kubernetes.io/managed-by': 'mefi' }),
    ]);
    assert.equal(got.length, 2, "mefi's own slices stay apart from the Service's");
    assert.deepEqual(got[0]!.metadata.name, 'web');
    assert.deepEqual(got[0]!.subsets, [
      {
        addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }],
        notReadyAddresses: [{ ip: '10.0.0.3' }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
      {
        addresses: [{ ip: 'fd00::1', hostname: 'h' }],
        notReadyAddresses: [],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
  });
});

describe('EndpointSlice target', () => {
  it('writes one slice set per mirror, labelled for the Service, at most 100 endpoints each, one family each', () => {
    const p = plan(
      slices,
      input(
        {
          a: ok(ep('x', 'web', [ips([...range(230), 'fd00::1', 'fd00::2'])])),
          b: ok(ep('x', 'web', [ips(['10.9.0.1'])])),
        },
        [],
      ),
    );
    assert.deepEqual(
      p.creates.map((c) => [
        c.name,
        c.kind,
        c.cluster,
        (c.object as unknown as SliceObject).addressType,
        (c.object as unknown as SliceObject).endpoints!.length,
      ]),
      [
        ['web-a-0', 'EndpointSlice', 'a', 'IPv4', 100],
        ['web-a-1', 'EndpointSlice', 'a', 'IPv4', 100],
        ['web-a-2', 'EndpointSlice', 'a', 'IPv4', 30],
        ['web-a-3', 'EndpointSlice', 'a', 'IPv6', 2],
        ['web-b-0', 'EndpointSlice', 'b', 'IPv4', 1],
      ],
    );
    const first = p.creates[0]!.object as unknown as SliceObject;
    assert.deepEqual(first.metadata.labels, {
      isMefiLocal: 'true',
      isMefiOriginalName: 'web',
      'multicluster.kubernetes.io/source-cluster': 'a',
      'kubernetes.io/service-name': 'web',
      'endpointslice.kubernetes.io/managed-by': 'mefi',
    });
    assert.deepEqual(first.endpoints![0], {
      addresses: ['10.2.0.0'],
      conditions: { ready: true, serving: true, terminating: false },
    });
    assert.ok(!p.creates.some((c) => c.role === 'aggregate'), 'no merged object: the Service sees every slice');
  });

  it('is a fixed point, and chunks stably: one changed endpoint rewrites one slice', () => {
    const src = (list: string[]) => ({ a: ok(ep('x', 'web', [ips(list)])) });
    const before = range(250);
    const s1 = applySlices([], plan(slices, input(src(before), [])));
    const again = plan(slices, input(src(before), s1));
    assert.equal(again.creates.length + again.updates.length + again.deletes.length, 0);

    const changed = [...before];
    changed[120] = '10.7.7.7';
    const p = plan(slices, input(src(changed), s1));
    assert.deepEqual(
      p.updates.map((u) => u.name),
      ['web-a-1'],
      'the slice that held the changed endpoint, and no other',
    );
    assert.equal(p.creates.length + p.deletes.length, 0);

    const s2 = applySlices(s1, p);
    const shrunk = plan(slices, input(src(changed.slice(0, 90)), s2));
    assert.deepEqual(shrunk.deletes.map((d) => d.name).sort(), ['web-a-1', 'web-a-2'], 'emptied slices go');
    assert.deepEqual(
      shrunk.updates.map((u) => u.name),
      ['web-a-0'],
    );
  });

  it("keeps an unreadable cluster's slices, removes a gone source's, and never touches a foreign slice", () => {
    const s1 = applySlices(
      [],
      plan(
        slices,
        input(
          {
            a: ok(ep('x', 'web', [ips(['10.1.0.1'])])),
            b: ok(ep('x', 'web', [ips(['10.2.0.1'])])),
            c: ok(ep('x', 'web', [ips(['10.3.0.1'])])),
          },
          [],
        ),
      ),
    );
    const foreign: SliceObject = {
      metadata: { name: 'web-a-1', namespace: 'mefi-system', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      endpoints: [],
      ports: [],
    };
    const p = plan(
      slices,
      input({ a: ok(ep('x', 'web', [ips(['10.1.0.1', 'fd00::9'])])), b: { ok: false, error: 'down' }, c: ok() }, [
        ...s1,
        foreign,
      ]),
    );
    assert.deepEqual(
      p.deletes.map((d) => d.name),
      ['web-c-0'],
    );
    assert.ok(!p.updates.some((u) => u.name.startsWith('web-b')), 'b is unreadable: kept');
    assert.deepEqual(
      p.creates.map((c) => c.name),
      ['web-a-2'],
      'the new IPv6 slice steps around the foreign web-a-1',
    );
    assert.ok(![...p.updates, ...p.deletes].some((c) => c.name === 'web-a-1'));
  });

  it('honours --max-endpoints-per-slice', () => {
    const p = plan({ ...slices, maxEndpointsPerSlice: 1000 }, input({ a: ok(ep('x', 'big', [ips(range(2500))])) }, []));
    assert.deepEqual(
      p.creates.map((c) => (c.object as unknown as SliceObject).endpoints!.length),
      [1000, 1000, 500],
    );
  });
});

describe('EndpointSlice target beside the real controllers', () => {
  it("leaves the mirroring controller's slices alone, though they carry mefi's ownership label", () => {
    // What the EndpointSlice mirroring controller makes of mefi's aggregate Endpoints: its labels copied, its own managed-by.
    const mirrored: SliceObject = {
      metadata: {
        name: 'web-x7k2p',
        namespace: 'mefi-system',
        resourceVersion: '5',
        labels: {
          isMefiLocal: 'true',
          isMefiOriginalName: 'web',
          'kubernetes.io/service-name': 'web',
          'endpointslice.kubernetes.io/managed-by': 'endpointslicemirroring-controller.k8s.io',
        },
      },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.2.0.1'], conditions: { ready: true } }],
      ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
    };
    const sources = { a: ok(ep('x', 'web', [ips(['10.2.0.1'])])) };
    const first = plan(slices, input(sources, [mirrored]));
    assert.deepEqual(
      [...first.updates, ...first.deletes].map((c) => c.name),
      [],
    );
    assert.deepEqual(
      first.creates.map((c) => c.name),
      ['web-a-0'],
    );
    const again = plan(slices, input(sources, applySlices([mirrored], first)));
    assert.equal(again.creates.length + again.updates.length + again.deletes.length, 0);
  });
});

describe('EndpointSlice names', () => {
  it('never writes two mirrors onto one slice name: both are left, reported as a blocking name-collision', () => {
    const sources = { 'a-b': ok(ep('x', 'web', [ips(['10.1.0.1'])])), b: ok(ep('x', 'web-a', [ips(['10.2.0.1'])])) };
    const p = plan(slices, input(sources, []));
    assert.deepEqual(
      p.creates.map((c) => c.name).filter((n) => n.startsWith('web-a-b')),
      [],
    );
    assert.deepEqual(
      p.problems.map((x) => [x.code, x.name, x.blocking]),
      [['name-collision', 'web-a-b', true]],
    );
  });
});

describe('EndpointSlice target with affinity', () => {
  it("local: the other clusters' endpoints are written not ready while the target's own have a ready one, and ready again when they have none", () => {
    const o = { ...slices, affinity: 'local' as const };
    const world = (aReady: boolean) =>
      input(
        {
          a: ok(ep('x', 'web', [aReady ? ips(['10.1.0.1']) : ips([], ['10.1.0.1'])])),
          b: ok(ep('y', 'web', [ips(['10.2.0.1'])])),
        },
        [],
      );
    const readiness = (p: Plan) =>
      Object.fromEntries(
        p.creates.map((c) => [c.name, ((c.object as SliceObject).endpoints ?? []).map((e) => e.conditions?.ready)]),
      );
    assert.deepEqual(readiness(plan(o, world(true))), { 'web-a-0': [true], 'web-b-0': [false] });
    assert.deepEqual(readiness(plan(o, world(false))), { 'web-a-0': [false], 'web-b-0': [true] });
  });
});

describe('EndpointSlice target with reachability (--probe)', () => {
  it('an endpoint that did not answer from the target is written not ready there, and ready again once it answers', () => {
    const world = input(
      { a: ok(ep('x', 'web', [ips(['10.1.0.1'])])), b: ok(ep('y', 'web', [ips(['10.2.0.1', '10.2.0.2'])])) },
      [],
    );
    const readiness = (p: Plan) =>
      Object.fromEntries(
        p.creates.map((c) => [
          c.name,
          ((c.object as SliceObject).endpoints ?? []).map((e) => `${e.addresses[0]} ${e.conditions?.ready}`),
        ]),
      );
    const gated = plan(slices, { ...world, unreachable: { a: new Set(['10.2.0.2:80']) } });
    assert.deepEqual(readiness(gated), {
      'web-a-0': ['10.1.0.1 true'],
      'web-b-0': ['10.2.0.1 true', '10.2.0.2 false'],
    });
    assert.deepEqual(
      gated.problems.map((x) => [x.code, x.name]),
      [['unreachable', 'web-b']],
    );
    assert.deepEqual(readiness(plan(slices, { ...world, unreachable: { a: new Set() } })), {
      'web-a-0': ['10.1.0.1 true'],
      'web-b-0': ['10.2.0.1 true', '10.2.0.2 true'],
    });
  });
});

describe('cluster services (--cluster-services)', () => {
  const o = { ...slices, clusterServices: true };
  const service = (s: SliceObject) => s.metadata.labels!['kubernetes.io/service-name'];
  const readyOf = (ss: SliceObject[]) =>
    ss.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready).map((e) => e.addresses[0])).sort();

  it("writes, beside each mirror's slices for Service <name>, the slices of Service <name>-<cluster> with that cluster's addresses alone; a second plan is empty", () => {
    const sources = {
      a: ok(ep('x', 'web', [ips(['10.1.0.1'], ['10.1.0.2'])])),
      b: ok(ep('x', 'web', [ips(['10.2.0.1'])])),
    };
    const p = plan(o, input(sources, []));
    const made = p.creates.map((c) => c.object as unknown as SliceObject);
    assert.deepEqual(made.map((s) => [s.metadata.name, service(s)]).sort(), [
      ['web-a-0', 'web'],
      ['web-a-only-0', 'web-a'],
      ['web-b-0', 'web'],
      ['web-b-only-0', 'web-b'],
    ]);
    assert.deepEqual(readyOf(made.filter((s) => service(s) === 'web-a')), ['10.1.0.1']);
    assert.deepEqual(readyOf(made.filter((s) => service(s) === 'web')), ['10.1.0.1', '10.2.0.1']);
    const again = plan(o, input(sources, applySlices([], p)));
    assert.deepEqual(
      [...again.creates, ...again.updates, ...again.deletes].map((c) => c.name),
      [],
    );
    // Turned off: the cluster services' slices go, the Service's stay.
    const off = plan(slices, input(sources, applySlices([], p)));
    assert.deepEqual(off.deletes.map((c) => c.name).sort(), ['web-a-only-0', 'web-b-only-0']);
    assert.equal(off.creates.length + off.updates.length, 0);
  });

  it("applies reachability but not affinity: the weights are the user's, an unreachable address is never served", () => {
    const sources = {
      a: ok(ep('x', 'web', [ips(['10.1.0.1'])])),
      b: ok(ep('x', 'web', [ips(['10.2.0.1', '10.2.0.2'])])),
    };
    const p = plan(
      { ...o, affinity: 'local' },
      { ...input(sources, []), unreachable: { a: new Set(['10.2.0.2:80']) } },
    );
    const made = p.creates.map((c) => c.object as unknown as SliceObject);
    assert.deepEqual(
      readyOf(made.filter((s) => service(s) === 'web')),
      ['10.1.0.1'],
      'affinity local: only a serves web',
    );
    assert.deepEqual(
      readyOf(made.filter((s) => service(s) === 'web-b')),
      ['10.2.0.1'],
      'web-b serves b, less what does not answer',
    );
  });

  it("never takes a name another source's Service has, nor one longer than a Service name may be", () => {
    const long = 'w'.repeat(62);
    const sources = {
      a: ok(
        ep('x', 'web', [ips(['10.1.0.1'])]),
        ep('x', 'web-a', [ips(['10.1.0.9'])]),
        ep('x', long, [ips(['10.1.0.5'])]),
      ),
    };
    const p = plan(o, input(sources, []));
    const services = p.creates.map((c) => service(c.object as unknown as SliceObject)).sort();
    assert.ok(!services.includes(`${long}-a`), 'too long');
    assert.deepEqual(services.filter((s) => s === 'web-a').length, 1, 'web-a is the Service of source web-a only');
    assert.deepEqual(p.problems.map((x) => [x.code, x.name]).sort(), [
      ['invalid-name', `${long}-a`],
      ['name-collision', 'web-a'],
    ]);
  });
});
