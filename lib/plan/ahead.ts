// Planning while the world is still being read. A run lists every source
// cluster and every target at once; the sources are in long before the
// largest list, a target's own namespace, is. What depends on the sources
// alone (the source view, each target's mirrors and aggregates) is made
// then, and plan() takes it up where it was made from the very same sources,
// so a one-shot run's planning hides behind its reading. Pure, like plan():
// the same plan, with or without it (a property test checks it).

import { sourceViewSteps } from './sources.ts';
import type { Steps } from './steps.ts';
import { wantedAhead } from './ways/endpoints.ts';
import { wayOf } from './ways/index.ts';
import type { PlanInput, PlanOptions } from './types.ts';
import type { Ahead, WantedAhead } from './ways/way.ts';

export type { Ahead } from './ways/way.ts';

/** What the way of publishing can plan from the sources alone, for these targets, in parts (steps.ts). */
export function* planAhead(
  options: PlanOptions,
  sources: PlanInput['sources'],
  targets: readonly string[],
): Steps<Ahead | undefined> {
  const { plansAhead } = wayOf(options);
  if (plansAhead === 'nothing') return undefined;
  const view = yield* sourceViewSteps(options, sources);
  const wanted = new Map<string, WantedAhead>();
  if (plansAhead === 'targets') for (const t of targets) wanted.set(t, yield* wantedAhead(options, view, t));
  return { options, sources, view, targets: wanted };
}
