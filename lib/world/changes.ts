// Planning what changed, in the watching loop, for a way that can be planned
// so (lib/plan/ways/way.ts `incremental`; lib/plan/incremental.ts). Saves
// planning the whole world on every change: one source's change plans its
// sources, mirrors and aggregate alone, 7 of 7,000 objects at 3 × 1,000
// (spec/README.md, the bench). For it, this knows which source names each
// event touched, and indexes the caches by name and label; a list, a failure
// or a Lease touches the world, and the next run plans in full.

import type { Informer, Named } from './informer.ts';
import { Replanner, type Replanned, type WorldIndex } from '../plan/incremental.ts';
import type { EndpointsObject, PlanInput, PlanOptions, SliceObject, TargetObject } from '../plan/index.ts';
import { touchedBySource, touchedByTarget } from '../plan/scope.ts';

/** What an event's object tells of the names it touches. */
export type Touching = {
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> | null };
};

/** Which source names an event of a list touches (lists.ts): a source's, a target object's; none, the world's. */
export type Touches = 'source' | 'target' | undefined;

/** Names the indexes file objects under. */
const byName = 'name';
const byLabel = 'label';
const byPrefix = 'prefix';

type Indexes = Record<string, (o: never) => string | undefined>;

export class Changes {
  private readonly options: PlanOptions;
  /** Sources are the slices of labelled Services (--source endpointslices), named by their Service. */
  private readonly slices: boolean;
  /** The namespace mefi owns in each target. */
  private readonly namespace: string;
  /** Every configured cluster's name. */
  private readonly clusters: string[];
  private readonly replanner: Replanner;
  /** Per cluster, its source informers, and what the planner is given of their objects (lists.ts readAs). */
  private readonly sources = new Map<
    string,
    { informers: Informer<Named>[]; readAs: ((items: never[]) => unknown[]) | undefined }
  >();
  /** Per target, the informer of mefi's objects there. */
  private readonly targets = new Map<string, Informer<TargetObject>>();
  private readonly indexes: Record<'source' | 'target', Indexes>;
  /** Source names touched since the last input, or 'world' when everything is to be planned. */
  private touched: Set<string> | 'world' = 'world';
  /** Those of the last input, until plan() has used them. */
  private taken: Set<string> | 'world' | undefined;

  constructor(options: PlanOptions, clusters: string[], slices: boolean, namespace: string) {
    this.options = options;
    this.clusters = clusters;
    this.slices = slices;
    this.namespace = namespace;
    this.replanner = new Replanner(options);
    const owned = (x: TargetObject) => x.metadata.labels?.[options.ownerLabel.key] === options.ownerLabel.value;
    this.indexes = {
      source: { [byName]: (x: EndpointsObject | SliceObject) => touchedBySource(x, slices) },
      target: {
        [byLabel]: (x: TargetObject) =>
          owned(x) ? (x.metadata.labels?.[options.originalNameLabel] ?? undefined) : undefined,
        [byPrefix]: (x: TargetObject) => /^(.*)-\d+$/.exec(x.metadata.name)?.[1],
      },
    };
  }

  /** The indexes an informer of a list that touches these names is made with. */
  indexesFor(touches: Touches): Indexes | undefined {
    return touches ? this.indexes[touches] : undefined;
  }

  /** An informer made with indexesFor(touches), of this cluster: the planner's lookups go to it. */
  holds(cluster: string, touches: Touches, informer: Informer<Named>, readAs?: (items: never[]) => unknown[]): void {
    if (touches === 'target') this.targets.set(cluster, informer);
    if (touches !== 'source') return;
    const s = this.sources.get(cluster) ?? { informers: [], readAs };
    s.informers.push(informer);
    this.sources.set(cluster, s);
  }

  /** An event of a list (no object: a list or a failure), or a write of mefi's: the names it touches (before and after it) are planned again. */
  touch(touches: Touches, obj: Touching | undefined, before?: Touching): void {
    if (this.touched === 'world') return;
    // A list, a failure, a Lease (staleAfter plans in full): everything.
    if (!obj || !touches) {
      this.touched = 'world';
      return;
    }
    for (const x of before ? [obj, before] : [obj]) {
      if (touches === 'source') {
        const name = touchedBySource(x, this.slices);
        if (name !== undefined) this.touched.add(name);
        continue;
      }
      const names = touchedByTarget(this.options, x, this.clusters);
      if (!names) {
        this.touched = 'world';
        return;
      }
      for (const n of names) this.touched.add(n);
    }
  }

  /** An input is taken: what was touched until now is what its plan plans. */
  taking(): void {
    // Names taken by an input whose run never planned are planned in full.
    this.taken = this.taken === undefined ? this.touched : 'world';
    this.touched = new Set();
  }

  /** Names are touched (by the run's own writes) that no input has taken yet. */
  pending(): boolean {
    return this.touched !== 'world' && this.touched.size > 0;
  }

  /** The probe results the last plan was made with. */
  get unreachable(): PlanInput['unreachable'] {
    return this.replanner.unreachable;
  }

  /** The plan of the last input taken: of what changed since the input before, where that can be told, else in full. */
  plan(input: PlanInput): Replanned {
    return this.ofChanges(input) ?? this.replanner.full(input);
  }

  /** The plan of what changed since the input before this one, if it can be told. */
  private ofChanges(input: PlanInput): Replanned | undefined {
    const taken = this.taken ?? 'world';
    this.taken = undefined;
    return taken !== 'world' ? this.replanner.update(input, taken, this.index()) : undefined;
  }

  /**
   * The check of every resync, on an input just taken: the plan of what
   * changed, beside the full plan of the same world. Returns the names on
   * which they differ (none: the incremental plans have been right); the full
   * plan is kept either way.
   */
  verify(input: PlanInput): string[] {
    const incremental = this.ofChanges(input);
    const full = this.replanner.full(input);
    if (!incremental) return [];
    const entries = (p: Replanned['plan']) =>
      new Map([...p.creates, ...p.updates, ...p.deletes, ...p.problems].map((x) => [JSON.stringify(x), x.name ?? '']));
    const a = entries(incremental.plan);
    const b = entries(full.plan);
    const differ = [...[...a].filter(([k]) => !b.has(k)), ...[...b].filter(([k]) => !a.has(k))];
    return [...new Set(differ.map(([, name]) => name))].sort();
  }

  /** The planner's lookups, from the informers' indexes. */
  private index(): WorldIndex {
    const readable = (informers: Informer<Named>[]) => informers.every((i) => i.error === undefined);
    const sourcesNamed = (cluster: string, name: string): EndpointsObject[] => {
      const s = this.sources.get(cluster);
      if (!s || !readable(s.informers)) return [];
      const found = s.informers.flatMap((i) => i.byIndex(byName, name));
      return (s.readAs ? s.readAs(found as never[]) : found) as EndpointsObject[];
    };
    const target = (t: string) => {
      const x = this.targets.get(t);
      return x && x.error === undefined ? x : undefined;
    };
    return {
      sourcesNamed,
      named: (t, name) => target(t)?.get(this.namespace, name),
      labelled: (t, name) => target(t)?.byIndex(byLabel, name) ?? [],
      prefixed: (t, prefix) => target(t)?.byIndex(byPrefix, prefix) ?? [],
      exists: (name) =>
        [...this.sources.values()].some(
          (s) => readable(s.informers) && s.informers.some((i) => i.byIndex(byName, name).length > 0),
        ) || [...this.targets.keys()].some((t) => (target(t)?.byIndex(byLabel, name).length ?? 0) > 0),
    };
  }
}
