// MCS mode, one target: per exported name, in the export's own namespace,
// the ServiceImport (imports.ts), its derived Service (derived.ts) and the
// slices of every exporting cluster (slices.ts); and how the name fared
// there, for the exports' Ready condition (exports-status.ts).
//
// The MCS output kinds live in lib/plan/mcs/, a module each, beside the
// clusterset view they are all planned from (exports.ts): they are planned
// together, name by name, and share nothing with Endpoints mode but the
// slice writer, the merge and the readiness rule, which they import.
//
// Partial failure is safe here too: while a cluster that exports a name (one
// the import lists, or whose slices are here) cannot be read, the import is
// kept as it is, for its merge cannot be made without that cluster's export,
// and that cluster's slices stay (until staleAfter, or --prune for a cluster
// no longer configured). The import goes only when no cluster exports the
// name any more (KEP "Importing Services": not before the last export goes).

import { isOwned } from '../object.ts';
import { keptAsIs } from '../sources.ts';
import type { TargetPlan } from '../ways/way.ts';
import type { Change, Finding, PlanOptions, ReadOutcome, SliceObject } from '../types.ts';
import { decideDerived, derivedName, isDerivedService, wantedDerived } from './derived.ts';
import type { ImportState } from './exports-status.ts';
import { keyOf, type McsView } from './exports.ts';
import { canonicalSpec, decideImport, importObject } from './imports.ts';
import { isMcsSlice, planImportSlices, type ImportSlices } from './slices.ts';
import { mcsClusterOf, mcsServiceNameLabel, type ServiceImportObject, type ServiceObject } from './types.ts';

export interface McsTargetPlan extends TargetPlan {
  /** Per `<namespace>/<name>`: how each wanted name fared. */
  states: Map<string, ImportState>;
}

const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function deleteOf(
  target: string,
  kind: 'ServiceImport' | 'Service',
  obj: ServiceImportObject | ServiceObject,
  originalName: string,
): Change {
  return {
    target,
    kind,
    role: 'aggregate',
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name,
    originalName,
    beforeLabels: obj.metadata.labels ?? {},
    current: obj,
    ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
  };
}

/** The objects mefi owns in an MCS target whose source cluster they name: its slices (for unknown clusters and staleAfter). */
export function mcsOwned(options: PlanOptions, outcome: Extract<ReadOutcome, { ok: true }>): SliceObject[] {
  return (outcome.slices ?? []).filter((s) => isMcsSlice(s, options));
}

export function planMcsTarget(
  options: PlanOptions,
  view: McsView,
  target: string,
  outcome: Extract<ReadOutcome, { ok: true }>,
  stale: Set<string>,
  unreachable?: ReadonlySet<string>,
): McsTargetPlan {
  const result: McsTargetPlan = { creates: [], updates: [], deletes: [], problems: [], states: new Map() };
  const at = (o: { metadata: { namespace?: string; name: string } }) =>
    keyOf(o.metadata.namespace ?? '', o.metadata.name);
  const imports = new Map((outcome.serviceImports ?? []).map((i) => [at(i), i]));
  const services = new Map((outcome.services ?? []).map((s) => [at(s), s]));
  const derivedServices = (outcome.services ?? []).filter((s) => isDerivedService(s, options));
  const slices = outcome.slices ?? [];
  const mcsSlices = slices.filter((s) => isMcsSlice(s, options));
  const phase = outcome.namespaces
    ? new Map(outcome.namespaces.map((n) => [n.metadata.name, n.status?.phase ?? 'Active']))
    : undefined;

  // Every name mefi wants here or has something of here.
  const names = new Map<string, { namespace: string; name: string }>();
  const add = (namespace: string, name: string) => names.set(keyOf(namespace, name), { namespace, name });
  for (const e of view.exported.values()) if (e.merged) add(e.namespace, e.name);
  for (const i of imports.values()) if (isOwned(i, options)) add(i.metadata.namespace ?? '', i.metadata.name);
  for (const s of derivedServices) add(s.metadata.namespace ?? '', s.metadata.labels![mcsServiceNameLabel]!);
  // A derived Service's slices name their import only through it: one without it goes with the namespace's slices.
  for (const s of mcsSlices) {
    const name = s.metadata.labels?.[mcsServiceNameLabel];
    if (name !== undefined) add(s.metadata.namespace ?? '', name);
  }

  const work = new Map<string, ImportSlices[]>();
  for (const [key, { namespace, name }] of [...names].sort(([a], [b]) => byCodeUnit(a, b))) {
    const exported = view.exported.get(key);
    const problem = (code: Finding['code'], message: string) =>
      result.problems.push({ code, cluster: target, namespace, name, message });
    const later = (w: Omit<ImportSlices, 'name'>) => {
      const list = work.get(namespace);
      if (list) list.push({ name, ...w });
      else work.set(namespace, [{ name, ...w }]);
    };
    const hold = () => later({ ports: [], hold: true });

    const ns = phase?.get(namespace);
    if (phase && (ns === undefined || ns === 'Terminating')) {
      if (exported?.merged)
        problem(
          'missing-namespace',
          `namespace ${namespace} ${ns === undefined ? 'does not exist' : 'is Terminating'} in ${target}: ${key} is not imported there (the KEP leaves creating namespaces out)`,
        );
      result.states.set(key, { state: 'absent' });
      hold();
      continue;
    }

    const current = imports.get(key);
    const importMine = current !== undefined && isOwned(current, options);
    const derived = derivedName(namespace, name);
    const service = services.get(keyOf(namespace, derived));
    const serviceMine =
      service !== undefined &&
      isDerivedService(service, options) &&
      service.metadata.labels![mcsServiceNameLabel] === name;

    // Clusters the import says export the name, that this run cannot read.
    const listed = importMine ? (current.status?.clusters ?? []).map((c) => mcsClusterOf(options, c.cluster)) : [];
    const unknown = listed.filter((c) => !stale.has(c) && keptAsIs(options, view, c, '')).sort();
    const frozen = importMine && unknown.length > 0;
    const spec = frozen ? canonicalSpec(current.spec ?? { ports: [], type: 'ClusterSetIP' }) : exported?.merged?.spec;

    if (!spec) {
      // Exported nowhere any more: mefi's import and derived Service go, and the slices of every cluster it can read.
      if (importMine) result.deletes.push(deleteOf(target, 'ServiceImport', current, name));
      if (serviceMine) result.deletes.push(deleteOf(target, 'Service', service, name));
      later({ ports: [], hold: false });
      continue;
    }
    const foreign = [
      ...(current && !importMine ? [`ServiceImport ${key}`] : []),
      ...(service && !serviceMine ? [`Service ${namespace}/${derived}`] : []),
    ];
    if (foreign.length) {
      const what = foreign.join(' and ');
      problem(
        'conflict',
        `${what} ${foreign.length > 1 ? 'exist and are' : 'exists and is'} not mefi's (no label ${options.ownerLabel.key}=${options.ownerLabel.value}); ${key} is not imported in ${target}, and ${foreign.length > 1 ? 'they are' : 'it is'} left untouched`,
      );
      result.states.set(key, { state: 'blocked', message: `${what} is not mefi's` });
      hold();
      continue;
    }

    if (frozen) {
      result.states.set(key, { state: 'frozen', listed, unknown });
      later({ exported, ports: spec.ports, hold: false });
      continue;
    }

    // The derived Service first: the import's ips are its cluster IPs.
    const wantedService = wantedDerived(options, namespace, name, spec);
    let kept: ServiceObject | undefined;
    let allocating = false;
    if (wantedService) {
      const d = decideDerived(target, wantedService, serviceMine ? service : undefined);
      if (d.change) (serviceMine ? result.updates : result.creates).push(d.change);
      kept = d.kept;
      allocating = d.change !== undefined && d.kept === undefined;
    } else if (serviceMine) result.deletes.push(deleteOf(target, 'Service', service, name));

    const merged = exported!.merged!;
    const clusterSet = spec.type === 'ClusterSetIP';
    const families = spec.ipFamilies ?? kept?.spec?.ipFamilies ?? [];
    const ips =
      clusterSet && kept
        ? (kept.spec?.clusterIPs ?? [kept.spec?.clusterIP ?? '']).filter((ip) => ip && ip !== 'None').slice(0, 2)
        : [];
    const wanted = importObject(options, {
      namespace,
      name,
      derived,
      spec: canonicalSpec({ ...spec, ips, ipFamilies: families }),
      labels: merged.labels,
      annotations: merged.annotations,
      clusters: merged.clusters,
    });
    // Families no export said are the derived Service's, as the server chooses them: known once it exists, like its IPs.
    const change = decideImport(
      target,
      wanted,
      importMine ? current : undefined,
      allocating && (clusterSet || families.length === 0) ? derived : undefined,
    );
    if (change) (importMine ? result.updates : result.creates).push(change);
    result.states.set(key, { state: 'imported' });
    later({ exported, ports: spec.ports, hold: false });
  }

  // mefi's derived Services on a name that is not their import's (none, in the ordinary course): nothing wants them.
  for (const s of derivedServices) {
    const name = s.metadata.labels![mcsServiceNameLabel]!;
    if (s.metadata.name !== derivedName(s.metadata.namespace ?? '', name))
      result.deletes.push(deleteOf(target, 'Service', s, name));
  }

  const namespaces = [...new Set([...work.keys(), ...mcsSlices.map((s) => s.metadata.namespace ?? '')])].sort(
    byCodeUnit,
  );
  for (const namespace of namespaces)
    planImportSlices(
      options,
      view,
      target,
      namespace,
      slices.filter((s) => (s.metadata.namespace ?? '') === namespace),
      work.get(namespace) ?? [],
      stale,
      unreachable,
      result,
    );
  return result;
}
