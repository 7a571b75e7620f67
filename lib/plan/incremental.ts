// Planning what a change touches. The full plan stays the definition: an
// incremental plan is the last plan with the entries of the touched sources
// planned again, from those sources' objects alone, and equals the full
// plan of the same world (a property test checks it over random sequences
// of changes; the watching loop checks it at every resync, and a difference
// is logged and repaired). Pure: the caller's index answers lookups into
// the world it holds.
//
// A source name's entries (its mirrors, its aggregate or slices, and the
// problems about them) depend on its sources in every cluster, on the target
// objects that bear one of its names or its label, and on any other source
// that may want one of those names (scope.ts). So the touched names grow to
// every such source that exists, until none is missing. What depends on the
// world as a whole is not planned this way: the readability of clusters,
// --probe's results, staleAfter's Leases and clusters no longer configured.
// With any of those changed or in play, the caller plans in full.

import { inOrder, objectsIn, plan } from './index.ts';
import { clusterOf, isOwned } from './object.ts';
import { claimants, namesOf } from './scope.ts';
import { wayOf } from './ways/index.ts';
import type {
  Change,
  EndpointsObject,
  Plan,
  PlanInput,
  PlanOptions,
  Problem,
  SliceObject,
  TargetObject,
} from './types.ts';

/** What the planner asks of the world the caller keeps. */
export interface WorldIndex {
  /** A readable source cluster's sources of this name (in every namespace), as Endpoints. */
  sourcesNamed(cluster: string, name: string): EndpointsObject[];
  /** A readable target's object (Endpoints, or a slice in slice mode) of this name. */
  named(target: string, name: string): TargetObject | undefined;
  /** A readable target's objects labelled with this source name (mefi's). */
  labelled(target: string, name: string): TargetObject[];
  /** Slice mode: a readable target's slices named <prefix>-<n>. */
  prefixed(target: string, prefix: string): TargetObject[];
  /** A source of this name in a readable cluster, or an object labelled with it in a target. */
  exists(name: string): boolean;
}

export interface Replanned {
  plan: Plan;
  /** Objects planned this run: the sources and target objects the plan was made from. */
  planned: number;
  /** Planned in full (not from the last plan). */
  full: boolean;
}

/** Problems about the world as a whole, never one source name's. */
const worldCodes = new Set<Problem['code']>(['unknown-cluster', 'stale-cluster']);

/** How much of the touched names' closure is tried before planning in full is simpler. */
const maxScope = 256;

/** What the last plan was made under: a plan is reused only under the same. */
function contextOf(options: PlanOptions, input: PlanInput): string {
  const outcome = (o: PlanInput['sources'][string]) => (o.ok ? 'ok' : `unreadable: ${o.error}`);
  const sources = Object.keys(input.sources)
    .sort()
    .map((c) => [c, outcome(input.sources[c]!)]);
  const targets = Object.keys(input.targets)
    .sort()
    .map((c) => [c, outcome(input.targets[c]!)]);
  return JSON.stringify({ options, sources, targets });
}

export class Replanner {
  private readonly options: PlanOptions;
  /** The way of publishing can be planned by what changed (ways/way.ts). */
  private readonly incremental: boolean;
  private last: { plan: Plan; context: string; unreachable: PlanInput['unreachable'] } | undefined;

  constructor(options: PlanOptions) {
    this.options = options;
    this.incremental = wayOf(options).incremental;
  }

  /** The probe results the last plan was made with (PlanInput.unreachable). */
  get unreachable(): PlanInput['unreachable'] {
    return this.last?.unreachable;
  }

  /** The full plan of the world, remembered. */
  full(input: PlanInput): Replanned {
    const p = plan(this.options, input);
    this.last = { plan: p, context: contextOf(this.options, input), unreachable: input.unreachable };
    return { plan: p, planned: objectsIn(input), full: true };
  }

  /**
   * The plan after changes to these source names, or undefined when it must
   * be made in full. `input` is the world's outcomes (its items are not read).
   */
  update(input: PlanInput, touched: ReadonlySet<string>, index: WorldIndex): Replanned | undefined {
    const o = this.options;
    const last = this.last;
    // A way that plans only in full (MCS: a name's objects span namespaces and clusters' statuses).
    if (!last || o.staleAfter || o.staleAfterDefault !== undefined || !this.incremental) return undefined;
    if (input.unreachable !== last.unreachable || contextOf(o, input) !== last.context) return undefined;
    const slices = o.target === 'endpointslices';
    const clusters = Object.keys(input.sources).sort();
    const targets = Object.keys(input.targets).filter((t) => input.targets[t]!.ok);

    // The touched names, and every existing name that may share one of their names, until none is missing.
    const scope = new Set(touched);
    const objects = new Map<string, Map<string, TargetObject>>(targets.map((t) => [t, new Map()]));
    for (const queue = [...scope]; queue.length;) {
      if (scope.size > maxScope) return undefined;
      const group = queue.pop()!;
      const add = (g: string) => {
        if (!scope.has(g) && index.exists(g)) {
          scope.add(g);
          queue.push(g);
        }
      };
      const names = namesOf(group, clusters, slices);
      for (const name of names) for (const g of claimants(name, clusters, slices)) add(g);
      for (const t of targets) {
        const found = objects.get(t)!;
        const objs = [
          ...index.labelled(t, group),
          ...names.map((n) => index.named(t, n)).filter((x): x is TargetObject => x !== undefined),
          ...(slices ? names.flatMap((n) => index.prefixed(t, n)) : []),
        ];
        for (const obj of objs) {
          // An object of a cluster that is not configured is counted in a problem about the whole world.
          const cluster = isOwned(obj, o) ? clusterOf(obj, o, []) : undefined;
          if (cluster !== undefined && !clusters.includes(cluster)) return undefined;
          found.set(obj.metadata.name, obj);
          const label = obj.metadata.labels?.[o.originalNameLabel];
          if (label) add(label);
          for (const g of claimants(obj.metadata.name, clusters, slices)) add(g);
        }
      }
    }

    // The scope's world: its sources in every readable cluster, its objects in every readable target.
    const sub: PlanInput = { ...input, sources: {}, targets: {} };
    for (const [c, outcome] of Object.entries(input.sources))
      sub.sources[c] = outcome.ok ? { ok: true, items: [...scope].flatMap((g) => index.sourcesNamed(c, g)) } : outcome;
    for (const [t, outcome] of Object.entries(input.targets)) {
      const items = outcome.ok ? [...objects.get(t)!.values()] : [];
      sub.targets[t] = !outcome.ok
        ? outcome
        : slices
          ? { ok: true, items: [], slices: items as SliceObject[] }
          : { ok: true, items };
    }
    const fresh = plan(o, sub);

    // Entries of the scope come from the fresh plan, every other from the last.
    const ofScope = (c: Change) =>
      scope.has(c.originalName) || [...claimants(c.name, clusters, slices)].some((g) => scope.has(g));
    const problemOfScope = (p: Problem) =>
      !worldCodes.has(p.code) && [...claimants(p.name ?? '', clusters, slices)].some((g) => scope.has(g));
    const merge = <T>(before: T[], now: T[], mine: (x: T) => boolean) => [
      ...before.filter((x) => !mine(x)),
      ...now.filter(mine),
    ];
    const p = inOrder({
      creates: merge(last.plan.creates, fresh.creates, ofScope),
      updates: merge(last.plan.updates, fresh.updates, ofScope),
      deletes: merge(last.plan.deletes, fresh.deletes, ofScope),
      leases: [],
      unreadable: fresh.unreadable,
      problems: merge(last.plan.problems, fresh.problems, problemOfScope),
    });
    this.last = { ...last, plan: p };
    return { plan: p, planned: objectsIn(sub), full: false };
  }
}
