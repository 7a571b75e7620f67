// What one target serves of one service's mirrors: each remote address that
// did not answer a probe as not ready (reach.ts), then the service's affinity
// (affinity.ts); a cluster's own Service (clusterServices) takes the first
// step only. The Endpoints aggregate and the slice target both count the
// mirrors this way; the mirrors themselves stay as their sources say.
//
// Served means ready, for every consumer (DESIGN.md §3, §8). Slices say so
// with ready and serving. An Endpoints aggregate cannot: the mirroring
// controller turns notReadyAddresses into endpoints with ready false and
// serving unset, which the API defines as serving, and Traefik's Ingress and
// IngressRoute providers route by serving alone. So an aggregate holds its
// ready addresses only (readyOnly).

import { affinityFor, applyAffinity } from './affinity.ts';
import { servedReachable, unreachableFinding } from './reach.ts';
import type { SourceView } from './sources.ts';
import type { Finding, PlanOptions, Subset } from './types.ts';

export interface ServedMirror {
  name: string;
  originalName: string;
  cluster: string;
  subsets: Subset[];
}

export function servedSubsets(
  options: PlanOptions,
  view: SourceView,
  target: string,
  service: string,
  mirrors: ServedMirror[],
  unreachable: ReadonlySet<string> | undefined,
): { subsets: Subset[][]; reached: Subset[][]; problems: Finding[] } {
  const problems: Finding[] = [];
  const reached = mirrors.map((m) => {
    if (m.cluster === target) return m;
    const r = servedReachable(m.subsets, unreachable);
    if (r.gated.length) problems.push(unreachableFinding(options, target, m, r.gated));
    return r.subsets === m.subsets ? m : { ...m, subsets: r.subsets };
  });
  const subsets = applyAffinity(
    reached,
    target,
    affinityFor(view.affinity.get(service) ?? new Map<string, string>(), target, options.affinity ?? 'none'),
  );
  return { subsets, reached: reached.map((m) => m.subsets), problems };
}

/** Subsets as an Endpoints consumer may be given them: the ready addresses, and no subset without one. */
export function readyOnly(subsets: Subset[]): Subset[] {
  if (subsets.every((s) => s.notReadyAddresses.length === 0)) return subsets;
  return subsets
    .filter((s) => s.addresses.length > 0)
    .map((s) => (s.notReadyAddresses.length ? { addresses: s.addresses, notReadyAddresses: [], ports: s.ports } : s));
}
