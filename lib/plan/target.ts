// One target: what it should hold, compared with what it holds.

import equal from 'fast-deep-equal';
import { addressCount, normalizeSubsets, toRawSubsets } from './normalize.ts';
import { isOwned, type SourceView } from './sources.ts';
import type { Change, EndpointsObject, PlanOptions, Problem, Role, Subset } from './types.ts';

/** An object the target should hold, or (keep) one it must hold as it is. */
interface Wanted {
  role: Role;
  name: string;
  originalName: string;
  cluster?: string;
  subsets: Subset[];
  labels: Record<string, string>;
  keep: boolean;
}

export interface TargetPlan {
  creates: Change[];
  updates: Change[];
  deletes: Change[];
  problems: Problem[];
}

function labelsFor(options: PlanOptions, originalName: string, cluster?: string): Record<string, string> {
  return {
    [options.ownerLabel.key]: options.ownerLabel.value,
    [options.originalNameLabel]: originalName,
    ...(cluster ? { [options.sourceClusterLabel]: cluster } : {}),
  };
}

function currentSubsets(obj: EndpointsObject): Subset[] {
  return normalizeSubsets(obj.subsets).subsets;
}

function wantedObjects(options: PlanOptions, view: SourceView, owned: Map<string, EndpointsObject>): Wanted[] {
  const wanted: Wanted[] = [];
  for (const m of view.mirrors) {
    wanted.push({ role: 'mirror', name: m.name, originalName: m.originalName, cluster: m.cluster, subsets: m.subsets, labels: labelsFor(options, m.originalName, m.cluster), keep: false });
  }
  // Mirrors whose source is unknown this run stay as they are and still count in their aggregate.
  for (const obj of owned.values()) {
    const labels = obj.metadata.labels ?? {};
    const cluster = labels[options.sourceClusterLabel];
    if (cluster === undefined) continue;
    if (!view.unreadable.has(cluster) && !view.frozen.has(obj.metadata.name)) continue;
    const originalName = labels[options.originalNameLabel] ?? '';
    wanted.push({ role: 'mirror', name: obj.metadata.name, originalName, cluster, subsets: currentSubsets(obj), labels: {}, keep: true });
  }

  const byOriginal = new Map<string, Subset[]>();
  for (const w of wanted) {
    if (!w.originalName) continue;
    byOriginal.set(w.originalName, [...(byOriginal.get(w.originalName) ?? []), ...w.subsets]);
  }
  for (const [originalName, parts] of byOriginal) {
    const subsets = normalizeSubsets(parts).subsets;
    // An aggregate with no address left is deleted, as in the original.
    if (addressCount(subsets) === 0) continue;
    wanted.push({ role: 'aggregate', name: originalName, originalName, subsets, labels: labelsFor(options, originalName), keep: false });
  }
  return wanted;
}

function describe(w: Wanted): string {
  return w.role === 'mirror' ? `the mirror of ${w.originalName} from cluster ${w.cluster}` : `the aggregate of ${w.originalName}`;
}

export function planTarget(options: PlanOptions, view: SourceView, target: string, items: EndpointsObject[]): TargetPlan {
  const result: TargetPlan = { creates: [], updates: [], deletes: [], problems: [] };
  const namespace = options.namespace;
  const owned = new Map<string, EndpointsObject>();
  const foreign = new Set<string>();
  for (const obj of items) {
    if (isOwned(obj, options)) owned.set(obj.metadata.name, obj);
    else foreign.add(obj.metadata.name);
  }

  const byName = new Map<string, Wanted[]>();
  for (const w of wantedObjects(options, view, owned)) byName.set(w.name, [...(byName.get(w.name) ?? []), w]);

  for (const [name, list] of byName) {
    const problem = (code: Problem['code'], message: string) => result.problems.push({ code, cluster: target, namespace, name, message });
    if (list.length > 1) {
      // Never let two wanted objects take turns on one name: leave it alone.
      problem('name-collision', `${name} is wanted as ${list.map(describe).sort().join(' and as ')}; neither is written`);
      continue;
    }
    const w = list[0]!;
    if (w.keep) continue;
    if (foreign.has(name)) {
      problem('conflict', `Endpoints ${namespace}/${name} exists without label ${options.ownerLabel.key}=${options.ownerLabel.value}; ${describe(w)} is not written and the object is left untouched`);
      continue;
    }
    const change: Change = { target, role: w.role, namespace, name, originalName: w.originalName, ...(w.cluster ? { cluster: w.cluster } : {}) };
    const current = owned.get(name);
    if (!current) {
      const object: EndpointsObject = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace, labels: w.labels }, subsets: toRawSubsets(w.subsets) };
      result.creates.push({ ...change, after: w.subsets, object });
      continue;
    }
    const before = currentSubsets(current);
    if (equal(before, w.subsets) && equal(current.metadata.labels ?? {}, w.labels)) continue;
    // Keep metadata mefi does not manage (annotations, finalizers): a PUT replaces the whole object.
    const { managedFields: _managedFields, ...metadata } = current.metadata;
    const object: EndpointsObject = { apiVersion: 'v1', kind: 'Endpoints', metadata: { ...metadata, labels: w.labels }, subsets: toRawSubsets(w.subsets) };
    result.updates.push({ ...change, before, after: w.subsets, object, ...resourceVersionOf(current) });
  }

  for (const [name, current] of owned) {
    if (byName.has(name)) continue;
    const labels = current.metadata.labels ?? {};
    const cluster = labels[options.sourceClusterLabel];
    result.deletes.push({
      target,
      role: cluster === undefined ? 'aggregate' : 'mirror',
      namespace,
      name,
      originalName: labels[options.originalNameLabel] ?? '',
      ...(cluster !== undefined ? { cluster } : {}),
      before: currentSubsets(current),
      ...resourceVersionOf(current),
    });
  }
  return result;
}

function resourceVersionOf(obj: EndpointsObject): { resourceVersion?: string } {
  return obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {};
}
