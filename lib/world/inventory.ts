// The hub's ClusterProfiles, read for the clusters they make: listed once for
// a single run or an --interval loop's run, kept by a watch for the watching
// loop (a change starts a run, as any watched change does). What the
// profiles make (lib/config/profiles.ts) joins the static clusters into the
// config a run prepares from.

import equal from 'fast-deep-equal';
import type { Config } from '../config/config.ts';
import { clustersOfProfiles, type ClusterProfileObject, type Unusable } from '../config/profiles.ts';
import { ApiError, type KubeClient } from '../kube/client.ts';
import { clusterProfiles } from '../kube/kinds.ts';
import { Informer } from './informer.ts';

/** The hub could not be read: no run can know which clusters there are, so none writes. */
export class HubUnreadable extends Error {}

export interface Resolved {
  /** The static clusters, then the profiles'. */
  config: Config;
  unusable: Unusable[];
  /** Profiles left out for a static cluster of the same name. */
  shadowed: string[];
  profiles: number;
}

function hubError(err: unknown, namespace: string): HubUnreadable {
  if (err instanceof ApiError && err.status === 404)
    return new HubUnreadable(
      `hub: ClusterProfile is not served there: install the Cluster Inventory API's CRD (sigs.k8s.io/cluster-inventory-api, multicluster.x-k8s.io/v1alpha1), or check clusterProfiles.namespace ${namespace}`,
    );
  return new HubUnreadable((err as Error).message);
}

export class Inventory {
  /** The config as loaded: its clusters the static ones. */
  readonly loaded: Config;
  /** The hub's client. */
  readonly client: KubeClient;
  private informer?: Informer<ClusterProfileObject>;
  /** Why the watched list fails now (after it worked, or from the start); undefined while it works or has not been tried. */
  private failing?: string;
  private last?: Resolved;

  constructor(config: Config, hub: KubeClient) {
    this.loaded = config;
    this.client = hub;
  }

  private resolve(profiles: ClusterProfileObject[]): Resolved {
    const pc = this.loaded.profiles!;
    const statics = this.loaded.clusters;
    const made = clustersOfProfiles(
      profiles,
      pc,
      new Set(statics.map((c) => c.name)),
      this.loaded.staleAfterMs !== undefined ? { staleAfterMs: this.loaded.staleAfterMs } : {},
    );
    const next: Resolved = {
      config: { ...this.loaded, clusters: [...statics, ...made.clusters] },
      unusable: made.unusable,
      shadowed: made.shadowed,
      profiles: profiles.length,
    };
    // The same clusters: the same object, so a loop sees nothing changed.
    if (this.last && equal(this.last.config.clusters, next.config.clusters) && equal(this.last.unusable, next.unusable))
      return this.last;
    return (this.last = next);
  }

  /** One list of the profiles now; throws HubUnreadable. */
  async read(pageSize: number): Promise<Resolved> {
    const pc = this.loaded.profiles!;
    try {
      const { items } = await clusterProfiles.listAt(this.client, {
        namespace: pc.namespace,
        ...(pc.selector ? { labelSelector: pc.selector } : {}),
        pageSize,
      });
      return this.resolve(items);
    } catch (err) {
      throw hubError(err, pc.namespace);
    }
  }

  /**
   * Watch the profiles until the signal; `changed` on every change of what
   * they make, `report` when the hub's list fails or works again.
   */
  watch(signal: AbortSignal, changed: () => void, report: (error: string | undefined) => void): void {
    const pc = this.loaded.profiles!;
    this.informer = new Informer(
      this.client,
      clusterProfiles,
      { namespace: pc.namespace, ...(pc.selector ? { labelSelector: pc.selector } : {}), pageSize: 0 },
      {
        backoffMs: 1000,
        maxBackoffMs: 60_000,
        changed,
        report: (error) => {
          this.failing = error === undefined ? undefined : hubError(new Error(error), pc.namespace).message;
          report(this.failing);
        },
      },
    );
    void this.informer.run(signal);
  }

  /** A full list of the watched profiles now (the watching loop's resync, as for every other list). */
  resync(): Promise<void> {
    return this.informer?.resync() ?? Promise.resolve();
  }

  /**
   * The watched profiles' clusters now; throws HubUnreadable while the
   * watch's list fails (the caller keeps the last). Before the watch's first
   * list, the last read's.
   */
  current(): Resolved {
    const i = this.informer!;
    if (this.failing !== undefined) throw new HubUnreadable(this.failing);
    if (i.error !== undefined) {
      if (!this.last) throw new HubUnreadable(`hub: ${i.error}`);
      return this.last;
    }
    return this.resolve(i.snapshot());
  }
}
