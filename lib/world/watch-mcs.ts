// The watching loop's world in MCS mode: informers on what a read lists
// (lists.ts: per cluster its ServiceExports, Services and EndpointSlices; per
// target its ServiceImports, Namespaces and Leases), and the same PlanInput
// a read gives, from their caches. Every run plans in full: an exported
// name's objects span namespaces, clusters and statuses (lib/plan/mcs).
//
// mefi's own writes coming back start no run: each write's answer (the
// object the server stored, or its deletion) is remembered until its watch
// event comes back, and the cache takes it at once, so the next run plans
// from what was written.

import type { ClusterConfig } from '../config/config.ts';
import { Informer, type Named } from './informer.ts';
import { Informers } from './informers.ts';
import type { KubeClient } from '../kube/client.ts';
import { resourceOf } from '../kube/kinds.ts';
import { objectsIn, plan as makePlan, type Change, type PlanInput, type ReadOutcome, type TargetObject } from '../plan/index.ts';
import type { Replanned } from '../plan/incremental.ts';
import { listsOf, resources, type Kind, type Listed } from './lists.ts';
import type { ReadSettings } from './read.ts';
import type { WatchOptions } from './watch.ts';

/** The list a change's object is cached in. */
const kindOf = (c: Change): Kind => resourceOf(c).name as Kind;

export class McsWatchedWorld {
  /** Per cluster and kind: an informer per namespace of the scope (one for all without one). */
  private readonly informers = new Map<string, Map<Kind, Informer<Named>[]>>();
  private readonly s: ReadSettings;
  private readonly o: WatchOptions;
  private readonly clusters: string[];
  /** kind/cluster/namespace/name → the resourceVersions this loop's writes left ('' for a delete), until their events come back. */
  private readonly own = new Map<string, Set<string>>();
  /** Events that came while a run was writing: judged when it ends, when every write's answer is in. */
  private duringRun: { key: string; rv: string; deleted: boolean }[] | undefined;
  /** Every informer, together (lib/world/informers.ts). */
  private readonly group: Informers;
  /** Every run plans in full here. */
  readonly plannedInFull = true;

  constructor(clusters: ClusterConfig[], clients: Map<string, KubeClient>, s: ReadSettings, o: WatchOptions) {
    this.s = s;
    this.o = o;
    this.clusters = clusters.map((c) => c.name);
    this.group = new Informers(() => o.changed());
    const way = listsOf(s);
    const targets = new Set(s.targets);
    for (const c of clusters) {
      const byKind = new Map<Kind, Informer<Named>[]>();
      // The lists a read makes (lists.ts), an informer per namespace of each.
      for (const l of way.lists(c, targets.has(c.name), clusters, s))
        byKind.set(
          l.kind,
          (l.within ?? [undefined]).map((namespace) =>
            this.group.add(
              new Informer<Named>(clients.get(c.name)!, resources[l.kind] as never, { ...(namespace ? { namespace } : {}), ...(l.labelSelector ? { labelSelector: l.labelSelector } : {}), pageSize: s.pageSize }, {
                backoffMs: o.backoffMs,
                maxBackoffMs: o.maxBackoffMs,
                keep: l.keep as never,
                changed: (obj, _before, deleted = false) => this.event(l.kind, c.name, obj, deleted),
                report: (error) => o.report?.(c.name, l.kind === 'serviceexports' ? 'source' : 'target', error),
                relisting: (why) => o.relisting?.(c.name, l.kind === 'serviceexports' ? 'source' : 'target', why),
              }),
            ),
          ),
        );
      this.informers.set(c.name, byKind);
    }
  }

  private keyOf(kind: Kind, cluster: string, namespace: string, name: string): string {
    return `${kind}/${cluster}/${namespace}/${name}`;
  }

  private event(kind: Kind, cluster: string, obj: Named | undefined, deleted: boolean): void {
    if (!obj) {
      // A list holds whatever the writes left: nothing of theirs is still to come.
      this.own.clear();
      return this.changed();
    }
    const e = { key: this.keyOf(kind, cluster, obj.metadata.namespace ?? '', obj.metadata.name), rv: deleted ? '' : (obj.metadata.resourceVersion ?? ''), deleted };
    if (this.duringRun) return void this.duringRun.push(e);
    if (!this.isEcho(e.key, e.rv)) this.changed();
  }

  private isEcho(key: string, rv: string): boolean {
    const mine = this.own.get(key);
    if (!mine?.delete(rv)) return false;
    if (mine.size === 0) this.own.delete(key);
    return true;
  }

  runStarted(): void {
    this.duringRun = [];
  }

  runEnded(): void {
    const events = (this.duringRun ?? []).filter((e) => !this.isEcho(e.key, e.rv));
    this.duringRun = undefined;
    if (events.length) this.changed();
  }

  /** A write of this run as the server answered it (each call of it, for an object and then its status). */
  stored(change: Change, stored: TargetObject | null): void {
    const kind = kindOf(change);
    const key = this.keyOf(kind, change.target, change.namespace, change.name);
    let mine = this.own.get(key);
    if (!mine) this.own.set(key, (mine = new Set()));
    mine.add(stored ? (stored.metadata.resourceVersion ?? '') : '');
    this.informerOf(change.target, kind, change.namespace)?.assume(change.namespace, change.name, change.resourceVersion, stored as Named | null);
  }

  private informerOf(cluster: string, kind: Kind, namespace: string): Informer<Named> | undefined {
    const list = this.informers.get(cluster)?.get(kind) ?? [];
    return list.find((i) => i.namespace === undefined || i.namespace === namespace);
  }

  run(signal: AbortSignal): Promise<void> {
    return this.group.run(signal);
  }

  resync(): void {
    this.group.resync();
  }

  private changed(): void {
    this.group.changed();
  }

  settled(): boolean {
    return this.group.settled();
  }

  /** The plans are full plans: nothing to check them against. */
  verify(): string[] {
    return [];
  }

  /** What a read would have read, from the caches. */
  input(): PlanInput {
    const sources: Record<string, ReadOutcome> = {};
    const targets: Record<string, ReadOutcome> = {};
    for (const cluster of this.clusters) {
      const byKind = this.informers.get(cluster)!;
      const got = new Map<string, Listed>();
      for (const [kind, informers] of byKind) {
        const failed = informers.find((i) => i.error !== undefined);
        got.set(kind, failed ? { error: failed.error! } : { parts: informers.map((i) => i.snapshot()) });
      }
      const { source, target } = listsOf(this.s).outcomes(got, byKind.has('serviceimports'));
      sources[cluster] = source;
      if (target) targets[cluster] = target;
    }
    return { sources, targets };
  }

  plan(input: PlanInput): Replanned {
    return { plan: makePlan(this.o.options, input), planned: objectsIn(input), full: true };
  }
}
