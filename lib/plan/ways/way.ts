// A way of publishing (DESIGN.md §7, §9): Endpoints mirrors and aggregates
// (endpoints.ts), EndpointSlices per mirror (slices.ts), or the Multi-Cluster
// Services API's imports (mcs.ts). plan() asks each the same questions,
// never which way it is; wayOf (index.ts) picks one from the options, once.
// They share one canonical form and merge (../normalize.ts) and one
// readiness rule (../served.ts).

import type { Desired } from '../object.ts';
import type { SourceView } from '../sources.ts';
import type { Change, Finding, PlanInput, PlanOptions, ReadOutcome } from '../types.ts';

/** What a way wants in one target: its writes there, and the problems it found. */
export interface TargetPlan {
  creates: Change[];
  updates: Change[];
  deletes: Change[];
  problems: Finding[];
}

/** A target that could be read. */
export type Readable = Extract<ReadOutcome, { ok: true }>;

export interface Way {
  /** What problems call the objects it keeps per source cluster in a target. */
  readonly noun: 'mirror' | 'slice';
  /**
   * What it can plan from the sources alone, while the targets are still
   * listed (../ahead.ts): nothing, the source view, or also what each target
   * should hold.
   */
  readonly plansAhead: 'nothing' | 'view' | 'targets';
  /**
   * Whether a watching loop, which holds the world between runs, plans only
   * the names a change touched (../incremental.ts), from the very objects it
   * holds (their results remembered by them, ../memo.ts); else every run is
   * planned in full, from views made afresh.
   */
  readonly incremental: boolean;
  /** The way in one run: made once from the run's sources (and what was planned ahead from these very sources). */
  run(sources: Record<string, ReadOutcome>, ahead: Ahead | undefined): WayRun;
}

/** One way of publishing in one run, asked about each readable target in name order. */
export interface WayRun {
  /** The sources as this way reads them: what to publish, which clusters are unreadable, the sources' problems. */
  readonly view: SourceView;
  /** Per cluster that is not in the config: how many of its objects this way keeps in the target (until --prune). */
  unknownClusters(current: Readable): Map<string, number>;
  /** What it wants in the target against what is there. `stale`: unreadable clusters no longer kept (staleAfter); `unreachable`: --probe's findings. */
  want(target: string, current: Readable, stale: Set<string>, unreachable: ReadonlySet<string> | undefined): TargetPlan;
  /** Writes outside the targets, once every target is planned: MCS writes the ServiceExports' status in their own clusters. */
  elsewhere(now: number | undefined): Change[];
}

/**
 * What was planned from a run's sources while its targets were still listed
 * (../ahead.ts): the source view, and per target what the way would write
 * there from the sources alone.
 */
export interface Ahead {
  /** What it was made from: plan() uses it only for these very objects (plan data is never changed in place). */
  options: PlanOptions;
  sources: PlanInput['sources'];
  view: SourceView;
  /** Per target, what it should hold (the Endpoints way's, endpoints.ts). */
  targets: Map<string, WantedAhead>;
}

/** A Desired, or (keep) an object that must stay as it is this run. */
export type Wanted = Desired & { keep: boolean };

/**
 * What a target should hold while no mirror there is kept as it is and no
 * address went unanswered: all that depends on the sources alone, so it can
 * be made while the target is still being read (ahead.ts).
 */
export interface WantedAhead {
  view: SourceView;
  wanted: Wanted[];
  problems: Finding[];
}
