// The world kept current by watches, for every way of publishing: an
// informer on each list a read makes (lists.ts: in each namespace it is made
// in), and the same PlanInput a read gives, made from their caches by the
// same outcomes. This is an edge beside lib/world/read.ts: the planner cannot
// tell the two apart. A cluster is unreadable in a role while a list that
// role needs fails.
//
// mefi's own writes coming back start no run: each write's answer (the
// object the server stored, or its deletion) is remembered until its watch
// event comes back, and the cache takes it at once, so the next run plans
// from what was written. What something else keeps deleting after mefi wrote
// it back waits (holdoff.ts). A way that can be planned by what changed is
// (changes.ts); any other plans in full every run.

import type { ClusterConfig } from '../config/config.ts';
import { Changes, type Touching } from './changes.ts';
import { Holdoff } from './holdoff.ts';
import { Informer, type Named } from './informer.ts';
import { Informers } from './informers.ts';
import type { KubeClient } from '../kube/client.ts';
import { listsOf, resources, type List, type Listed } from './lists.ts';
import type { Replanned } from '../plan/incremental.ts';
import {
  heldKey,
  holdCreates,
  objectsIn,
  plan as makePlan,
  type Change,
  type PlanInput,
  type PlanOptions,
  type ReadOutcome,
  type TargetObject,
} from '../plan/index.ts';
import { rememberResults } from '../plan/memo.ts';
import { wayOf } from '../plan/ways/index.ts';
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
  /** The plan options: the way of publishing, which labels mark what mefi owns. */
  options: PlanOptions;
}

/** One list of one cluster, in one namespace (or in all), kept by an informer. */
interface Watched {
  cluster: string;
  list: List;
  informer: Informer<Named>;
  /**
   * namespace/name → the resourceVersions this loop's writes left there ('' for
   * a delete), each until its watch event comes back, however many runs later
   * (under load an echo can come after several back-to-back runs; MCS writes
   * an object and then its status). A list of it clears them: it holds
   * whatever they were.
   */
  own: Map<string, Set<string>>;
}

export class WatchedWorld {
  /** Per cluster, each of its lists with an informer per namespace. */
  private readonly lists = new Map<string, { list: List; watched: Watched[] }[]>();
  private readonly s: ReadSettings;
  private readonly o: WatchOptions;
  private readonly way: ReturnType<typeof listsOf>;
  /** Every informer, together (informers.ts). */
  private readonly group: Informers;
  /** Names something else deletes each time this loop writes them back (holdoff.ts). */
  private readonly holdoff = new Holdoff();
  /** What changed since the last run, if the way is planned by it (changes.ts). */
  private readonly changes: Changes | undefined;
  /** Events of lists mefi writes that came while a run was writing: judged when it ends, when every write's answer is in. */
  private duringRun: { w: Watched; object: Named; before: Named | undefined; deleted: boolean }[] | undefined;
  /** The last plan() planned everything (every run of a way not planned by what changed; else the first, a resync, a relist). */
  plannedInFull: boolean;

  constructor(clusters: ClusterConfig[], clients: Map<string, KubeClient>, s: ReadSettings, o: WatchOptions) {
    this.s = s;
    this.o = o;
    this.way = listsOf(s);
    this.group = new Informers(() => o.changed());
    const incremental = wayOf(o.options).incremental;
    // Planning what changed plans the same held objects again: the planner's results are remembered by them.
    rememberResults(incremental);
    this.changes = incremental
      ? new Changes(
          o.options,
          clusters.map((c) => c.name),
          s.source === 'endpointslices',
          s.namespace,
        )
      : undefined;
    this.plannedInFull = !incremental;
    const targets = new Set(s.targets);
    for (const c of clusters) {
      const lists = this.way.lists(c, targets.has(c.name), clusters, s);
      this.lists.set(
        c.name,
        lists.map((list) => ({
          list,
          watched: (list.within ?? [undefined]).map((namespace) =>
            this.watch(c.name, clients.get(c.name)!, list, namespace),
          ),
        })),
      );
    }
  }

  /** An informer on one list in one namespace (or in all). */
  private watch(cluster: string, client: KubeClient, list: List, namespace: string | undefined): Watched {
    const role = list.role === 'source' ? 'source' : 'target';
    const indexes = this.changes?.indexesFor(list.touches);
    const w: Watched = { cluster, list, own: new Map(), informer: undefined as never };
    w.informer = this.group.add(
      new Informer<Named>(
        client,
        resources[list.kind] as never,
        {
          ...(namespace ? { namespace } : {}),
          ...(list.labelSelector ? { labelSelector: list.labelSelector } : {}),
          pageSize: this.s.pageSize,
        },
        {
          backoffMs: this.o.backoffMs,
          maxBackoffMs: this.o.maxBackoffMs,
          keep: list.keep,
          ...(indexes ? { indexes } : {}),
          changed: (obj, before, deleted = false) => this.event(w, obj, before, deleted),
          report: (error) => this.o.report?.(cluster, role, error),
          relisting: (why) => this.o.relisting?.(cluster, role, why),
        },
      ),
    );
    this.changes?.holds(cluster, list.touches, w.informer, list.readAs);
    return w;
  }

  private event(w: Watched, obj: Named | undefined, before: Named | undefined, deleted: boolean): void {
    // A list holds whatever mefi's writes left there: nothing of theirs is still to come.
    if (!obj) w.own.clear();
    else if (w.list.writes) {
      // mefi's own writes coming back touch nothing (their changes left the plan as they were done) and start no run.
      if (this.duringRun) return void this.duringRun.push({ w, object: obj, before, deleted });
      if (this.isEcho(w, obj, deleted)) return;
      if (deleted) this.deletedElsewhere(w, obj);
    }
    this.changes?.touch(w.list.touches, obj, before);
    this.changed();
  }

  private isEcho(w: Watched, obj: Named, deleted: boolean): boolean {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const rv = deleted ? '' : obj.metadata.resourceVersion;
    const mine = w.own.get(key);
    if (rv === undefined || !mine?.delete(rv)) return false;
    if (mine.size === 0) w.own.delete(key);
    return true;
  }

  /** A run starts: the events of what mefi writes, until it ends, are judged then. */
  runStarted(): void {
    this.duringRun = [];
  }

  /**
   * A run ended: the events that came during it start a run unless they
   * were its own writes (an echo can come before the write's answer).
   */
  runEnded(): void {
    const events = (this.duringRun ?? []).filter((e) => !this.isEcho(e.w, e.object, e.deleted));
    this.duringRun = undefined;
    for (const e of events) this.changes?.touch(e.w.list.touches, e.object, e.before);
    for (const e of events) if (e.deleted) this.deletedElsewhere(e.w, e.object);
    if (events.length > 0) return this.changed();
    // Nothing new, but the run's own writes: plan their names again now, while
    // idle, not in the next change's run (after a thousand writes that is a
    // full plan). What it finds waits for that run, as it would have.
    if (this.changes?.pending()) this.plan({ ...this.input(), unreachable: this.changes.unreachable });
  }

  /** A write of this run, as the server answered it (each call: an object, then its status): its event is mefi's own echo, and starts no run; the cache has it now. */
  stored(change: Change, stored: TargetObject | null): void {
    const w = this.holding(change);
    if (!w) return;
    const key = `${change.namespace}/${change.name}`;
    const rv = stored ? stored.metadata.resourceVersion : '';
    if (rv !== undefined) {
      let mine = w.own.get(key);
      if (!mine) w.own.set(key, (mine = new Set()));
      mine.add(rv);
    }
    if (stored) this.holdoff.written(heldKey(change));
    const before = w.informer.get(change.namespace, change.name);
    w.informer.assume(change.namespace, change.name, change.resourceVersion, stored);
    // Its names are planned again (runEnded settles them): from what the write left.
    this.changes?.touch(
      w.list.touches,
      stored ?? before ?? { metadata: { name: change.name, labels: change.beforeLabels ?? null } },
      before,
    );
  }

  /** The informer that holds what a change writes: of the list of its target that says it writes that kind, in its namespace. */
  private holding(change: Change): Watched | undefined {
    const kind = change.kind ?? 'Endpoints';
    const held = this.lists.get(change.target)?.find((l) => l.list.writes === kind);
    return held?.watched.find((w) => w.informer.namespace === undefined || w.informer.namespace === change.namespace);
  }

  /** One of mefi's objects deleted by something else: if it is again, its create waits (and a run comes when it may go). */
  private deletedElsewhere(w: Watched, object: Touching): void {
    if (object.metadata.labels?.[this.o.options.ownerLabel.key] !== this.o.options.ownerLabel.value) return;
    const until = this.holdoff.deleted(
      heldKey({ target: w.cluster, namespace: object.metadata.namespace ?? '', name: object.metadata.name }),
      Date.now(),
    );
    if (until !== undefined) this.wakeBy(until);
  }

  /** One timer for every hold: the earliest wakes the loop (the held creates are still in the last plan), then the next. */
  private wake: { at: number; timer: NodeJS.Timeout } | undefined;

  private wakeBy(at: number): void {
    if (this.wake && this.wake.at <= at) return;
    clearTimeout(this.wake?.timer);
    const timer = setTimeout(
      () => {
        this.wake = undefined;
        this.changed();
        let next = Infinity;
        for (const until of this.holdoff.held(Date.now()).values()) next = Math.min(next, until);
        if (next !== Infinity) this.wakeBy(next);
      },
      at - Date.now() + 1,
    ).unref();
    this.wake = { at, timer };
  }

  /** Start every informer; resolves when the signal aborts. */
  run(signal: AbortSignal): Promise<void> {
    return this.group.run(signal);
  }

  /** A full list of everything now (the periodic resync): one run when all are in, not one per list. */
  resync(): void {
    this.group.resync();
  }

  private changed(): void {
    this.group.changed();
  }

  /** Every informer has listed once (or failed to). */
  settled(): boolean {
    return this.group.settled();
  }

  /** A list's snapshot as the planner reads it (readAs), per snapshot: the same objects while an informer stands still. */
  private readonly asRead = new WeakMap<object, unknown[]>();

  private items(w: Watched): unknown[] {
    const snap = w.informer.snapshot();
    if (!w.list.readAs) return snap;
    let out = this.asRead.get(snap);
    if (!out) this.asRead.set(snap, (out = w.list.readAs(snap as never[])));
    return out;
  }

  /** What a read would have given, from the caches (lists.ts makes the outcomes of both); plan() then plans it. */
  input(): PlanInput {
    this.changes?.taking();
    const targets = new Set(this.s.targets);
    const sources: Record<string, ReadOutcome> = {};
    const ofTargets = new Map<string, ReadOutcome>();
    for (const [cluster, lists] of this.lists) {
      const got = new Map<string, Listed>();
      for (const { list, watched } of lists) {
        const failed = watched.find((w) => w.informer.error !== undefined);
        got.set(list.id, failed ? { error: failed.informer.error! } : { parts: watched.map((w) => this.items(w)) });
      }
      const { source, target } = this.way.outcomes(got, targets.has(cluster));
      sources[cluster] = source;
      if (target) ofTargets.set(cluster, target);
    }
    // In the targets' order, as a read gives them.
    return {
      sources,
      targets: Object.fromEntries(
        this.s.targets.flatMap((t) => (ofTargets.has(t) ? [[t, ofTargets.get(t)!] as const] : [])),
      ),
    };
  }

  /**
   * The plan of the last input(): of what changed since the input before,
   * where the way and the changes allow, else in full; less the creates held off.
   */
  plan(input: PlanInput): Replanned {
    const made = this.changes
      ? this.changes.plan(input)
      : { plan: makePlan(this.o.options, input), planned: objectsIn(input), full: true };
    this.plannedInFull = made.full;
    const now = Date.now();
    return { ...made, plan: holdCreates(made.plan, this.holdoff.held(now), now) };
  }

  /**
   * The check of every resync: the plan of what changed, beside the full plan
   * of the same world. Returns the names on which they differ (none: the
   * incremental plans have been right; a way planned in full has nothing to check).
   */
  verify(): string[] {
    return this.changes ? this.changes.verify(this.input()) : [];
  }
}
