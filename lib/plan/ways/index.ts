// The way of publishing the options choose (DESIGN.md §9): the Multi-Cluster
// Services API (--mode mcs), or labelled Endpoints published as Endpoints
// mirrors and aggregates (the default) or as EndpointSlices
// (--target endpointslices). Asked here once; nowhere else.

import type { PlanOptions } from '../types.ts';
import { endpointsWay } from './endpoints.ts';
import { mcsWay } from './mcs.ts';
import { slicesWay } from './slices.ts';
import type { Way } from './way.ts';

export type { Readable, TargetPlan, Way, WayRun } from './way.ts';

/** Which way, by name: the world's edges list and watch by the same names (lib/world/lists.ts). */
export type WayName = 'endpoints' | 'endpointslices' | 'mcs';

export function wayNameOf(options: Pick<PlanOptions, 'mode' | 'target'>): WayName {
  if (options.mode === 'mcs') return 'mcs';
  return options.target === 'endpointslices' ? 'endpointslices' : 'endpoints';
}

const ways: Record<WayName, (options: PlanOptions) => Way> = {
  endpoints: endpointsWay,
  endpointslices: slicesWay,
  mcs: mcsWay,
};

export function wayOf(options: PlanOptions): Way {
  return ways[wayNameOf(options)](options);
}
