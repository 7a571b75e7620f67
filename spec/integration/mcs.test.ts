// MCS mode (mefi sync --mode mcs) end to end, on the three shared API servers
// with the mcs-api v0.5.2 CRDs: what the MCS conformance suite checks
// (sigs.k8s.io/mcs-api conformance/, required and optional specs alike, as far
// as they need no DNS, exec or traffic), each claim asked of the API servers
// (kubectl get -o json) and their audit logs, never of mefi's own report.
// Sources are selector-less Services with EndpointSlices the test writes.
// Every test has its own namespace, and mefi is scoped to it.

import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { derivedName } from '../../lib/plan/index.ts';
import {
  clusterNames,
  ensureNamespace,
  kubectl,
  marks,
  mefi,
  skip,
  uid,
  writeConfig,
  writesSince,
  type AuditEvent,
} from '../support/world.ts';

// The KEP's and mcs-api's strings, spelled out: not taken from lib/.
const mcsApi = 'multicluster.x-k8s.io/v1beta1';
const serviceNameLabel = 'multicluster.kubernetes.io/service-name';
const sourceClusterLabel = 'multicluster.kubernetes.io/source-cluster';
const derivedAnnotation = 'multicluster.kubernetes.io/derived-service';
const testManager = 'mcs-test.mefi.example';

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  generation?: number;
}
interface Port {
  name?: string;
  protocol?: string;
  port: number;
  appProtocol?: string;
  targetPort?: number | string;
}
interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}
interface Affinity {
  clientIP?: { timeoutSeconds?: number };
}
interface Service {
  kind: 'Service';
  metadata: Meta;
  spec: {
    type?: string;
    clusterIP?: string;
    clusterIPs?: string[];
    ipFamilies?: string[];
    ports?: Port[];
    selector?: Record<string, string>;
    sessionAffinity?: string;
    sessionAffinityConfig?: Affinity;
    internalTrafficPolicy?: string;
    trafficDistribution?: string;
  };
}
interface ServiceImport {
  kind: 'ServiceImport';
  metadata: Meta;
  spec: {
    type: string;
    ports?: Port[];
    ips?: string[];
    ipFamilies?: string[];
    sessionAffinity?: string;
    sessionAffinityConfig?: Affinity;
    internalTrafficPolicy?: string;
    trafficDistribution?: string;
  };
  status?: { clusters?: { cluster: string }[] };
}
interface ServiceExport {
  kind: 'ServiceExport';
  metadata: Meta;
  status?: { conditions?: Condition[] };
}
interface Slice {
  kind: 'EndpointSlice';
  metadata: Meta;
  addressType: string;
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[] | null;
  ports?: Port[] | null;
}
type Item = Service | ServiceImport | ServiceExport | Slice;

// --- the objects a user makes -------------------------------------------------

const tcp42: Port = { name: 'tcp', protocol: 'TCP', port: 42 };
const udp42: Port = { name: 'udp', protocol: 'UDP', port: 42 };
/** hello's endpoints listen on 8042: a slice's ports are target ports, not the Service's. */
const helloTargets: Port[] = [
  { name: 'tcp', protocol: 'TCP', port: 8042 },
  { name: 'udp', protocol: 'UDP', port: 8042 },
];

/** A selector-less Service: its endpoints are the slices the test writes. */
function service(ns: string, name: string, spec: Record<string, unknown>, meta: Partial<Meta> = {}) {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, ...meta }, spec };
}

/** The conformance suite's hello (k8s_objects.go): tcp and udp 42, ClientIP affinity of 10 s, PreferDualStack, labelled and annotated dummy-svc. */
function hello(ns: string, name = 'hello', spec: Record<string, unknown> = {}) {
  return service(
    ns,
    name,
    {
      ports: [
        { ...tcp42, targetPort: 8042 },
        { ...udp42, targetPort: 8042 },
      ],
      sessionAffinity: 'ClientIP',
      sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } },
      ipFamilyPolicy: 'PreferDualStack',
      ...spec,
    },
    { labels: { 'dummy-svc': 'dummy' }, annotations: { 'dummy-svc': 'dummy' } },
  );
}

/** A source EndpointSlice of a Service, as an EndpointSlice controller (not mefi) would write it. */
function endpointsOf(ns: string, svc: string, ready: string[], notReady: string[] = [], ports: Port[] = helloTargets) {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: `${svc}-src`,
      namespace: ns,
      labels: { 'kubernetes.io/service-name': svc, 'endpointslice.kubernetes.io/managed-by': testManager },
    },
    addressType: 'IPv4',
    endpoints: [
      ...ready.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
      ...notReady.map((ip) => ({ addresses: [ip], conditions: { ready: false } })),
    ],
    ports,
  };
}

function exportOf(ns: string, name: string, spec?: Record<string, unknown>, meta: Partial<Meta> = {}) {
  return {
    apiVersion: mcsApi,
    kind: 'ServiceExport',
    metadata: { name, namespace: ns, ...meta },
    ...(spec ? { spec } : {}),
  };
}

// --- kubectl, mefi, the audit log ----------------------------------------------

async function k(cluster: string, args: string[], input?: string): Promise<string> {
  const r = await kubectl(args, { cluster, ...(input !== undefined ? { input } : {}) });
  assert.equal(r.code, 0, `kubectl ${args.join(' ')} in ${cluster}: ${r.stderr}`);
  return r.stdout;
}

const create = (cluster: string, ...objects: object[]) =>
  k(cluster, ['create', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }));
const unexport = (cluster: string, ns: string, name: string) =>
  k(cluster, ['-n', ns, 'delete', 'serviceexports.multicluster.x-k8s.io', name]);

/** What one cluster has in a namespace, as its API server returns it. */
async function stateOf(cluster: string, ns: string) {
  const out = await k(cluster, [
    '-n',
    ns,
    'get',
    'serviceimports.multicluster.x-k8s.io,serviceexports.multicluster.x-k8s.io,services,endpointslices.discovery.k8s.io',
    '-o',
    'json',
  ]);
  const items = (JSON.parse(out) as { items: Item[] }).items;
  const named =
    <T extends Item>(kind: T['kind']) =>
    (name: string) =>
      items.find((i): i is T => i.kind === kind && i.metadata.name === name);
  return {
    import: named<ServiceImport>('ServiceImport'),
    export: named<ServiceExport>('ServiceExport'),
    service: named<Service>('Service'),
    imports: items.filter((i): i is ServiceImport => i.kind === 'ServiceImport'),
    /** The MCS slices of an import: those with its service-name label, whoever wrote them. */
    slices: (name: string) =>
      items
        .filter((i): i is Slice => i.kind === 'EndpointSlice' && i.metadata.labels?.[serviceNameLabel] === name)
        .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
    /** The slices of a Service, as kube-proxy reads them: its kubernetes.io/service-name label. */
    serviceSlices: (service: string) =>
      items
        .filter(
          (i): i is Slice =>
            i.kind === 'EndpointSlice' && i.metadata.labels?.['kubernetes.io/service-name'] === service,
        )
        .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)),
  };
}
type State = Awaited<ReturnType<typeof stateOf>>;

async function everywhere(ns: string): Promise<Record<string, State>> {
  return Object.fromEntries(await Promise.all(clusterNames.map(async (c) => [c, await stateOf(c, ns)] as const)));
}

/** A config whose every cluster is scoped to the test's namespace. */
function configFor(ns: string, local: string[] = clusterNames): string {
  return writeConfig({ local, extra: Object.fromEntries(clusterNames.map((c) => [c, { namespaces: [ns] }])) }).file;
}

async function sync(cfg: string, ...more: string[]) {
  const r = await mefi(['sync', '--mode', 'mcs', '-c', cfg, ...more]);
  assert.equal(r.code, 0, `mefi sync --mode mcs ${more.join(' ')} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

const diff = (cfg: string, ...more: string[]) => mefi(['diff', '--mode', 'mcs', '-c', cfg, ...more]);

const showWrite = (e: AuditEvent) => {
  const ref = e.objectRef;
  return `${e.verb} ${ref?.resource}${ref?.subresource ? `/${ref.subresource}` : ''}${ref?.name ? ` ${ref.name}` : ''}`;
};

/** Writes that reached each API server in the namespace since the marks (the bed's own controllers left out). */
function writesIn(m: Record<string, number>, ns: string): Record<string, string[]> {
  return Object.fromEntries(clusterNames.map((c) => [c, writesSince(c, m[c]!, ns).map(showWrite).sort()]));
}
const noWrites = Object.fromEntries(clusterNames.map((c) => [c, [] as string[]]));

// --- reading what came out -----------------------------------------------------

const conditionOf = (e: ServiceExport | undefined, type: string) => e?.status?.conditions?.find((c) => c.type === type);
/** type → [status, reason] of an export's conditions. */
const conditions = (e: ServiceExport | undefined) =>
  Object.fromEntries((e?.status?.conditions ?? []).map((c) => [c.type, [c.status, c.reason]]));
const clustersOf = (i: ServiceImport | undefined) => (i?.status?.clusters ?? []).map((c) => c.cluster).sort();
/** The suite's comparison of ports: sorted by lower-case name, {name, protocol, port, appProtocol}. */
const portsOf = (ports: Port[] | null | undefined) =>
  (ports ?? [])
    .map((p) => ({
      name: p.name ?? '',
      protocol: p.protocol ?? 'TCP',
      port: p.port,
      ...(p.appProtocol ? { appProtocol: p.appProtocol } : {}),
    }))
    .sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()));
const familyOf = (ip: string) => (isIP(ip) === 4 ? 'IPv4' : isIP(ip) === 6 ? 'IPv6' : `not an IP: ${ip}`);
const endpointsIn = (slices: Slice[]) =>
  slices
    .flatMap((s) =>
      (s.endpoints ?? []).map((e) => [e.addresses[0], e.conditions?.ready !== false] as [string, boolean]),
    )
    .sort(([a], [b]) => a.localeCompare(b));

/** The KEP's ClusterSetIP import in one cluster: ips are its derived Service's cluster IPs, one per family, in ipFamilies order. */
function assertClusterSetIP(s: State, ns: string, name: string, where: string): { ips: string[] } {
  const imp = s.import(name);
  assert.ok(imp, `${where}: a ServiceImport ${ns}/${name}`);
  assert.equal(imp.spec.type, 'ClusterSetIP', `${where}: type`);
  const derived = derivedName(ns, name);
  assert.equal(
    imp.metadata.annotations?.[derivedAnnotation],
    derived,
    `${where}: the import names its derived Service`,
  );
  const svc = s.service(derived);
  assert.ok(svc, `${where}: the derived Service ${ns}/${derived}`);
  assert.equal(svc.metadata.labels?.[serviceNameLabel], name, `${where}: the derived Service's service-name label`);
  assert.equal(svc.spec.selector, undefined, `${where}: the derived Service has no selector`);
  assert.equal(svc.spec.type, 'ClusterIP', `${where}: the derived Service's type`);
  const ips = imp.spec.ips ?? [];
  assert.ok(ips.length > 0, `${where}: an IP is allocated for the ClusterSetIP import`);
  assert.deepEqual(ips, svc.spec.clusterIPs, `${where}: ips are the derived Service's clusterIPs`);
  assert.deepEqual(ips.map(familyOf), imp.spec.ipFamilies, `${where}: one IP per family, in ipFamilies order`);
  return { ips };
}

/** The namespaces the tests made, to delete after: derived Services hold cluster IPs of the bed's /24. */
const made = new Set<string>();
async function namespace(clusters = clusterNames): Promise<string> {
  const ns = `mcs-${uid()}`;
  made.add(ns);
  await Promise.all(clusters.map((c) => ensureNamespace(c, ns)));
  return ns;
}

describe('MCS mode against real API servers', { skip, timeout: 120_000 }, () => {
  after(async () => {
    await Promise.all(
      [...made].flatMap((ns) =>
        clusterNames.map((c) =>
          kubectl(['delete', 'namespace', ns, '--ignore-not-found', '--wait=false'], { cluster: c }),
        ),
      ),
    );
  });

  it('imports a ClusterIP export as ClusterSetIP in every cluster, with MCS slices per exporting cluster; the import stays while an export is left and goes with its derived Service and slices after the last', async () => {
    const ns = await namespace();
    const derived = derivedName(ns, 'hello');
    await create(
      'alpha',
      hello(ns),
      endpointsOf(ns, 'hello', ['10.71.0.1', '10.71.0.2'], ['10.71.0.3']),
      exportOf(ns, 'hello'),
    );
    // beta has the Service too, not exported yet: it is not part of the import until it is.
    await create('beta', hello(ns), endpointsOf(ns, 'hello', ['10.72.0.1']));
    const cfg = configFor(ns);

    await sync(cfg);
    let world = await everywhere(ns);
    for (const c of clusterNames) {
      assertClusterSetIP(world[c]!, ns, 'hello', `${c}, alpha exporting`);
      assert.deepEqual(clustersOf(world[c]!.import('hello')), ['alpha'], `${c}: status.clusters`);
      assert.deepEqual(
        world[c]!.slices('hello').map((s) => s.metadata.labels?.[sourceClusterLabel]),
        ['alpha'],
        `${c}: slices of the exporting cluster only`,
      );
    }
    assert.deepEqual(conditions(world.alpha!.export('hello')), {
      Valid: ['True', 'Valid'],
      Ready: ['True', 'Exported'],
      Conflict: ['False', 'NoConflicts'],
    });

    await create('beta', exportOf(ns, 'hello'));
    await sync(cfg);
    const earlier = world;
    world = await everywhere(ns);
    for (const c of clusterNames) {
      const s = world[c]!;
      const { ips } = assertClusterSetIP(s, ns, 'hello', `${c}, alpha and beta exporting`);
      assert.deepEqual(
        ips,
        earlier[c]!.import('hello')!.spec.ips,
        `${c}: the ClusterSet IP stays for the life of the import`,
      );
      assert.deepEqual(clustersOf(s.import('hello')), ['alpha', 'beta'], `${c}: status.clusters`);

      // The MCS slices (KEP "Using EndpointSlice objects"; conformance endpoint_slice.go).
      const slices = s.slices('hello');
      assert.deepEqual(
        slices.map((x) => x.metadata.name),
        ['hello-alpha-0', 'hello-beta-0'],
        `${c}: one slice per source cluster`,
      );
      // kube-proxy serves the derived Service's own set, of the same endpoints.
      const served = s.serviceSlices(derived);
      assert.deepEqual(
        served.map((x) => x.metadata.name),
        [`${derived}-alpha-0`, `${derived}-beta-0`],
        `${c}: the derived Service's slices, one per source cluster`,
      );
      for (const [i, x] of slices.entries()) {
        const from = x.metadata.labels![sourceClusterLabel];
        const where = `${c}: slice ${x.metadata.name}`;
        assert.equal(x.metadata.labels![serviceNameLabel], 'hello', where);
        assert.equal(
          x.metadata.labels!['kubernetes.io/service-name'],
          undefined,
          `${where}: the import's alone (a consumer of both labels takes such a slice for the Service's)`,
        );
        assert.equal(served[i]!.metadata.labels![sourceClusterLabel], from, `${where}: its twin's cluster`);
        assert.equal(served[i]!.metadata.labels![serviceNameLabel], undefined, `${where}: its twin is the Service's`);
        assert.deepEqual(
          [endpointsIn([served[i]!]), portsOf(served[i]!.ports)],
          [endpointsIn([x]), portsOf(x.ports)],
          `${where}: the derived Service's twin holds the same endpoints and ports`,
        );
        const manager = x.metadata.labels!['endpointslice.kubernetes.io/managed-by'];
        assert.ok(
          manager && manager !== 'endpointslice-controller.k8s.io' && manager !== testManager,
          `${where}: managed by the MCS controller, not ${manager}`,
        );
        assert.equal(x.addressType, s.import('hello')!.spec.ipFamilies![0], `${where}: of the import's family`);
        assert.deepEqual(portsOf(x.ports), portsOf(helloTargets), `${where}: the source's endpoint ports`);
        assert.deepEqual(
          endpointsIn([x]),
          from === 'alpha'
            ? [
                ['10.71.0.1', true],
                ['10.71.0.2', true],
                ['10.71.0.3', false],
              ]
            : [['10.72.0.1', true]],
          `${where}: the source cluster's endpoints and readiness`,
        );
      }
    }
    assert.deepEqual(conditions(world.beta!.export('hello')), {
      Valid: ['True', 'Valid'],
      Ready: ['True', 'Exported'],
      Conflict: ['False', 'NoConflicts'],
    });

    // alpha unexports: the import stays (beta still exports), alpha's slices go.
    await unexport('alpha', ns, 'hello');
    await sync(cfg);
    world = await everywhere(ns);
    for (const c of clusterNames) {
      const { ips } = assertClusterSetIP(world[c]!, ns, 'hello', `${c}, beta exporting`);
      assert.deepEqual(ips, earlier[c]!.import('hello')!.spec.ips, `${c}: the ClusterSet IP stays`);
      assert.deepEqual(clustersOf(world[c]!.import('hello')), ['beta'], `${c}: status.clusters`);
      assert.deepEqual(
        world[c]!.slices('hello').map((x) => x.metadata.labels?.[sourceClusterLabel]),
        ['beta'],
        `${c}: the unexported cluster's slices are gone`,
      );
      assert.deepEqual(
        world[c]!.serviceSlices(derivedName(ns, 'hello')).map((x) => x.metadata.labels?.[sourceClusterLabel]),
        ['beta'],
        `${c}: and its derived Service's slices`,
      );
    }

    // The last export goes: so do the import, its derived Service and every MCS slice, everywhere.
    await unexport('beta', ns, 'hello');
    await sync(cfg);
    world = await everywhere(ns);
    for (const c of clusterNames) {
      assert.equal(world[c]!.import('hello'), undefined, `${c}: no import after the last unexport`);
      assert.equal(world[c]!.service(derived), undefined, `${c}: no derived Service`);
      assert.deepEqual(world[c]!.slices('hello'), [], `${c}: no MCS slice`);
      assert.deepEqual(world[c]!.serviceSlices(derived), [], `${c}: none of the derived Service's`);
    }
    // What the user made is untouched.
    for (const c of ['alpha', 'beta']) assert.ok(world[c]!.service('hello'), `${c}: the exported Service stays`);
  });

  it("gives the import the exported Service's ports (with appProtocol), sessionAffinity and its timeout, internalTrafficPolicy, trafficDistribution and ipFamilies", async () => {
    const ns = await namespace();
    await create(
      'beta',
      hello(ns, 'hello', {
        ports: [
          { ...tcp42, targetPort: 8042 },
          { ...udp42, targetPort: 8042 },
          { name: 'web', protocol: 'TCP', port: 8080, appProtocol: 'http' },
        ],
        internalTrafficPolicy: 'Cluster',
        trafficDistribution: 'PreferClose',
      }),
      exportOf(ns, 'hello'),
      // The other values: no affinity, Local, no traffic distribution.
      service(ns, 'local', { ports: [{ name: 'http', port: 80 }], internalTrafficPolicy: 'Local' }),
      exportOf(ns, 'local'),
    );
    await sync(configFor(ns));
    const world = await everywhere(ns);
    for (const name of ['hello', 'local']) {
      // The Service as the API server returns it, defaults filled in.
      const exported = world.beta!.service(name)!;
      for (const c of clusterNames) {
        const where = `${c}: import ${name}`;
        assertClusterSetIP(world[c]!, ns, name, where);
        const spec = world[c]!.import(name)!.spec;
        assert.deepEqual(portsOf(spec.ports), portsOf(exported.spec.ports), `${where}: ports`);
        assert.equal(spec.sessionAffinity, exported.spec.sessionAffinity, `${where}: sessionAffinity`);
        assert.deepEqual(
          spec.sessionAffinityConfig,
          exported.spec.sessionAffinityConfig,
          `${where}: sessionAffinityConfig`,
        );
        assert.equal(
          spec.internalTrafficPolicy,
          exported.spec.internalTrafficPolicy,
          `${where}: internalTrafficPolicy`,
        );
        assert.equal(spec.trafficDistribution, exported.spec.trafficDistribution, `${where}: trafficDistribution`);
        assert.deepEqual(spec.ipFamilies, exported.spec.ipFamilies, `${where}: ipFamilies`);
      }
    }
    // The values the test set, so a defaulted field cannot pass for a copied one.
    const spec = (name: string) => world.gamma!.import(name)!.spec;
    assert.deepEqual(
      [
        spec('hello').sessionAffinity,
        spec('hello').sessionAffinityConfig?.clientIP?.timeoutSeconds,
        spec('hello').internalTrafficPolicy,
        spec('hello').trafficDistribution,
      ],
      ['ClientIP', 10, 'Cluster', 'PreferClose'],
    );
    assert.deepEqual(
      [
        spec('local').sessionAffinity,
        spec('local').sessionAffinityConfig,
        spec('local').internalTrafficPolicy,
        spec('local').trafficDistribution,
      ],
      ['None', undefined, 'Local', undefined],
    );
    assert.deepEqual(portsOf(spec('hello').ports), [
      tcp42,
      udp42,
      { name: 'web', protocol: 'TCP', port: 8080, appProtocol: 'http' },
    ]);
  });

  describe('two exports of a name that disagree: the oldest export wins, and every export says Conflict', () => {
    let ns = '';
    let world: Record<string, State> = {};
    let cfgFile = '';
    let second: Record<string, string[]> = {};
    let secondDiff = -1;
    const targetPorts = (ports: Port[]) => ports.map((p) => ({ ...p, port: p.port + 8000 }));
    /** One name exported from gamma first (the oldest) and from alpha a second later: were ties broken by cluster name, alpha would win. */
    const cases: {
      name: string;
      gamma: Record<string, unknown>;
      alpha: Record<string, unknown>;
      gammaExport?: Record<string, unknown>;
      alphaExport?: Record<string, unknown>;
    }[] = [
      // conformance service_import.go: the union of the ports, and a conflict
      {
        name: 'union',
        gamma: { ports: [tcp42, udp42] },
        alpha: { ports: [tcp42, { name: 'stcp', protocol: 'SCTP', port: 142 }] },
      },
      // the same port name with another number: the oldest export's
      {
        name: 'ports',
        gamma: { ports: [tcp42, udp42] },
        alpha: { ports: [{ name: 'tcp', protocol: 'TCP', port: 43 }] },
      },
      // conflicting headlessness
      { name: 'type', gamma: { ports: [tcp42] }, alpha: { ports: [tcp42], clusterIP: 'None' } },
      {
        name: 'affinity',
        gamma: {
          ports: [tcp42],
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } },
        },
        alpha: { ports: [tcp42] },
      },
      {
        name: 'timeout',
        gamma: {
          ports: [tcp42],
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 10 } },
        },
        alpha: {
          ports: [tcp42],
          sessionAffinity: 'ClientIP',
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 20 } },
        },
      },
      {
        name: 'itp',
        gamma: { ports: [tcp42], internalTrafficPolicy: 'Cluster' },
        alpha: { ports: [tcp42], internalTrafficPolicy: 'Local' },
      },
      { name: 'traffic', gamma: { ports: [tcp42], trafficDistribution: 'PreferClose' }, alpha: { ports: [tcp42] } },
      // conformance: conflicting exported labels and annotations
      {
        name: 'labels',
        gamma: { ports: [tcp42] },
        alpha: { ports: [tcp42] },
        gammaExport: {
          exportedLabels: { 'dummy-label': 'gamma' },
          exportedAnnotations: { 'dummy-annotation': 'gamma' },
        },
        alphaExport: {
          exportedLabels: { 'dummy-label': 'alpha' },
          exportedAnnotations: { 'dummy-annotation': 'alpha' },
        },
      },
    ];
    const ipOf = (cluster: string, i: number) => `10.${cluster === 'gamma' ? 83 : 81}.${i}.1`;
    const conflictOf = (cluster: string, name: string) => {
      const c = conditionOf(world[cluster]!.export(name), 'Conflict');
      return [c?.status, (c?.reason ?? '').split(',').sort().join(',')];
    };

    before(async () => {
      ns = await namespace();
      const objects = (cluster: 'gamma' | 'alpha') =>
        cases.flatMap((x, i) => {
          const spec = x[cluster] as { ports: Port[] };
          return [
            service(ns, x.name, spec),
            endpointsOf(ns, x.name, [ipOf(cluster, i)], [], targetPorts(spec.ports)),
            exportOf(ns, x.name, cluster === 'gamma' ? x.gammaExport : x.alphaExport),
          ];
        });
      await create('gamma', ...objects('gamma'));
      // creationTimestamp has one-second granularity.
      await sleep(1100);
      await create('alpha', ...objects('alpha'));
      cfgFile = configFor(ns);
      await sync(cfgFile);
      world = await everywhere(ns);
      const m = marks();
      await sync(cfgFile);
      second = writesIn(m, ns);
      secondDiff = (await diff(cfgFile)).code;
    });

    it('the exports are in the order the test made them', () => {
      for (const x of cases) {
        const [g, a] = [world.gamma!.export(x.name)!, world.alpha!.export(x.name)!];
        assert.ok(
          Date.parse(g.metadata.creationTimestamp!) < Date.parse(a.metadata.creationTimestamp!),
          `${x.name}: gamma's export is the older`,
        );
      }
    });

    it('every export stays Valid and Ready', () => {
      for (const x of cases)
        for (const c of ['alpha', 'gamma']) {
          const cs = conditions(world[c]!.export(x.name));
          assert.deepEqual(
            [cs.Valid, cs.Ready],
            [
              ['True', 'Valid'],
              ['True', 'Exported'],
            ],
            `${c}: export ${x.name}`,
          );
        }
    });

    it('merges the ports of two clusters into their union, with PortConflict on both exports; each port is served only by the clusters that expose it', () => {
      for (const c of ['alpha', 'gamma'])
        assert.deepEqual(conflictOf(c, 'union'), ['True', 'PortConflict'], `${c}: Conflict of union`);
      for (const c of clusterNames) {
        assertClusterSetIP(world[c]!, ns, 'union', `${c}: union`);
        assert.deepEqual(
          portsOf(world[c]!.import('union')!.spec.ports),
          [{ name: 'stcp', protocol: 'SCTP', port: 142 }, tcp42, udp42],
          `${c}: the union of the ports`,
        );
        const slices = world[c]!.slices('union');
        const portNames = (from: string) =>
          [
            ...new Set(
              slices
                .filter((s) => s.metadata.labels?.[sourceClusterLabel] === from && (s.endpoints ?? []).length > 0)
                .flatMap((s) => (s.ports ?? []).map((p) => p.name)),
            ),
          ].sort();
        assert.deepEqual(portNames('gamma'), ['tcp', 'udp'], `${c}: gamma's endpoints serve its own ports`);
        assert.deepEqual(portNames('alpha'), ['stcp', 'tcp'], `${c}: alpha's endpoints serve its own ports, not udp`);
      }
    });

    it("keeps the oldest export's port on a port conflict, with PortConflict on both exports; the newer cluster's endpoints get none of its traffic", () => {
      for (const c of ['alpha', 'gamma'])
        assert.deepEqual(conflictOf(c, 'ports'), ['True', 'PortConflict'], `${c}: Conflict of ports`);
      for (const c of clusterNames) {
        assert.deepEqual(
          portsOf(world[c]!.import('ports')!.spec.ports),
          [tcp42, udp42],
          `${c}: the oldest export's ports only`,
        );
        const slices = world[c]!.slices('ports');
        const serving = (from: string) =>
          slices.filter(
            (s) =>
              s.metadata.labels?.[sourceClusterLabel] === from &&
              (s.endpoints ?? []).length > 0 &&
              (s.ports ?? []).some((p) => p.name === 'tcp'),
          );
        assert.equal(serving('alpha').length, 0, `${c}: no slice serves alpha's tcp 43 endpoints on port tcp`);
        assert.deepEqual(endpointsIn(serving('gamma')), [[ipOf('gamma', 1), true]], `${c}: gamma serves tcp`);
      }
    });

    it('imports a name headless in one cluster and not in the other as the oldest export has it (ClusterSetIP), with TypeConflict on both', () => {
      for (const c of ['alpha', 'gamma'])
        assert.deepEqual(conflictOf(c, 'type'), ['True', 'TypeConflict'], `${c}: Conflict of type`);
      for (const c of clusterNames) assertClusterSetIP(world[c]!, ns, 'type', `${c}: type`);
    });

    it('takes sessionAffinity and its timeout from the oldest export, with SessionAffinityConflict or SessionAffinityConfigConflict on both', () => {
      for (const c of ['alpha', 'gamma']) {
        assert.deepEqual(conflictOf(c, 'affinity'), ['True', 'SessionAffinityConflict'], `${c}: Conflict of affinity`);
        assert.deepEqual(
          conflictOf(c, 'timeout'),
          ['True', 'SessionAffinityConfigConflict'],
          `${c}: Conflict of timeout`,
        );
      }
      for (const c of clusterNames)
        for (const name of ['affinity', 'timeout']) {
          const spec = world[c]!.import(name)!.spec;
          assert.deepEqual(
            [spec.sessionAffinity, spec.sessionAffinityConfig],
            ['ClientIP', { clientIP: { timeoutSeconds: 10 } }],
            `${c}: ${name}: gamma's`,
          );
        }
    });

    it('takes internalTrafficPolicy and trafficDistribution from the oldest export, with InternalTrafficPolicyConflict or TrafficDistributionConflict on both', () => {
      for (const c of ['alpha', 'gamma']) {
        assert.deepEqual(conflictOf(c, 'itp'), ['True', 'InternalTrafficPolicyConflict'], `${c}: Conflict of itp`);
        assert.deepEqual(
          conflictOf(c, 'traffic'),
          ['True', 'TrafficDistributionConflict'],
          `${c}: Conflict of traffic`,
        );
      }
      for (const c of clusterNames) {
        assert.equal(world[c]!.import('itp')!.spec.internalTrafficPolicy, 'Cluster', `${c}: itp: gamma's`);
        assert.equal(world[c]!.import('traffic')!.spec.trafficDistribution, 'PreferClose', `${c}: traffic: gamma's`);
      }
    });

    it('takes exported labels and annotations from the oldest export, with Conflict (LabelsConflict, AnnotationsConflict) on both', () => {
      for (const c of ['alpha', 'gamma'])
        assert.deepEqual(
          conflictOf(c, 'labels'),
          ['True', 'AnnotationsConflict,LabelsConflict'],
          `${c}: Conflict of labels`,
        );
      for (const c of clusterNames) {
        const imp = world[c]!.import('labels')!;
        assert.equal(imp.metadata.labels?.['dummy-label'], 'gamma', `${c}: gamma's label`);
        assert.equal(imp.metadata.annotations?.['dummy-annotation'], 'gamma', `${c}: gamma's annotation`);
      }
    });

    it('a second run writes nothing, and diff finds nothing', () => {
      assert.deepEqual(second, noWrites, 'no write in any cluster on an unchanged world');
      assert.equal(secondDiff, 0, 'mefi diff --mode mcs exits 0');
    });
  });

  it("imports a headless export as Headless, with no ips and the Service's ipFamilies, in every cluster; unexporting deletes it", async () => {
    const ns = await namespace();
    const derived = derivedName(ns, 'hl');
    await create(
      'alpha',
      service(ns, 'hl', { clusterIP: 'None', ports: [{ name: 'http', port: 80, targetPort: 8080 }] }),
      endpointsOf(ns, 'hl', ['10.74.0.1', '10.74.0.2'], [], [{ name: 'http', protocol: 'TCP', port: 8080 }]),
      exportOf(ns, 'hl'),
    );
    const cfg = configFor(ns);
    await sync(cfg);
    let world = await everywhere(ns);
    const families = world.alpha!.service('hl')!.spec.ipFamilies;
    assert.ok(families?.length, 'the headless Service has families');
    for (const c of clusterNames) {
      const imp = world[c]!.import('hl');
      assert.ok(imp, `${c}: a ServiceImport`);
      assert.equal(imp.spec.type, 'Headless', `${c}: type`);
      assert.deepEqual(imp.spec.ips ?? [], [], `${c}: no clusterset IP for a Headless import`);
      assert.deepEqual(imp.spec.ipFamilies, families, `${c}: the Service's ipFamilies`);
      const svc = world[c]!.service(derived);
      if (svc) assert.equal(svc.spec.clusterIP, 'None', `${c}: a derived Service, if any, takes no cluster IP`);
      assert.deepEqual(
        endpointsIn(world[c]!.slices('hl')),
        [
          ['10.74.0.1', true],
          ['10.74.0.2', true],
        ],
        `${c}: the MCS slices`,
      );
    }
    await unexport('alpha', ns, 'hl');
    await sync(cfg);
    world = await everywhere(ns);
    for (const c of clusterNames) {
      assert.equal(world[c]!.import('hl'), undefined, `${c}: no import after unexport`);
      assert.equal(world[c]!.service(derived), undefined, `${c}: no derived Service`);
      assert.deepEqual(world[c]!.slices('hl'), [], `${c}: no MCS slice`);
    }
  });

  it('sets Valid False on the export of an ExternalName Service (InvalidServiceType) and on one without its Service (NoService), and imports neither, until the Service is there', async () => {
    const ns = await namespace();
    await create(
      'alpha',
      service(ns, 'ext', { type: 'ExternalName', externalName: 'example.com' }),
      exportOf(ns, 'ext'),
      exportOf(ns, 'nosvc'),
    );
    const cfg = configFor(ns);
    await sync(cfg);
    // Twice: no import shows up later either.
    await sync(cfg);
    let world = await everywhere(ns);
    assert.deepEqual(conditions(world.alpha!.export('ext')).Valid, ['False', 'InvalidServiceType']);
    assert.deepEqual(conditions(world.alpha!.export('nosvc')).Valid, ['False', 'NoService']);
    for (const c of clusterNames) {
      assert.deepEqual(
        world[c]!.imports.map((i) => i.metadata.name),
        [],
        `${c}: no import`,
      );
      for (const name of ['ext', 'nosvc'])
        assert.equal(world[c]!.service(derivedName(ns, name)), undefined, `${c}: no derived Service for ${name}`);
    }

    await create('alpha', service(ns, 'nosvc', { ports: [{ name: 'http', port: 80 }] }));
    await sync(cfg);
    world = await everywhere(ns);
    assert.deepEqual(conditions(world.alpha!.export('nosvc')), {
      Valid: ['True', 'Valid'],
      Ready: ['True', 'Exported'],
      Conflict: ['False', 'NoConflicts'],
    });
    for (const c of clusterNames) {
      assertClusterSetIP(world[c]!, ns, 'nosvc', `${c}: nosvc once its Service is there`);
      assert.equal(world[c]!.import('ext'), undefined, `${c}: still no import of ext`);
    }
  });

  it('carries exactly the exportedLabels and exportedAnnotations to the import, and their changes; a steady run writes nothing, diff exits 0, then 1 on a change, naming the serviceimports', async () => {
    const ns = await namespace();
    const derived = derivedName(ns, 'hello');
    const marked = { labels: { 'dummy-svcexport': 'dummy' }, annotations: { 'dummy-svcexport': 'dummy' } };
    await create(
      'beta',
      hello(ns),
      endpointsOf(ns, 'hello', ['10.75.0.1']),
      exportOf(
        ns,
        'hello',
        { exportedLabels: { 'dummy-label': 'true' }, exportedAnnotations: { 'dummy-annotation': 'true' } },
        marked,
      ),
    );
    const cfg = configFor(ns);
    await sync(cfg);
    let world = await everywhere(ns);
    for (const c of clusterNames) {
      const imp = world[c]!.import('hello')!;
      // Neither the Service's dummy-svc nor the export's own metadata.
      assert.deepEqual(imp.metadata.labels, { 'dummy-label': 'true', isMefiLocal: 'true' }, `${c}: labels`);
      assert.deepEqual(
        imp.metadata.annotations,
        { 'dummy-annotation': 'true', [derivedAnnotation]: derived },
        `${c}: annotations`,
      );
    }

    const m = marks();
    await sync(cfg);
    const steady = await diff(cfg);
    assert.deepEqual(writesIn(m, ns), noWrites, 'a second run on an unchanged world writes nothing');
    assert.equal(steady.code, 0, `diff on a converged world:\n${steady.stdout}`);

    await k('beta', [
      '-n',
      ns,
      'patch',
      'serviceexports.multicluster.x-k8s.io',
      'hello',
      '--type',
      'merge',
      '-p',
      JSON.stringify({
        spec: { exportedLabels: { 'dummy-label': 'false', tier: 'front' }, exportedAnnotations: null },
      }),
    ]);
    const m2 = marks();
    const changed = await diff(cfg);
    assert.equal(changed.code, 1, `diff after a change:\n${changed.stdout}\n${changed.stderr}`);
    for (const c of clusterNames)
      assert.match(
        changed.stdout,
        new RegExp(`^\\+\\+\\+ b/${c}/${ns}/serviceimports/hello$`, 'm'),
        `diff shows ${c}'s import`,
      );
    assert.deepEqual(writesIn(m2, ns), noWrites, 'diff writes nothing');

    await sync(cfg);
    world = await everywhere(ns);
    for (const c of clusterNames) {
      const imp = world[c]!.import('hello')!;
      assert.deepEqual(
        imp.metadata.labels,
        { 'dummy-label': 'false', tier: 'front', isMefiLocal: 'true' },
        `${c}: labels follow`,
      );
      assert.deepEqual(imp.metadata.annotations, { [derivedAnnotation]: derived }, `${c}: annotations follow`);
    }
    assert.equal((await diff(cfg)).code, 0, 'converged in one run');
  });

  it('imports only where the namespace exists (namespace sameness): not into a cluster without it, which it does not create, and there once it exists', async () => {
    const ns = await namespace(['alpha', 'beta']);
    await create('alpha', hello(ns), endpointsOf(ns, 'hello', ['10.76.0.1']), exportOf(ns, 'hello'));
    const cfg = configFor(ns);
    const m = marks();
    // missing-namespace informs: it does not block (lib/plan/index.ts blockingCodes), so the run converges (exit 0).
    const r = await sync(cfg, '-o', 'json');
    const problems = (JSON.parse(r.stdout) as { problems: { code: string; cluster: string; blocking: boolean }[] })
      .problems;
    assert.deepEqual(
      problems.filter((p) => p.code === 'missing-namespace').map((p) => [p.cluster, p.blocking]),
      [['gamma', false]],
    );
    assert.deepEqual(writesSince('gamma', m.gamma!, ns).map(showWrite), [], 'nothing is written (nor tried) in gamma');
    assert.notEqual(
      (await kubectl(['get', 'namespace', ns], { cluster: 'gamma' })).code,
      0,
      'gamma still has no such namespace',
    );
    let world = await everywhere(ns);
    for (const c of ['alpha', 'beta']) assertClusterSetIP(world[c]!, ns, 'hello', c);
    assert.deepEqual(world.gamma!.imports, []);
    assert.deepEqual(
      conditions(world.alpha!.export('hello')).Ready,
      ['True', 'Exported'],
      'imported in every cluster that has the namespace',
    );

    await ensureNamespace('gamma', ns);
    await sync(cfg);
    world = await everywhere(ns);
    assertClusterSetIP(world.gamma!, ns, 'hello', 'gamma, once the namespace exists');
    assert.deepEqual(clustersOf(world.gamma!.import('hello')), ['alpha']);
  });

  it("writes an export's status (Valid, Ready True, Conflict False) through the status subresource, only in a run whose targets include the export's cluster", async () => {
    const ns = await namespace();
    for (const c of ['alpha', 'beta'])
      await create(
        c,
        hello(ns),
        endpointsOf(ns, 'hello', [c === 'alpha' ? '10.77.0.1' : '10.77.1.1']),
        exportOf(ns, 'hello'),
      );
    const cfg = configFor(ns, []);
    const normal = { Valid: ['True', 'Valid'], Ready: ['True', 'Exported'], Conflict: ['False', 'NoConflicts'] };

    const m = marks();
    await sync(cfg, '--local', 'alpha');
    let world = await everywhere(ns);
    let writes = writesIn(m, ns);
    const alphaExport = world.alpha!.export('hello')!;
    assert.deepEqual(conditions(alphaExport), normal, "alpha's export, in the run's targets");
    for (const c of alphaExport.status!.conditions!)
      assert.equal(c.observedGeneration, alphaExport.metadata.generation, `${c.type}: observedGeneration`);
    assert.deepEqual(
      world.beta!.export('hello')!.status?.conditions ?? [],
      [],
      "beta's export: not in the run's targets, no status",
    );
    assert.deepEqual(writes.beta, [], 'nothing written in beta');
    assert.deepEqual(writes.gamma, [], 'nothing written in gamma');
    assert.deepEqual(
      writes.alpha!.filter((w) => w.includes('serviceexports')),
      ['update serviceexports/status hello'],
      "alpha's export status, through the status subresource",
    );
    assert.deepEqual(
      clustersOf(world.alpha!.import('hello')),
      ['alpha', 'beta'],
      'the import lists both exporting clusters',
    );
    assert.deepEqual([world.beta!.imports, world.gamma!.imports], [[], []], 'no import outside the targets');

    const m2 = marks();
    await sync(cfg, '--local', 'all');
    world = await everywhere(ns);
    writes = writesIn(m2, ns);
    assert.deepEqual(conditions(world.beta!.export('hello')), normal, "beta's export, now in the targets");
    assert.deepEqual(
      writes.beta!.filter((w) => w.includes('serviceexports')),
      ['update serviceexports/status hello'],
      "beta's export status, through the status subresource",
    );
    assert.deepEqual(
      writes.alpha!.filter((w) => w.includes('serviceexports')),
      [],
      "alpha's status is as wanted already",
    );
    for (const c of clusterNames) assertClusterSetIP(world[c]!, ns, 'hello', c);
  });
});
