// What a run gives (its plan, its writes' outcomes, where the time went) and
// what that says as an exit code (DESIGN.md §6): what the report, the metrics
// and the exit of every command are made from.

import type { LeaseOutcome, Outcome } from '../apply/apply.ts';
import type { Verb } from '../kube/client.ts';
import type { Plan } from '../plan/index.ts';
import type { ProbeReport } from '../world/probe.ts';

export interface RunResult {
  plan: Plan;
  /** Empty when nothing was applied (dry run, diff). */
  outcomes: Outcome[];
  leaseOutcomes: LeaseOutcome[];
  applied: boolean;
  durationMs: number;
  /** Where the time went: reading, probing (--probe), planning (pure), applying. */
  phases: { readMs: number; probeMs?: number; planMs: number; applyMs: number };
  /** --probe: what was probed and what did not answer. */
  probe?: ProbeReport;
  /** Objects the plan was made from: every object read, or in a watching loop those of the names that changed. */
  planned: number;
  /** API calls made this run, all clusters together. */
  calls: Record<Verb, number>;
  /** Distinct Warning headers the API servers sent this run. */
  warnings: string[];
}

export const ExitCode = { ok: 0, drift: 1, partial: 2, usage: 3 } as const;

/** What keeps a run from converging, besides unreadable clusters and failed writes: blocking problems and skipped writes. */
export function blockers(r: RunResult): number {
  return r.plan.problems.filter((p) => p.blocking).length + r.outcomes.filter((o) => o.blocking).length;
}

/**
 * DESIGN.md §6: not converged (2) when a cluster was unreadable, a write
 * failed, or a wanted object is not as wanted (a blocking problem, a skipped
 * write); it outranks drift (1): a diff that could not see or reach
 * everything cannot say there is none.
 */
export function exitCodeFor(command: 'sync' | 'diff', r: RunResult): number {
  const partial =
    r.plan.unreadable.length > 0 ||
    r.outcomes.some((o) => o.result === 'failed') ||
    r.leaseOutcomes.some((o) => o.result === 'failed') ||
    blockers(r) > 0;
  if (partial) return ExitCode.partial;
  if (command === 'diff' && r.plan.creates.length + r.plan.updates.length + r.plan.deletes.length > 0)
    return ExitCode.drift;
  return ExitCode.ok;
}
