// fast-check generators of whole worlds: several clusters, random sources
// (bad addresses, echoes of mefi's own objects, ambiguous names, names that
// collide), a random target state (owned, foreign and legacy objects), and
// clusters that cannot be read.

import fc from 'fast-check';
import type {
  EndpointsObject,
  PlanInput,
  RawAddress,
  RawPort,
  RawSubset,
  ReadOutcome,
  SliceObject,
} from '../../lib/plan/index.ts';
import { aggregateLabels, mirrorLabels } from './fixtures.ts';
import { mirrorAnnotations } from '../../lib/plan/index.ts';

const clusterPool = ['a', 'b', 'c', 'a-b'];
const namePool = ['web', 'api', 'web-a', 'x'];
const ipPool = [
  '10.0.0.1',
  '10.0.0.2',
  '10.0.0.3',
  '10.0.0.01',
  'fd00::1',
  'FD00:0::1',
  '2001:db8::a',
  '127.0.0.1',
  'fe80::1',
  'bogus',
];
const portPool: RawPort[] = [
  { name: 'http', port: 80 },
  { name: 'http', port: 80, protocol: 'TCP' },
  { name: 'http', port: 8080 },
  { name: 'dns', port: 53, protocol: 'UDP' },
  { name: 'bad', port: 0 },
];

const address: fc.Arbitrary<RawAddress> = fc.record(
  { ip: fc.constantFrom(...ipPool), nodeName: fc.constant('node-1'), hostname: fc.constantFrom('h1', 'h2') },
  { requiredKeys: ['ip'] },
);

const subset: fc.Arbitrary<RawSubset> = fc.record(
  {
    addresses: fc.array(address, { maxLength: 4 }),
    notReadyAddresses: fc.array(address, { maxLength: 3 }),
    ports: fc.subarray(portPool, { minLength: 0, maxLength: 2 }),
  },
  { requiredKeys: ['ports'] },
);

export const subsets = fc.array(subset, { maxLength: 3 });

export const sourceObject: fc.Arbitrary<EndpointsObject> = fc
  .record({
    namespace: fc.constantFrom('n1', 'n1', 'n1', 'n2', 'mefi-system'),
    name: fc.constantFrom(...namePool),
    subsets,
    // Sometimes an object mefi wrote that the selector also matches: it must not echo.
    echo: fc.boolean(),
    cluster: fc.constantFrom(...clusterPool),
  })
  .map(({ namespace, name, subsets, echo, cluster }) => {
    const labels: Record<string, string> = echo
      ? { ...mirrorLabels(name, cluster), isMefiRemote: 'true' }
      : { isMefiRemote: 'true', app: name };
    return { metadata: { name, namespace, labels }, subsets };
  });

const down = fc.constantFrom<ReadOutcome>(
  { ok: false, error: 'connect ECONNREFUSED' },
  { ok: false, error: 'no answer within 30s' },
);

const sourceOutcome: fc.Arbitrary<ReadOutcome> = fc.oneof(
  { weight: 4, arbitrary: fc.array(sourceObject, { maxLength: 6 }).map((items) => ({ ok: true as const, items })) },
  { weight: 1, arbitrary: down },
);

/** Names a target could hold: every aggregate and mirror name the pools can want, and some more. */
const targetNames = [...namePool, ...namePool.flatMap((n) => clusterPool.map((c) => `${n}-${c}`)), 'ingress'];

export const targetObject: fc.Arbitrary<EndpointsObject> = fc
  .record({
    name: fc.constantFrom(...targetNames),
    kind: fc.constantFrom('mirror', 'aggregate', 'foreign', 'legacy', 'misplaced'),
    original: fc.constantFrom(...namePool),
    cluster: fc.constantFrom(...clusterPool),
    subsets,
    rv: fc.integer({ min: 1, max: 999 }),
    // Mirrors written before mefi annotated them lack the annotation.
    annotated: fc.boolean(),
  })
  .map(({ name, kind, original, cluster, subsets, rv, annotated }) => {
    // Owned objects mostly sit where mefi would have put them, sometimes elsewhere.
    // misplaced: mefi's labels on a name that is not the one they say (an aggregate renamed by hand, a mirror of another name).
    const labels: Record<string, string> =
      kind === 'mirror' || kind === 'misplaced'
        ? mirrorLabels(original, cluster)
        : kind === 'aggregate'
          ? aggregateLabels(original)
          : kind === 'legacy'
            ? { isMefiLocal: 'true', isMefiOriginalName: original }
            : { app: 'users-own' };
    const at =
      kind === 'mirror' || kind === 'legacy' ? `${original}-${cluster}` : kind === 'aggregate' ? original : name;
    const annotations = kind === 'mirror' && annotated ? { annotations: { ...mirrorAnnotations } } : {};
    return {
      metadata: { name: at, namespace: 'mefi-system', labels, ...annotations, resourceVersion: String(rv) },
      subsets,
    };
  });

const targetOutcome: fc.Arbitrary<ReadOutcome> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .uniqueArray(targetObject, { maxLength: 8, selector: (o) => o.metadata.name })
      .map((items) => ({ ok: true as const, items })),
  },
  { weight: 1, arbitrary: down },
);

export const world: fc.Arbitrary<PlanInput> = fc
  .uniqueArray(fc.constantFrom(...clusterPool), { minLength: 1, maxLength: 4 })
  .chain((clusters) =>
    fc.record({
      sources: fc
        .tuple(...clusters.map(() => sourceOutcome))
        .map((outs) => Object.fromEntries(clusters.map((c, i) => [c, outs[i]!]))),
      targets: fc
        .subarray(clusters, { minLength: 1 })
        .chain((targets) =>
          fc
            .tuple(...targets.map(() => targetOutcome))
            .map((outs) => Object.fromEntries(targets.map((t, i) => [t, outs[i]!]))),
        ),
    }),
  );

/** The same world with every list and every record in another order. */
export function shuffled(input: PlanInput, seed: number): PlanInput {
  let s = seed >>> 0 || 1;
  const rand = () => (s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const shuffle = <T>(xs: T[]): T[] => {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  };
  const deep = (o: ReadOutcome): ReadOutcome =>
    o.ok
      ? {
          ...o,
          ...(o.slices
            ? { slices: shuffle(o.slices).map((s) => ({ ...s, endpoints: shuffle(s.endpoints ?? []) })) }
            : {}),
          // MCS mode's (spec/support/mcs.ts)
          ...(o.serviceExports ? { serviceExports: shuffle(o.serviceExports) } : {}),
          ...(o.services
            ? {
                services: shuffle(o.services).map((x) => ({
                  ...x,
                  spec: { ...x.spec, ports: shuffle(x.spec?.ports ?? []) },
                })),
              }
            : {}),
          ...(o.serviceImports ? { serviceImports: shuffle(o.serviceImports) } : {}),
          ...(o.namespaces ? { namespaces: shuffle(o.namespaces) } : {}),
          ok: true,
          items: shuffle(o.items).map((item) => ({
            ...item,
            subsets: shuffle(item.subsets ?? []).map((sub) => ({
              ...sub,
              addresses: shuffle(sub.addresses ?? []),
              notReadyAddresses: shuffle(sub.notReadyAddresses ?? []),
              ports: shuffle(sub.ports ?? []),
            })),
          })),
        }
      : o;
  const record = (r: Record<string, ReadOutcome>) =>
    Object.fromEntries(shuffle(Object.entries(r)).map(([k, v]) => [k, deep(v)]));
  return { ...input, sources: record(input.sources), targets: record(input.targets) };
}

// --- EndpointSlice targets ---------------------------------------------------

const sliceEndpoint = fc.record({
  ip: fc.constantFrom('10.0.0.1', '10.0.0.2', '10.0.0.3', 'fd00::1', '10.9.9.9'),
  ready: fc.constantFrom(true, false, undefined),
});

/**
 * A slice in a target's mefi namespace: mefi's own (current, stale, in the
 * wrong place), the mirroring controller's (mefi's labels copied, its own
 * managed-by), or a stranger's (sometimes on a name mefi would choose).
 */
export const targetSlice: fc.Arbitrary<SliceObject> = fc
  .record({
    kind: fc.constantFrom('mefi', 'mefi', 'controller', 'foreign'),
    original: fc.constantFrom(...namePool),
    cluster: fc.constantFrom(...clusterPool),
    index: fc.integer({ min: 0, max: 2 }),
    family: fc.constantFrom('IPv4', 'IPv4', 'IPv6'),
    port: fc.constantFrom<RawPort>(
      { name: 'http', port: 80, protocol: 'TCP' },
      { name: 'http', port: 8080, protocol: 'TCP' },
    ),
    endpoints: fc.array(sliceEndpoint, { maxLength: 3 }),
    rv: fc.integer({ min: 1, max: 999 }),
    suffix: fc.constantFrom('x7k2p', 'q9d1m'),
  })
  .map(({ kind, original, cluster, index, family, port, endpoints, rv, suffix }) => {
    const service = { 'kubernetes.io/service-name': original };
    const labels: Record<string, string> =
      kind === 'mefi'
        ? { ...mirrorLabels(original, cluster), ...service, 'endpointslice.kubernetes.io/managed-by': 'mefi' }
        : kind === 'controller'
          ? {
              ...aggregateLabels(original),
              ...service,
              'endpointslice.kubernetes.io/managed-by': 'endpointslicemirroring-controller.k8s.io',
            }
          : { ...service, app: 'someone-else' };
    const name = kind === 'controller' ? `${original}-${suffix}` : `${original}-${cluster}-${index}`;
    return {
      metadata: { name, namespace: 'mefi-system', labels, resourceVersion: String(rv) },
      addressType: family,
      endpoints: endpoints
        .filter((e) => (e.ip.includes(':') ? family === 'IPv6' : family === 'IPv4'))
        .map((e) => ({ addresses: [e.ip], ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }) })),
      ports: [port],
    };
  });

/** The world with EndpointSlice targets: every readable target holds random slices. */
export const sliceWorld: fc.Arbitrary<PlanInput> = world.chain((input) =>
  fc
    .tuple(
      ...Object.keys(input.targets).map(() =>
        fc.uniqueArray(targetSlice, { maxLength: 8, selector: (s) => s.metadata.name }),
      ),
    )
    .map((all) => ({
      sources: input.sources,
      targets: Object.fromEntries(
        Object.entries(input.targets).map(([t, o], i) => [
          t,
          o.ok ? { ok: true as const, items: [], slices: all[i]! } : o,
        ]),
      ),
    })),
);
