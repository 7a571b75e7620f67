// plan(options, input) → Plan. Pure: no I/O, no clock, no randomness; the same
// input in any order gives the same plan (DESIGN.md §2, §3).

import { staleness } from './leases.ts';
import { planSlices } from './slices.ts';
import { sourceView } from './sources.ts';
import { planTarget } from './target.ts';
import type { Change, Plan, PlanInput, PlanOptions, Problem, Unreadable } from './types.ts';

export type * from './types.ts';
export { normalizeSubsets, addressCount, toRawSubsets } from './normalize.ts';
export { mirrorName } from './sources.ts';
export { mirrorAnnotations, mirroringLimit } from './object.ts';
export { leaseName } from './leases.ts';
export { slicesAsEndpoints, serviceNameLabel, managedBy, managedByLabel } from './slices.ts';

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function compareChange(a: Change, b: Change): number {
  return byKey(a.target, b.target) || byKey(a.namespace, b.namespace) || byKey(a.name, b.name);
}

function compareProblem(a: Problem, b: Problem): number {
  return (
    byKey(a.cluster, b.cluster) ||
    byKey(a.namespace ?? '', b.namespace ?? '') ||
    byKey(a.name ?? '', b.name ?? '') ||
    byKey(a.code, b.code) ||
    byKey(a.message, b.message)
  );
}

export function plan(options: PlanOptions, input: PlanInput): Plan {
  const view = sourceView(options, input.sources);
  const result: Plan = { creates: [], updates: [], deletes: [], leases: [], unreadable: [...view.unreadableList], problems: [...view.problems] };
  for (const target of Object.keys(input.targets).sort()) {
    const outcome = input.targets[target]!;
    if (!outcome.ok) {
      result.unreadable.push({ cluster: target, role: 'target', error: outcome.error });
      continue;
    }
    const st = staleness(options, target, outcome.leases, view.unreadable, view.clusters, input.now);
    const t = options.target === 'endpointslices' ? planSlices(options, view, target, outcome.slices ?? [], st.stale) : planTarget(options, view, target, outcome.items, st.stale);
    result.leases.push(...st.renewals);
    result.problems.push(...st.problems);
    result.creates.push(...t.creates);
    result.updates.push(...t.updates);
    result.deletes.push(...(options.policy === 'upsert-only' ? [] : t.deletes));
    result.problems.push(...t.problems);
  }
  result.creates.sort(compareChange);
  result.updates.sort(compareChange);
  result.deletes.sort(compareChange);
  result.leases.sort((a, b) => byKey(a.target, b.target) || byKey(a.name, b.name));
  result.problems.sort(compareProblem);
  result.unreadable.sort((a: Unreadable, b: Unreadable) => byKey(a.cluster, b.cluster) || byKey(a.role, b.role));
  return result;
}

/** No Endpoints to write. (Lease renewals are bookkeeping, not drift.) */
export function isEmpty(p: Plan): boolean {
  return p.creates.length + p.updates.length + p.deletes.length === 0;
}
