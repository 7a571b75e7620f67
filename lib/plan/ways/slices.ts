// EndpointSlices per mirror (--target endpointslices): in the mefi namespace
// of a target, for each mirror (source name, cluster), the slices of the
// source's Service <name>, labelled with it, written by the one slice writer
// (../slices.ts); with clusterServices also those of a Service
// <name>-<cluster> that serves that cluster alone.

import { clusterOf, describe } from '../object.ts';
import { servedSubsets } from '../served.ts';
import {
  isMefiSlice,
  managedBy,
  managedByLabel,
  serviceNameLabel,
  sliceDelete,
  slicesBySet,
  sliceWriter,
  type SliceSet,
} from '../slices.ts';
import { keptAsIs, type SourceView } from '../sources.ts';
import type { Finding, PlanOptions, SliceObject, Subset } from '../types.ts';
import { labelledWay } from './labelled.ts';
import type { TargetPlan, Way } from './way.ts';

/** A slice name is a DNS-1123 subdomain. */
const maxSliceNameLength = 253;
/** A cluster's own Service's name is a DNS-1035 label: at most 63 characters. */
const maxServiceNameLength = 63;
/** A cluster service's slices are named <name>-<cluster>-only-<n>. */
const clusterSliceSuffix = 'only';

export function planSlices(
  options: PlanOptions,
  view: SourceView,
  target: string,
  items: SliceObject[],
  stale: Set<string>,
  unreachable?: ReadonlySet<string>,
): TargetPlan {
  const result: TargetPlan = { creates: [], updates: [], deletes: [], problems: [] };
  const namespace = options.namespace;
  const owned = items.filter((s) => isMefiSlice(s, options));
  const clusterOfSlice = (s: SliceObject) => clusterOf(s, options, []);
  const writer = sliceWriter(options, target, namespace, items, result);

  const labels = (service: string, originalName: string, cluster: string): Record<string, string> => ({
    [options.ownerLabel.key]: options.ownerLabel.value,
    [options.originalNameLabel]: originalName,
    [options.sourceClusterLabel]: cluster,
    [serviceNameLabel]: service,
    [managedByLabel]: managedBy,
  });

  // Index once: each set looks up its own slices.
  const setKey = (cluster: string | undefined, originalName: string | undefined, service: string | undefined) =>
    `${cluster}/${originalName}/${service}`;
  const mine = slicesBySet(owned, (s) => {
    const l = s.metadata.labels ?? {};
    // Slices written before the original name was part of the key carry it too: it has always been on them.
    return setKey(
      l[options.sourceClusterLabel],
      l[options.originalNameLabel] ?? l[serviceNameLabel],
      l[serviceNameLabel],
    );
  });
  const mineOf = (set: SliceSet) => mine(setKey(set.cluster, set.originalName, set.service));
  const setOf = (
    service: string,
    originalName: string,
    cluster: string,
    prefix: string,
    subsets: Subset[],
  ): SliceSet => ({ service, originalName, cluster, prefix, subsets, labels: labels(service, originalName, cluster) });
  const writeSet = (set: SliceSet) => writer.writeSet(set, mineOf(set));
  const hold = (set: SliceSet) => writer.hold(mineOf(set));

  // Slices are named <mirror>-<n>: two mirrors of one name (source web of
  // cluster a-b, source web-a of cluster b) would take turns on the same
  // slices. Neither is written, as in Endpoints mode; what they have stays.
  const sameName = Map.groupBy(view.mirrors, (m) => m.name);
  /** Services the mirrors' sources stand for: a cluster's own Service may not take one of these names. */
  const services = new Set(view.mirrors.map((m) => m.originalName));

  // Reachability and affinity: per service, the subsets each mirror's slices serve in this target (readiness only).
  const served = new Map<(typeof view.mirrors)[number], { subsets: Subset[]; reached: Subset[] }>();
  const byService = Map.groupBy(view.mirrors, (m) => m.originalName);
  for (const [service, ms] of byService) {
    const counted = servedSubsets(options, view, target, service, ms, unreachable);
    result.problems.push(...counted.problems);
    ms.forEach((m, i) => served.set(m, { subsets: counted.subsets[i]!, reached: counted.reached[i]! }));
  }

  const problem = (code: Finding['code'], name: string, message: string) =>
    result.problems.push({ code, cluster: target, namespace, name, message });

  for (const m of view.mirrors) {
    if (stale.has(m.cluster)) continue;
    const counted = served.get(m)!;
    const main = setOf(m.originalName, m.originalName, m.cluster, m.name, counted.subsets);
    const rivals = sameName.get(m.name)!;
    const tooLong = m.name.length > maxSliceNameLength - 4;
    if (rivals.length > 1 || tooLong) {
      hold(main);
      if (rivals[0] === m) {
        // one problem per name
        if (tooLong)
          problem(
            'invalid-name',
            m.name,
            `slice names ${m.name}-<n> would exceed ${maxSliceNameLength} characters; the mirror of ${m.originalName} from cluster ${m.cluster} is not written`,
          );
        else
          problem(
            'name-collision',
            m.name,
            `slices ${m.name}-<n> are wanted as ${rivals
              .map((r) => describe({ role: 'mirror', ...r }))
              .sort()
              .join(' and as ')}; neither is written`,
          );
      }
    } else writeSet(main);

    if (!options.clusterServices) continue;
    // The cluster's own Service: what this cluster serves, reachability applied, and no affinity (the weights are the user's).
    const own = setOf(m.name, m.originalName, m.cluster, `${m.name}-${clusterSliceSuffix}`, counted.reached);
    if (rivals.length > 1) hold(own);
    else if (services.has(m.name)) {
      hold(own);
      problem(
        'name-collision',
        m.name,
        `Service ${m.name} is wanted as the cluster service of ${m.originalName} from cluster ${m.cluster} and as the Service of source ${m.name}; the cluster service is not written`,
      );
    } else if (m.name.length > maxServiceNameLength) {
      hold(own);
      problem(
        'invalid-name',
        m.name,
        `the cluster service ${m.name} of ${m.originalName} from cluster ${m.cluster} would exceed ${maxServiceNameLength} characters (a Service name); not written`,
      );
    } else writeSet(own);
  }

  for (const s of owned) {
    const cluster = clusterOfSlice(s);
    const original = s.metadata.labels?.[options.originalNameLabel] ?? s.metadata.labels?.[serviceNameLabel];
    // Slices of a cluster that could not be read (or is no longer configured) are kept as they are, unless it is stale.
    if (cluster !== undefined && !stale.has(cluster) && keptAsIs(options, view, cluster, `${original}-${cluster}`))
      continue;
    if (writer.keep.has(s.metadata.name)) continue;
    result.deletes.push(
      sliceDelete(target, namespace, s, s.metadata.labels?.[options.originalNameLabel] ?? '', cluster),
    );
  }
  return result;
}

export function slicesWay(options: PlanOptions): Way {
  return labelledWay(options, {
    noun: 'slice',
    owned: (current) => (current.slices ?? []).filter((x) => isMefiSlice(x, options)),
    want: (view, target, current, stale, unreachable) =>
      planSlices(options, view, target, current.slices ?? [], stale, unreachable),
  });
}
