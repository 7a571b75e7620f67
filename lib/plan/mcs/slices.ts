// The MCS EndpointSlices of one namespace of a target: per (import,
// exporting cluster), through the slice mode's own writer (chunking,
// ownership, never over another's slice), served by the one readiness rule
// (served.ts: --probe, affinity). Two sets of the same endpoints, as the two
// kinds of consumer read them:
//   - the import's, labelled as the KEP says (multicluster.kubernetes.io/
//     service-name and source-cluster: "Using EndpointSlice objects"), named
//     <import>-<cluster>-<n>: what CoreDNS's multicluster plugin and a
//     GEP-1748 Gateway (a ServiceImport backendRef) read;
//   - the derived Service's (kubernetes.io/service-name: derived-...), named
//     <derived>-<cluster>-<n>: what kube-proxy serves on the ClusterSet IP.
// Not one set with both labels: a consumer that reads both kinds takes such a
// slice for the Service's only (Envoy Gateway's SetEndpointSlicesForBackend),
// and its import has no endpoints. Slices an earlier mefi wrote with both
// labels are the derived Service's, as such a consumer reads them: they keep
// their names, so kube-proxy sees no change but a label going.
// A cluster's slices carry only the ports it has as the import has them: a
// conflicting port is served by the clusters that expose it (KEP "Service
// Port"), as kube-proxy matches slice ports to the Service's by name alone.

import { mergeNormalized } from '../normalize.ts';
import * as slices from '../slices.ts';
import { keptAsIs } from '../sources.ts';
import { servedSubsets, type ServedMirror } from '../served.ts';
import type { TargetPlan } from '../ways/way.ts';
import type { PlanOptions, Port, SliceObject, Subset } from '../types.ts';
import { derivedName } from './derived.ts';
import { keyOf, type Contribution, type Exported, type McsView } from './exports.ts';
import { mcsClusterOf, mcsIdOf, mcsServiceNameLabel, mcsSourceClusterLabel, type ImportPort } from './types.ts';

/** What one import's slices should be in this target. */
export interface ImportSlices {
  name: string;
  exported?: Exported;
  /** The import's ports in effect here (a frozen import's own). */
  ports: ImportPort[];
  /** Written or not at all this run: what it has stays. */
  hold: boolean;
}

/** mefi's MCS slices: its own slices of an import, of either set (both name their source cluster). */
export function isMcsSlice(s: SliceObject, options: PlanOptions): boolean {
  const labels = s.metadata.labels ?? {};
  return (
    slices.isMefiSlice(s, options) &&
    (labels[mcsServiceNameLabel] !== undefined || labels[mcsSourceClusterLabel] !== undefined)
  );
}

/** The import an MCS slice of the import's own set names, or undefined for the derived Service's set. */
export function importSetOf(s: SliceObject): string | undefined {
  const labels = s.metadata.labels ?? {};
  return labels[slices.serviceNameLabel] === undefined ? labels[mcsServiceNameLabel] : undefined;
}

/** The names of the cluster's ports that the import has as the cluster does (name, protocol, port). */
function portsServed(c: Contribution, ports: ImportPort[]): Set<string> {
  const same = (p: Port) =>
    ports.some((q) => (q.name ?? '') === (p.name ?? '') && q.protocol === p.protocol && q.port === p.port);
  return new Set(c.ports.filter(same).map((p) => p.name ?? ''));
}

/**
 * A cluster's subsets with only the ports the import serves from it. Every
 * address family stays: the derived Service's families decide what
 * kube-proxy uses, and they are known only once it exists.
 */
function filtered(subsets: Subset[], names: Set<string>): Subset[] {
  const out: Subset[] = [];
  for (const s of subsets) {
    const ports = s.ports.filter((p) => names.has(p.name ?? ''));
    // Endpoints that expose none of the import's ports get none of its traffic.
    if (s.ports.length > 0 && ports.length === 0) continue;
    out.push({ addresses: s.addresses, notReadyAddresses: s.notReadyAddresses, ports });
  }
  // Subsets whose ports are now alike are one: the one merge.
  return mergeNormalized(out);
}

export function planImportSlices(
  options: PlanOptions,
  view: McsView,
  target: string,
  namespace: string,
  items: SliceObject[],
  work: ImportSlices[],
  stale: Set<string>,
  unreachable: ReadonlySet<string> | undefined,
  result: TargetPlan,
): void {
  const writer = slices.sliceWriter(options, target, namespace, items, result);
  const owned = items.filter((s) => isMcsSlice(s, options));
  // The derived Service's set names its import only through the derived name.
  const importOfDerived = new Map(work.map((w) => [derivedName(namespace, w.name), w.name]));
  const importOf = (s: SliceObject) =>
    importSetOf(s) ?? importOfDerived.get(s.metadata.labels?.[slices.serviceNameLabel] ?? '');
  // A set is a cluster's by its name: a slice labelled by the cluster's name before it had an id is the same set, relabelled.
  const clusterOf = (s: SliceObject) => {
    const label = s.metadata.labels?.[mcsSourceClusterLabel];
    return label === undefined ? undefined : mcsClusterOf(options, label);
  };
  const setKey = (s: SliceObject) =>
    `${importSetOf(s) === undefined ? 'derived' : 'import'}/${importOf(s)}/${clusterOf(s)}`;
  const mine = slices.slicesBySet(owned, setKey);
  const scoped = { ...options, namespace };

  for (const w of work) {
    if (w.hold) {
      writer.hold(owned.filter((s) => importOf(s) === w.name));
      continue;
    }
    const exported = w.exported;
    if (!exported) continue;
    const key = keyOf(namespace, w.name);
    const byCluster = new Map(
      exported.exports.flatMap((e) => (e.contribution ? [[e.cluster, e.contribution] as const] : [])),
    );
    const mirrors: ServedMirror[] = view.mirrors
      .filter((m) => m.originalName === key && !stale.has(m.cluster))
      .map((m) => ({ ...m, subsets: filtered(m.subsets, portsServed(byCluster.get(m.cluster)!, w.ports)) }));
    const counted = servedSubsets(scoped, view, target, key, mirrors, unreachable);
    result.problems.push(...counted.problems);
    mirrors.forEach((m, i) => {
      const set = { originalName: w.name, cluster: m.cluster, subsets: counted.subsets[i]! };
      const labels = {
        [options.ownerLabel.key]: options.ownerLabel.value,
        [mcsSourceClusterLabel]: mcsIdOf(options, m.cluster),
        [slices.managedByLabel]: slices.managedBy,
      };
      writer.writeSet(
        {
          ...set,
          service: exported.derived,
          prefix: m.name,
          labels: { ...labels, [slices.serviceNameLabel]: exported.derived },
        },
        mine(`derived/${w.name}/${m.cluster}`),
      );
      writer.writeSet(
        {
          ...set,
          service: w.name,
          of: 'ServiceImport',
          prefix: `${w.name}-${m.cluster}`,
          labels: { ...labels, [mcsServiceNameLabel]: w.name },
        },
        mine(`import/${w.name}/${m.cluster}`),
      );
    });
  }

  for (const s of owned) {
    const cluster = clusterOf(s);
    // A cluster that could not be read (or is no longer configured) keeps its slices, until it is stale.
    if (cluster !== undefined && !stale.has(cluster) && keptAsIs(options, view, cluster, '')) continue;
    if (writer.keep.has(s.metadata.name)) continue;
    const name = importOf(s) ?? s.metadata.labels?.[slices.serviceNameLabel] ?? s.metadata.name;
    result.deletes.push(slices.sliceDelete(target, namespace, s, name, cluster));
  }
}
