// make bench: mefi against real API servers at scale, each figure beside a
// floor measured in the same run (these machines are shared and noisy).
//   CLUSTERS=5 SERVICES=1000 ADDRESSES=10 SCALES="100 1000 3000" make bench

import { spawn } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { connect, createServer, type Server } from 'node:net';
import { rememberResults } from '../../lib/plan/memo.ts';
import {
  normalizeSubsets,
  plan,
  probeKey,
  toProbe,
  type EndpointsObject,
  type PlanInput,
  type PlanOptions,
} from '../../lib/plan/index.ts';
import { Prober } from '../../lib/world/probe.ts';
import { startControlPlanes } from '../support/launch.ts';
import { nodeFlags } from '../support/node-flags.ts';
import { repo } from '../support/world.ts';
import { resolves } from './dns.ts';
import { call, createAll, listAll, rawClient, watchRaw, type Raw } from './raw.ts';

const CLUSTERS = Number(process.env.CLUSTERS ?? 5);
const SERVICES = Number(process.env.SERVICES ?? 1000);
const ADDRESSES = Number(process.env.ADDRESSES ?? 10);
const SCALES = [
  ...new Set([...(process.env.SCALES ?? '100 1000 3000').split(/[ ,]+/).filter(Boolean).map(Number), SERVICES]),
].sort((a, b) => a - b);
const CHANGES = Number(process.env.CHANGES ?? 50);
const CONCURRENCY = 8;
const PAGE = 500;

const names = Array.from({ length: CLUSTERS }, (_, i) => `c${i + 1}`);
const target = names[0]!;
const options: PlanOptions = {
  namespace: '',
  ownerLabel: { key: 'isMefiLocal', value: 'true' },
  originalNameLabel: 'isMefiOriginalName',
  sourceClusterLabel: 'multicluster.kubernetes.io/source-cluster',
  policy: 'sync',
};
const log = (s: string) => process.stderr.write(`# ${s}\n`);
/** mefi runs under the Node flags bin/mefi names, as installed and in the image. */
const flags = nodeFlags();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!;
/** Cluster k's idx-th address: 10.k.x.y for 16 clusters a first octet (a hub has 20). */
const ipOf = (cluster: number, idx: number) =>
  [10 + (cluster >> 4), ((cluster & 15) << 4) | (idx >> 16), (idx >> 8) & 255, idx & 255].join('.');
const time = async <T>(f: () => Promise<T>): Promise<[T, number]> => {
  const t = performance.now();
  const v = await f();
  return [v, performance.now() - t];
};

/** A process's CPU time so far (user and system, seconds; /proc counts in clock ticks of 1/100 s). */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
const REST_CPU_MS = 10_000;

/** The median of a process's RSS (MiB), sampled every 250 ms for this long. */
async function rssMedian(pid: number, ms: number): Promise<number> {
  const samples: number[] = [];
  for (const end = Date.now() + ms; Date.now() < end; await sleep(250)) samples.push(rssOf(pid).rss);
  return median(samples);
}

/** A process's resident and peak memory (MiB). */
function rssOf(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k: string) => Number(/\d+/.exec(status.split('\n').find((l) => l.startsWith(k)) ?? '0')![0]);
  return { rss: kib('VmRSS:') / 1024, hwm: kib('VmHWM:') / 1024 };
}

/** mefi's requests (by User-Agent) in an audit log since an offset. */
function mefiCallsSince(
  file: string,
  offset: number,
): { verb: string; requestURI: string; requestReceivedTimestamp: string }[] {
  const size = statSync(file).size;
  const buf = Buffer.alloc(size - offset);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, buf, 0, buf.length, offset);
  } finally {
    closeSync(fd);
  }
  return buf
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map(
      (l) =>
        JSON.parse(l) as { verb: string; userAgent?: string; requestURI: string; requestReceivedTimestamp: string },
    )
    .filter((e) => e.userAgent?.startsWith('mefi/'));
}

const dir = mkdtempSync(path.join(tmpdir(), 'mefi-bench-'));
/** A cluster's audit log: the bench's own planes, or the hub's. */
const auditLogOf = (cluster: string, hub = false) =>
  path.join(dir, ...(hub && cluster !== target ? ['hub'] : []), cluster, 'audit.log');
log(`starting ${CLUSTERS} control planes`);
// Bare API servers: the floors and figures stay comparable between commits (no controller informers competing for the 2 cores).
const planes = await startControlPlanes(dir, names, { controllers: false, mcs: true });
const raw = new Map<string, Raw>(names.map((n) => [n, rawClient(path.join(dir, `${n}.kubeconfig`))]));
const cfgFile = path.join(dir, 'mefi.yaml');
writeFileSync(
  cfgFile,
  [
    'clusters:',
    ...names.flatMap((n) => [
      `  - name: ${n}`,
      `    kubeconfig: ${n}.kubeconfig`,
      `    type: ${n === target ? 'local' : 'remote'}`,
    ]),
  ].join('\n') + '\n',
);

async function namespace(cluster: string | Raw, name: string): Promise<void> {
  await call(typeof cluster === 'string' ? raw.get(cluster)! : cluster, 'POST', '/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  }).catch(() => undefined);
}

function source(tag: number | string, k: number, i: number, ips: string[]): EndpointsObject {
  return {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: {
      name: `svc-${String(i).padStart(4, '0')}`,
      namespace: `src-${tag}`,
      labels: { isMefiRemote: 'true', 'bench-scale': String(tag) },
    },
    subsets: [{ addresses: ips.map((ip) => ({ ip })), ports: [{ name: 'http', port: 8080, protocol: 'TCP' }] }],
  };
}

/** `services` labelled sources of `addresses` each in every one of `clusters` (the k-th gets addresses 10.k.x.y), tagged bench-scale=<tag>. */
async function seed(
  tag: number | string,
  services = Number(tag),
  addresses = ADDRESSES,
  clusters: string[] = names,
  clients: Map<string, Raw> = raw,
): Promise<void> {
  const started = performance.now();
  await Promise.all(
    clusters.map(async (n, k) => {
      await namespace(clients.get(n)!, `src-${tag}`);
      const objs = Array.from({ length: services }, (_, i) =>
        source(
          tag,
          k + 1,
          i,
          Array.from({ length: addresses }, (_, j) => ipOf(k + 1, i * addresses + j)),
        ),
      );
      await createAll(
        clients.get(n)!,
        objs.map((o) => ({ path: `/api/v1/namespaces/src-${tag}/endpoints`, body: o })),
        16,
      );
    }),
  );
  log(
    `seeded ${services} services × ${addresses} addresses × ${clusters.length} clusters (${tag}) in ${((performance.now() - started) / 1000).toFixed(1)}s`,
  );
}

interface MefiRun {
  wallMs: number;
  runMs: number;
  peakRssMiB: number;
  report: {
    summary: {
      create: number;
      update: number;
      delete: number;
      apiCalls: Record<string, number>;
      durationMs: number;
      phases: { readMs: number; planMs: number; applyMs: number };
    };
  };
}

/** One mefi run as a separate process; peak RSS sampled from /proc (VmHWM never decreases). */
function mefi(args: string[], nodeOptions: string[] = []): Promise<MefiRun> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [
        ...flags,
        ...nodeOptions,
        path.join(repo, 'bin/mefi'),
        ...args,
        '-c',
        cfgFile,
        '-o',
        'json',
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    let peak = 0;
    child.stdout.on('data', (d) => (out += d));
    const sample = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        // exited between samples
      }
    }, 5);
    child.on('exit', (code) => {
      clearInterval(sample);
      if (code !== 0) return reject(new Error(`mefi ${args.join(' ')} exited ${code}: ${out.slice(0, 500)}`));
      const report = JSON.parse(out);
      resolve({ wallMs: performance.now() - started, runMs: report.summary.durationMs, peakRssMiB: peak, report });
    });
  });
}

/** A config of these clusters (name, kubeconfig relative to the bench dir); the first is the target. */
const configFor = (members: [string, string][]) =>
  [
    'clusters:',
    ...members.flatMap(([n, kc], i) => [
      `  - name: ${n}`,
      `    kubeconfig: ${kc}`,
      `    type: ${i === 0 ? 'local' : 'remote'}`,
    ]),
  ].join('\n') + '\n';
const HUB_SERVICES = Number(process.env.HUB_SERVICES ?? 100);
const MCS_EXPORTS = Number(process.env.MCS_EXPORTS ?? 40);

/**
 * MCS mode: a watching loop with every cluster a target (--local all); a
 * Service with its EndpointSlice in each cluster, then a ServiceExport
 * created in one of them, one after another: the time from the create to a
 * ServiceImport with its ClusterSet IP seen by a raw watch in every cluster,
 * beside the API server's own delivery of the export (a raw watch on its
 * cluster: the floor).
 */
interface McsFigures {
  changes: number;
  p50Ms: number;
  p99Ms: number;
  floorP50Ms: number;
  floorP99Ms: number;
}

/**
 * The clusters of an MCS row: their raw clients and kubeconfigs, and, on real
 * nodes, each cluster's node proxy: then an export is done once its name
 * resolves in every cluster's DNS (dns.ts), not when its import has an IP.
 */
interface McsBed {
  clients: Map<string, Raw>;
  kubeconfig: (cluster: string) => string;
  egress?: (cluster: string) => string;
}

async function mcsPropagation(clusters: string[], exports: number, bed: McsBed): Promise<McsFigures> {
  const ns = 'mcs-bench';
  const raw = bed.clients;
  const api = '/apis/multicluster.x-k8s.io/v1beta1';
  for (const c of clusters) {
    await namespace(raw.get(c)!, ns);
    await createAll(
      raw.get(c)!,
      Array.from({ length: exports }, (_, i) => [
        {
          path: `/api/v1/namespaces/${ns}/services`,
          body: {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: `web-${i}` },
            spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
          },
        },
        {
          path: `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
          body: {
            apiVersion: 'discovery.k8s.io/v1',
            kind: 'EndpointSlice',
            metadata: {
              name: `web-${i}-src`,
              labels: { 'kubernetes.io/service-name': `web-${i}`, 'endpointslice.kubernetes.io/managed-by': 'bench' },
            },
            addressType: 'IPv4',
            ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
            endpoints: [{ addresses: [ipOf(clusters.indexOf(c) + 1, i)], conditions: { ready: true } }],
          },
        },
      ]).flat(),
      CONCURRENCY,
    );
  }
  const file = path.join(dir, 'mefi-mcs.yaml');
  writeFileSync(
    file,
    [
      'clusters:',
      ...clusters.flatMap((n) => [
        `  - name: ${n}`,
        `    kubeconfig: ${bed.kubeconfig(n)}`,
        '    type: local',
        `    namespaces: [${ns}]`,
      ]),
    ].join('\n') + '\n',
  );
  const seen = new Map<string, Map<string, number>>(); // import name → cluster → when it had its IP
  const floor = new Map<string, number>();
  // From resourceVersion 0: without one, the API server first waits for its
  // watch cache to be as fresh as etcd, which on a bed where nothing else
  // writes the kind took seconds. (A CRD's first watch on a server may be
  // told 429 while its cache starts: watchRaw comes back as asked.)
  const watchers = clusters.flatMap((c) => [
    watchRaw(raw.get(c)!, `${api}/namespaces/${ns}/serviceimports?watch=1&resourceVersion=0`, (e) => {
      const ips = (e.object as { spec?: { ips?: string[] } }).spec?.ips;
      if (bed.egress || e.type === 'DELETED' || !ips?.length) return;
      let m = seen.get(e.object.metadata.name);
      if (!m) seen.set(e.object.metadata.name, (m = new Map()));
      if (!m.has(c)) m.set(c, performance.now());
    }),
    watchRaw(raw.get(c)!, `${api}/namespaces/${ns}/serviceexports?watch=1&resourceVersion=0`, (e) => {
      if (e.type === 'ADDED') floor.set(e.object.metadata.name, performance.now());
    }),
  ]);
  await sleep(500);
  const loop = spawn(
    process.execPath,
    [...flags, path.join(repo, 'bin/mefi'), 'sync', '--mode', 'mcs', '--watch', '-c', file, '--log-level', 'error'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const lat: number[] = [];
  const floors: number[] = [];
  try {
    await sleep(3000); // its first lists and run (nothing exported yet)
    for (let i = 0; i < exports; i++) {
      const name = `web-${i}`;
      const t0 = performance.now();
      await call(raw.get(clusters[i % clusters.length]!)!, 'POST', `${api}/namespaces/${ns}/serviceexports`, {
        apiVersion: 'multicluster.x-k8s.io/v1beta1',
        kind: 'ServiceExport',
        metadata: { name },
      });
      if (bed.egress) {
        // Each cluster's DNS asked until it answers: when it did is when the name was there.
        const answered = new Map<string, number>();
        seen.set(name, answered);
        await Promise.all(
          clusters.map(async (c) => {
            for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(5))
              if (await resolves(bed.egress!(c), `${name}.${ns}.svc.clusterset.local`))
                return void answered.set(c, performance.now());
          }),
        );
      }
      for (
        const deadline = Date.now() + 10_000;
        Date.now() < deadline && ((seen.get(name)?.size ?? 0) < clusters.length || !floor.has(name));
      )
        await sleep(5);
      const at = seen.get(name);
      if (at?.size === clusters.length && floor.has(name)) {
        lat.push(Math.max(...at.values()) - t0);
        floors.push(floor.get(name)! - t0);
      } else
        log(
          `mcs: ${name} not seen within 10 s: its import with an IP in ${at?.size ?? 0} of ${clusters.length} clusters, the export ${floor.has(name) ? '' : 'not '}seen by its raw watch`,
        );
      await sleep(100 + (i % 5) * 50);
    }
  } finally {
    loop.kill('SIGTERM');
    for (const w of watchers) w.stop();
  }
  return {
    changes: lat.length,
    p50Ms: Math.round(pct(lat, 50)),
    p99Ms: Math.round(pct(lat, 99)),
    floorP50Ms: Math.round(pct(floors, 50)),
    floorP99Ms: Math.round(pct(floors, 99)),
  };
}

/** What one watching loop was measured at (watching(), below). */
interface WatchFigures {
  /** Mirrors and aggregates written; with the sources, the objects the loop holds. */
  written: number;
  objects: number;
  startToAllMs: number;
  changes: number;
  missed: number;
  p50Ms: number;
  p99Ms: number;
  floorP50Ms: number;
  floorP99Ms: number;
  rssSettledMiB: number;
  rssAfterMiB: number;
  peakMiB: number;
  /** Sources and target objects as the API serves them, JSON, on average. */
  jsonBytesPerObject: number;
  /** Of one core, with nothing changing, over REST_CPU_MS. */
  restCpuPercent: number;
  lists: number;
  watches: number;
}

const syncArgs = (scale: number | string, ns = `mefi-s${scale}`, ...more: string[]) => [
  'sync',
  '--remote-filter',
  `bench-scale=${scale}`,
  '--mefi-namespace',
  ns,
  '--concurrency',
  String(CONCURRENCY),
  ...more,
];
const writes = (r: MefiRun) =>
  r.report.summary.apiCalls.create! + r.report.summary.apiCalls.update! + r.report.summary.apiCalls.delete!;

/** What mefi reads for one scale, fetched raw: the planner's input. */
async function readRaw(scale: number, ns: string): Promise<PlanInput> {
  const sources: PlanInput['sources'] = {};
  for (const n of names)
    sources[n] = {
      ok: true,
      items: (await listAll(raw.get(n)!, '/api/v1/endpoints', { labelSelector: `bench-scale=${scale}` }, PAGE))
        .items as EndpointsObject[],
    };
  const items = (await listAll(raw.get(target)!, `/api/v1/namespaces/${ns}/endpoints`, {}, PAGE))
    .items as EndpointsObject[];
  return { sources, targets: { [target]: { ok: true, items } } };
}

/** The raw floor of a steady run: the same paginated lists, at the same concurrency. */
async function listFloor(
  scale: number,
  ns: string,
  query: Record<string, string> = {},
  pageSize = PAGE,
): Promise<number> {
  return (await listFloorPages(scale, ns, query, pageSize)).ms;
}

/** The lists a steady run sends: each cluster's labelled sources, and the target's namespace. */
const steadyLists = (scale: number | string, ns: string, query: Record<string, string> = {}) => [
  ...names.map((cluster) => ({
    cluster,
    path: '/api/v1/endpoints',
    query: { labelSelector: `bench-scale=${scale}`, ...query },
  })),
  { cluster: target, path: `/api/v1/namespaces/${ns}/endpoints`, query },
];

/** The same, and the pages the server answered in (a selective list can end in an empty page: its continue token says only that keys remain to scan). */
async function listFloorPages(
  scale: number,
  ns: string,
  query: Record<string, string> = {},
  pageSize = PAGE,
): Promise<{ ms: number; pages: number }> {
  const limit = pLimit(CONCURRENCY);
  const [lists, ms] = await time(() =>
    Promise.all(
      steadyLists(scale, ns, query).map((l) => limit(() => listAll(raw.get(l.cluster)!, l.path, l.query, pageSize))),
    ),
  );
  return { ms, pages: lists.reduce((n, l) => n + l.pages, 0) };
}

/** The same lists from a new process (lists-fresh.ts): new connections and a cold JIT, as a one-shot run has them. */
async function freshListFloor(scale: number, ns: string): Promise<number> {
  const spec = {
    lists: steadyLists(scale, ns).map(({ cluster, ...l }) => ({
      kubeconfig: path.join(dir, `${cluster}.kubeconfig`),
      ...l,
    })),
    pageSize: PAGE,
    concurrency: CONCURRENCY,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...flags, path.join(repo, 'spec/bench/lists-fresh.ts'), JSON.stringify(spec)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) =>
      code === 0 ? resolve(Number(out)) : reject(new Error(`lists-fresh.ts exited ${code}`)),
    );
  });
}

const results: Record<string, unknown> = {
  clusters: CLUSTERS,
  services: SERVICES,
  addresses: ADDRESSES,
  concurrency: CONCURRENCY,
  pageSize: PAGE,
};
const scaling: {
  services: number;
  objects: number;
  coldMs: number;
  coldRunMs: number;
  coldWritesPerS: number;
  steadyRunMs: number;
  steadyWrites: number;
}[] = [];

try {
  for (const scale of SCALES) {
    await seed(scale);
    await namespace(target, `mefi-s${scale}`);
  }
  const S = SERVICES;
  const ns = `mefi-s${S}`;

  // --- planner ---------------------------------------------------------
  const cold = await readRaw(S, ns);
  const coldPlan = plan({ ...options, namespace: ns }, cold);
  const timePlan = (input: PlanInput) =>
    median(
      Array.from({ length: 7 }, () => {
        const t = performance.now();
        plan({ ...options, namespace: ns }, input);
        return performance.now() - t;
      }),
    );

  // --- cold sync, and its floor --------------------------------------------
  log('cold sync');
  const coldRun = await mefi(syncArgs(S));
  await namespace(target, `floor-${S}`);
  // Bodies without a namespace: the path says where, so the same bodies serve every floor.
  const floorObjects = coldPlan.creates.map((c) => ({
    path: `/api/v1/namespaces/floor-${S}/endpoints`,
    body: { ...c.object, metadata: { name: c.object!.metadata.name, labels: c.object!.metadata.labels } },
  }));
  const [, coldFloorMs] = await time(() => createAll(raw.get(target)!, floorObjects, CONCURRENCY));

  // --- steady sync, and its floor -------------------------------------------
  log('steady sync');
  // Five rounds of a run and its floors side by side, and the median of each and of the rounds' ratios:
  // one sample moved by 20% from run to run on this machine, and a floor as much.
  const steadyRuns: MefiRun[] = [];
  const steadyFloors: number[] = [];
  const freshFloors: number[] = [];
  for (let i = 0; i < 5; i++) {
    steadyRuns.push(await mefi(syncArgs(S)));
    steadyFloors.push(await listFloor(S, ns));
    freshFloors.push(await freshListFloor(S, ns));
  }
  const steadyRun = [...steadyRuns].sort((a, b) => a.runMs - b.runMs)[2]!;
  const steadyFloorMs = median(steadyFloors);
  const steadyFreshFloorMs = median(freshFloors);
  const steady = await readRaw(S, ns);
  const objects =
    Object.values(steady.sources).reduce((n, o) => n + (o.ok ? o.items.length : 0), 0) +
    (steady.targets[target]!.ok ? (steady.targets[target] as { items: unknown[] }).items.length : 0);
  // The watching loop plans the same objects again (remembering results); a one-shot run plans freshly read ones.
  rememberResults(true);
  const plannerMs = timePlan(steady);
  const plannerColdMs = timePlan(cold);
  rememberResults(false);
  const steadyText = JSON.stringify(steady);
  const plannerFreshMs = median(
    Array.from({ length: 5 }, () => {
      const fresh = JSON.parse(steadyText) as PlanInput;
      const t = performance.now();
      plan({ ...options, namespace: ns }, fresh);
      return performance.now() - t;
    }),
  );

  // --- --probe: what to probe in the whole world (pure), and 1,000 connects ---------
  // Loopback only (Endpoints may not hold loopback addresses, so the prober is
  // measured in-process): 1,000 listening ports, probed by mefi's Prober and,
  // as the floor, by bare concurrent connects at the same concurrency.
  log('probe');
  const toProbeMs = median(
    Array.from({ length: 5 }, () => {
      const t = performance.now();
      toProbe({ ...options, namespace: ns }, steady, target);
      return performance.now() - t;
    }),
  );
  const probeCandidates = toProbe({ ...options, namespace: ns }, steady, target).length;
  const listeners: Server[] = await Promise.all(
    Array.from(
      { length: 1000 },
      () =>
        new Promise<Server>((resolve) => {
          const srv = createServer((c) => c.destroy()).listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = listeners.map((l) => (l.address() as { port: number }).port);
  const bareConnects = async () => {
    const limit = pLimit(1000);
    await Promise.all(
      ports.map((port) =>
        limit(
          () =>
            new Promise<void>((resolve) => {
              const c = connect({ host: '127.0.0.1', port });
              c.once('connect', () => {
                c.destroy();
                resolve();
              });
              c.once('error', () => resolve());
            }),
        ),
      ),
    );
  };
  const probeTimes: number[] = [];
  const probeFloorTimes: number[] = [];
  for (let i = 0; i < 5; i++) {
    probeTimes.push(
      (
        await time(() =>
          new Prober({ timeoutMs: 1000, concurrency: 1000 }).check(
            ports.map((port) => ({ cluster: 'x', ip: '127.0.0.1', port, key: probeKey('127.0.0.1', port) })),
            0,
          ),
        )
      )[1],
    );
    probeFloorTimes.push((await time(bareConnects))[1]);
  }
  const probeMs = median(probeTimes);
  const probeFloorMs = median(probeFloorTimes);
  await Promise.all(listeners.map((l) => new Promise((r) => l.close(r))));

  // --- churn: 1% of sources change ---------------------------------------
  log('churn');
  const rand = (
    (x) => (n: number) =>
      (x = (x * 1103515245 + 12345) >>> 0) % n
  )(42);
  const picked = new Map<string, [number, number]>();
  while (picked.size < Math.max(1, Math.round((CLUSTERS * S) / 100))) {
    const k = rand(CLUSTERS);
    const i = rand(S);
    picked.set(`${k}/${i}`, [k, i]);
  }
  let fresh = (1 << 20) - 1;
  await Promise.all(
    [...picked.values()].map(async ([k, i]) => {
      const obj = source(S, k + 1, i, [
        ipOf(k + 1, fresh--),
        ...Array.from({ length: ADDRESSES - 1 }, (_, j) => ipOf(k + 1, i * ADDRESSES + j + 1)),
      ]);
      const cur = await call<EndpointsObject>(
        raw.get(names[k]!)!,
        'GET',
        `/api/v1/namespaces/src-${S}/endpoints/${obj.metadata.name}`,
      );
      obj.metadata.resourceVersion = cur.metadata.resourceVersion!;
      await call(raw.get(names[k]!)!, 'PUT', `/api/v1/namespaces/src-${S}/endpoints/${obj.metadata.name}`, obj);
    }),
  );
  const needed = picked.size + new Set([...picked.values()].map(([, i]) => i)).size;
  const churnRun = await mefi(syncArgs(S));

  // --- EndpointSlice mode: the same world into slices ---------------------------
  log('slice mode');
  await namespace(target, `mefi-sl${S}`);
  const sliceCold = await mefi(syncArgs(S, `mefi-sl${S}`, '--target', 'endpointslices'));
  const sliceSteady = await mefi(syncArgs(S, `mefi-sl${S}`, '--target', 'endpointslices'));

  // --- levers ------------------------------------------------------------------
  log('levers');
  const unpaginated = await mefi(syncArgs(S, ns, '--page-size', '0'));
  const listFromCacheMs = median([
    await listFloor(S, ns, { resourceVersion: '0' }, 0),
    await listFloor(S, ns, { resourceVersion: '0' }, 0),
    await listFloor(S, ns, { resourceVersion: '0' }, 0),
  ]);
  const unpaginatedFloorMs = median([
    await listFloor(S, ns, {}, 0),
    await listFloor(S, ns, {}, 0),
    await listFloor(S, ns, {}, 0),
  ]);
  const concurrency: Record<string, number> = { [CONCURRENCY]: coldRun.runMs };
  for (const c of [1, 32]) {
    await namespace(target, `mefi-s${S}-c${c}`);
    concurrency[c] = (
      await mefi([
        'sync',
        '--remote-filter',
        `bench-scale=${S}`,
        '--mefi-namespace',
        `mefi-s${S}-c${c}`,
        '--concurrency',
        String(c),
      ])
    ).runMs;
  }
  await namespace(target, `mefi-s${S}-heap`);
  const lowHeap = await mefi(
    [
      'sync',
      '--remote-filter',
      `bench-scale=${S}`,
      '--mefi-namespace',
      `mefi-s${S}-heap`,
      '--concurrency',
      String(CONCURRENCY),
    ],
    ['--max-old-space-size=128'],
  );
  const sample = floorObjects
    .slice(0, 500)
    .map((o) => ({ ...o, path: o.path.replace(`floor-${S}`, `floor-close-${S}`) }));
  await namespace(target, `floor-close-${S}`);
  const closeRaw = rawClient(path.join(dir, `${target}.kubeconfig`), false);
  const [, noKeepAliveMs] = await time(() => createAll(closeRaw, sample, CONCURRENCY, true));
  await namespace(target, `floor-ka-${S}`);
  const [, keepAliveMs] = await time(() =>
    createAll(
      raw.get(target)!,
      sample.map((o) => ({ ...o, path: o.path.replace(`floor-close-${S}`, `floor-ka-${S}`) })),
      CONCURRENCY,
    ),
  );
  const bigText = JSON.stringify({
    apiVersion: 'v1',
    kind: 'EndpointsList',
    metadata: {},
    items: (steady.targets[target] as { items: unknown[] }).items,
  });
  const { ObjectSerializer } =
    (await import('@kubernetes/client-node/dist/gen/models/ObjectSerializer.js')) as unknown as {
      ObjectSerializer: { deserialize(d: unknown, t: string, f: string): unknown };
    };
  const parseMs = median(
    Array.from({ length: 5 }, () => {
      const t = performance.now();
      JSON.parse(bigText);
      return performance.now() - t;
    }),
  );
  const typedMs = median(
    Array.from({ length: 5 }, () => {
      const t = performance.now();
      ObjectSerializer.deserialize(JSON.parse(bigText), 'V1EndpointsList', '');
      return performance.now() - t;
    }),
  );
  const allObjs = [
    ...Object.values(steady.sources).flatMap((o) => (o.ok ? o.items : [])),
    ...(steady.targets[target] as { items: EndpointsObject[] }).items,
  ];
  const normalizeMs = median(
    Array.from({ length: 5 }, () => {
      const t = performance.now();
      for (const o of allObjs) normalizeSubsets(o.subsets);
      return performance.now() - t;
    }),
  );

  // --- propagation in loop mode ---------------------------------------------------
  log(`propagation: ${CHANGES} changes under --interval 1s`);
  const loop = spawn(
    process.execPath,
    [...flags, path.join(repo, 'bin/mefi'), ...syncArgs(S), '-c', cfgFile, '--interval', '1s', '--log-level', 'error'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await sleep(3000);
  const latencies: number[] = [];
  for (let n = 0; n < CHANGES; n++) {
    const k = rand(CLUSTERS);
    const i = rand(S);
    const ip = ipOf(k + 1, fresh--);
    const obj = source(S, k + 1, i, [ip]);
    const cur = await call<EndpointsObject>(
      raw.get(names[k]!)!,
      'GET',
      `/api/v1/namespaces/src-${S}/endpoints/${obj.metadata.name}`,
    );
    obj.metadata.resourceVersion = cur.metadata.resourceVersion!;
    await call(raw.get(names[k]!)!, 'PUT', `/api/v1/namespaces/src-${S}/endpoints/${obj.metadata.name}`, obj);
    const t0 = performance.now();
    for (;;) {
      const agg = await call<EndpointsObject>(
        raw.get(target)!,
        'GET',
        `/api/v1/namespaces/${ns}/endpoints/${obj.metadata.name}`,
      );
      if (JSON.stringify(agg.subsets).includes(`"${ip}"`)) break;
      await sleep(20);
    }
    latencies.push(performance.now() - t0);
    await sleep(rand(300));
  }
  loop.kill('SIGTERM');

  /**
   * A watching loop started on an empty namespace of the target: the time
   * from its start to every mirror and aggregate written (a raw watch on the
   * target counts them), its memory settled, then `changes` single changes
   * and a burst of `burst` (one each 10 ms), each timed from its PUT to the
   * aggregate showing it (a raw watch on the target) beside the API server's
   * own delivery (a raw watch on the source: the floor), and its memory after
   * them; mefi's lists and watches while it stood (the audit logs).
   */
  async function watching(o: {
    config: string;
    clusters: string[];
    tag: number | string;
    services: number;
    changes: number;
    burst: number;
    clients?: Map<string, Raw>;
    ns?: string;
  }): Promise<WatchFigures> {
    const clients = o.clients ?? raw;
    const ns = o.ns ?? `mefi-w${o.tag}`;
    await namespace(clients.get(target)!, ns);
    const expected = o.services * o.clusters.length + o.services;
    const written = new Set<string>();
    let allAt: number | undefined;
    const pending = new Map<string, { t0: number; floor?: number; mefi?: number }>();
    const record =
      (which: 'floor' | 'mefi') => (e: { type: string; object: { metadata: { name: string }; subsets?: unknown } }) => {
        const now = performance.now();
        if (which === 'mefi' && e.type === 'ADDED' && written.add(e.object.metadata.name).size >= expected)
          allAt ??= now;
        if (!pending.size) return;
        const text = JSON.stringify(e.object.subsets ?? []);
        for (const [ip, p] of pending) if (p[which] === undefined && text.includes(`"${ip}"`)) p[which] = now - p.t0;
      };
    const watchers = [
      watchRaw(clients.get(target)!, `/api/v1/namespaces/${ns}/endpoints?watch=1`, record('mefi')),
      ...o.clusters.map((n) =>
        watchRaw(clients.get(n)!, `/api/v1/namespaces/src-${o.tag}/endpoints?watch=1`, record('floor')),
      ),
    ];
    await sleep(500); // the raw watches are open
    const started = performance.now();
    const loop = spawn(
      process.execPath,
      [
        ...flags,
        path.join(repo, 'bin/mefi'),
        ...syncArgs(o.tag, ns),
        '-c',
        o.config,
        '--watch',
        '--resync',
        '10m',
        '--log-level',
        'error',
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    try {
      for (const deadline = Date.now() + 900_000; allAt === undefined && Date.now() < deadline;) await sleep(20);
      if (allAt === undefined)
        throw new Error(`--watch over ${o.config}: ${written.size} of ${expected} objects written in 15 minutes`);
      const startToAllMs = allAt - started;
      await sleep(5000); // settled: the first run's garbage collected, or not
      const marks = Object.fromEntries(
        o.clusters.map((n) => [n, auditLogOf(n, o.clients !== undefined)]).map(([n, f]) => [n, statSync(f!).size]),
      );
      // At rest: the CPU the loop spends with nothing changing (its watches open, bookmarks coming), and its
      // memory, the median of samples over that time (RSS moves with the collector's timing).
      const cpu0 = cpuSecondsOf(loop.pid!);
      const settled = await rssMedian(loop.pid!, REST_CPU_MS);
      const restCpuPercent = ((cpuSecondsOf(loop.pid!) - cpu0) / (REST_CPU_MS / 1000)) * 100;
      const put = async (k: number, i: number) => {
        const ip = ipOf(k + 1, fresh--);
        pending.set(ip, { t0: performance.now() });
        await call(
          clients.get(o.clusters[k]!)!,
          'PUT',
          `/api/v1/namespaces/src-${o.tag}/endpoints/${source(o.tag, k + 1, i, []).metadata.name}`,
          source(o.tag, k + 1, i, [ip]),
        );
      };
      for (let n = 0; n < o.changes; n++) {
        await put(rand(o.clusters.length), rand(o.services));
        await sleep(50 + rand(100));
      }
      const burstPuts: Promise<void>[] = [];
      for (let n = 0; n < o.burst; n++) {
        burstPuts.push(put(rand(o.clusters.length), rand(o.services)));
        await sleep(10);
      }
      await Promise.all(burstPuts);
      for (
        const deadline = Date.now() + 15_000;
        Date.now() < deadline && [...pending.values()].some((p) => p.mefi === undefined || p.floor === undefined);
      )
        await sleep(50);
      const after = await rssMedian(loop.pid!, 3000);
      const calls = o.clusters.flatMap((n) => mefiCallsSince(auditLogOf(n, o.clients !== undefined), marks[n]));
      const seen = [...pending.values()].filter((p) => p.mefi !== undefined && p.floor !== undefined);
      const lat = seen.map((p) => p.mefi!);
      const floor = seen.map((p) => p.floor!);
      // What the objects weigh as the API serves them.
      const listed = [
        ...(await listAll(clients.get(target)!, `/api/v1/namespaces/${ns}/endpoints`, {}, PAGE)).items,
        ...(await listAll(clients.get(o.clusters[0]!)!, `/api/v1/namespaces/src-${o.tag}/endpoints`, {}, PAGE)).items,
      ];
      return {
        written: expected,
        objects: expected + o.services * o.clusters.length,
        startToAllMs: Math.round(startToAllMs),
        changes: seen.length,
        missed: pending.size - seen.length,
        p50Ms: Math.round(pct(lat, 50)),
        p99Ms: Math.round(pct(lat, 99)),
        floorP50Ms: Math.round(pct(floor, 50)),
        floorP99Ms: Math.round(pct(floor, 99)),
        rssSettledMiB: Math.round(settled),
        rssAfterMiB: Math.round(after),
        peakMiB: Math.round(rssOf(loop.pid!).hwm),
        jsonBytesPerObject: Math.round(
          listed.reduce((n: number, x) => n + JSON.stringify(x).length, 0) / listed.length,
        ),
        restCpuPercent: +restCpuPercent.toFixed(2),
        lists: calls.filter((e) => e.verb === 'list').length,
        watches: calls.filter((e) => e.verb === 'watch').length,
      };
    } finally {
      for (const w of watchers) w.stop();
      loop.kill('SIGTERM');
      await new Promise((r) => loop.once('exit', r));
    }
  }

  // --- the watching loop: start to all written, propagation beside the API server's own delivery, memory ----
  const WATCH_CHANGES = Number(process.env.WATCH_CHANGES ?? 200);
  log(
    `--watch at ${CLUSTERS} × ${S} × ${ADDRESSES}: ${WATCH_CHANGES} changes (half of them in bursts of 100 in a second)`,
  );
  const big = await watching({
    config: cfgFile,
    clusters: names,
    tag: S,
    services: S,
    changes: WATCH_CHANGES / 2,
    burst: WATCH_CHANGES / 2,
  });

  // --- the watching loop at rest: an hour's equivalent with a short resync ------------
  const REST_MS = 21_000;
  const RESYNC_MS = 5_000;
  log(`at rest: --watch --resync ${RESYNC_MS / 1000}s for ${REST_MS / 1000}s`);
  const marks = Object.fromEntries(names.map((n) => [n, statSync(path.join(dir, n, 'audit.log')).size]));
  // On the namespace the watching loop above converged: at rest, nothing to write.
  const rest = spawn(
    process.execPath,
    [
      ...flags,
      path.join(repo, 'bin/mefi'),
      ...syncArgs(S, `mefi-w${S}`),
      '-c',
      cfgFile,
      '--watch',
      '--resync',
      `${RESYNC_MS / 1000}s`,
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await sleep(REST_MS);
  const restRss = rssOf(rest.pid!);
  rest.kill('SIGTERM');
  await sleep(500);
  const restCalls = names.flatMap((n) => mefiCallsSince(path.join(dir, n, 'audit.log'), marks[n]!));
  const byVerb = (v: string) => restCalls.filter((e) => e.verb === v).length;
  // Which lists, when: a list more than the resyncs explain is told by its path and time.
  // Pages of one full list, counted by the raw client: each source cluster's labelled Endpoints, and the target's namespace.
  const restPagesPerList = (await listFloorPages(S, `mefi-w${S}`)).pages;
  const restLists = restCalls
    .filter((e) => e.verb === 'list')
    .map(
      (e) => `${e.requestReceivedTimestamp.slice(11, 23)} ${e.requestURI.replace(/&continue=[^&]*/, '&continue=…')}`,
    );

  // --- the watching loop beside the original's figures: 3 clusters × 50 and × 1,000 services × 2 addresses ----
  const three = names.slice(0, 3);
  const threeCfg = path.join(dir, 'mefi-three.yaml');
  writeFileSync(threeCfg, configFor(three.map((n) => [n, `${n}.kubeconfig`])));
  const small: Record<number, WatchFigures> = {};
  for (const services of [50, 1000]) {
    await seed(`w${services}`, services, 2, three);
    log(`--watch at 3 × ${services} × 2`);
    small[services] = await watching({
      config: threeCfg,
      clusters: three,
      tag: `w${services}`,
      services,
      changes: 40,
      burst: 0,
    });
  }

  // --- MCS mode: a ServiceExport created, to a ServiceImport with its IP in every cluster --------
  log(`--watch --mode mcs over 3 clusters: ${MCS_EXPORTS} exports, one at a time`);
  const mcs = await mcsPropagation(three, MCS_EXPORTS, { clients: raw, kubeconfig: (n) => `${n}.kubeconfig` });

  // --- MCS names: a ServiceExport created, to its clusterset.local name in every cluster's DNS --
  // A bed of its own with real nodes and CoreDNS (root, and make's node parts).
  let mcsDns: McsFigures | undefined;
  if (process.getuid?.() === 0 && process.env.MEFI_KUBELET) {
    log(
      `--watch --mode mcs over 3 real-node clusters: ${MCS_EXPORTS} exports, each to its name in every cluster's CoreDNS`,
    );
    const dnsDir = path.join(dir, 'dns');
    mkdirSync(dnsDir, { recursive: true });
    const dnsPlanes = await startControlPlanes(dnsDir, three, { network: true, mcs: true });
    try {
      const kubeconfig = (n: string) => path.join(dnsDir, `${n}.kubeconfig`);
      mcsDns = await mcsPropagation(three, MCS_EXPORTS, {
        clients: new Map(three.map((n) => [n, rawClient(kubeconfig(n))])),
        kubeconfig,
        egress: (n) => path.join(dnsDir, n, 'egress.sock'),
      });
    } finally {
      await dnsPlanes.stop();
    }
  } else log('MCS names through CoreDNS: skipped (needs root and the real nodes make builds: sudo make bench)');

  // --- a hub: one target reading many clusters ----------------------------------------
  const hubSizes = (process.env.HUB ?? '10 20').split(/[ ,]+/).filter(Boolean).map(Number);
  const hub: { clusters: number; figures: WatchFigures }[] = [];
  if (hubSizes.length) {
    const most = Math.max(...hubSizes);
    const hubNames = Array.from({ length: most - 1 }, (_, i) => `h${i + 2}`);
    log(`hub: starting ${hubNames.length} more control planes`);
    const hubDir = path.join(dir, 'hub');
    mkdirSync(hubDir, { recursive: true });
    const hubPlanes = await startControlPlanes(hubDir, hubNames, { controllers: false });
    try {
      const hubRaw = new Map<string, Raw>([
        [target, raw.get(target)!],
        ...hubNames.map((n): [string, Raw] => [n, rawClient(path.join(hubDir, `${n}.kubeconfig`))]),
      ]);
      const all = [target, ...hubNames];
      await seed('hub', HUB_SERVICES, 2, all, hubRaw);
      for (const size of hubSizes) {
        const members = all.slice(0, size);
        const file = path.join(dir, `mefi-hub-${size}.yaml`);
        writeFileSync(
          file,
          configFor(members.map((n) => [n, n === target ? `${n}.kubeconfig` : `hub/${n}.kubeconfig`])),
        );
        log(`hub: --watch over ${size} clusters × ${HUB_SERVICES} services × 2`);
        hub.push({
          clusters: size,
          figures: await watching({
            config: file,
            clusters: members,
            tag: 'hub',
            services: HUB_SERVICES,
            changes: 40,
            burst: 0,
            clients: hubRaw,
            ns: `mefi-hub${size}`,
          }),
        });
      }
    } finally {
      await hubPlanes.stop();
    }
  }

  // --- scaling ------------------------------------------------------------------------
  for (const scale of SCALES) {
    log(`scaling: ${scale} services per cluster`);
    const c = scale === S ? coldRun : await mefi(syncArgs(scale));
    const st = scale === S ? steadyRun : await mefi(syncArgs(scale));
    scaling.push({
      services: scale,
      objects: CLUSTERS * scale + c.report.summary.create,
      coldMs: Math.round(c.wallMs),
      coldRunMs: c.runMs,
      coldWritesPerS: Math.round(writes(c) / (c.runMs / 1000)),
      steadyRunMs: st.runMs,
      steadyWrites: writes(st),
    });
  }

  Object.assign(results, {
    planner: {
      objects,
      steadyMs: plannerMs,
      coldMs: plannerColdMs,
      msPer10k: (plannerMs / objects) * 10_000,
      freshMs: plannerFreshMs,
      freshMsPer10k: (plannerFreshMs / objects) * 10_000,
      normalizeAllMs: normalizeMs,
    },
    probe: {
      candidates: probeCandidates,
      toProbeMs: Math.round(toProbeMs),
      connects: 1000,
      ms: Math.round(probeMs),
      floorMs: Math.round(probeFloorMs),
      ratio: probeMs / probeFloorMs,
    },
    cold: {
      writes: writes(coldRun),
      wallMs: Math.round(coldRun.wallMs),
      runMs: coldRun.runMs,
      writesPerS: Math.round(writes(coldRun) / (coldRun.runMs / 1000)),
      floorMs: Math.round(coldFloorMs),
      ratio: coldRun.runMs / coldFloorMs,
      peakRssMiB: Math.round(coldRun.peakRssMiB),
    },
    steady: {
      writes: writes(steadyRun),
      wallMs: Math.round(steadyRun.wallMs),
      runMs: steadyRun.runMs,
      readMs: steadyRun.report.summary.phases.readMs,
      planMs: steadyRun.report.summary.phases.planMs,
      floorMs: Math.round(steadyFloorMs),
      ratio: steadyRun.runMs / steadyFloorMs,
      freshFloorMs: Math.round(steadyFreshFloorMs),
      freshRatio: median(steadyRuns.map((x, i) => x.runMs / freshFloors[i]!)),
      warmRatio: median(steadyRuns.map((x, i) => x.runMs / steadyFloors[i]!)),
      runsMs: steadyRuns.map((r) => r.runMs),
      peakRssMiB: Math.round(Math.max(...steadyRuns.map((r) => r.peakRssMiB))),
      lists: steadyRun.report.summary.apiCalls.list,
      writesAll: steadyRuns.map(writes),
    },
    churn: { changedSources: picked.size, needed, writes: writes(churnRun), runMs: churnRun.runMs },
    slices: {
      coldWrites: writes(sliceCold),
      coldRunMs: sliceCold.runMs,
      coldWritesPerS: Math.round(writes(sliceCold) / (sliceCold.runMs / 1000)),
      steadyRunMs: sliceSteady.runMs,
      steadyWrites: writes(sliceSteady),
      peakRssMiB: Math.round(Math.max(sliceCold.peakRssMiB, sliceSteady.peakRssMiB)),
    },
    propagation: {
      changes: latencies.length,
      intervalMs: 1000,
      p50Ms: Math.round(pct(latencies, 50)),
      p99Ms: Math.round(pct(latencies, 99)),
      maxMs: Math.round(Math.max(...latencies)),
    },
    watch: {
      big,
      rest: {
        seconds: REST_MS / 1000,
        resyncSeconds: RESYNC_MS / 1000,
        pagesPerList: restPagesPerList,
        lists: byVerb('list'),
        watches: byVerb('watch'),
        writes: byVerb('create') + byVerb('update') + byVerb('delete'),
        gets: byVerb('get'),
        rssMiB: Math.round(restRss.rss),
        byURI: restLists,
      },
      small,
      // Held per object: the RSS the 950 more services of 3 × 1,000 cost over 3 × 50, per object more.
      bytesPerObject: Math.round(
        ((small[1000]!.rssSettledMiB - small[50]!.rssSettledMiB) * 1048576) /
          (small[1000]!.objects - small[50]!.objects),
      ),
      hub,
    },
    mcs,
    mcsDns,
    scaling,
    levers: {
      unpaginatedSteadyRunMs: unpaginated.runMs,
      listFloorPaginatedMs: Math.round(steadyFloorMs),
      listFloorUnpaginatedMs: Math.round(unpaginatedFloorMs),
      listFloorFromWatchCacheMs: Math.round(listFromCacheMs),
      coldRunMsByConcurrency: concurrency,
      coldWithMaxOldSpace128: { runMs: lowHeap.runMs, peakRssMiB: Math.round(lowHeap.peakRssMiB) },
      create500KeepAliveMs: Math.round(keepAliveMs),
      create500NewConnectionEachMs: Math.round(noKeepAliveMs),
      targetListParseMs: +parseMs.toFixed(1),
      targetListParseAndTypedDeserializeMs: +typedMs.toFixed(1),
    },
  });

  const r = results as Record<string, Record<string, number>> & {
    scaling: typeof scaling;
    levers: Record<string, unknown>;
    watch: {
      big: WatchFigures;
      rest: Record<string, number>;
      small: Record<number, WatchFigures>;
      bytesPerObject: number;
      hub: typeof hub;
    };
  };
  const w = r.watch;
  const listPages = w.rest.pagesPerList!;
  const resyncs = Math.floor(w.rest.seconds! / w.rest.resyncSeconds!);
  const f = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(2));
  const rows: [string, string, string, string][] = [
    ['figure', 'mefi', 'floor / target', 'ratio or verdict'],
    [
      'planner (ms per 10k objects): the same objects again (watching loop)',
      f(r.planner!.msPer10k!),
      '< 50',
      r.planner!.msPer10k! < 50 ? 'ok' : 'MISSED',
    ],
    [
      'planner (ms per 10k objects): freshly read objects (a one-shot run)',
      f(r.planner!.freshMsPer10k!),
      `steady run's lists ${r.steady!.floorMs} ms for ${objects} objects`,
      'what a CronJob run adds to its lists',
    ],
    [
      '--probe: what to probe (pure), over the whole world',
      `${r.probe!.candidates} remote (address, port)s in ${r.probe!.toProbeMs} ms`,
      `planner ${f(r.planner!.steadyMs!)} ms`,
      'per run with --probe',
    ],
    [
      '--probe: 1,000 answering (address, port)s, loopback',
      `${r.probe!.ms} ms`,
      `${r.probe!.floorMs} ms bare connects`,
      `${f(r.probe!.ratio!)}×`,
    ],
    [
      `cold sync (${r.cold!.writes} creates)`,
      `${r.cold!.runMs} ms run, ${r.cold!.wallMs} ms process, ${r.cold!.writesPerS} writes/s`,
      `${r.cold!.floorMs} ms raw creates`,
      `${f(r.cold!.ratio!)}× (target ≤ 1.5×)`,
    ],
    [
      'steady sync (median of 5)',
      `${r.steady!.runMs} ms run (read ${r.steady!.readMs}, plan ${r.steady!.planMs}; runs ${steadyRuns.map((x) => x.runMs).join(', ')}), ${r.steady!.wallMs} ms process, writes ${steadyRuns.map(writes).join(', ')}`,
      `raw lists: ${r.steady!.freshFloorMs} ms from a new process, ${r.steady!.floorMs} ms warm`,
      `${f(r.steady!.freshRatio!)}× new, ${f(r.steady!.warmRatio!)}× warm (medians of the rounds' ratios); target ≤ 1.3× new: ${r.steady!.freshRatio! <= 1.3 ? 'ok' : 'MISSED'}`,
    ],
    [
      `churn (${r.churn!.changedSources} sources changed)`,
      `${r.churn!.writes} writes in ${r.churn!.runMs} ms`,
      `${r.churn!.needed} needed`,
      r.churn!.writes === r.churn!.needed ? 'exact' : 'NOT EXACT',
    ],
    [
      'slice mode (--target endpointslices)',
      `cold ${r.slices!.coldWrites} slices in ${r.slices!.coldRunMs} ms (${r.slices!.coldWritesPerS} writes/s), steady ${r.slices!.steadyRunMs} ms, ${r.slices!.steadyWrites} writes`,
      `Endpoints mode: ${r.cold!.writes} objects`,
      `peak RSS ${r.slices!.peakRssMiB} MiB`,
    ],
    [
      'peak RSS',
      `cold ${r.cold!.peakRssMiB} MiB, steady ${r.steady!.peakRssMiB} MiB`,
      '< 300 MiB',
      Math.max(r.cold!.peakRssMiB!, r.steady!.peakRssMiB!) < 300 ? 'ok' : 'MISSED',
    ],
    [
      `propagation (${r.propagation!.changes} changes, --interval 1s)`,
      `p50 ${r.propagation!.p50Ms} ms, p99 ${r.propagation!.p99Ms} ms`,
      'p99 < 2000 ms',
      r.propagation!.p99Ms! < 2000 ? 'ok' : 'MISSED',
    ],
    ...watchRows(`--watch ${CLUSTERS} × ${S} × ${ADDRESSES}`, w.big, { memoryMiB: 200 }),
    [
      `--watch at rest (${w.rest.seconds}s, --resync ${w.rest.resyncSeconds}s)`,
      `${w.rest.lists} list pages, ${w.rest.watches} watches, ${w.rest.gets} gets, ${w.rest.writes} writes`,
      `${listPages} pages per full list (the raw client's, for one list per cluster and target), ${resyncs + 1} full lists`,
      w.rest.writes === 0 && w.rest.lists! <= listPages * (resyncs + 1) ? 'ok' : 'MORE THAN THAT',
    ],
    ...watchRows('--watch 3 × 50 × 2', w.small[50]!, {
      memoryMiB: 70,
      original: { startMs: 1300, p50: '26–28', p99Ms: 43, rss: 34 },
    }),
    ...watchRows('--watch 3 × 1,000 × 2', w.small[1000]!, {
      memoryMiB: 120,
      original: { startMs: 55_800, p50: '36', p99Ms: 60, rss: 45 },
    }),
    [
      `--watch --mode mcs, 3 clusters: ServiceExport created → ServiceImport with its IP in all 3 (${r.mcs!.changes} of ${MCS_EXPORTS})`,
      `p50 ${r.mcs!.p50Ms} ms, p99 ${r.mcs!.p99Ms} ms`,
      `raw watch of the export p50 ${r.mcs!.floorP50Ms} ms, p99 ${r.mcs!.floorP99Ms} ms`,
      r.mcs!.changes === MCS_EXPORTS ? 'printed' : 'SOME NEVER ARRIVED',
    ],
    ...(r.mcsDns
      ? [
          [
            `--watch --mode mcs, 3 real-node clusters: ServiceExport created → <name>.<ns>.svc.clusterset.local answered by all 3 CoreDNS (${r.mcsDns.changes} of ${MCS_EXPORTS})`,
            `p50 ${r.mcsDns.p50Ms} ms, p99 ${r.mcsDns.p99Ms} ms`,
            `raw watch of the export p50 ${r.mcsDns.floorP50Ms} ms, p99 ${r.mcsDns.floorP99Ms} ms`,
            r.mcsDns.changes === MCS_EXPORTS ? 'printed' : 'SOME NEVER ARRIVED',
          ] as [string, string, string, string],
        ]
      : []),
    [
      '--watch: held per object',
      `${w.bytesPerObject} bytes (RSS of 3 × 1,000 over 3 × 50, per object more)`,
      `${w.small[1000]!.jsonBytesPerObject} bytes of JSON per object as served`,
      `${f(w.bytesPerObject / w.small[1000]!.jsonBytesPerObject)}×`,
    ],
    ...w.hub.flatMap((h, i) => {
      const base = w.hub[0]!;
      const more = h.clusters - base.clusters;
      const extra =
        i > 0
          ? `, ${f((h.figures.rssSettledMiB - base.figures.rssSettledMiB) / more)} MiB and ${f((h.figures.restCpuPercent - base.figures.restCpuPercent) / more)}% of a core at rest per source cluster more`
          : '';
      return watchRows(`hub: --watch over ${h.clusters} clusters × ${HUB_SERVICES} × 2`, h.figures, { extra });
    }),
    ...r.scaling.map((s): [string, string, string, string] => [
      `scaling: ${s.services} services/cluster`,
      `cold ${s.coldRunMs} ms (${s.coldWritesPerS} writes/s), steady ${s.steadyRunMs} ms, ${s.steadyWrites} writes`,
      `${s.objects} objects`,
      `${f((s.steadyRunMs / s.objects) * 1000)} ms per 1k objects steady`,
    ]),
  ];
  function watchRows(
    what: string,
    x: WatchFigures,
    t: { memoryMiB?: number; original?: { startMs: number; p50: string; p99Ms: number; rss: number }; extra?: string },
  ): [string, string, string, string][] {
    const within = x.p99Ms - x.floorP99Ms <= 50 && (!t.original || x.p99Ms <= t.original.p99Ms);
    return [
      [
        `${what}: start to all ${x.written} written`,
        `${f(x.startToAllMs / 1000)} s`,
        t.original ? `original ${f(t.original.startMs / 1000)} s` : '',
        t.original
          ? x.startToAllMs <= 1.2 * t.original.startMs
            ? 'ok (≤ 1.2×)'
            : `${f(x.startToAllMs / t.original.startMs)}×: MISSED`
          : '',
      ],
      [
        `${what}: propagation (${x.changes} changes${x.missed ? `, ${x.missed} superseded` : ''})`,
        `p50 ${x.p50Ms} ms, p99 ${x.p99Ms} ms`,
        `raw watch p50 ${x.floorP50Ms} ms, p99 ${x.floorP99Ms} ms${t.original ? `; original p50 ${t.original.p50}, p99 ${t.original.p99Ms} ms` : ''}`,
        within ? 'ok' : `+${x.p99Ms - x.floorP99Ms} ms over the floor at p99: MISSED`,
      ],
      [
        `${what}: memory (RSS), CPU at rest`,
        `settled ${x.rssSettledMiB} MiB, after the changes ${x.rssAfterMiB} MiB (peak ${x.peakMiB})${t.extra ?? ''}; ${x.restCpuPercent}% of a core at rest`,
        `${t.memoryMiB ? `≤ ${t.memoryMiB} MiB` : ''}${t.original ? `; original ${t.original.rss} MiB` : ''}; lists ${x.lists}, watches ${x.watches} while it stood`,
        t.memoryMiB ? (Math.max(x.rssSettledMiB, x.rssAfterMiB) <= t.memoryMiB ? 'ok' : 'MISSED') : '',
      ],
    ];
  }
  const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(
    `\nmefi bench: ${CLUSTERS} clusters × ${S} services × ${ADDRESSES} addresses, concurrency ${CONCURRENCY}, page size ${PAGE}\n`,
  );
  console.log(line(rows[0]!));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows.slice(1)) console.log(line(row));
  console.log('\nlevers:', JSON.stringify(r.levers, null, 2));
  mkdirSync(path.join(repo, 'bench-results'), { recursive: true });
  const out = path.join(repo, 'bench-results', `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
  console.log(`\nJSON: ${out}`);
} finally {
  await planes.stop();
  rmSync(dir, { recursive: true, force: true });
}
