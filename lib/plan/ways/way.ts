// A way of publishing (DESIGN.md §7, §9): Endpoints mirrors and aggregates
// (endpoints.ts), EndpointSlices per mirror (slices.ts), or the Multi-Cluster
// Services API's imports (mcs.ts). plan() asks each the same questions,
// never which way it is; wayOf (index.ts) picks one from the options, once.
// They share one canonical form and merge (../normalize.ts) and one
// readiness rule (../served.ts).

import type { Desired } from '../object.ts';
import type { SourceView } from '../sources.ts';
import type { Change, Finding, ReadOutcome } from '../types.ts';

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
   * Whether a watching loop, which holds the world between runs, plans only
   * the names a change touched (../incremental.ts), from the very objects it
   * holds (their results remembered by them, ../memo.ts); else every run is
   * planned in full, from views made afresh.
   */
  readonly incremental: boolean;
  /** The way in one run: made once from the run's sources. */
  run(sources: Record<string, ReadOutcome>): WayRun;
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

/** A Desired, or (keep) an object that must stay as it is this run. */
export type Wanted = Desired & { keep: boolean };
