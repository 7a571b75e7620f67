// Which source names an object's name can belong to. The planner decides a
// target name from the sources of every name that may want it: the source of
// that name (its aggregate, or in slice mode its Service), and the source
// one of whose mirrors, <name>-<cluster>, has it (or, in slice mode, whose
// mirror's slices <mirror>-<n> and <mirror>-only-<n> have it). Incremental
// planning (incremental.ts) replans the sources a change touches together
// with every source that may share a name with them.

import type { PlanOptions } from './types.ts';

/** Source names that may want a target object, a slice or a problem of this name (a superset: every reading of it). */
export function claimants(name: string, clusters: readonly string[], slices: boolean): Set<string> {
  const out = new Set<string>();
  const asMirror = (m: string) => {
    out.add(m);
    for (const c of clusters) if (m.length > c.length + 1 && m.endsWith(`-${c}`)) out.add(m.slice(0, -c.length - 1));
  };
  asMirror(name);
  if (slices) {
    const prefix = name.replace(/-\d+$/, '');
    asMirror(prefix);
    if (prefix.endsWith('-only')) asMirror(prefix.slice(0, -'-only'.length));
  }
  return out;
}

/** The names a source's objects may take in a target: its own, and its mirrors' (slice mode: their slices' prefixes). */
export function namesOf(group: string, clusters: readonly string[], slices: boolean): string[] {
  const mirrors = clusters.map((c) => `${group}-${c}`);
  return slices ? [group, `${group}-only`, ...mirrors, ...mirrors.map((m) => `${m}-only`)] : [group, ...mirrors];
}

type Labelled = { metadata: { name: string; labels?: Record<string, string> | null } };

/**
 * The source names a changed target object (before or after the change)
 * touches, or undefined when it touches the world as a whole: a mirror of a
 * cluster that is not configured is counted in a problem about all of them.
 */
export function touchedByTarget(
  options: PlanOptions,
  obj: Labelled,
  clusters: readonly string[],
): string[] | undefined {
  const labels = obj.metadata.labels ?? {};
  const owned = labels[options.ownerLabel.key] === options.ownerLabel.value;
  const cluster = labels[options.sourceClusterLabel];
  if (owned && cluster !== undefined && !clusters.includes(cluster)) return undefined;
  const out = claimants(obj.metadata.name, clusters, options.target === 'endpointslices');
  const original = labels[options.originalNameLabel];
  if (original) out.add(original);
  return [...out];
}

/** The source name a changed source (an Endpoints object, or a slice of a Service) touches. */
export function touchedBySource(obj: Labelled, slices: boolean): string | undefined {
  return slices ? (obj.metadata.labels?.['kubernetes.io/service-name'] ?? undefined) : obj.metadata.name;
}
