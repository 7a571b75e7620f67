// Read the world: every list the way of publishing makes in each cluster
// (lists.ts), and each cluster's outcomes as a source and as a target made
// from them. Concurrent and bounded: each list of each namespace takes a
// slot of --concurrency. A cluster whose lists fail becomes an outcome, not
// a throw.

import pLimit from 'p-limit';
import { ConfigError, type ClusterConfig } from '../config/config.ts';
import { ApiError, type KubeClient } from '../kube/client.ts';
import type { ListOptions } from '../kube/resource.ts';
import type { PlanInput, ReadOutcome } from '../plan/index.ts';
import { listsOf, resources, type List, type Listed, type ListSettings } from './lists.ts';

export interface ReadSettings extends ListSettings {
  targets: string[];
  concurrency: number;
  pageSize: number;
  /** Clusters not to ask this run (loop backoff), with the reason they count as unreadable. */
  skip?: Map<string, string>;
}

/**
 * mefi checks the selector as apimachinery parses it; should a server still
 * refuse it (400), that is the user's input, not the cluster's health: a usage
 * error (exit 3), with the server's words.
 */
function refusedSelector(cluster: string, selector: string, err: unknown): never {
  if (err instanceof ApiError && err.status === 400)
    throw new ConfigError([
      {
        file: 'command line',
        field: '--remote-filter',
        message: `${JSON.stringify(selector)}: cluster ${cluster} refuses it: ${err.message}`,
      },
    ]);
  throw err;
}

/** A 404 on a list of an MCS kind: the kind is not served there (the MCS CRDs are not installed). */
function notServed(cluster: string, kind: List['kind'], err: unknown): never {
  const what = kind === 'serviceexports' ? 'ServiceExport' : kind === 'serviceimports' ? 'ServiceImport' : undefined;
  if (what && err instanceof ApiError && err.status === 404)
    throw new Error(
      `cluster ${cluster}: ${what} is not served there: install the Multi-Cluster Services API's CRDs (sigs.k8s.io/mcs-api, multicluster.x-k8s.io/v1beta1)`,
    );
  throw err;
}

export async function readWorld(
  clusters: ClusterConfig[],
  clients: Map<string, KubeClient>,
  s: ReadSettings,
): Promise<PlanInput> {
  const limit = pLimit(s.concurrency);
  const way = listsOf(s);
  const targets = new Set(s.targets);

  /** One list, in each namespace of `within` (or in all), each bounded by the limit. Objects are held for this run only: as read (compacting them, as a watching loop must, cost a quarter of the lists' time). */
  const list = (client: KubeClient, cluster: string, l: List): Promise<Listed> => {
    const kind = resources[l.kind] as { list(c: KubeClient, o: ListOptions): Promise<unknown[]> };
    const one = (namespace?: string) =>
      limit(() =>
        kind.list(client, {
          ...(namespace ? { namespace } : {}),
          ...(l.labelSelector ? { labelSelector: l.labelSelector } : {}),
          pageSize: s.pageSize,
        }),
      )
        .catch((err: unknown) =>
          l.usersSelector ? refusedSelector(cluster, l.labelSelector!, err) : notServed(cluster, l.kind, err),
        )
        .then((items) => (l.readAs ? l.readAs(items as never[]) : items));
    return Promise.all((l.within ?? [undefined]).map(one)).then(
      (parts) => ({ parts }),
      (err: unknown) => {
        if (err instanceof ConfigError) throw err;
        return { error: (err as Error).message };
      },
    );
  };

  const read = clusters.map(async (c) => {
    const skipped = s.skip?.get(c.name);
    const isTarget = targets.has(c.name);
    if (skipped !== undefined)
      return {
        cluster: c.name,
        source: Promise.resolve<ReadOutcome>({ ok: false, error: skipped }),
        ...(isTarget ? { target: Promise.resolve<ReadOutcome>({ ok: false, error: skipped }) } : {}),
      };
    const client = clients.get(c.name)!;
    const lists = way.lists(c, isTarget, clusters, s).map((l) => ({ l, listed: list(client, c.name, l) }));
    // Only a refused selector rejects (a usage error), and the read says it once, through the sources.
    for (const { listed } of lists) listed.catch(() => undefined);
    /** A role's outcome, once the lists it needs are in: a source's, while a target's own may still be read. */
    const outcome = async (role: 'source' | 'target') => {
      const needed = lists.filter(({ l }) => l.role === role || l.role === 'both');
      const got = new Map(await Promise.all(needed.map(async ({ l, listed }) => [l.id, await listed] as const)));
      return way.outcomes(got, role === 'target')[role]!;
    };
    return { cluster: c.name, source: outcome('source'), ...(isTarget ? { target: outcome('target') } : {}) };
  });

  const started = await Promise.all(read);
  const sources: PlanInput['sources'] = Object.fromEntries(
    await Promise.all(started.map(async (r) => [r.cluster, await r.source] as const)),
  );
  const byName = new Map(started.map((r) => [r.cluster, r.target]));
  return {
    sources,
    targets: Object.fromEntries(await Promise.all(s.targets.map(async (t) => [t, (await byName.get(t))!] as const))),
  };
}
