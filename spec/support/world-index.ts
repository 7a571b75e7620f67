// The incremental planner's lookups (lib/plan/incremental.ts WorldIndex)
// answered by scanning a whole PlanInput: what the watching loop's indexes
// must answer, for the property tests that compare its plans with full ones.

import { isOwned } from '../../lib/plan/object.ts';
import type { EndpointsObject, PlanInput, PlanOptions, SliceObject } from '../../lib/plan/index.ts';
import type { WorldIndex } from '../../lib/plan/incremental.ts';

export function indexOf(options: PlanOptions, input: PlanInput): WorldIndex {
  const targetItems = (t: string): (EndpointsObject | SliceObject)[] => {
    const o = input.targets[t];
    if (!o?.ok) return [];
    return options.target === 'endpointslices' ? (o.slices ?? []) : o.items;
  };
  const sourcesNamed = (c: string, name: string) => {
    const o = input.sources[c];
    return o?.ok ? o.items.filter((i) => i.metadata.name === name) : [];
  };
  const labelled = (t: string, name: string) =>
    targetItems(t).filter((x) => isOwned(x, options) && x.metadata.labels?.[options.originalNameLabel] === name);
  return {
    sourcesNamed,
    named: (t, name) => targetItems(t).find((x) => x.metadata.name === name),
    labelled,
    prefixed: (t, prefix) =>
      targetItems(t).filter(
        (x) => x.metadata.name.startsWith(`${prefix}-`) && /^\d+$/.test(x.metadata.name.slice(prefix.length + 1)),
      ),
    exists: (name) =>
      Object.keys(input.sources).some((c) => sourcesNamed(c, name).length > 0) ||
      Object.keys(input.targets).some((t) => labelled(t, name).length > 0),
  };
}
