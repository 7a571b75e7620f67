// One list-then-watch cache of one kind of object, for the watching loop: the
// same list a run makes, kept current by a watch from its resourceVersion,
// with bookmarks. A watch that the server ends is resumed from the last
// resourceVersion; a 410 (expired), an ERROR event or a broken watch is
// followed by a fresh list (after a backoff when it keeps failing). The cache
// is derived state only: it is rebuilt by every list.

import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeClient } from '../kube/client.ts';
import type { ListOptions, Watch, WatchEvent } from '../kube/resource.ts';

export interface Named {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}

/** The calls an informer needs of a kind (lib/kube/resource.ts). */
export interface Watchable<T> {
  listAt(client: KubeClient, o: ListOptions): Promise<{ items: T[]; resourceVersion: string }>;
  watch: Watch<T>;
}

export interface InformerOptions {
  /** After a failed list or watch: wait this long, doubling, up to maxBackoffMs. */
  backoffMs: number;
  maxBackoffMs: number;
  /** Called for every change of the cache (with the object a watch event brought, the one it replaced, and whether it was deleted), and after every list. */
  changed: (object?: Named, before?: Named, deleted?: boolean) => void;
  /** Told when the cache becomes unusable (a list failed) or usable again. */
  report?: (error: string | undefined) => void;
  /** Told why a watch ended in a fresh list (not a resync's): expired, an ERROR event, a broken stream. */
  relisting?: (why: string) => void;
  /** What to keep of each object (lib/world/compact.ts): the cache holds that, not the API's whole object. */
  keep?: (object: never) => unknown;
  /** Secondary indexes: name → the key an object is found under (none: not indexed). */
  indexes?: Record<string, (object: never) => string | undefined>;
}

class Expired extends Error {}

const key = (o: Named) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

export class Informer<T extends Named> {
  private readonly items = new Map<string, T>();
  private readonly indexed = new Map<string, Map<string, Map<string, T>>>();
  /** The last snapshot, while the cache has not changed since: the same array, so results remembered by it hold. */
  private snapshotted?: T[];
  private resourceVersion = '';
  /** Why the cache cannot be used (the last list failed); undefined once listed. */
  error: string | undefined = 'not listed yet';
  private relistNow?: () => void;
  /** Resyncs waiting for the next list to end. */
  private waiters: (() => void)[] = [];
  private watching = false;
  private readonly client: KubeClient;
  private readonly kind: Watchable<T>;
  private readonly list: ListOptions;
  private readonly o: InformerOptions;

  constructor(client: KubeClient, kind: Watchable<T>, list: ListOptions, o: InformerOptions) {
    this.client = client;
    this.kind = kind;
    this.list = list;
    this.o = o;
  }

  /**
   * A write of this process, known from its answer before its watch event
   * comes: the cache takes it (or drops the object, for null) if it still
   * holds what the write was conditional on (nothing, for a create). So the
   * next run plans from what it wrote, not from the version before (a
   * conflict, and a call more). Otherwise the watch knows better. Says
   * whether the cache took it.
   */
  assume(namespace: string, name: string, basedOn: string | undefined, stored: T | null): boolean {
    const k = `${namespace}/${name}`;
    if (this.items.get(k)?.metadata.resourceVersion !== basedOn) return false;
    if (stored) this.put(k, this.kept(stored));
    else this.remove(k);
    return true;
  }

  /** The namespace it lists (undefined: all). */
  get namespace(): string | undefined {
    return this.list.namespace;
  }

  /** The cached objects now. */
  snapshot(): T[] {
    return (this.snapshotted ??= [...this.items.values()]);
  }

  /** The cached object of this namespace and name. */
  get(namespace: string, name: string): T | undefined {
    return this.items.get(`${namespace}/${name}`);
  }

  /** The cached objects an index files under this key. */
  byIndex(index: string, value: string): T[] {
    const m = this.indexed.get(index)?.get(value);
    return m ? [...m.values()] : [];
  }

  private put(k: string, o: T): void {
    this.remove(k);
    this.items.set(k, o);
    this.snapshotted = undefined;
    for (const [name, f] of Object.entries(this.o.indexes ?? {})) {
      const v = f(o as never);
      if (v === undefined) continue;
      let byValue = this.indexed.get(name);
      if (!byValue) this.indexed.set(name, (byValue = new Map<string, Map<string, T>>()));
      let m = byValue.get(v);
      if (!m) byValue.set(v, (m = new Map<string, T>()));
      m.set(k, o);
    }
  }

  private remove(k: string): void {
    const old = this.items.get(k);
    if (!old) return;
    this.items.delete(k);
    this.snapshotted = undefined;
    for (const [name, f] of Object.entries(this.o.indexes ?? {})) {
      const v = f(old as never);
      if (v === undefined) continue;
      const m = this.indexed.get(name)?.get(v);
      m?.delete(k);
      if (m?.size === 0) this.indexed.get(name)!.delete(v);
    }
  }

  /**
   * A full list now (resync), ending the current watch; resolves when it is
   * done. An informer that is not watching (its list failing, or not yet
   * listed) lists again on its own: nothing to wait for.
   */
  resync(): Promise<void> {
    if (!this.watching || !this.relistNow) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.relistNow!();
    });
  }

  /** List, then watch, until the signal. Never throws: failures are the cache's error. */
  async run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    let listed = false;
    while (!signal.aborted) {
      const round = new AbortController();
      const stop = () => round.abort();
      signal.addEventListener('abort', stop, { once: true });
      this.relistNow = () => {
        listed = false;
        round.abort();
      };
      try {
        if (!listed) {
          await this.relist();
          listed = true;
        }
        this.watching = true;
        await this.kind.watch(
          this.client,
          {
            ...(this.list.namespace ? { namespace: this.list.namespace } : {}),
            ...(this.list.labelSelector ? { labelSelector: this.list.labelSelector } : {}),
          },
          this.resourceVersion,
          (e) => this.apply(e),
          round.signal,
        );
        failures = 0; // the server ended the watch (or a resync did): resume from the last resourceVersion, or list
      } catch (err) {
        if (signal.aborted) break;
        if (listed) this.o.relisting?.((err as Error).message);
        listed = false;
        if (!(err instanceof Expired) && (err as { status?: number }).status !== 410) {
          failures++;
          const wait = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** (failures - 1));
          await sleep(wait, undefined, { signal }).catch(() => undefined);
        }
      } finally {
        this.watching = false;
        signal.removeEventListener('abort', stop);
      }
    }
    for (const resolve of this.waiters.splice(0)) resolve();
  }

  private async relist(): Promise<void> {
    try {
      const { items, resourceVersion } = await this.kind.listAt(this.client, this.list);
      this.items.clear();
      this.indexed.clear();
      this.snapshotted = undefined;
      for (const item of items) this.put(key(item), this.kept(item));
      this.resourceVersion = resourceVersion;
      if (this.error !== undefined) this.o.report?.(undefined);
      this.error = undefined;
    } catch (err) {
      this.error = (err as Error).message;
      this.o.report?.(this.error);
      throw err;
    } finally {
      const waiting = this.waiters.splice(0);
      this.o.changed();
      for (const resolve of waiting) resolve();
    }
  }

  private kept(o: T): T {
    return this.o.keep ? (this.o.keep(o as never) as T) : o;
  }

  private apply(e: WatchEvent<T>): void {
    if (e.type === 'ERROR') throw new Expired(e.object.message ?? 'watch error');
    if (e.object.metadata?.resourceVersion) this.resourceVersion = e.object.metadata.resourceVersion;
    if (e.type === 'BOOKMARK') return;
    // The path says the namespace even where an object omits it.
    if (this.list.namespace && !e.object.metadata.namespace) e.object.metadata.namespace = this.list.namespace;
    const k = key(e.object);
    const before = this.items.get(k);
    if (e.type === 'DELETED') this.remove(k);
    else this.put(k, this.kept(e.object));
    this.o.changed(e.object, before, e.type === 'DELETED');
  }
}
