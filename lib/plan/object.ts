// One name in the target: what it should be, what it is, what to do. Used by
// the planner for every name, and by apply to retry a conflicted write from
// fresh state with the same rules.

import equal from 'fast-deep-equal';
import { memoBy } from './memo.ts';
import { equalsRaw, normalizeSubsets, toRawSubsets } from './normalize.ts';
import type { Change, EndpointsObject, PlanOptions, Role, Subset } from './types.ts';

export interface Desired {
  role: Role;
  name: string;
  originalName: string;
  cluster?: string;
  subsets: Subset[];
  labels: Record<string, string>;
}

export type Decision =
  | { action: 'none' }
  | { action: 'create' | 'update' | 'delete'; change: Change }
  | { action: 'conflict'; message: string };

/** Anything with labels: Endpoints, EndpointSlices. */
export type Labelled = { metadata: { name: string; labels?: Record<string, string> | null } };

export function isOwned(obj: Labelled, options: PlanOptions): boolean {
  return obj.metadata.labels?.[options.ownerLabel.key] === options.ownerLabel.value;
}

/**
 * Annotations a mirror carries. kube-controller-manager's Endpoints
 * controller, at every start (or leader change), deletes each Endpoints object
 * that has no Service of its name (checkLeftoverEndpoints in
 * pkg/controller/endpoint), and a mirror has none. Its one exemption is this
 * annotation (it spares the old Endpoints leader-election locks). Without it a
 * restart wipes every mirror, and an unreadable cluster's addresses, which no
 * run can rebuild, are lost. The EndpointSlice mirroring controller skips such
 * objects too, which suits mirrors: nothing consumes them directly. Aggregates
 * do not carry it: they must be mirrored to reach slice consumers, and they can
 * always be rebuilt from the mirrors.
 */
export const mirrorAnnotations: Readonly<Record<string, string>> = {
  'control-plane.alpha.kubernetes.io/leader': 'mefi-mirror',
};

/** kube-controller-manager's --mirroring-max-endpoints-per-subset default: addresses per subset that reach EndpointSlices. */
export const mirroringLimit = 1000;

/** A mirror holds mirrorAnnotations; anything else must not (an aggregate on a former mirror's name). */
function holdsAnnotations(current: EndpointsObject, role: Role): boolean {
  for (const k in mirrorAnnotations)
    if ((current.metadata.annotations?.[k] === mirrorAnnotations[k]) !== (role === 'mirror')) return false;
  return true;
}

/** The annotations to write: the current ones (mefi keeps what it does not manage), with the mirror's set or removed. */
function annotationsFor(role: Role, current: Record<string, string> | null | undefined): Record<string, string> {
  const out = { ...(current ?? {}) };
  for (const k in mirrorAnnotations) {
    if (role === 'mirror') out[k] = mirrorAnnotations[k]!;
    else if (out[k] === mirrorAnnotations[k]) delete out[k];
  }
  return out;
}

export function describe(d: { role: Role; originalName: string; cluster?: string }): string {
  return d.role === 'mirror'
    ? `the mirror of ${d.originalName} from cluster ${d.cluster}`
    : `the aggregate of ${d.originalName}`;
}

/**
 * The source cluster of an owned object, or undefined for an aggregate. The
 * original mefi labelled mirrors without their cluster: a name of the form
 * <original>-<known cluster> says it.
 */
export function clusterOf(obj: Labelled, options: PlanOptions, known: Iterable<string>): string | undefined {
  const labels = obj.metadata.labels ?? {};
  const labelled = labels[options.sourceClusterLabel];
  if (labelled !== undefined) return labelled;
  const original = labels[options.originalNameLabel];
  if (!original) return undefined;
  for (const c of known) if (obj.metadata.name === `${original}-${c}`) return c;
  return undefined;
}

/**
 * Clusters that still have mirrors among these owned objects but are not
 * configured, with how many each: kept (and reported) until --prune or
 * staleAfter, since mefi cannot rebuild them.
 */
export function unknownClusters(options: PlanOptions, owned: Labelled[], known: string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const obj of owned) {
    const cluster = obj.metadata.labels?.[options.sourceClusterLabel];
    if (cluster !== undefined && !known.includes(cluster)) out.set(cluster, (out.get(cluster) ?? 0) + 1);
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)));
}

function rv(obj: EndpointsObject): { resourceVersion?: string } {
  return obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {};
}

/**
 * decide's view of an unowned object: `adoptable` when it is the original
 * mefi's aggregate (it wrote aggregates with no labels; its mirrors stand
 * beside it), and `adopt` when the user asked to take such objects over.
 */
export interface Takeover {
  adoptable: boolean;
  adopt: boolean;
}

/** equalsRaw per (stored object, wanted subsets): both stay the same objects while nothing changes. */
const storedAsWanted = new WeakMap<object, unknown>();

export function decide(
  options: PlanOptions,
  target: string,
  desired: Desired | undefined,
  current: EndpointsObject | undefined,
  known: Iterable<string>,
  takeover: Takeover = { adoptable: false, adopt: false },
): Decision {
  const namespace = options.namespace;
  const adopting =
    !!current && !isOwned(current, options) && desired?.role === 'aggregate' && takeover.adoptable && takeover.adopt;
  if (current && !isOwned(current, options) && !adopting) {
    if (!desired) return { action: 'none' };
    const hint = takeover.adoptable
      ? "; it looks like the original mefi's aggregate (no labels, its mirrors beside it): --adopt takes it over (see it first with --dry-run)"
      : '';
    return {
      action: 'conflict',
      message: `Endpoints ${namespace}/${current.metadata.name} exists without label ${options.ownerLabel.key}=${options.ownerLabel.value}; ${describe(desired)} is not written and the object is left untouched${hint}`,
    };
  }
  if (!desired) {
    if (!current) return { action: 'none' };
    const labels = current.metadata.labels ?? {};
    const cluster = clusterOf(current, options, known);
    return {
      action: 'delete',
      change: {
        target,
        role: cluster === undefined ? 'aggregate' : 'mirror',
        namespace,
        name: current.metadata.name,
        originalName: labels[options.originalNameLabel] ?? '',
        ...(cluster !== undefined ? { cluster } : {}),
        before: normalizeSubsets(current.subsets).subsets,
        beforeLabels: labels,
        ...rv(current),
      },
    };
  }
  const change: Change = {
    target,
    role: desired.role,
    namespace,
    name: desired.name,
    originalName: desired.originalName,
    ...(desired.cluster ? { cluster: desired.cluster } : {}),
  };
  const subsets = toRawSubsets(desired.subsets);
  if (!current) {
    const annotations = annotationsFor(desired.role, undefined);
    const metadata = {
      name: desired.name,
      namespace,
      labels: desired.labels,
      ...(Object.keys(annotations).length ? { annotations } : {}),
    };
    const object: EndpointsObject = { apiVersion: 'v1', kind: 'Endpoints', metadata, subsets };
    return { action: 'create', change: { ...change, after: desired.subsets, object } };
  }
  const metadataHeld = equal(current.metadata.labels ?? {}, desired.labels) && holdsAnnotations(current, desired.role);
  // The server stores what mefi sent: in the steady state the stored subsets are
  // exactly the wanted ones and need no normalizing to compare.
  if (
    metadataHeld &&
    memoBy(storedAsWanted, [current, desired.subsets], () => equalsRaw(current.subsets, desired.subsets))
  )
    return { action: 'none' };
  const before = normalizeSubsets(current.subsets).subsets;
  if (metadataHeld && equal(before, desired.subsets)) return { action: 'none' };
  // Keep the metadata mefi does not manage (annotations, finalizers): a PUT replaces the whole object.
  const { managedFields: _managedFields, annotations: currentAnnotations, ...metadata } = current.metadata;
  const annotations = annotationsFor(desired.role, currentAnnotations);
  const object: EndpointsObject = {
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { ...metadata, labels: desired.labels, ...(Object.keys(annotations).length ? { annotations } : {}) },
    subsets,
  };
  return {
    action: 'update',
    change: {
      ...change,
      before,
      beforeLabels: current.metadata.labels ?? {},
      after: desired.subsets,
      object,
      ...rv(current),
      ...(adopting ? { adopted: true } : {}),
    },
  };
}

/** The Desired a create or update change was made from, for a retry. */
export function desiredOf(change: Change): Desired | undefined {
  if (!change.object || !change.after) return undefined;
  return {
    role: change.role,
    name: change.name,
    originalName: change.originalName,
    ...(change.cluster ? { cluster: change.cluster } : {}),
    subsets: change.after,
    labels: change.object.metadata.labels ?? {},
  };
}
