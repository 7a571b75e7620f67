// Endpoints mirrors and aggregates (DESIGN.md §1), the original's way of
// publishing. In one target, in the mefi namespace: the objects it should
// hold (a mirror per source and cluster, an aggregate per source name), then
// a decision per name.

import { memoBy } from '../memo.ts';
import { addressCount, mergeNormalized, normalizeSubsets } from '../normalize.ts';
import { clusterOf, decide, describe, isOwned, mirroringLimit } from '../object.ts';
import { readyOnly, servedSubsets } from '../served.ts';
import { keptAsIs, type SourceView } from '../sources.ts';
import type { EndpointsObject, PlanOptions, Finding } from '../types.ts';
import { labelledWay } from './labelled.ts';
import type { TargetPlan, Wanted, Way } from './way.ts';

const keptCache = new WeakMap<object, unknown>();
const mergedCache = new WeakMap<object, unknown>();
const readyCache = new WeakMap<object, unknown>();

export function labelsFor(options: PlanOptions, originalName: string, cluster?: string): Record<string, string> {
  return {
    [options.ownerLabel.key]: options.ownerLabel.value,
    [options.originalNameLabel]: originalName,
    ...(cluster ? { [options.sourceClusterLabel]: cluster } : {}),
  };
}

/**
 * Mirrors whose source is unknown this run (cluster unreadable or no longer
 * configured, source ambiguous) stay as they are and still count in their
 * aggregate, unless their cluster is stale (staleAfter).
 */
function keptMirrors(options: PlanOptions, view: SourceView, owned: EndpointsObject[], stale: Set<string>): Wanted[] {
  const kept: Wanted[] = [];
  for (const obj of owned) {
    const cluster = clusterOf(obj, options, view.clusters);
    if (cluster === undefined || stale.has(cluster) || !keptAsIs(options, view, cluster, obj.metadata.name)) continue;
    const originalName = obj.metadata.labels?.[options.originalNameLabel] ?? '';
    const subsets = memoBy(keptCache, [obj], () => normalizeSubsets(obj.subsets).subsets);
    kept.push({ role: 'mirror', name: obj.metadata.name, originalName, cluster, subsets, labels: {}, keep: true });
  }
  return kept;
}

function wantedObjects(
  options: PlanOptions,
  view: SourceView,
  target: string,
  kept: Wanted[],
  unreachable: ReadonlySet<string> | undefined,
  problems: Finding[],
): Wanted[] {
  const wanted: Wanted[] = view.mirrors.map((m) => ({
    role: 'mirror',
    name: m.name,
    originalName: m.originalName,
    cluster: m.cluster,
    subsets: m.subsets,
    labels: labelsFor(options, m.originalName, m.cluster),
    keep: false,
  }));
  wanted.push(...kept);

  const byOriginal = Map.groupBy(
    wanted.filter((w) => w.originalName),
    (w) => w.originalName,
  );
  for (const [originalName, mirrors] of byOriginal) {
    const served = servedSubsets(
      options,
      view,
      target,
      originalName,
      mirrors.map((m) => ({ ...m, cluster: m.cluster! })),
      unreachable,
    );
    problems.push(...served.problems);
    const counted = served.subsets;
    // The mirrors' subsets are the same objects run after run while their sources stand still.
    const merged = memoBy(mergedCache, counted, () => mergeNormalized(counted.flat()));
    // An aggregate with no address left is deleted, as in the original; one whose addresses are all held back stays, empty.
    if (addressCount(merged) === 0) continue;
    const subsets = memoBy(readyCache, [merged], () => readyOnly(merged));
    wanted.push({
      role: 'aggregate',
      name: originalName,
      originalName,
      subsets,
      labels: labelsFor(options, originalName),
      keep: false,
    });
  }
  return wanted;
}

export function planTarget(
  options: PlanOptions,
  view: SourceView,
  target: string,
  items: EndpointsObject[],
  stale: Set<string> = new Set(),
  unreachable?: ReadonlySet<string>,
): TargetPlan {
  const result: TargetPlan = { creates: [], updates: [], deletes: [], problems: [] };
  const current = new Map(items.map((obj) => [obj.metadata.name, obj]));
  const owned = items.filter((obj) => isOwned(obj, options));

  const kept = keptMirrors(options, view, owned, stale);
  const wanted = wantedObjects(options, view, target, kept, unreachable, result.problems);
  const byName = Map.groupBy(wanted, (w) => w.name);

  const names = new Set([...byName.keys(), ...owned.map((o) => o.metadata.name)]);
  for (const name of names) {
    const problem = (code: Finding['code'], message: string) =>
      result.problems.push({ code, cluster: target, namespace: options.namespace, name, message });
    const list = byName.get(name) ?? [];
    if (list.length > 1) {
      // Never let two wanted objects take turns on one name: leave it alone.
      problem(
        'name-collision',
        `${name} is wanted as ${list.map(describe).sort().join(' and as ')}; neither is written`,
      );
      continue;
    }
    if (list[0]?.keep) continue;
    if (list[0]?.role === 'aggregate') {
      const largest = Math.max(0, ...list[0].subsets.map((s) => s.addresses.length));
      if (largest > mirroringLimit)
        problem(
          'too-many-addresses',
          `aggregate ${name} has ${largest} addresses in one subset; the EndpointSlice mirroring controller copies at most ${mirroringLimit} per subset, so slice consumers (kube-proxy, most ingress controllers) miss ${largest - mirroringLimit}: use --target endpointslices`,
        );
    }
    const existing = current.get(name);
    // The original mefi's aggregate: no labels at all, on an aggregate's name, with its mirrors (owned, of that name) beside it.
    const adoptable =
      list[0]?.role === 'aggregate' &&
      existing !== undefined &&
      Object.keys(existing.metadata.labels ?? {}).length === 0 &&
      owned.some((o) => o.metadata.name !== name && o.metadata.labels?.[options.originalNameLabel] === name);
    const decision = decide(options, target, list[0], existing, view.clusters, {
      adoptable,
      adopt: options.adopt === true,
    });
    switch (decision.action) {
      case 'none':
        break;
      case 'conflict':
        problem('conflict', decision.message);
        break;
      case 'create':
        result.creates.push(decision.change);
        break;
      case 'update':
        result.updates.push(decision.change);
        break;
      case 'delete':
        result.deletes.push(decision.change);
        break;
    }
  }
  return result;
}

export function endpointsWay(options: PlanOptions): Way {
  return labelledWay(options, {
    noun: 'mirror',
    owned: (current) => current.items.filter((x) => isOwned(x, options)),
    want: (view, target, current, stale, unreachable) =>
      planTarget(options, view, target, current.items, stale, unreachable),
  });
}
