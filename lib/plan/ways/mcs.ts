// The Multi-Cluster Services API (DESIGN.md §9, --mode mcs): ServiceExports
// in; in every target, in the export's own namespace, a ServiceImport, its
// derived Service and the EndpointSlices of every exporting cluster
// (../mcs/target.ts); and, once every target is planned, each export's
// status in its own cluster, saying how its name fared in the targets
// (../mcs/exports-status.ts).

import { planExportStatus, type ImportStates } from '../mcs/exports-status.ts';
import { mcsView } from '../mcs/exports.ts';
import { mcsOwned, planMcsTarget } from '../mcs/target.ts';
import { mcsIdOf, mcsSourceClusterLabel } from '../mcs/types.ts';
import { unknownClusters } from '../object.ts';
import type { PlanOptions } from '../types.ts';
import type { Way } from './way.ts';

export function mcsWay(options: PlanOptions): Way {
  // MCS slices name their cluster by the KEP's label, whatever --source-cluster-label says.
  const byKepLabel: PlanOptions = { ...options, sourceClusterLabel: mcsSourceClusterLabel };
  return {
    noun: 'slice',
    // The clusterset view merges every export of a name first: nothing to make while the targets are listed.
    // An exported name's objects span namespaces, clusters and the exports' status: every run plans in full.
    incremental: false,
    run(sources) {
      const view = mcsView(options, sources);
      /** How each exported name fared in each target planned: what the exports' status says. */
      const states: ImportStates = new Map();
      return {
        view,
        // A slice's label names its cluster by id (or, before it had one, by name): either is known.
        unknownClusters: (current) =>
          unknownClusters(byKepLabel, mcsOwned(options, current), [
            ...view.clusters,
            ...view.clusters.map((c) => mcsIdOf(options, c)),
          ]),
        want(target, current, stale, unreachable) {
          const planned = planMcsTarget(options, view, target, current, stale, unreachable);
          states.set(target, planned.states);
          return planned;
        },
        elsewhere: (now) => planExportStatus(view, states, now),
      };
    },
  };
}
