// Local-first (or remote-first) balancing, expressed in what every consumer
// honours: readiness in the aggregate. With `local`, while the target
// cluster's own mirror has a ready address, the other clusters' addresses are
// written as not ready; the moment it has none, they are served again (and
// `remote` the other way round). The mirrors stay as their sources are; only
// the aggregate changes. Never empties the served set: a group is demoted only
// while the preferred one has a ready address.

import { memoBy } from './memo.ts';
import type { Subset } from './types.ts';

export type Affinity = 'none' | 'local' | 'remote';
export const affinities: readonly Affinity[] = ['none', 'local', 'remote'];

export function isAffinity(v: string | undefined): v is Affinity {
  return v !== undefined && (affinities as readonly string[]).includes(v);
}

/** The service's affinity in a target: its own source's label, else the lowest-named cluster's that has one, else the default. */
export function affinityFor(labels: Map<string, string>, target: string, fallback: Affinity): Affinity {
  const own = labels.get(target);
  if (isAffinity(own)) return own;
  for (const cluster of [...labels.keys()].sort()) {
    const v = labels.get(cluster);
    if (isAffinity(v)) return v;
  }
  return fallback;
}

const hasReady = (subsets: Subset[]) => subsets.some((s) => s.addresses.length > 0);
const demoted = new WeakMap<object, unknown>();
/** The same subsets with every address not ready (remembered per subsets, so a watching loop's re-plans share it). */
const demote = (subsets: Subset[]): Subset[] =>
  memoBy(demoted, [subsets], () =>
    subsets.map((s) => ({
      addresses: [],
      notReadyAddresses: [...s.addresses, ...s.notReadyAddresses],
      ports: s.ports,
    })),
  );

/** Each mirror's subsets as the aggregate should count them, for the target. */
export function applyAffinity<M extends { cluster?: string; subsets: Subset[] }>(
  mirrors: M[],
  target: string,
  affinity: Affinity,
): Subset[][] {
  if (affinity === 'none') return mirrors.map((m) => m.subsets);
  const preferred = (m: M) => (m.cluster === target) === (affinity === 'local');
  const preferredReady = mirrors.some((m) => preferred(m) && hasReady(m.subsets));
  return mirrors.map((m) => (preferredReady && !preferred(m) ? demote(m.subsets) : m.subsets));
}
