// Planning while the world is still being read. A run lists every source
// cluster and every target at once; the sources are in long before the
// largest list, a target's own namespace, is. What depends on the sources
// alone (the source view, each target's mirrors and aggregates) is made
// then, and plan() takes it up where it was made from the very same sources,
// so a one-shot run's planning hides behind its reading. Pure, like plan():
// the same plan, with or without it (a property test checks it).

import { sourceViewSteps, type SourceView } from './sources.ts';
import type { Steps } from './steps.ts';
import { wantedAhead, type WantedAhead } from './target.ts';
import type { PlanInput, PlanOptions } from './types.ts';

export interface Ahead {
  /** What it was made from: plan() uses it only for these very objects (plan data is never changed in place). */
  options: PlanOptions;
  sources: PlanInput['sources'];
  view: SourceView;
  /** Per target, what it should hold (Endpoints mode). */
  targets: Map<string, WantedAhead>;
}

/** What can be planned from the sources alone, for these targets, in parts (steps.ts); nothing in MCS mode, which plans otherwise. */
export function* planAhead(options: PlanOptions, sources: PlanInput['sources'], targets: readonly string[]): Steps<Ahead | undefined> {
  if (options.mode === 'mcs') return undefined;
  const view = yield* sourceViewSteps(options, sources);
  const wanted = new Map<string, WantedAhead>();
  if (options.target !== 'endpointslices') for (const t of targets) wanted.set(t, yield* wantedAhead(options, view, t));
  return { options, sources, view, targets: wanted };
}
