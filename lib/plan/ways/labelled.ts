// What the two ways of publishing labelled Endpoints share (endpoints.ts,
// slices.ts): one source view of the labelled sources, made once per run,
// and what each keeps per source cluster in a target counted
// alike; they differ in what they keep there and what they want.

import { unknownClusters, type Labelled } from '../object.ts';
import { sourceView, type SourceView } from '../sources.ts';
import type { PlanOptions } from '../types.ts';
import type { Readable, TargetPlan, Way } from './way.ts';

export interface LabelledWay {
  noun: Way['noun'];
  /** mefi's objects in a target that name their source cluster. */
  owned(current: Readable): Labelled[];
  want(
    view: SourceView,
    target: string,
    current: Readable,
    stale: Set<string>,
    unreachable: ReadonlySet<string> | undefined,
  ): TargetPlan;
}

export function labelledWay(options: PlanOptions, w: LabelledWay): Way {
  return {
    noun: w.noun,
    // A source name's objects are its sources, its mirrors (or slices) and its aggregate, by name and label (../scope.ts).
    incremental: true,
    run(sources) {
      const view = sourceView(options, sources);
      return {
        view,
        unknownClusters: (current) => unknownClusters(options, w.owned(current), view.clusters),
        want: (target, current, stale, unreachable) => w.want(view, target, current, stale, unreachable),
        elsewhere: () => [],
      };
    },
  };
}
