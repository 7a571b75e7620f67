// MCS mode (DESIGN.md §9): the KEP-1645 rules the conformance suite checks,
// written from the KEP (keps/sig-multicluster/1645-multi-cluster-services-api)
// and the mcs-api v0.5.2 types.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  derivedName,
  isEmpty,
  plan,
  probeKey,
  toProbe,
  type Change,
  type Plan,
  type PlanInput,
  type ServiceExportObject,
  type ServiceImportObject,
  type ServiceObject,
  type SliceObject,
} from '../../lib/plan/index.ts';
import {
  applied,
  conditionOf,
  emptyTarget,
  mcsOptions,
  NOW,
  owner,
  service,
  serviceExport,
  source,
  sourceSlice,
  T0,
  T1,
  tcp,
  udp,
} from '../support/mcs.ts';

/** Slices are the derived Service's set (kube-proxy's) unless `set` says the import's own (the KEP's labels only). */
type SliceSetOf = 'derived' | 'import';
const inSet = (c: Change, set: SliceSetOf) =>
  c.kind !== 'EndpointSlice' ||
  !c.object ||
  ((c.object as SliceObject).metadata.labels?.['kubernetes.io/service-name'] !== undefined) === (set === 'derived');
const find = (cs: Change[], kind: Change['kind'], target: string, name?: string, set: SliceSetOf = 'derived') =>
  cs.filter((c) => c.kind === kind && c.target === target && (name === undefined || c.name === name) && inSet(c, set));
const one = (cs: Change[], kind: Change['kind'], target: string, name?: string, set: SliceSetOf = 'derived') => {
  const found = find(cs, kind, target, name, set);
  assert.equal(found.length, 1, `one ${kind} ${name ?? ''} in ${target}: ${found.map((c) => c.name).join(', ')}`);
  return found[0]!;
};
const importIn = (p: Plan, target: string, name = 'hello') =>
  [...p.creates, ...p.updates].find((c) => c.kind === 'ServiceImport' && c.target === target && c.name === name)
    ?.object as ServiceImportObject | undefined;
const statusOf = (p: Plan, cluster: string, name = 'hello') =>
  one(p.updates, 'ServiceExportStatus', cluster, name).object as ServiceExportObject;
const all = (p: Plan) => [...p.creates, ...p.updates, ...p.deletes];

/** Plans, applies (as the API servers would store it) and plans again until nothing is left, at most `runs` times; the world then. */
function converge(input: PlanInput, runs = 1): PlanInput {
  let world = input;
  for (let i = 0; i < runs; i++) world = applied(world, plan(mcsOptions, world));
  const left = plan(mcsOptions, world);
  assert.ok(
    isEmpty(left),
    `not converged after ${runs}: ${all(left)
      .map((c) => `${c.target} ${c.kind} ${c.name}`)
      .join(', ')}`,
  );
  return world;
}

/** The conformance suite's hello: TCP and UDP 42, ClientIP affinity (10 s), in cluster a; exported there. */
const hello = (spec: ServiceObject['spec'] = {}) =>
  service(
    'ns',
    'hello',
    {
      ports: [tcp(42), udp(42)],
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } },
      ...spec,
    },
    { 'dummy-svc': 'dummy' },
  );
const helloSlice = (ips: string[], ports = [tcp(42), udp(42)]) => sourceSlice('ns', 'hello', ips, [], ports);

function world(sources: PlanInput['sources'], targets: string[] = ['a', 'b']): PlanInput {
  return { sources, targets: Object.fromEntries(targets.map((t) => [t, emptyTarget()])), now: NOW };
}

describe("MCS: the derived Service's name", () => {
  it('is the peers\' derived-<10 of base32hex(sha256("<namespace>/<name>"))>', () => {
    // The reference controller's derivedName gives these (computed with Go's encoding/base32 HexEncoding).
    assert.equal(derivedName('default', 'hello'), 'derived-k5cuvo1ge4');
    assert.equal(derivedName('shop', 'web'), 'derived-isrlchlhrq');
    assert.match(
      derivedName('a-very-long-namespace-name-of-sixty-three-characters-at-most-xx', 'x'.repeat(63)),
      /^derived-[0-9a-v]{10}$/,
    );
  });
});

describe('MCS: exporting a ClusterIP Service', () => {
  const input = world({
    a: source({
      exports: [serviceExport('ns', 'hello')],
      services: [hello()],
      slices: [helloSlice(['10.0.0.1', '10.0.0.2'])],
    }),
    b: source({}),
  });

  it("imports it in every cluster, in the export's namespace: a ClusterSetIP ServiceImport, its derived Service and slices", () => {
    const p = plan(mcsOptions, input);
    const derived = derivedName('ns', 'hello');
    for (const t of ['a', 'b']) {
      const imp = one(p.creates, 'ServiceImport', t, 'hello');
      assert.equal(imp.namespace, 'ns');
      const obj = imp.object as ServiceImportObject;
      assert.equal(obj.apiVersion, 'multicluster.x-k8s.io/v1beta1');
      assert.equal(obj.spec.type, 'ClusterSetIP');
      // The suite sorts by name and compares {name, protocol, port, appProtocol}.
      assert.deepEqual(obj.spec.ports, [
        { name: 'tcp', port: 42, protocol: 'TCP' },
        { name: 'udp', port: 42, protocol: 'UDP' },
      ]);
      assert.deepEqual(obj.spec.ipFamilies, ['IPv4']);
      assert.equal(obj.spec.ips, undefined, 'the ClusterSet IP is not known before its Service exists');
      assert.equal(imp.ipsFrom, derived);
      assert.deepEqual(imp.writes, ['object', 'status'], 'a create ignores status: it is a second call');
      assert.deepEqual(obj.status, { clusters: [{ cluster: 'a' }], endpointSliceObjects: 'Present' });
      assert.deepEqual(obj.metadata.labels, owner);
      assert.deepEqual(obj.metadata.annotations, { 'multicluster.kubernetes.io/derived-service': derived });

      const svc = one(p.creates, 'Service', t, derived).object as ServiceObject;
      assert.equal(svc.metadata.namespace, 'ns');
      assert.deepEqual(svc.metadata.labels, { ...owner, 'multicluster.kubernetes.io/service-name': 'hello' });
      assert.equal(svc.spec!.type, 'ClusterIP');
      assert.equal(svc.spec!.selector, undefined, 'selector-less: mefi writes its endpoints');
      assert.equal(svc.spec!.clusterIP, undefined, 'allocated by the server');
      assert.deepEqual(svc.spec!.ports, obj.spec.ports);

      // Two sets of the same endpoints: kube-proxy's, of the derived Service, and the import's own (CoreDNS, a GEP-1748 Gateway).
      const slice = one(p.creates, 'EndpointSlice', t).object as SliceObject;
      assert.equal(slice.metadata.name, `${derived}-a-0`);
      assert.equal(slice.metadata.namespace, 'ns');
      assert.deepEqual(slice.metadata.labels, {
        ...owner,
        'multicluster.kubernetes.io/source-cluster': 'a',
        'kubernetes.io/service-name': derived,
        'endpointslice.kubernetes.io/managed-by': 'mefi',
      });
      const own = one(p.creates, 'EndpointSlice', t, undefined, 'import').object as SliceObject;
      assert.equal(own.metadata.name, 'hello-a-0');
      assert.deepEqual(own.metadata.labels, {
        ...owner,
        'multicluster.kubernetes.io/service-name': 'hello',
        'multicluster.kubernetes.io/source-cluster': 'a',
        'endpointslice.kubernetes.io/managed-by': 'mefi',
      });
      for (const s of [slice, own])
        assert.deepEqual(
          s.endpoints!.map((e) => e.addresses[0]),
          ['10.0.0.1', '10.0.0.2'],
        );
      assert.deepEqual(own.ports, slice.ports);
    }
    assert.deepEqual(p.problems, []);
  });

  it("says so on the ServiceExport: Valid, Ready and no Conflict, at the run's time", () => {
    const p = plan(mcsOptions, input);
    const status = statusOf(p, 'a');
    assert.deepEqual(one(p.updates, 'ServiceExportStatus', 'a').writes, ['status']);
    assert.deepEqual(
      status.status!.conditions!.map((c) => [c.type, c.status, c.reason, c.lastTransitionTime, c.observedGeneration]),
      [
        ['Valid', 'True', 'Valid', '2026-02-01T00:00:00Z', 1],
        ['Ready', 'True', 'Exported', '2026-02-01T00:00:00Z', 1],
        ['Conflict', 'False', 'NoConflicts', '2026-02-01T00:00:00Z', 1],
      ],
    );
  });

  it('fills in the ips once the derived Service has its cluster IPs, in ipFamilies order, and then writes nothing', () => {
    const p = plan(mcsOptions, input);
    // Apply that does not fill ipsFrom in: the import is written without ips, the Service gets its IP.
    const withoutIPs: Plan = { ...p, creates: p.creates.map((c) => ({ ...c, ipsFrom: undefined })) };
    const next = plan(mcsOptions, applied(input, withoutIPs));
    const update = one(next.updates, 'ServiceImport', 'a', 'hello');
    assert.deepEqual((update.object as ServiceImportObject).spec.ips, ['10.96.0.1']);
    assert.deepEqual(update.writes, ['object']);
    assert.equal(update.ipsFrom, undefined);
    assert.equal(next.creates.length, 0);
    // Apply that fills them in converges in one run.
    const done = converge(input);
    const stored = (done.targets.b as { serviceImports: ServiceImportObject[] }).serviceImports[0]!;
    assert.deepEqual(stored.spec.ips, ['10.96.0.1']);
  });

  it('lists both cluster IPs of a dual-stack import, and asks the derived Service for both families', () => {
    const dual = world({
      a: source({
        exports: [serviceExport('ns', 'hello')],
        services: [hello({ ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'PreferDualStack' })],
        slices: [
          helloSlice(['10.0.0.1']),
          { ...helloSlice(['fd00::1']), metadata: { ...helloSlice([]).metadata, name: 'hello-v6' } },
        ],
      }),
    });
    const p = plan(mcsOptions, dual);
    const svc = one(p.creates, 'Service', 'a').object as ServiceObject;
    assert.deepEqual([svc.spec!.ipFamilies, svc.spec!.ipFamilyPolicy], [['IPv6', 'IPv4'], 'RequireDualStack']);
    const done = converge(dual);
    const stored = (done.targets.a as { serviceImports: ServiceImportObject[] }).serviceImports[0]!;
    assert.deepEqual(stored.spec.ipFamilies, ['IPv6', 'IPv4']);
    assert.deepEqual(stored.spec.ips, ['fd00:96::1', '10.96.0.1'], 'each IP of its family, in ipFamilies order');
  });

  it('copies sessionAffinity and its config, internalTrafficPolicy and trafficDistribution to the import', () => {
    const p = plan(
      mcsOptions,
      world({
        a: source({
          exports: [serviceExport('ns', 'hello')],
          services: [hello({ internalTrafficPolicy: 'Local', trafficDistribution: 'PreferClose' })],
        }),
      }),
    );
    const spec = importIn(p, 'a')!.spec;
    assert.equal(spec.sessionAffinity, 'ClientIP');
    assert.deepEqual(spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10 } });
    assert.equal(spec.internalTrafficPolicy, 'Local');
    assert.equal(spec.trafficDistribution, 'PreferClose');
    const svc = one(p.creates, 'Service', 'a').object as ServiceObject;
    assert.equal(svc.spec!.sessionAffinity, 'ClientIP');
    assert.deepEqual(svc.spec!.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10 } });
    assert.equal(svc.spec!.trafficDistribution, 'PreferClose');
    // mefi drops nodeName: Local on the derived Service would leave kube-proxy no endpoint on any node.
    assert.equal(svc.spec!.internalTrafficPolicy, 'Cluster');
  });

  it('exports a NodePort or LoadBalancer Service as ClusterSetIP', () => {
    for (const type of ['NodePort', 'LoadBalancer']) {
      const p = plan(
        mcsOptions,
        world({ a: source({ exports: [serviceExport('ns', 'hello')], services: [hello({ type })] }) }),
      );
      assert.equal(importIn(p, 'a')!.spec.type, 'ClusterSetIP', type);
    }
  });

  it('plans nothing in a converged world, and rewrites no condition on a later run', () => {
    const done = converge(input);
    assert.ok(isEmpty(plan(mcsOptions, { ...done, now: NOW + 3_600_000 })));
    assert.equal(plan(mcsOptions, { ...done, now: NOW + 3_600_000 }).updates.length, 0, 'no status either');
  });
});

describe('MCS: exported labels and annotations', () => {
  it("carries only what the export asks for: not the Service's, not the export's own metadata", () => {
    const exp = serviceExport(
      'ns',
      'hello',
      T0,
      { exportedLabels: { 'dummy-label': 'true' }, exportedAnnotations: { 'dummy-annotation': 'true' } },
      { labels: { 'dummy-svcexport': 'dummy' }, annotations: { 'dummy-svcexport': 'dummy' } },
    );
    const imp = importIn(plan(mcsOptions, world({ a: source({ exports: [exp], services: [hello()] }) })), 'a')!;
    assert.deepEqual(imp.metadata.labels, { 'dummy-label': 'true', ...owner });
    assert.deepEqual(imp.metadata.annotations, {
      'dummy-annotation': 'true',
      'multicluster.kubernetes.io/derived-service': derivedName('ns', 'hello'),
    });
  });

  it("never lets an export take mefi's keys, and says so", () => {
    const exp = serviceExport('ns', 'hello', T0, {
      exportedLabels: { isMefiLocal: 'false', ok: 'yes' },
      exportedAnnotations: { 'multicluster.kubernetes.io/derived-service': 'mine' },
    });
    const p = plan(mcsOptions, world({ a: source({ exports: [exp], services: [hello()] }) }));
    const imp = importIn(p, 'a')!;
    assert.deepEqual(imp.metadata.labels, { ok: 'yes', ...owner });
    assert.equal(imp.metadata.annotations!['multicluster.kubernetes.io/derived-service'], derivedName('ns', 'hello'));
    assert.deepEqual(
      p.problems.map((x) => [x.code, x.cluster, x.blocking]),
      [
        ['invalid-export', 'a', false],
        ['invalid-export', 'a', false],
      ],
    );
  });

  it('takes them from the oldest export when exports disagree, and says so on each (LabelsConflict, AnnotationsConflict)', () => {
    const p = plan(
      mcsOptions,
      world({
        a: source({
          exports: [
            serviceExport('ns', 'hello', T0, { exportedLabels: { tier: 'a' }, exportedAnnotations: { note: 'a' } }),
          ],
          services: [hello()],
        }),
        b: source({
          exports: [
            serviceExport('ns', 'hello', T1, { exportedLabels: { tier: 'b' }, exportedAnnotations: { note: 'b' } }),
          ],
          services: [hello()],
        }),
      }),
    );
    assert.deepEqual(importIn(p, 'b')!.metadata.labels, { tier: 'a', ...owner });
    assert.equal(importIn(p, 'b')!.metadata.annotations!.note, 'a');
    for (const c of ['a', 'b'])
      assert.deepEqual(
        [conditionOf(statusOf(p, c), 'Conflict')!.status, conditionOf(statusOf(p, c), 'Conflict')!.reason],
        ['True', 'AnnotationsConflict,LabelsConflict'],
      );
  });
});

describe('MCS: conflicts across clusters (the oldest export wins)', () => {
  /** hello in a (exported first) and a second export in b. */
  const two = (b: ServiceObject, bCreated = T1, slicesB: SliceObject[] = []) =>
    world({
      a: source({
        exports: [serviceExport('ns', 'hello', T0)],
        services: [hello()],
        slices: [helloSlice(['10.0.0.1'])],
      }),
      b: source({ exports: [serviceExport('ns', 'hello', bCreated)], services: [b], slices: slicesB }),
    });
  const conflict = (p: Plan, c: string) => conditionOf(statusOf(p, c), 'Conflict')!;

  it('exposes the union of the ports, and raises PortConflict on every export', () => {
    const p = plan(mcsOptions, two(hello({ ports: [tcp(42), { name: 'stcp', protocol: 'SCTP', port: 142 }] })));
    assert.deepEqual(
      importIn(p, 'a')!.spec.ports.map((x) => x.name),
      ['stcp', 'tcp', 'udp'],
    );
    for (const c of ['a', 'b'])
      assert.deepEqual([conflict(p, c).status, conflict(p, c).reason], ['True', 'PortConflict']);
    assert.equal(p.problems.filter((x) => x.code === 'export-conflict').length, 1);
  });

  it('drops a conflicting port (same name, another number), and serves it only from the clusters that have it as the import does', () => {
    const p = plan(
      mcsOptions,
      two(hello({ ports: [tcp(43), udp(42)] }), T1, [
        sourceSlice('ns', 'hello', ['10.0.1.1'], [], [tcp(4343), udp(42)]),
      ]),
    );
    assert.deepEqual(importIn(p, 'a')!.spec.ports, [
      { name: 'tcp', port: 42, protocol: 'TCP' },
      { name: 'udp', port: 42, protocol: 'UDP' },
    ]);
    for (const c of ['a', 'b']) assert.equal(conflict(p, c).reason, 'PortConflict');
    assert.match(
      conflict(p, 'b').message,
      /cluster b has tcp 43\/TCP, the oldest export of that name \(cluster a\) tcp 42\/TCP/,
    );
    const slices = find(p.creates, 'EndpointSlice', 'a').map((c) => c.object as SliceObject);
    assert.deepEqual(
      slices.map((s) => [
        s.metadata.labels!['multicluster.kubernetes.io/source-cluster'],
        s.ports!.map((x) => `${x.name} ${x.port}`),
      ]),
      [
        ['a', ['tcp 42', 'udp 42']],
        ['b', ['udp 42']],
      ],
      "kube-proxy matches ports by name: b's tcp pods must not get traffic for a's tcp 42",
    );
  });

  it('drops a port that takes a (protocol, port) under another name, and a cluster exposing no port of the import gets no slice', () => {
    const p = plan(
      mcsOptions,
      two(hello({ ports: [tcp(42, 'other')] }), T1, [sourceSlice('ns', 'hello', ['10.0.1.1'], [], [tcp(42, 'other')])]),
    );
    assert.deepEqual(
      importIn(p, 'a')!.spec.ports.map((x) => x.name),
      ['tcp', 'udp'],
    );
    assert.equal(conflict(p, 'a').reason, 'PortConflict');
    assert.deepEqual(
      find(p.creates, 'EndpointSlice', 'a').map((c) => c.cluster),
      ['a'],
    );
  });

  it('breaks a tie of creationTimestamps (seconds only) by cluster name, and otherwise lets the oldest win whatever its name', () => {
    const headless = hello({ clusterIP: 'None', clusterIPs: ['None'] });
    // Same second: a wins.
    assert.equal(importIn(plan(mcsOptions, two(headless, T0)), 'a')!.spec.type, 'ClusterSetIP');
    // b older: b wins.
    assert.equal(importIn(plan(mcsOptions, two(headless, '2025-12-31T23:59:59Z')), 'a')!.spec.type, 'Headless');
  });

  it('resolves conflicting headlessness by the oldest, with TypeConflict on every export', () => {
    const p = plan(mcsOptions, two(hello({ clusterIP: 'None', clusterIPs: ['None'] })));
    for (const t of ['a', 'b']) assert.equal(importIn(p, t)!.spec.type, 'ClusterSetIP');
    for (const c of ['a', 'b'])
      assert.deepEqual([conflict(p, c).status, conflict(p, c).reason], ['True', 'TypeConflict']);
  });

  it('resolves affinity and policies by the oldest; several conflicts join their reasons with commas', () => {
    const p = plan(
      mcsOptions,
      two(
        hello({
          sessionAffinity: 'None',
          sessionAffinityConfig: undefined,
          internalTrafficPolicy: 'Local',
          trafficDistribution: 'PreferClose',
        }),
      ),
    );
    const spec = importIn(p, 'a')!.spec;
    assert.deepEqual(
      [spec.sessionAffinity, spec.internalTrafficPolicy, spec.trafficDistribution],
      ['ClientIP', 'Cluster', undefined],
    );
    assert.equal(
      conflict(p, 'b').reason,
      'SessionAffinityConflict,InternalTrafficPolicyConflict,TrafficDistributionConflict',
    );
    const timeout = plan(mcsOptions, two(hello({ sessionAffinityConfig: { clientIP: { timeoutSeconds: 99 } } })));
    assert.equal(conflict(timeout, 'a').reason, 'SessionAffinityConfigConflict');
    assert.deepEqual(importIn(timeout, 'a')!.spec.sessionAffinityConfig, { clientIP: { timeoutSeconds: 10 } });
  });

  it('takes the intersection of the IP families, and raises IPFamilyConflict for a cluster that shares none', () => {
    const p = plan(
      mcsOptions,
      world(
        {
          a: source({
            exports: [serviceExport('ns', 'hello', T0)],
            services: [hello({ ipFamilies: ['IPv4', 'IPv6'] })],
          }),
          b: source({ exports: [serviceExport('ns', 'hello', T1)], services: [hello({ ipFamilies: ['IPv4'] })] }),
          c: source({ exports: [serviceExport('ns', 'hello', T1)], services: [hello({ ipFamilies: ['IPv6'] })] }),
        },
        ['a', 'b', 'c'],
      ),
    );
    assert.deepEqual(importIn(p, 'a')!.spec.ipFamilies, ['IPv4']);
    for (const c of ['a', 'b', 'c']) assert.equal(conflict(p, c).reason, 'IPFamilyConflict');
  });

  it('writes the status of the exports in its own targets only: one mefi per cluster writes each once', () => {
    const input = two(hello({ ports: [tcp(42)] }));
    const only = (targets: string[]) =>
      plan(mcsOptions, { ...input, targets: Object.fromEntries(targets.map((t) => [t, emptyTarget()])) });
    assert.deepEqual(
      only(['a'])
        .updates.filter((c) => c.kind === 'ServiceExportStatus')
        .map((c) => c.target),
      ['a'],
    );
    assert.deepEqual(
      only(['b'])
        .updates.filter((c) => c.kind === 'ServiceExportStatus')
        .map((c) => c.target),
      ['b'],
    );
    // A target that could not be read: how the name fares there is unknown, so its exports' status waits.
    const unreadable = plan(mcsOptions, {
      ...input,
      targets: { a: emptyTarget(), b: { ok: false, error: 'refused' } },
    });
    assert.deepEqual(
      unreadable.updates.filter((c) => c.kind === 'ServiceExportStatus').map((c) => c.target),
      ['a'],
    );
    // Either mefi's Conflict condition is the same: both see every export.
    assert.deepEqual(conflict(only(['a']), 'a'), conflict(plan(mcsOptions, input), 'a'));
    assert.deepEqual(conflict(only(['b']), 'b'), conflict(plan(mcsOptions, input), 'b'));
  });

  it('agrees silently when the exports agree', () => {
    const p = plan(mcsOptions, two(hello(), T1, [helloSlice(['10.0.1.1'])]));
    for (const c of ['a', 'b'])
      assert.deepEqual([conflict(p, c).status, conflict(p, c).reason], ['False', 'NoConflicts']);
    assert.deepEqual(importIn(p, 'b')!.status!.clusters, [{ cluster: 'a' }, { cluster: 'b' }]);
    assert.deepEqual(
      find(p.creates, 'EndpointSlice', 'b').map((c) => c.cluster),
      ['a', 'b'],
    );
  });
});

describe("MCS: a cluster's ClusterSet id (KEP-2149 cluster.clusterset.k8s.io)", () => {
  const withIds: typeof mcsOptions = { ...mcsOptions, clusterIds: { a: 'a.fleet.example' } };
  const input = world({
    a: source({ exports: [serviceExport('ns', 'hello')], services: [hello()], slices: [helloSlice(['10.0.0.1'])] }),
    b: source({}),
  });
  const slicesIn = (w: PlanInput, t: string) => (w.targets[t] as { slices: SliceObject[] }).slices;

  it("names the cluster by its id in the import's status and the slices' source-cluster label; object names keep its name", () => {
    const p = plan(withIds, input);
    assert.deepEqual(importIn(p, 'b')!.status!.clusters, [{ cluster: 'a.fleet.example' }]);
    for (const set of ['derived', 'import'] as const) {
      const slice = one(p.creates, 'EndpointSlice', 'b', undefined, set).object as SliceObject;
      assert.equal(slice.metadata.labels?.['multicluster.kubernetes.io/source-cluster'], 'a.fleet.example');
      assert.match(slice.metadata.name, /-a-0$/);
    }
  });

  it('relabels the slices of a cluster that gains an id in place (updates, no create or delete), then writes nothing', () => {
    let w = input;
    for (let i = 0; i < 3; i++) w = applied(w, plan(mcsOptions, w));
    assert.ok(isEmpty(plan(mcsOptions, w)));
    const p = plan(withIds, w);
    assert.deepEqual(
      [...p.creates, ...p.deletes].filter((c) => c.kind === 'EndpointSlice'),
      [],
    );
    assert.equal(p.updates.filter((c) => c.kind === 'EndpointSlice').length, 4, 'two sets in each of two targets');
    w = applied(w, p);
    assert.ok(
      isEmpty(plan(withIds, w)),
      all(plan(withIds, w))
        .map((c) => `${c.target} ${c.kind} ${c.name}`)
        .join(', '),
    );
    assert.ok(
      slicesIn(w, 'b').every(
        (s) => s.metadata.labels?.['multicluster.kubernetes.io/source-cluster'] === 'a.fleet.example',
      ),
    );
  });

  it("keeps an unreadable cluster's slices, found by its id", () => {
    let w = input;
    for (let i = 0; i < 3; i++) w = applied(w, plan(withIds, w));
    const down: PlanInput = { ...w, sources: { ...w.sources, a: { ok: false, error: 'down' } } };
    const p = plan(withIds, down);
    assert.deepEqual(
      p.deletes.filter((c) => c.kind === 'EndpointSlice'),
      [],
    );
    assert.deepEqual(
      p.problems.filter((x) => x.code === 'unknown-cluster'),
      [],
    );
  });
});

describe('MCS: headless', () => {
  it('gives a Headless import without IPs but with its families, a headless derived Service, and slices with hostnames', () => {
    const slice = helloSlice(['10.0.0.1']);
    slice.endpoints![0]!.hostname = 'hello-0';
    const input = world({
      a: source({
        exports: [serviceExport('ns', 'hello')],
        services: [hello({ clusterIP: 'None', clusterIPs: ['None'] })],
        slices: [slice],
      }),
    });
    const p = plan(mcsOptions, input);
    const imp = one(p.creates, 'ServiceImport', 'a');
    assert.equal((imp.object as ServiceImportObject).spec.type, 'Headless');
    assert.equal(imp.ipsFrom, undefined, 'no ClusterSet IP to wait for');
    assert.deepEqual((imp.object as ServiceImportObject).spec.ipFamilies, ['IPv4']);
    assert.equal((one(p.creates, 'Service', 'a').object as ServiceObject).spec!.clusterIP, 'None');
    assert.equal((one(p.creates, 'EndpointSlice', 'a').object as SliceObject).endpoints![0]!.hostname, 'hello-0');
    const done = converge(input);
    assert.equal((done.targets.a as { serviceImports: ServiceImportObject[] }).serviceImports[0]!.spec.ips, undefined);
  });

  it('recreates the derived Service when headlessness flips (clusterIP is immutable), and the import follows its new IP', () => {
    const clusterIP = world({ a: source({ exports: [serviceExport('ns', 'hello')], services: [hello()] }) });
    const done = converge(clusterIP);
    const flipped: PlanInput = {
      ...done,
      sources: {
        a: source({
          exports: (done.sources.a as { serviceExports: ServiceExportObject[] }).serviceExports,
          services: [hello({ clusterIP: 'None', clusterIPs: ['None'] })],
        }),
      },
    };
    const p = plan(mcsOptions, flipped);
    const svc = one(p.updates, 'Service', 'a');
    assert.equal(svc.recreate, true);
    assert.ok(svc.resourceVersion, 'the delete is conditional');
    assert.equal((svc.object as ServiceObject).spec!.clusterIP, 'None');
    const imp = one(p.updates, 'ServiceImport', 'a', 'hello');
    assert.equal((imp.object as ServiceImportObject).spec.type, 'Headless');
    assert.equal((imp.object as ServiceImportObject).spec.ips, undefined);
    converge(flipped);
  });
});

describe('MCS: exports that are not valid', () => {
  it('does not import an ExternalName Service: Valid False InvalidServiceType, says why, and no Conflict', () => {
    const p = plan(
      mcsOptions,
      world({
        a: source({
          exports: [serviceExport('ns', 'hello')],
          services: [
            service('ns', 'hello', {
              type: 'ExternalName',
              externalName: 'db.example.com',
              clusterIP: undefined,
              clusterIPs: undefined,
            }),
          ],
        }),
      }),
    );
    assert.deepEqual(
      all(p).filter((c) => c.kind !== 'ServiceExportStatus'),
      [],
    );
    const conditions = statusOf(p, 'a').status!.conditions!;
    assert.deepEqual(
      conditions.map((c) => [c.type, c.status, c.reason]),
      [
        ['Valid', 'False', 'InvalidServiceType'],
        ['Ready', 'False', 'Pending'],
      ],
    );
    assert.match(conditions[0]!.message, /ExternalName/);
    assert.deepEqual(
      p.problems.map((x) => [x.code, x.blocking]),
      [['invalid-export', false]],
    );
  });

  it('says NoService for an export without its Service', () => {
    const p = plan(mcsOptions, world({ a: source({ exports: [serviceExport('ns', 'hello')] }) }));
    assert.deepEqual(
      all(p).filter((c) => c.kind !== 'ServiceExportStatus'),
      [],
    );
    assert.equal(conditionOf(statusOf(p, 'a'), 'Valid')!.reason, 'NoService');
  });

  it('does not let an invalid export take part: the valid one alone is imported, without conflict', () => {
    const p = plan(
      mcsOptions,
      world({
        a: source({ exports: [serviceExport('ns', 'hello', T1)], services: [hello()] }),
        b: source({
          exports: [serviceExport('ns', 'hello', T0)],
          services: [service('ns', 'hello', { type: 'ExternalName' })],
        }),
      }),
    );
    assert.deepEqual(importIn(p, 'a')!.status!.clusters, [{ cluster: 'a' }]);
    assert.equal(conditionOf(statusOf(p, 'a'), 'Conflict')!.status, 'False');
    assert.equal(conditionOf(statusOf(p, 'b'), 'Conflict'), undefined);
  });

  it('never takes what mefi wrote for a source: its slices and derived Services in a cluster that is also a target', () => {
    const derived = derivedName('ns', 'hello');
    const echo: SliceObject = {
      ...helloSlice(['10.9.9.9']),
      metadata: {
        name: `${derived}-b-0`,
        namespace: 'ns',
        labels: {
          ...owner,
          'multicluster.kubernetes.io/service-name': 'hello',
          'kubernetes.io/service-name': 'hello',
          'endpointslice.kubernetes.io/managed-by': 'mefi',
        },
      },
    };
    const p = plan(
      mcsOptions,
      world({
        a: source({
          exports: [serviceExport('ns', 'hello'), serviceExport('ns', derived)],
          services: [
            hello(),
            {
              ...service('ns', derived),
              metadata: {
                name: derived,
                namespace: 'ns',
                labels: { ...owner, 'multicluster.kubernetes.io/service-name': 'hello' },
              },
            },
          ],
          slices: [echo, helloSlice(['10.0.0.1'])],
        }),
      }),
    );
    assert.deepEqual(
      (one(p.creates, 'EndpointSlice', 'a').object as SliceObject).endpoints!.map((e) => e.addresses[0]),
      ['10.0.0.1'],
    );
    assert.equal(conditionOf(statusOf(p, 'a', derived), 'Valid')!.reason, 'InvalidServiceType');
  });
});

describe('MCS: status conditions', () => {
  const input = world({ a: source({ exports: [serviceExport('ns', 'hello')], services: [hello()] }) });

  it("keeps lastTransitionTime while a condition's status holds, even as its reason changes; moves it when the status changes", () => {
    const done = converge(input);
    const later = NOW + 86_400_000;
    // b exports with another port: Conflict goes False → True; Valid and Ready hold.
    const conflicted: PlanInput = {
      ...done,
      now: later,
      sources: {
        ...done.sources,
        b: source({ exports: [serviceExport('ns', 'hello', T1)], services: [hello({ ports: [tcp(43)] })] }),
      },
    };
    const p = plan(mcsOptions, conflicted);
    const times = Object.fromEntries(statusOf(p, 'a').status!.conditions!.map((c) => [c.type, c.lastTransitionTime]));
    assert.deepEqual(times, {
      Valid: '2026-02-01T00:00:00Z',
      Ready: '2026-02-01T00:00:00Z',
      Conflict: '2026-02-02T00:00:00Z',
    });
    assert.equal(conditionOf(statusOf(p, 'b'), 'Conflict')!.lastTransitionTime, '2026-02-02T00:00:00Z');
    // Then another conflict too: the status holds (True), the reason changes, the time stays.
    const settled = applied(conflicted, p);
    const more: PlanInput = {
      ...settled,
      now: later + 1000,
      sources: {
        ...settled.sources,
        b: source({
          exports: (settled.sources.b as { serviceExports: ServiceExportObject[] }).serviceExports,
          services: [hello({ ports: [tcp(43)], clusterIP: 'None', clusterIPs: ['None'] })],
        }),
      },
    };
    const c = conditionOf(statusOf(plan(mcsOptions, more), 'a'), 'Conflict')!;
    assert.deepEqual([c.reason, c.lastTransitionTime], ['PortConflict,TypeConflict', '2026-02-02T00:00:00Z']);
  });

  it('keeps conditions of other types as they are', () => {
    const exp = {
      ...serviceExport('ns', 'hello'),
      status: {
        conditions: [
          { type: 'Synced', status: 'True' as const, reason: 'Theirs', message: '', lastTransitionTime: T0 },
        ],
      },
    };
    const conditions = statusOf(plan(mcsOptions, world({ a: source({ exports: [exp], services: [hello()] }) })), 'a')
      .status!.conditions!;
    assert.deepEqual(
      conditions.map((c) => c.type),
      ['Synced', 'Valid', 'Ready', 'Conflict'],
    );
    assert.deepEqual(conditions[0], exp.status.conditions[0]);
  });

  it("says Ready False Failed, and writes nothing there, where another's ServiceImport or Service holds a name the import needs", () => {
    const target = emptyTarget();
    target.serviceImports!.push({
      metadata: { name: 'hello', namespace: 'ns', labels: { app: 'theirs' } },
      spec: { type: 'ClusterSetIP', ports: [] },
    });
    const p = plan(mcsOptions, { ...input, targets: { a: target, b: emptyTarget() } });
    assert.deepEqual(
      [
        ...new Set(
          all(p)
            .filter((c) => c.kind !== 'ServiceExportStatus')
            .map((c) => c.target),
        ),
      ],
      ['b'],
    );
    assert.deepEqual(
      p.problems.map((x) => [x.code, x.cluster, x.blocking]),
      [['conflict', 'a', true]],
    );
    const ready = conditionOf(statusOf(p, 'a'), 'Ready')!;
    assert.deepEqual([ready.status, ready.reason], ['False', 'Failed']);
    assert.match(ready.message, /not imported in a \(ServiceImport ns\/hello is not mefi's\)/);
  });
});

describe('MCS: unexporting', () => {
  const both = world({
    a: source({ exports: [serviceExport('ns', 'hello', T0)], services: [hello()], slices: [helloSlice(['10.0.0.1'])] }),
    b: source({ exports: [serviceExport('ns', 'hello', T1)], services: [hello()], slices: [helloSlice(['10.0.1.1'])] }),
  });
  const without = (w: PlanInput, cluster: string): PlanInput => {
    const o = w.sources[cluster]!;
    return { ...w, sources: { ...w.sources, [cluster]: o.ok ? { ...o, serviceExports: [] } : o } };
  };

  it("keeps the import while one export is left, with only its cluster's slices; deletes it, its Service and slices with the last", () => {
    const done = converge(both);
    const one_ = plan(mcsOptions, without(done, 'a'));
    // Both of a's sets: the derived Service's and the import's own.
    assert.deepEqual(one_.deletes.map((c) => `${c.target} ${c.kind} ${c.cluster} ${c.name}`).sort(), [
      `a EndpointSlice a ${derivedName('ns', 'hello')}-a-0`,
      'a EndpointSlice a hello-a-0',
      `b EndpointSlice a ${derivedName('ns', 'hello')}-a-0`,
      'b EndpointSlice a hello-a-0',
    ]);
    assert.deepEqual((one(one_.updates, 'ServiceImport', 'a').object as ServiceImportObject).status!.clusters, [
      { cluster: 'b' },
    ]);
    assert.deepEqual(one(one_.updates, 'ServiceImport', 'a').writes, ['status']);
    const none = plan(mcsOptions, without(without(done, 'a'), 'b'));
    assert.deepEqual(none.deletes.map((c) => `${c.target} ${c.kind} ${c.name}`).sort(), [
      `a EndpointSlice ${derivedName('ns', 'hello')}-a-0`,
      `a EndpointSlice ${derivedName('ns', 'hello')}-b-0`,
      'a EndpointSlice hello-a-0',
      'a EndpointSlice hello-b-0',
      `a Service ${derivedName('ns', 'hello')}`,
      'a ServiceImport hello',
      `b EndpointSlice ${derivedName('ns', 'hello')}-a-0`,
      `b EndpointSlice ${derivedName('ns', 'hello')}-b-0`,
      'b EndpointSlice hello-a-0',
      'b EndpointSlice hello-b-0',
      `b Service ${derivedName('ns', 'hello')}`,
      'b ServiceImport hello',
    ]);
    for (const c of none.deletes) assert.ok(c.resourceVersion, `${c.name}: deletes are conditional`);
    assert.equal(plan({ ...mcsOptions, policy: 'upsert-only' }, without(without(done, 'a'), 'b')).deletes.length, 0);
  });

  it("keeps an unreadable cluster's slices and the import that lists it as they are, until staleAfter", () => {
    const done = converge(both);
    const down: PlanInput = {
      ...done,
      sources: { a: done.sources.a!, b: { ok: false, error: 'connect ECONNREFUSED' } },
    };
    const p = plan(mcsOptions, down);
    assert.deepEqual(all(p), [], "nothing of b is touched, and the import is not rebuilt without b's export");
    // a's own export changes meanwhile: its slices follow, the import waits for b.
    const changed: PlanInput = {
      ...down,
      sources: {
        ...down.sources,
        a: source({
          exports: (done.sources.a as { serviceExports: ServiceExportObject[] }).serviceExports,
          services: [hello()],
          slices: [helloSlice(['10.0.0.1', '10.0.0.5'])],
        }),
      },
    };
    const q = plan(mcsOptions, changed);
    assert.deepEqual(
      q.updates
        .filter((c) => c.kind !== 'ServiceExportStatus')
        .map((c) => `${c.target} ${c.kind} ${c.cluster} ${c.name}`)
        .sort(),
      [
        `a EndpointSlice a ${derivedName('ns', 'hello')}-a-0`,
        'a EndpointSlice a hello-a-0',
        `b EndpointSlice a ${derivedName('ns', 'hello')}-a-0`,
        'b EndpointSlice a hello-a-0',
      ],
    );
    assert.deepEqual(q.unreadable, [{ cluster: 'b', role: 'source', error: 'connect ECONNREFUSED' }]);
    // b alone unreadable and a no longer exporting: b's slices and the import still stay.
    const gone = plan(mcsOptions, without(down, 'a'));
    assert.deepEqual(
      gone.deletes.map((c) => `${c.target} ${c.cluster}`),
      ['a a', 'a a', 'b a', 'b a'],
    );
    // staleAfter: once b's Lease is older, b's slices go, and with no export left the import goes too.
    const lease = {
      metadata: {
        name: 'mefi-source-b',
        namespace: 'mefi-system',
        labels: { ...owner, 'multicluster.kubernetes.io/source-cluster': 'b' },
      },
      spec: { renewTime: new Date(NOW - 600_000).toISOString() },
    };
    const stale: PlanInput = {
      ...without(down, 'a'),
      targets: Object.fromEntries(
        Object.entries(down.targets).map(([t, o]) => [t, o.ok ? { ...o, leases: [lease] } : o]),
      ),
    };
    const r = plan({ ...mcsOptions, staleAfter: { a: 60_000, b: 60_000 } }, stale);
    assert.ok(
      r.deletes.some((c) => c.kind === 'ServiceImport'),
      'the import goes once b is stale',
    );
    assert.ok(r.deletes.some((c) => c.kind === 'EndpointSlice' && c.cluster === 'b'));
    assert.ok(r.problems.some((x) => x.code === 'stale-cluster'));
  });

  it('keeps the slices of a cluster no longer configured, and says so, until --prune', () => {
    const done = converge(both);
    const dropped: PlanInput = { ...done, sources: { a: done.sources.a! } };
    const p = plan(mcsOptions, dropped);
    assert.ok(!p.deletes.some((c) => c.cluster === 'b'));
    assert.ok(p.problems.some((x) => x.code === 'unknown-cluster' && x.name === 'b'));
    assert.ok(plan({ ...mcsOptions, prune: true }, dropped).deletes.some((c) => c.cluster === 'b'));
  });
});

describe('MCS: namespaces and targets', () => {
  it('imports only where the namespace exists and is not Terminating, and says so there', () => {
    const input: PlanInput = {
      ...world({ a: source({ exports: [serviceExport('ns', 'hello')], services: [hello()] }) }),
      targets: {
        a: emptyTarget(['ns']),
        b: emptyTarget(['other']),
        c: { ...emptyTarget(), namespaces: [{ metadata: { name: 'ns' }, status: { phase: 'Terminating' } }] },
      },
    };
    const p = plan(mcsOptions, input);
    assert.deepEqual([...new Set(p.creates.map((c) => c.target))], ['a']);
    assert.deepEqual(
      p.problems.map((x) => [x.code, x.cluster, x.blocking]),
      [
        ['missing-namespace', 'b', false],
        ['missing-namespace', 'c', false],
      ],
    );
    assert.equal(conditionOf(statusOf(p, 'a'), 'Ready')!.status, 'True', 'a missing namespace is no failure (KEP)');
  });

  it('leaves the existing modes as they were: no MCS object without mode mcs', () => {
    const p = plan(
      { ...mcsOptions, mode: 'endpoints' },
      world({ a: source({ exports: [serviceExport('ns', 'hello')], services: [hello()] }) }),
    );
    assert.ok(isEmpty(p));
    assert.equal(p.updates.length, 0);
  });
});

describe('MCS: what is served (the one readiness rule)', () => {
  const input = world({
    a: source({
      exports: [serviceExport('ns', 'hello', T0)],
      services: [hello()],
      slices: [sourceSlice('ns', 'hello', ['10.0.0.1'], ['10.0.0.3'], [tcp(42), udp(42)])],
    }),
    b: source({
      exports: [serviceExport('ns', 'hello', T1)],
      services: [hello()],
      slices: [sourceSlice('ns', 'hello', ['10.0.1.1', '10.0.1.2'], [], [tcp(42), udp(42)])],
    }),
  });
  const served = (p: Plan, target: string) =>
    Object.fromEntries(
      find(p.creates, 'EndpointSlice', target).map((c) => [
        c.cluster,
        (c.object as SliceObject).endpoints!.map(
          (e) => `${e.addresses[0]} ${e.conditions!.ready ? 'ready' : 'not ready'}`,
        ),
      ]),
    );

  it('copies readiness as slice mode does: ready and serving alike', () => {
    const p = plan(mcsOptions, input);
    assert.deepEqual(served(p, 'a'), {
      a: ['10.0.0.1 ready', '10.0.0.3 not ready'],
      b: ['10.0.1.1 ready', '10.0.1.2 ready'],
    });
    for (const c of find(p.creates, 'EndpointSlice', 'a'))
      for (const e of (c.object as SliceObject).endpoints!) assert.equal(e.conditions!.serving, e.conditions!.ready);
  });

  it("applies affinity: with local, another cluster's endpoints are served as not ready while the target has a ready one", () => {
    const p = plan({ ...mcsOptions, affinity: 'local' }, input);
    assert.deepEqual(served(p, 'a'), {
      a: ['10.0.0.1 ready', '10.0.0.3 not ready'],
      b: ['10.0.1.1 not ready', '10.0.1.2 not ready'],
    });
    assert.deepEqual(served(p, 'b'), {
      a: ['10.0.0.1 not ready', '10.0.0.3 not ready'],
      b: ['10.0.1.1 ready', '10.0.1.2 ready'],
    });
  });

  it("applies --probe: the target probes the other clusters' ready TCP endpoints, and serves one that did not answer as not ready", () => {
    assert.deepEqual(
      toProbe(mcsOptions, input, 'a').map((x) => `${x.cluster} ${x.key}`),
      ['b 10.0.1.1:42', 'b 10.0.1.2:42'],
    );
    const p = plan(mcsOptions, { ...input, unreachable: { a: new Set([probeKey('10.0.1.2', 42)]) } });
    assert.deepEqual(served(p, 'a').b, ['10.0.1.1 ready', '10.0.1.2 not ready']);
    assert.deepEqual(
      p.problems.map((x) => [x.code, x.cluster, x.namespace]),
      [['unreachable', 'a', 'ns']],
    );
  });

  it('chunks as slice mode does: at most maxEndpointsPerSlice per slice, on the lowest free names', () => {
    const p = plan({ ...mcsOptions, maxEndpointsPerSlice: 1 }, input);
    assert.deepEqual(
      find(p.creates, 'EndpointSlice', 'a').map((c) => c.name),
      [0, 1, 0, 1].map((n, i) => `${derivedName('ns', 'hello')}-${i < 2 ? 'a' : 'b'}-${n}`),
    );
    assert.deepEqual(
      find(p.creates, 'EndpointSlice', 'a', undefined, 'import').map((c) => c.name),
      ['hello-a-0', 'hello-a-1', 'hello-b-0', 'hello-b-1'],
    );
  });

  it("takes an earlier mefi's slices (both labels) for the derived Service's, as a consumer of both does: they keep their names and lose the import's label, and the import's own set is written beside them", () => {
    const derived = derivedName('ns', 'hello');
    const done = converge(input);
    const target = done.targets.a as Extract<PlanInput['targets'][string], { ok: true }>;
    // The world as mefi left it before: one set, with both labels.
    const earlier: PlanInput = {
      ...done,
      targets: {
        ...done.targets,
        a: {
          ...target,
          slices: (target.slices ?? [])
            .filter((x) => x.metadata.labels?.['kubernetes.io/service-name'] === derived)
            .map((x) => ({
              ...x,
              metadata: {
                ...x.metadata,
                labels: { ...x.metadata.labels, 'multicluster.kubernetes.io/service-name': 'hello' },
              },
            })),
        },
      },
    };
    const p = plan(mcsOptions, earlier);
    assert.deepEqual(
      find(p.updates, 'EndpointSlice', 'a').map((c) => [c.name, (c.object as SliceObject).metadata.labels]),
      ['a', 'b'].map((c) => [
        `${derived}-${c}-0`,
        {
          ...owner,
          'multicluster.kubernetes.io/source-cluster': c,
          'kubernetes.io/service-name': derived,
          'endpointslice.kubernetes.io/managed-by': 'mefi',
        },
      ]),
    );
    assert.deepEqual(
      find(p.creates, 'EndpointSlice', 'a', undefined, 'import').map((c) => c.name),
      ['hello-a-0', 'hello-b-0'],
    );
    assert.deepEqual(
      all(p).filter((c) => c.target === 'a' && c.kind !== 'ServiceExportStatus').length,
      4,
      'nothing else changes',
    );
    converge(earlier);
  });
});
