// The world kept current by watches: one informer per list a run would make
// (each source cluster's labelled Endpoints or EndpointSlices, each target's
// mefi namespace and Leases), and the same PlanInput a read gives, taken from
// their caches. This is an edge beside lib/read.ts: the planner cannot tell
// the two apart. A cluster is unreadable while one of its lists fails.

import type { ClusterConfig } from './config.ts';
import { compactSource, compactSourceSlice, withoutManagedFields } from './compact.ts';
import { Informer } from './informer.ts';
import type { KubeClient } from './kube/client.ts';
import { endpoints, endpointSlices, leases } from './kube/kinds.ts';
import { slicesAsEndpoints, type Change, type EndpointsObject, type LeaseObject, type PlanInput, type ReadOutcome, type SliceObject, type TargetObject } from './plan/index.ts';
import type { ReadSettings } from './read.ts';

export interface WatchOptions {
  /** Called on every change of any cache, but for mefi's own writes coming back (see expect). */
  changed: () => void;
  /** A cluster's lists failing or recovering (for logs). */
  report?: (cluster: string, role: 'source' | 'target', error: string | undefined) => void;
  /** A watch ended in a fresh list, and why (for logs: each is a full list of that kind). */
  relisting?: (cluster: string, role: 'source' | 'target', why: string) => void;
  backoffMs: number;
  maxBackoffMs: number;
}

type AnyInformer = Informer<EndpointsObject> | Informer<SliceObject> | Informer<LeaseObject>;

export class WatchedWorld {
  private readonly sources = new Map<string, (Informer<EndpointsObject> | Informer<SliceObject>)[]>();
  private readonly targets = new Map<string, { objects: Informer<EndpointsObject> | Informer<SliceObject>; leases?: Informer<LeaseObject> }>();
  private readonly s: ReadSettings;
  private readonly o: WatchOptions;
  /**
   * target/namespace/name → resourceVersion of a write this loop made, until
   * its watch event comes back: this run's and the one before's (an echo can
   * come back after the next run started). Older ones are dropped: their event
   * came before the write's answer (it started a run), or never.
   */
  private own = new Map<string, string>();
  private ownBefore = new Map<string, string>();

  /** Target events that came while a run was writing: judged when it ends, when every write's answer is in. */
  private duringRun: { key: string; resourceVersion: string | undefined }[] | undefined;

  /** A run starts: expectations older than the run before are dropped. */
  runStarted(): void {
    this.ownBefore = this.own;
    this.own = new Map();
    this.duringRun = [];
  }

  /**
   * A run ended: the target events that came during it start a run unless
   * they were its own writes (an echo can come before the write's answer).
   */
  runEnded(): void {
    const events = this.duringRun ?? [];
    this.duringRun = undefined;
    if (events.filter((e) => !this.isEcho(e.key, e.resourceVersion)).length > 0) this.changed();
  }

  /** A write of this run, as the server answered it: its event is mefi's own echo, and starts no run; the cache has it now. */
  stored(change: Change, stored: TargetObject | null): void {
    const t = this.targets.get(change.target);
    if (!t) return;
    if (stored?.metadata.resourceVersion) this.own.set(`${change.target}/${change.namespace}/${change.name}`, stored.metadata.resourceVersion);
    (t.objects as Informer<TargetObject>).assume(change.namespace, change.name, change.resourceVersion, stored);
  }

  private isEcho(key: string, resourceVersion: string | undefined): boolean {
    for (const m of [this.own, this.ownBefore])
      if (m.get(key) === resourceVersion) {
        m.delete(key);
        return true;
      }
    return false;
  }

  constructor(clusters: ClusterConfig[], clients: Map<string, KubeClient>, s: ReadSettings, o: WatchOptions) {
    this.s = s;
    this.o = o;
    const make = <T extends { metadata: { name: string } }>(cluster: string, role: 'source' | 'target', kind: typeof endpoints | typeof endpointSlices | typeof leases, namespace: string | undefined, labelSelector: string | undefined, keep: (o: never) => unknown) =>
      new Informer<T>(clients.get(cluster)!, kind as never, { ...(namespace ? { namespace } : {}), ...(labelSelector ? { labelSelector } : {}), pageSize: s.pageSize }, {
        backoffMs: o.backoffMs,
        maxBackoffMs: o.maxBackoffMs,
        changed: (obj) => {
          if (role === 'target' && obj) {
            const key = `${cluster}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
            if (this.duringRun) return void this.duringRun.push({ key, resourceVersion: obj.metadata.resourceVersion });
            if (this.isEcho(key, obj.metadata.resourceVersion)) return;
          }
          this.changed();
        },
        report: (error) => o.report?.(cluster, role, error),
        relisting: (why) => o.relisting?.(cluster, role, why),
        keep,
      });
    const sourceKind = s.source === 'endpointslices' ? endpointSlices : endpoints;
    for (const c of clusters) {
      const namespaces = c.namespaces ?? [undefined];
      this.sources.set(c.name, namespaces.map((ns) => make(c.name, 'source', sourceKind, ns, s.remoteFilter, s.source === 'endpointslices' ? compactSourceSlice : compactSource)));
    }
    for (const t of s.targets) {
      const objects = make(t, 'target', s.target === 'endpointslices' ? endpointSlices : endpoints, s.namespace, undefined, withoutManagedFields);
      this.targets.set(t, { objects, ...(s.leaseSelector ? { leases: make<LeaseObject>(t, 'target', leases, s.namespace, s.leaseSelector, withoutManagedFields) } : {}) });
    }
  }

  private all(): AnyInformer[] {
    return [...[...this.sources.values()].flat(), ...[...this.targets.values()].flatMap((t) => [t.objects, ...(t.leases ? [t.leases] : [])])] as AnyInformer[];
  }

  /** Start every informer; resolves when the signal aborts. */
  run(signal: AbortSignal): Promise<void> {
    return Promise.all(this.all().map((i) => i.run(signal))).then(() => undefined);
  }

  /** While a resync's lists are out: their changes (and any other) make one run when the last is in. */
  private holding = false;
  private held = false;

  /** A full list of everything now (the periodic resync): one run when all are in, not one per list. */
  resync(): void {
    if (this.holding) return;
    this.holding = true;
    void Promise.all(this.all().map((i) => i.resync())).then(() => {
      this.holding = false;
      if (this.held) {
        this.held = false;
        this.o.changed();
      }
    });
  }

  private changed(): void {
    if (this.holding) this.held = true;
    else this.o.changed();
  }

  /** Every informer has listed once (or failed to). */
  settled(): boolean {
    return this.all().every((i) => i.error !== 'not listed yet');
  }

  /** What a read would have given, from the caches. */
  input(): PlanInput {
    const sources: Record<string, ReadOutcome> = {};
    for (const [cluster, informers] of this.sources) {
      const failed = informers.find((i) => i.error !== undefined);
      if (failed) {
        sources[cluster] = { ok: false, error: failed.error! };
        continue;
      }
      const items = informers.flatMap((i) => i.snapshot());
      sources[cluster] = { ok: true, items: this.s.source === 'endpointslices' ? slicesAsEndpoints(items as SliceObject[]) : (items as EndpointsObject[]) };
    }
    const targets: Record<string, ReadOutcome> = {};
    for (const [target, t] of this.targets) {
      const failed = [t.objects, t.leases].find((i) => i && i.error !== undefined);
      if (failed) {
        targets[target] = { ok: false, error: failed.error! };
        continue;
      }
      const objects = t.objects.snapshot();
      targets[target] =
        this.s.target === 'endpointslices'
          ? { ok: true, items: [], slices: objects as SliceObject[], ...(t.leases ? { leases: t.leases.snapshot() } : {}) }
          : { ok: true, items: objects as EndpointsObject[], ...(t.leases ? { leases: t.leases.snapshot() } : {}) };
    }
    return { sources, targets };
  }
}
