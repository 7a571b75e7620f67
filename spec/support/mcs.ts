// MCS mode: builders for planner inputs, a pure stand-in for "apply the plan"
// that stores objects as the API server would (defaults, allocated cluster
// IPs, status subresources), and fast-check generators of whole MCS worlds.
// Only for checking the planner's own invariants, never to test I/O.

import fc from 'fast-check';
import type {
  Change,
  Condition,
  Plan,
  PlanInput,
  PlanOptions,
  ReadOutcome,
  ServiceExportObject,
  ServiceImportObject,
  ServiceObject,
  ServicePortSpec,
  SliceObject,
} from '../../lib/plan/index.ts';
import { derivedName } from '../../lib/plan/index.ts';
import { options } from './fixtures.ts';

export const mcsOptions: PlanOptions = { ...options, mode: 'mcs', maxEndpointsPerSlice: 100 };
export const owner = { isMefiLocal: 'true' };
export const T0 = '2026-01-01T00:00:00Z';
export const T1 = '2026-01-01T00:00:05Z';
export const NOW = Date.parse('2026-02-01T00:00:00Z');

type Ok = Extract<ReadOutcome, { ok: true }>;

export function serviceExport(
  namespace: string,
  name: string,
  creationTimestamp = T0,
  spec?: ServiceExportObject['spec'],
  extra: Partial<ServiceExportObject['metadata']> = {},
): ServiceExportObject {
  return {
    metadata: { name, namespace, creationTimestamp, resourceVersion: '1', generation: 1, ...extra },
    ...(spec ? { spec } : {}),
  };
}

export const tcp = (port: number, name = 'tcp'): ServicePortSpec => ({ name, protocol: 'TCP', port });
export const udp = (port: number, name = 'udp'): ServicePortSpec => ({ name, protocol: 'UDP', port });

/** A Service as the API server returns it: defaults filled in. */
export function service(
  namespace: string,
  name: string,
  spec: ServiceObject['spec'] = {},
  labels: Record<string, string> = {},
): ServiceObject {
  return {
    metadata: { name, namespace, labels, resourceVersion: '1' },
    spec: {
      type: 'ClusterIP',
      clusterIP: '10.1.0.1',
      clusterIPs: ['10.1.0.1'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      ports: [tcp(80, 'http')],
      ...spec,
    },
  };
}

/** The EndpointSlice controller's slice of a Service: endpoints on the Service's port names, with target ports. */
export function sourceSlice(
  namespace: string,
  serviceName: string,
  ready: string[],
  notReady: string[] = [],
  ports: ServicePortSpec[] = [tcp(8080, 'http')],
  suffix = 'abcde',
): SliceObject {
  return {
    metadata: {
      name: `${serviceName}-${suffix}`,
      namespace,
      labels: {
        'kubernetes.io/service-name': serviceName,
        'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
      },
    },
    addressType: (ready[0] ?? notReady[0] ?? '').includes(':') ? 'IPv6' : 'IPv4',
    endpoints: [
      ...ready.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
      ...notReady.map((ip) => ({ addresses: [ip], conditions: { ready: false } })),
    ],
    ports: ports.map((p) => ({ name: p.name, protocol: p.protocol ?? 'TCP', port: p.port })),
  };
}

export function source(parts: {
  exports?: ServiceExportObject[];
  services?: ServiceObject[];
  slices?: SliceObject[];
}): Ok {
  return {
    ok: true,
    items: [],
    serviceExports: parts.exports ?? [],
    services: parts.services ?? [],
    slices: parts.slices ?? [],
  };
}

export function emptyTarget(namespaces?: string[]): Ok {
  return {
    ok: true,
    items: [],
    serviceImports: [],
    services: [],
    slices: [],
    ...(namespaces
      ? { namespaces: namespaces.map((n) => ({ metadata: { name: n }, status: { phase: 'Active' } })) }
      : {}),
  };
}

export const conditionOf = (e: ServiceExportObject | undefined, type: string): Condition | undefined =>
  e?.status?.conditions?.find((c) => c.type === type);

// --- the API server, as far as the planner's invariants need it -------------

const copy = <T>(x: T): T => JSON.parse(JSON.stringify(x)) as T;

/** What the server stores of a Service it is sent: defaults, and cluster IPs allocated from the first free ones. */
function storeService(sent: ServiceObject, taken: Set<string>, rv: string, keep?: ServiceObject): ServiceObject {
  const s = copy(sent);
  delete s.apiVersion;
  delete s.kind;
  s.metadata.resourceVersion = rv;
  const spec = (s.spec ??= {});
  spec.type ??= 'ClusterIP';
  spec.sessionAffinity ??= 'None';
  spec.internalTrafficPolicy ??= 'Cluster';
  if (spec.sessionAffinity === 'ClientIP')
    spec.sessionAffinityConfig = {
      clientIP: { timeoutSeconds: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800 },
    };
  spec.ports = (spec.ports ?? []).map((p) => ({
    ...p,
    protocol: p.protocol ?? 'TCP',
    targetPort: p.targetPort ?? p.port,
  }));
  spec.ipFamilies = spec.ipFamilies?.length ? spec.ipFamilies : (keep?.spec?.ipFamilies ?? ['IPv4']);
  spec.ipFamilyPolicy ??= keep?.spec?.ipFamilyPolicy ?? 'SingleStack';
  if (spec.clusterIP === 'None') spec.clusterIPs = ['None'];
  else {
    const have = keep?.spec?.clusterIPs ?? [];
    spec.clusterIPs = spec.ipFamilies.map((f, i) => {
      const same = have.find((ip) => (ip.includes(':') ? 'IPv6' : 'IPv4') === f);
      if (same && (i > 0 || have[0] === same)) return same;
      for (let n = 1; ; n++) {
        const ip = f === 'IPv6' ? `fd00:96::${n.toString(16)}` : `10.96.${n >> 8}.${n & 255}`;
        if (!taken.has(ip)) {
          taken.add(ip);
          return ip;
        }
      }
    });
    spec.clusterIP = spec.clusterIPs[0]!;
  }
  return s;
}

/** The world after every call of the plan, as the API servers would store it; ipsFrom filled in as apply does. */
export function applied(input: PlanInput, p: Plan): PlanInput {
  let rv = 1000;
  const next = () => String(rv++);
  const targets: PlanInput['targets'] = {};
  for (const [t, o] of Object.entries(input.targets)) {
    if (!o.ok) {
      targets[t] = o;
      continue;
    }
    const at = (x: { metadata: { namespace?: string; name: string } }) => `${x.metadata.namespace}/${x.metadata.name}`;
    const imports = new Map((o.serviceImports ?? []).map((x) => [at(x), x]));
    const services = new Map((o.services ?? []).map((x) => [at(x), x]));
    const slices = new Map((o.slices ?? []).map((x) => [at(x), x]));
    const taken = new Set([...services.values()].flatMap((s) => s.spec?.clusterIPs ?? []));
    const mine = (c: Change) => c.target === t;
    const key = (c: Change) => `${c.namespace}/${c.name}`;
    for (const c of p.deletes.filter(mine))
      (c.kind === 'ServiceImport' ? imports : c.kind === 'Service' ? services : slices).delete(key(c));
    // Services first: an import's ips are theirs.
    for (const c of [...p.creates, ...p.updates].filter((c) => mine(c) && c.kind === 'Service')) {
      const current = c.recreate ? undefined : services.get(key(c));
      services.set(key(c), storeService(c.object as ServiceObject, taken, next(), current));
    }
    for (const c of [...p.creates, ...p.updates].filter((c) => mine(c) && c.kind === 'ServiceImport')) {
      const sent = copy(c.object as ServiceImportObject);
      delete sent.apiVersion;
      delete sent.kind;
      if (c.ipsFrom) {
        const s = services.get(`${c.namespace}/${c.ipsFrom}`)!;
        if (sent.spec.type === 'ClusterSetIP') sent.spec.ips = (s.spec!.clusterIPs ?? []).slice(0, 2);
        if (!sent.spec.ipFamilies?.length) sent.spec.ipFamilies = s.spec!.ipFamilies ?? [];
      }
      const current = imports.get(key(c));
      const writes = c.writes ?? ['object'];
      const stored: ServiceImportObject = {
        metadata: {
          ...(writes.includes('object') || !current ? sent.metadata : current.metadata),
          resourceVersion: next(),
        },
        spec: writes.includes('object') || !current ? sent.spec : current.spec,
        ...(writes.includes('status') ? { status: sent.status } : current?.status ? { status: current.status } : {}),
      };
      imports.set(key(c), stored);
    }
    for (const c of [...p.creates, ...p.updates].filter((c) => mine(c) && c.kind === 'EndpointSlice')) {
      const s = copy(c.object as SliceObject);
      delete s.apiVersion;
      delete s.kind;
      s.metadata.resourceVersion = next();
      slices.set(key(c), s);
    }
    targets[t] = {
      ...o,
      serviceImports: [...imports.values()],
      services: [...services.values()],
      slices: [...slices.values()],
    };
  }
  const sources: PlanInput['sources'] = {};
  for (const [c, o] of Object.entries(input.sources)) {
    if (!o.ok) {
      sources[c] = o;
      continue;
    }
    const status = new Map(
      p.updates
        .filter((u) => u.kind === 'ServiceExportStatus' && u.target === c)
        .map((u) => [`${u.namespace}/${u.name}`, u.object as ServiceExportObject]),
    );
    sources[c] = {
      ...o,
      serviceExports: (o.serviceExports ?? []).map((e) =>
        status.has(`${e.metadata.namespace}/${e.metadata.name}`)
          ? {
              ...e,
              metadata: { ...e.metadata, resourceVersion: next() },
              status: copy(status.get(`${e.metadata.namespace}/${e.metadata.name}`)!.status),
            }
          : e,
      ),
    };
  }
  return { ...input, sources, targets };
}

// --- generated worlds ----------------------------------------------------------

const clusterPool = ['a', 'b', 'c'];
const keyPool: [string, string][] = [
  ['n1', 'web'],
  ['n1', 'api'],
  ['n2', 'web'],
];
const portSets: ServicePortSpec[][] = [
  [tcp(80, 'http')],
  [tcp(80, 'http'), udp(53, 'dns')],
  [tcp(81, 'http')],
  [tcp(80, 'web')],
  [{ name: 'http', port: 80, protocol: 'TCP', appProtocol: 'h2c' }],
];

const exportedService = fc.record({
  kind: fc.constantFrom('cluster-ip', 'cluster-ip', 'cluster-ip', 'headless', 'external-name', 'missing', 'node-port'),
  ports: fc.constantFrom(...portSets),
  affinity: fc.constantFrom<[string, number | undefined]>(
    ['None', undefined],
    ['None', undefined],
    ['ClientIP', 10],
    ['ClientIP', 20],
  ),
  itp: fc.constantFrom(undefined, 'Cluster', 'Local'),
  td: fc.constantFrom(undefined, undefined, 'PreferClose'),
  families: fc.constantFrom<string[]>(['IPv4'], ['IPv4'], ['IPv4', 'IPv6'], ['IPv6'], []),
  created: fc.constantFrom(T0, T0, T1, undefined),
  labels: fc.constantFrom<Record<string, string> | undefined>(
    undefined,
    { tier: 'front' },
    { tier: 'back' },
    { isMefiLocal: 'false' },
  ),
  annotations: fc.constantFrom<Record<string, string> | undefined>(undefined, { note: 'x' }),
  ready: fc.subarray(['10.0.0.1', '10.0.0.2', 'fd00::1']),
  notReady: fc.subarray(['10.0.0.3', '127.0.0.1']),
  /** The export already has a status, from some earlier run (or another implementation). */
  stale: fc.boolean(),
});

const sourceOfCluster = (cluster: string) =>
  fc
    .oneof(
      {
        weight: 5,
        arbitrary: fc
          .subarray(keyPool)
          .chain((keys) => fc.tuple(...keys.map(() => exportedService)).map((svcs) => ({ keys, svcs }))),
      },
      { weight: 1, arbitrary: fc.constant(undefined) },
    )
    .map((x): ReadOutcome => {
      if (!x) return { ok: false, error: 'connect ECONNREFUSED' };
      const exports: ServiceExportObject[] = [];
      const services: ServiceObject[] = [];
      const slices: SliceObject[] = [];
      x.keys.forEach(([ns, name], i) => {
        const s = x.svcs[i]!;
        const status: ServiceExportObject['status'] = s.stale
          ? {
              conditions: [
                { type: 'Valid', status: 'True', reason: 'Valid', message: 'old', lastTransitionTime: T0 },
                { type: 'Other', status: 'True', reason: 'Theirs', message: '', lastTransitionTime: T0 },
              ],
            }
          : undefined;
        exports.push({
          ...serviceExport(
            ns,
            name,
            s.created,
            s.labels || s.annotations
              ? {
                  ...(s.labels ? { exportedLabels: s.labels } : {}),
                  ...(s.annotations ? { exportedAnnotations: s.annotations } : {}),
                }
              : undefined,
          ),
          ...(status ? { status } : {}),
        });
        if (s.kind === 'missing') return;
        services.push(
          service(
            ns,
            name,
            {
              type: s.kind === 'external-name' ? 'ExternalName' : s.kind === 'node-port' ? 'NodePort' : 'ClusterIP',
              ...(s.kind === 'headless' ? { clusterIP: 'None', clusterIPs: ['None'] } : {}),
              ports: s.ports,
              sessionAffinity: s.affinity[0],
              ...(s.affinity[1] ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: s.affinity[1] } } } : {}),
              ...(s.itp ? { internalTrafficPolicy: s.itp } : { internalTrafficPolicy: undefined }),
              ...(s.td ? { trafficDistribution: s.td } : {}),
              ipFamilies: s.families,
            },
            { app: name },
          ),
        );
        const v4 = s.ready.filter((ip) => !ip.includes(':'));
        const v6 = s.ready.filter((ip) => ip.includes(':'));
        const targetPorts = s.ports.map((p) => ({ ...p, port: (p.port ?? 0) + 8000 }));
        if (v4.length || s.notReady.length)
          slices.push(sourceSlice(ns, name, v4, s.notReady, targetPorts, `v4${cluster}`));
        if (v6.length) slices.push(sourceSlice(ns, name, v6, [], targetPorts, `v6${cluster}`));
      });
      // Sometimes an object mefi wrote that the selector also matches (the cluster is a target too): never a source.
      slices.push({
        ...sourceSlice('n1', derivedName('n1', 'web'), ['10.9.9.9'], [], [tcp(80, 'http')], 'echo'),
        metadata: {
          name: 'echo',
          namespace: 'n1',
          labels: {
            ...owner,
            'multicluster.kubernetes.io/service-name': 'web',
            'kubernetes.io/service-name': derivedName('n1', 'web'),
            'endpointslice.kubernetes.io/managed-by': 'mefi',
          },
        },
      });
      return source({ exports, services, slices });
    });

/** Something already in a target: mefi's (current, garbage, of an unreadable cluster), or a stranger's on a name mefi wants. */
const targetThing = fc.record({
  what: fc.constantFrom(
    'import',
    'import',
    'service',
    'slice',
    'slice',
    'foreign-import',
    'foreign-service',
    'foreign-slice',
  ),
  key: fc.constantFrom(...keyPool),
  cluster: fc.constantFrom(...clusterPool, 'gone'),
  headless: fc.boolean(),
  ips: fc.constantFrom<string[]>([], ['10.96.0.1'], ['10.96.0.9']),
  index: fc.integer({ min: 0, max: 1 }),
  ready: fc.subarray(['10.0.0.1', '10.0.0.2', '10.7.7.7']),
});

const targetOf = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({
        things: fc.array(targetThing, { maxLength: 6 }),
        namespaces: fc.constantFrom<string[] | undefined>(undefined, undefined, ['n1', 'n2'], ['n1']),
      })
      .map(({ things, namespaces }): ReadOutcome => {
        const t = emptyTarget(namespaces);
        const seen = new Set<string>();
        for (const x of things) {
          const [ns, name] = x.key;
          const derived = derivedName(ns, name);
          const once = (k: string) => !seen.has(k) && (seen.add(k), true);
          if ((x.what === 'import' || x.what === 'foreign-import') && once(`i/${ns}/${name}`))
            t.serviceImports!.push({
              metadata: {
                name,
                namespace: ns,
                labels: x.what === 'import' ? { ...owner } : { app: 'theirs' },
                resourceVersion: '7',
              },
              spec: {
                type: x.headless ? 'Headless' : 'ClusterSetIP',
                ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
                ips: x.ips,
              },
              status: { clusters: [{ cluster: x.cluster }] },
            });
          if ((x.what === 'service' || x.what === 'foreign-service') && once(`s/${ns}/${derived}`))
            t.services!.push(
              x.what === 'service'
                ? {
                    metadata: {
                      name: derived,
                      namespace: ns,
                      labels: { ...owner, 'multicluster.kubernetes.io/service-name': name },
                      resourceVersion: '7',
                    },
                    spec: {
                      type: 'ClusterIP',
                      clusterIP: x.headless ? 'None' : '10.96.0.9',
                      clusterIPs: [x.headless ? 'None' : '10.96.0.9'],
                      ipFamilies: ['IPv4'],
                      ipFamilyPolicy: 'SingleStack',
                      ports: [{ name: 'http', protocol: 'TCP', port: 80, targetPort: 80 }],
                      sessionAffinity: 'None',
                      internalTrafficPolicy: 'Cluster',
                    },
                  }
                : {
                    ...service(ns, derived),
                    metadata: { name: derived, namespace: ns, labels: { app: 'theirs' }, resourceVersion: '7' },
                  },
            );
          const sliceName = `${derived}-${x.cluster}-${x.index}`;
          if ((x.what === 'slice' || x.what === 'foreign-slice') && once(`e/${ns}/${sliceName}`)) {
            const labels: Record<string, string> =
              x.what === 'slice'
                ? {
                    ...owner,
                    'multicluster.kubernetes.io/service-name': name,
                    'multicluster.kubernetes.io/source-cluster': x.cluster,
                    'kubernetes.io/service-name': derived,
                    'endpointslice.kubernetes.io/managed-by': 'mefi',
                  }
                : { 'kubernetes.io/service-name': derived, app: 'theirs' };
            t.slices!.push({
              ...sourceSlice(ns, derived, x.ready, [], [tcp(8080, 'http')]),
              metadata: { name: sliceName, namespace: ns, labels, resourceVersion: '7' },
            });
          }
        }
        return t;
      }),
  },
  { weight: 1, arbitrary: fc.constant<ReadOutcome>({ ok: false, error: 'no answer within 30s' }) },
);

export const mcsWorld: fc.Arbitrary<PlanInput> = fc
  .uniqueArray(fc.constantFrom(...clusterPool), { minLength: 1, maxLength: 3 })
  .chain((clusters) =>
    fc.record({
      sources: fc
        .tuple(...clusters.map((c) => sourceOfCluster(c)))
        .map((outs) => Object.fromEntries(clusters.map((c, i) => [c, outs[i]!]))),
      targets: fc
        .subarray(clusters, { minLength: 1 })
        .chain((ts) =>
          fc.tuple(...ts.map(() => targetOf)).map((outs) => Object.fromEntries(ts.map((t, i) => [t, outs[i]!]))),
        ),
    }),
  )
  .map((w) => ({ ...w, now: NOW }));
