// Sources to mirror specs, once per run whatever the number of targets.
// (Pure: the sources were read by lib/world/read.ts; this only looks at them.)

import { isDNS1123Subdomain, isLabelValue } from './names.ts';
import { cidrContains, formatCIDR, parseCIDR, type CIDR } from './ip.ts';
import { memoBy } from './memo.ts';
import { normalizeSubsets, type AddressFilter } from './normalize.ts';
import { isOwned } from './object.ts';
import type { EndpointsObject, PlanInput, PlanOptions, Finding, ReadOutcome, Subset, Unreadable } from './types.ts';

export interface MirrorSpec {
  name: string;
  cluster: string;
  originalName: string;
  subsets: Subset[];
}

export interface SourceView {
  /** Mirrors to write. Two may share a name; the target planner reports that. */
  mirrors: MirrorSpec[];
  /** Every configured source cluster. */
  clusters: string[];
  /** Clusters whose sources are unknown this run: their mirrors are kept as they are. */
  unreadable: Set<string>;
  /** Mirror names whose source is ambiguous: kept as they are. */
  frozen: Set<string>;
  /** Per source name: each cluster's affinity label value (options.affinityLabel), where it has one. */
  affinity: Map<string, Map<string, string>>;
  problems: Finding[];
  unreadableList: Unreadable[];
}

export function mirrorName(name: string, cluster: string): string {
  return `${name}-${cluster}`;
}

/** podCIDRs: one cluster cannot steer another's ingress to addresses outside its own pod ranges. */
export function podCIDRFilter(cluster: string, cidrs: string[] | undefined): AddressFilter | undefined {
  if (!cidrs) return undefined;
  const parsed = cidrs.map(parseCIDR).filter((c): c is CIDR => c !== undefined);
  const list = parsed.map(formatCIDR).join(', ');
  return (ip) =>
    parsed.some((c) => cidrContains(c, ip)) ? undefined : `is outside cluster ${cluster}'s podCIDRs (${list})`;
}

/**
 * Normalizing a source is the planner's largest cost, and a watching loop
 * plans the same unchanged objects again on every change. The result depends
 * only on the object and the cluster's podCIDRs, and an informer replaces an
 * object it sees change, so it is remembered per object (weakly: gone with
 * the object) and per podCIDRs. A cache of a pure function: same input, same
 * plan, byte for byte.
 */
const normalized = new WeakMap<object, unknown>();
const noCIDRs: string[] = [];

function normalizeSource(
  source: EndpointsObject,
  cidrs: string[] | undefined,
  filter: AddressFilter | undefined,
): ReturnType<typeof normalizeSubsets> {
  return memoBy(normalized, [source, cidrs ?? noCIDRs], () => normalizeSubsets(source.subsets, filter));
}

/** A view with no mirrors yet, and each readable source's outcome, in cluster order: what every mode's view starts from. */
export function emptyView(sources: PlanInput['sources']): {
  view: SourceView;
  readable: [string, Extract<ReadOutcome, { ok: true }>][];
} {
  const view: SourceView = {
    clusters: Object.keys(sources).sort(),
    mirrors: [],
    unreadable: new Set(),
    frozen: new Set(),
    affinity: new Map(),
    problems: [],
    unreadableList: [],
  };
  const readable: [string, Extract<ReadOutcome, { ok: true }>][] = [];
  for (const cluster of view.clusters) {
    const outcome = sources[cluster]!;
    if (outcome.ok) readable.push([cluster, outcome]);
    else {
      view.unreadable.add(cluster);
      view.unreadableList.push({ cluster, role: 'source', error: outcome.error });
    }
  }
  return { view, readable };
}

export function sourceView(options: PlanOptions, sources: PlanInput['sources']): SourceView {
  const { view, readable } = emptyView(sources);
  for (const [cluster, outcome] of readable) {
    const filter = podCIDRFilter(cluster, options.podCIDRs?.[cluster]);
    // No echo: what mefi wrote is never a source, whatever the selector matched.
    const byName = new Map<string, EndpointsObject[]>();
    for (const obj of outcome.items) {
      if (isOwned(obj, options)) continue;
      const list = byName.get(obj.metadata.name) ?? [];
      list.push(obj);
      byName.set(obj.metadata.name, list);
    }
    for (const name of [...byName.keys()].sort()) {
      const objs = byName.get(name)!;
      const mirror = mirrorName(name, cluster);
      const problem = (code: Finding['code'], message: string, namespace?: string): void => {
        view.problems.push({ code, cluster, ...(namespace ? { namespace } : {}), name, message });
      };
      if (objs.length > 1) {
        const namespaces = objs.map((o) => o.metadata.namespace ?? '').sort();
        problem(
          'ambiguous-source',
          `Endpoints ${name} exists in namespaces ${namespaces.join(', ')}; scope the cluster's namespaces in the config. Its mirror is kept as it is.`,
        );
        if (isDNS1123Subdomain(mirror)) view.frozen.add(mirror);
        continue;
      }
      const source = objs[0]!;
      const namespace = source.metadata.namespace;
      if (!isDNS1123Subdomain(mirror)) {
        problem(
          'invalid-name',
          `mirror name ${mirror} is not a DNS-1123 subdomain of at most 253 characters; not mirrored`,
          namespace,
        );
        continue;
      }
      if (!isLabelValue(name)) {
        problem(
          'invalid-name',
          `name ${name} cannot be a label value (at most 63 characters); not mirrored`,
          namespace,
        );
        continue;
      }
      const { subsets, dropped } = normalizeSource(source, options.podCIDRs?.[cluster], filter);
      for (const d of dropped) problem(d.code, d.message, namespace);
      view.mirrors.push({ name: mirror, cluster, originalName: name, subsets });
      const affinity = options.affinityLabel ? source.metadata.labels?.[options.affinityLabel] : undefined;
      if (affinity !== undefined) {
        if (!view.affinity.has(name)) view.affinity.set(name, new Map());
        view.affinity.get(name)!.set(cluster, affinity);
      }
    }
  }
  return view;
}

/**
 * A mirror of this cluster mefi cannot rebuild this run, so keeps as it is:
 * its cluster is unreadable, or no longer in the config (until --prune), or
 * its source is ambiguous. (Staleness is the caller's to check.)
 */
export function keptAsIs(options: PlanOptions, view: SourceView, cluster: string, mirror: string): boolean {
  if (!view.clusters.includes(cluster)) return !options.prune;
  return view.unreadable.has(cluster) || view.frozen.has(mirror);
}
