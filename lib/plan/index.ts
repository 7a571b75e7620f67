// plan(options, input) → Plan. Pure: no I/O, no clock, no randomness; the same
// input in any order gives the same plan (DESIGN.md §2, §3).

import { staleness } from './leases.ts';
import { toProbe as probesOf, type ProbeAddress } from './reach.ts';
import type { Change, Finding, Plan, PlanInput, PlanOptions, ProblemCode, Unreadable } from './types.ts';
import { wayOf } from './ways/index.ts';

export type * from './types.ts';
export { normalizeSubsets, addressCount, toRawSubsets } from './normalize.ts';
export { mirrorName } from './sources.ts';
export { mirrorAnnotations, mirroringLimit } from './object.ts';
export { leaseName } from './leases.ts';
export { probeKey, type ProbeAddress } from './reach.ts';
export { derivedName } from './mcs/derived.ts';
export { mcsApiVersion, mcsServiceNameLabel, mcsSourceClusterLabel, derivedServiceAnnotation } from './mcs/types.ts';
export { slicesAsEndpoints, serviceNameLabel, managedBy, managedByLabel } from './slices.ts';
export { claimants } from './scope.ts';
export { holdCreates, heldKey } from './held.ts';

/** A wanted object is not as wanted: the run has not converged (DESIGN.md §6). The other codes only inform. */
export const blockingCodes: ReadonlySet<ProblemCode> = new Set<ProblemCode>([
  'conflict',
  'name-collision',
  'invalid-name',
  'ambiguous-source',
  'deleted-again',
]);

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function compareChange(a: Change, b: Change): number {
  // Kinds share names in MCS mode (a ServiceImport and its ServiceExport's status).
  return (
    byKey(a.target, b.target) ||
    byKey(a.namespace, b.namespace) ||
    byKey(a.name, b.name) ||
    byKey(a.kind ?? '', b.kind ?? '')
  );
}

/** Every remote (address, TCP port) the target would serve as ready this run (reach.ts), whichever the way. */
export function toProbe(options: PlanOptions, input: PlanInput, target: string): ProbeAddress[] {
  return probesOf(options, input, target, wayOf(options).run(input.sources).view);
}

function compareProblem(a: Finding, b: Finding): number {
  return (
    byKey(a.cluster, b.cluster) ||
    byKey(a.namespace ?? '', b.namespace ?? '') ||
    byKey(a.name ?? '', b.name ?? '') ||
    byKey(a.code, b.code) ||
    byKey(a.message, b.message)
  );
}

/** The plan of a world. */
export function plan(options: PlanOptions, input: PlanInput): Plan {
  const way = wayOf(options);
  const run = way.run(input.sources);
  const view = run.view;
  const result: Omit<Plan, 'problems'> = {
    creates: [],
    updates: [],
    deletes: [],
    leases: [],
    unreadable: [...view.unreadableList],
  };
  const findings: Finding[] = [...view.problems];
  for (const target of Object.keys(input.targets).sort()) {
    const outcome = input.targets[target]!;
    if (!outcome.ok) {
      result.unreadable.push({ cluster: target, role: 'target', error: outcome.error });
      continue;
    }
    const unknown = run.unknownClusters(outcome);
    const st = staleness(options, target, outcome.leases, view.unreadable, view.clusters, input.now, [
      ...unknown.keys(),
    ]);
    if (!options.prune)
      for (const [cluster, n] of unknown)
        if (!st.stale.has(cluster))
          findings.push({
            code: 'unknown-cluster',
            cluster: target,
            name: cluster,
            message: `${n} ${way.noun}${n === 1 ? '' : 's'} of cluster ${cluster}, which is not in the config, kept as ${n === 1 ? 'it is' : 'they are'} (mefi cannot rebuild ${n === 1 ? 'it' : 'them'}); --prune removes ${n === 1 ? 'it' : 'them'}`,
          });
    const t = run.want(target, outcome, st.stale, input.unreachable?.[target]);
    result.leases.push(...st.renewals);
    findings.push(...st.problems);
    result.creates.push(...t.creates);
    result.updates.push(...t.updates);
    result.deletes.push(...(options.policy === 'upsert-only' ? [] : t.deletes));
    findings.push(...t.problems);
  }
  // Writes outside the targets (MCS: an export's status, in its own cluster,
  // whatever the policy) are made by the mefi that has that cluster among its
  // targets, so that one mefi per cluster writes each once, and only once it
  // could read that target.
  result.updates.push(...run.elsewhere(input.now).filter((c) => input.targets[c.target]?.ok === true));
  return inOrder({ ...result, problems: findings.map((f) => ({ ...f, blocking: blockingCodes.has(f.code) })) });
}

/** A plan's lists in their canonical order: the same plan, whatever order it was put together in. */
export function inOrder(p: Plan): Plan {
  return {
    creates: [...p.creates].sort(compareChange),
    updates: [...p.updates].sort(compareChange),
    deletes: [...p.deletes].sort(compareChange),
    leases: [...p.leases].sort((a, b) => byKey(a.target, b.target) || byKey(a.name, b.name)),
    unreadable: [...p.unreadable].sort(
      (a: Unreadable, b: Unreadable) => byKey(a.cluster, b.cluster) || byKey(a.role, b.role),
    ),
    problems: [...p.problems].sort(compareProblem),
  };
}

/** The objects a plan is made from: every source and target object of the readable clusters. */
export function objectsIn(input: PlanInput): number {
  const mcs = (o: Extract<PlanInput['sources'][string], { ok: true }>) =>
    (o.serviceExports?.length ?? 0) + (o.services?.length ?? 0) + (o.serviceImports?.length ?? 0);
  const count = (r: PlanInput['sources']) =>
    Object.values(r).reduce(
      (n, o) => n + (o.ok ? o.items.length + (o.slices?.length ?? 0) + (o.leases?.length ?? 0) + mcs(o) : 0),
      0,
    );
  return count(input.sources) + count(input.targets);
}

/** No Endpoints to write. (Lease renewals are bookkeeping, not drift.) */
export function isEmpty(p: Plan): boolean {
  return p.creates.length + p.updates.length + p.deletes.length === 0;
}
