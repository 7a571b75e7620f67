// The world kept current by watches: one informer per list a run would make
// (each source cluster's labelled Endpoints or EndpointSlices, each target's
// mefi namespace and Leases), and the same PlanInput a read gives, taken from
// their caches. This is an edge beside lib/world/read.ts: the planner cannot tell
// the two apart. A cluster is unreadable while one of its lists fails.
//
// It also knows which source names each event touched, and indexes its
// caches by name and label: a run then plans only what changed since the
// run before (lib/plan/incremental.ts), and in full after any list.

import type { ClusterConfig } from '../config/config.ts';
import { Holdoff } from './holdoff.ts';
import { Informer, type Named } from './informer.ts';
import { Informers } from './informers.ts';
import type { KubeClient } from '../kube/client.ts';
import { listsOf, resources, type List, type Listed } from './lists.ts';
import { Replanner, type Replanned, type WorldIndex } from '../plan/incremental.ts';
import { heldKey, holdCreates, type Change, type EndpointsObject, type LeaseObject, type PlanInput, type PlanOptions, type ReadOutcome, type SliceObject, type TargetObject } from '../plan/index.ts';
import { rememberResults } from '../plan/memo.ts';
import { touchedBySource, touchedByTarget } from '../plan/scope.ts';
import type { ReadSettings } from './read.ts';

export interface WatchOptions {
  /** Called on every change of any cache, but for mefi's own writes coming back (see stored). */
  changed: () => void;
  /** A cluster's lists failing or recovering (for logs). */
  report?: (cluster: string, role: 'source' | 'target', error: string | undefined) => void;
  /** A watch ended in a fresh list, and why (for logs: each is a full list of that kind). */
  relisting?: (cluster: string, role: 'source' | 'target', why: string) => void;
  backoffMs: number;
  maxBackoffMs: number;
  /** The plan options (which labels mark what mefi owns): to tell which source names an event touches. */
  options: PlanOptions;
}

/** What an event's object tells of the names it touches. */
type Touching = { metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> | null } };

/** Names the indexes file objects under. */
const byName = 'name';
const byLabel = 'label';
const byPrefix = 'prefix';

type AnyInformer = Informer<Named>;

export class WatchedWorld {
  private readonly sources = new Map<string, Informer<Named>[]>();
  private readonly targets = new Map<string, { objects: Informer<TargetObject>; leases?: Informer<LeaseObject> }>();
  /** What the planner is given of a source list (lists.ts), if not its objects: the slices of labelled Services, as Endpoints. */
  private readAs: List['readAs'];
  private readonly s: ReadSettings;
  private readonly o: WatchOptions;
  /**
   * target/namespace/name → resourceVersion of the last write this loop made
   * to it, until its watch event comes back, however many runs later (under
   * load an echo can come after several back-to-back runs). At most one per
   * object; a target's list clears them (it holds whatever they were).
   */
  private readonly own = new Map<string, string>();

  /** target/namespace/name of the deletes this loop made, until their events come back. */
  private readonly ownDeletes = new Set<string>();
  /** Names something else deletes each time this loop writes them back (lib/world/holdoff.ts). */
  private readonly holdoff = new Holdoff();

  /** Target events that came while a run was writing: judged when it ends, when every write's answer is in. */
  private duringRun: { key: string; object: Touching; before: Touching | undefined; deleted: boolean }[] | undefined;

  /** A run starts: the target events until it ends are judged then. */
  runStarted(): void {
    this.duringRun = [];
  }

  /**
   * A run ended: the target events that came during it start a run unless
   * they were its own writes (an echo can come before the write's answer).
   */
  runEnded(): void {
    const events = (this.duringRun ?? []).filter((e) => !this.isEcho(e.key, e.object.metadata.resourceVersion, e.deleted));
    this.duringRun = undefined;
    for (const e of events) this.touch('target', e.object, e.before);
    for (const e of events) if (e.deleted) this.deletedElsewhere(e.key, e.object);
    if (events.length > 0) return this.changed();
    // Nothing new, but the run's own writes: plan their names again now, while
    // idle, not in the next change's run (after a thousand writes that is a
    // full plan). What it finds waits for that run, as it would have.
    if (this.touched !== 'world' && this.touched.size > 0) this.plan({ ...this.input(), unreachable: this.replanner.unreachable });
  }

  /** A write of this run, as the server answered it: its event is mefi's own echo, and starts no run; the cache has it now. */
  stored(change: Change, stored: TargetObject | null): void {
    const t = this.targets.get(change.target);
    if (!t) return;
    const key = heldKey(change);
    if (stored?.metadata.resourceVersion) this.own.set(key, stored.metadata.resourceVersion);
    if (stored) {
      this.holdoff.written(key);
      this.ownDeletes.delete(key);
    } else this.ownDeletes.add(key);
    const objects = t.objects as Informer<TargetObject>;
    const before = objects.get(change.namespace, change.name);
    objects.assume(change.namespace, change.name, change.resourceVersion, stored);
    // Its names are planned again (runEnded settles them): from what the write left.
    this.touch('target', stored ?? before ?? { metadata: { name: change.name, labels: change.beforeLabels ?? null } }, before);
  }

  /** Source names touched since the last input(), or 'world' when everything is to be planned. */
  private touched: Set<string> | 'world' = 'world';
  /** Those of the last input(), until plan() has used them. */
  private taken: Set<string> | 'world' | undefined;
  private readonly replanner: Replanner;
  private readonly informers: Informers;

  private touch(kind: 'source' | 'target' | 'lease', obj: Touching | undefined, before?: Touching): void {
    if (this.touched === 'world') return;
    // A list, a failure, a Lease (staleAfter plans in full): everything.
    if (!obj || kind === 'lease') {
      this.touched = 'world';
      return;
    }
    for (const x of before ? [obj, before] : [obj]) {
      if (kind === 'source') {
        const name = touchedBySource(x, this.s.source === 'endpointslices');
        if (name !== undefined) this.touched.add(name);
        continue;
      }
      const names = touchedByTarget(this.o.options, x, [...this.sources.keys()]);
      if (!names) {
        this.touched = 'world';
        return;
      }
      for (const n of names) this.touched.add(n);
    }
  }

  private isEcho(key: string, resourceVersion: string | undefined, deleted: boolean): boolean {
    if (deleted) return this.ownDeletes.delete(key);
    if (this.own.get(key) !== resourceVersion) return false;
    this.own.delete(key);
    return true;
  }

  /** One of mefi's objects deleted by something else: if it is again, its create waits (and a run comes when it may go). */
  private deletedElsewhere(key: string, object: Touching): void {
    if (object.metadata.labels?.[this.o.options.ownerLabel.key] !== this.o.options.ownerLabel.value) return;
    const until = this.holdoff.deleted(key, Date.now());
    if (until !== undefined) this.wakeBy(until);
  }

  /** One timer for every hold: the earliest wakes the loop (the held creates are still in the last plan), then the next. */
  private wake: { at: number; timer: NodeJS.Timeout } | undefined;

  private wakeBy(at: number): void {
    if (this.wake && this.wake.at <= at) return;
    clearTimeout(this.wake?.timer);
    const timer = setTimeout(() => {
      this.wake = undefined;
      this.changed();
      let next = Infinity;
      for (const until of this.holdoff.held(Date.now()).values()) next = Math.min(next, until);
      if (next !== Infinity) this.wakeBy(next);
    }, at - Date.now() + 1).unref();
    this.wake = { at, timer };
  }

  constructor(clusters: ClusterConfig[], clients: Map<string, KubeClient>, s: ReadSettings, o: WatchOptions) {
    // A watching loop plans the same objects again: the planner's results are remembered by them.
    rememberResults(true);
    this.s = s;
    this.o = o;
    this.replanner = new Replanner(o.options);
    this.informers = new Informers(() => o.changed());
    const owned = (x: { metadata: { labels?: Record<string, string> | null } }) => x.metadata.labels?.[o.options.ownerLabel.key] === o.options.ownerLabel.value;
    const sourceIndexes = { [byName]: (x: EndpointsObject | SliceObject) => touchedBySource(x, s.source === 'endpointslices') };
    const targetIndexes = {
      [byLabel]: (x: TargetObject) => (owned(x) ? (x.metadata.labels?.[o.options.originalNameLabel] ?? undefined) : undefined),
      [byPrefix]: (x: TargetObject) => /^(.*)-\d+$/.exec(x.metadata.name)?.[1],
    };
    const make = (cluster: string, role: 'source' | 'target' | 'lease', l: List, namespace: string | undefined, indexes?: Record<string, (o: never) => string | undefined>) =>
      this.informers.add(new Informer<Named>(clients.get(cluster)!, resources[l.kind] as never, { ...(namespace ? { namespace } : {}), ...(l.labelSelector ? { labelSelector: l.labelSelector } : {}), pageSize: s.pageSize }, {
        backoffMs: o.backoffMs,
        maxBackoffMs: o.maxBackoffMs,
        ...(indexes ? { indexes } : {}),
        changed: (obj, before, deleted = false) => {
          // mefi's own writes coming back touch nothing (their changes left the plan as they were done) and start no run.
          if (role !== 'source' && !obj) {
            this.own.clear();
            this.ownDeletes.clear();
          }
          if (role !== 'source' && obj) {
            const key = heldKey({ target: cluster, namespace: obj.metadata.namespace ?? '', name: obj.metadata.name });
            if (this.duringRun) return void this.duringRun.push({ key, object: obj, before, deleted });
            if (this.isEcho(key, obj.metadata.resourceVersion, deleted)) return;
            if (deleted && role === 'target') this.deletedElsewhere(key, obj);
          }
          this.touch(role, obj, before);
          this.changed();
        },
        report: (error) => o.report?.(cluster, role === 'source' ? 'source' : 'target', error),
        relisting: (why) => o.relisting?.(cluster, role === 'source' ? 'source' : 'target', why),
        keep: l.keep as never,
      }));
    // The lists a read makes (lists.ts): an informer per namespace of each; first every source's, then every target's.
    const way = listsOf(s);
    for (const c of clusters) {
      const lists = way.lists(c, false, clusters, s).filter((l) => l.id === 'sources');
      this.sources.set(c.name, lists.flatMap((l) => (l.within ?? [undefined]).map((ns) => make(c.name, 'source', l, ns, sourceIndexes))));
      this.readAs = lists[0]?.readAs;
    }
    for (const t of s.targets) {
      const c = clusters.find((x) => x.name === t)!;
      const lists = new Map(way.lists(c, true, clusters, s).map((l) => [l.id, l]));
      const objects = make(c.name, 'target', lists.get('objects')!, s.namespace, targetIndexes) as Informer<TargetObject>;
      const leases = lists.get('leases');
      this.targets.set(c.name, { objects, ...(leases ? { leases: make(c.name, 'lease', leases, s.namespace) as Informer<LeaseObject> } : {}) });
    }
  }

  /** Start every informer; resolves when the signal aborts. */
  run(signal: AbortSignal): Promise<void> {
    return this.informers.run(signal);
  }

  /** A full list of everything now (the periodic resync): one run when all are in, not one per list. */
  resync(): void {
    this.informers.resync();
  }

  private changed(): void {
    this.informers.changed();
  }

  /** Every informer has listed once (or failed to). */
  settled(): boolean {
    return this.informers.settled();
  }

  /** A source list's snapshot as the planner reads it (readAs), per snapshot: the same objects while an informer stands still. */
  private readonly asRead = new WeakMap<object, unknown[]>();

  private sourceItems(i: Informer<Named>): unknown[] {
    const snap = i.snapshot();
    if (!this.readAs) return snap;
    let out = this.asRead.get(snap);
    if (!out) this.asRead.set(snap, (out = this.readAs(snap as never[])));
    return out;
  }

  /** What a read would have given, from the caches (lists.ts makes the outcomes of both); plan() then plans what changed since the input before. */
  input(): PlanInput {
    // Names taken by an input() whose run never planned are planned in full.
    this.taken = this.taken === undefined ? this.touched : 'world';
    this.touched = new Set();
    const way = listsOf(this.s);
    const listed = (informers: Informer<Named>[], items: (i: Informer<Named>) => unknown[]): Listed => {
      const failed = informers.find((i) => i.error !== undefined);
      return failed ? { error: failed.error! } : { parts: informers.map(items) };
    };
    const sources: Record<string, ReadOutcome> = {};
    for (const [cluster, informers] of this.sources) sources[cluster] = way.outcomes(new Map([['sources', listed(informers, (i) => this.sourceItems(i))]]), false).source;
    const targets: Record<string, ReadOutcome> = {};
    for (const [target, t] of this.targets) {
      const got = new Map([['objects', listed([t.objects as Informer<Named>], (i) => i.snapshot())]]);
      if (t.leases) got.set('leases', listed([t.leases as Informer<Named>], (i) => i.snapshot()));
      targets[target] = way.outcomes(got, true).target!;
    }
    return { sources, targets };
  }

  /**
   * The plan of the last input(): of what changed since the input before,
   * where that can be told, else in full; less the creates held off.
   */
  plan(input: PlanInput): Replanned {
    const changes = this.ofChanges(input);
    this.plannedInFull = changes === undefined;
    const made = changes ?? this.replanner.full(input);
    const now = Date.now();
    return { ...made, plan: holdCreates(made.plan, this.holdoff.held(now), now) };
  }

  /** The last plan() planned everything (the first run, a resync, a relist). */
  plannedInFull = false;

  /** The plan of what changed since the input before this one, if it can be told. */
  private ofChanges(input: PlanInput): Replanned | undefined {
    const taken = this.taken ?? 'world';
    this.taken = undefined;
    return taken !== 'world' ? this.replanner.update(input, taken, this.index()) : undefined;
  }

  /**
   * The check of every resync: the plan of what changed, beside the full plan
   * of the same world. Returns the names on which they differ (none: the
   * incremental plans have been right); the full plan is kept either way.
   */
  verify(): string[] {
    const input = this.input();
    const incremental = this.ofChanges(input);
    const full = this.replanner.full(input);
    if (!incremental) return [];
    const entries = (p: Replanned['plan']) => new Map([...p.creates, ...p.updates, ...p.deletes, ...p.problems].map((x) => [JSON.stringify(x), x.name ?? '']));
    const a = entries(incremental.plan);
    const b = entries(full.plan);
    const differ = [...[...a].filter(([k]) => !b.has(k)), ...[...b].filter(([k]) => !a.has(k))];
    return [...new Set(differ.map(([, name]) => name))].sort();
  }

  /** The planner's lookups, from the informers' indexes. */
  private index(): WorldIndex {
    const readable = (informers: AnyInformer[]) => informers.every((i) => i.error === undefined);
    const sourcesNamed = (cluster: string, name: string): EndpointsObject[] => {
      const informers = this.sources.get(cluster) ?? [];
      if (!readable(informers)) return [];
      const found = informers.flatMap((i) => (i as Informer<EndpointsObject | SliceObject>).byIndex(byName, name));
      return (this.readAs ? this.readAs(found as never[]) : found) as EndpointsObject[];
    };
    const target = (t: string) => {
      const x = this.targets.get(t);
      return x && x.objects.error === undefined ? (x.objects as Informer<TargetObject>) : undefined;
    };
    return {
      sourcesNamed,
      named: (t, name) => target(t)?.get(this.s.namespace, name),
      labelled: (t, name) => target(t)?.byIndex(byLabel, name) ?? [],
      prefixed: (t, prefix) => target(t)?.byIndex(byPrefix, prefix) ?? [],
      exists: (name) =>
        [...this.sources.values()].some((informers) => readable(informers) && informers.some((i) => (i as Informer<EndpointsObject | SliceObject>).byIndex(byName, name).length > 0)) ||
        [...this.targets.keys()].some((t) => (target(t)?.byIndex(byLabel, name).length ?? 0) > 0),
    };
  }
}
