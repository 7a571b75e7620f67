// Read the world in MCS mode: per cluster, its ServiceExports (as a source),
// its ServiceImports and Namespaces (as a target), and the Services and
// EndpointSlices both roles need, listed once per run whatever the roles.
// A cluster whose lists fail becomes an outcome, as in read.ts.

import pLimit from 'p-limit';
import type { ClusterConfig } from './config.ts';
import { ApiError, type KubeClient } from './kube/client.ts';
import { endpointSlices, leases, namespaces, serviceExports, serviceImports, services } from './kube/kinds.ts';
import type { ListOptions } from './kube/resource.ts';
import type { PlanInput, ReadOutcome } from './plan/index.ts';
import type { ReadSettings } from './read.ts';

/**
 * Where MCS objects can be: the namespaces every cluster's `namespaces`
 * scopes it to, or everywhere (undefined) when a cluster is not scoped. A
 * cluster exports only from its own scope; imports can only be where some
 * cluster exports, so targets read the union.
 */
export function mcsScope(clusters: ClusterConfig[]): string[] | undefined {
  if (clusters.some((c) => !c.namespaces)) return undefined;
  return [...new Set(clusters.flatMap((c) => c.namespaces!))].sort();
}

/** A 404 on a list: the kind is not served there (the MCS CRDs are not installed). */
function served<T>(cluster: string, what: string, list: Promise<T>): Promise<T> {
  return list.catch((err: unknown) => {
    if (err instanceof ApiError && err.status === 404) throw new Error(`cluster ${cluster}: ${what} is not served there: install the Multi-Cluster Services API's CRDs (sigs.k8s.io/mcs-api, multicluster.x-k8s.io/v1beta1)`);
    throw err;
  });
}

type Failed = { ok: false; error: string };
const settle = <T>(p: Promise<T>): Promise<{ ok: true; value: T } | Failed> =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (err: unknown) => ({ ok: false as const, error: (err as Error).message }),
  );

export async function readMcsWorld(clusters: ClusterConfig[], clients: Map<string, KubeClient>, s: ReadSettings): Promise<PlanInput> {
  const limit = pLimit(s.concurrency);
  const scope = mcsScope(clusters);
  const targets = new Set(s.targets);
  /** One kind, in each namespace of `within` (or in all), each list bounded by the limit. */
  const listIn = async <T>(kind: { list(c: KubeClient, o: ListOptions): Promise<T[]> }, client: KubeClient, within: string[] | undefined, labelSelector?: string): Promise<T[]> => {
    const one = (namespace?: string) => limit(() => kind.list(client, { ...(namespace ? { namespace } : {}), ...(labelSelector ? { labelSelector } : {}), pageSize: s.pageSize }));
    return within ? (await Promise.all(within.map(one))).flat() : one();
  };

  const sources: [string, ReadOutcome][] = [];
  const targetOutcomes: [string, ReadOutcome][] = [];
  await Promise.all(
    clusters.map(async (c) => {
      const skipped = s.skip?.get(c.name);
      const isTarget = targets.has(c.name);
      if (skipped !== undefined) {
        sources.push([c.name, { ok: false, error: skipped }]);
        if (isTarget) targetOutcomes.push([c.name, { ok: false, error: skipped }]);
        return;
      }
      const client = clients.get(c.name)!;
      // Both roles read a cluster's Services and slices: once, where a target may import, or a source only exports.
      const within = isTarget ? scope : (c.namespaces ?? scope);
      const common = settle(Promise.all([listIn(services, client, within), listIn(endpointSlices, client, within)]));
      const exported = settle(served(c.name, 'ServiceExport', listIn(serviceExports, client, c.namespaces ?? scope)));
      // All three listed; the first failure in this order is the one reported, whichever answered first.
      const imported = isTarget
        ? settle(
            (async () => {
              const lists = await Promise.allSettled([
                served(c.name, 'ServiceImport', listIn(serviceImports, client, scope)),
                limit(() => namespaces.list(client, { pageSize: s.pageSize })),
                s.leaseSelector ? limit(() => leases.list(client, { namespace: s.namespace, labelSelector: s.leaseSelector!, pageSize: s.pageSize })) : Promise.resolve(undefined),
              ] as const);
              const failed = lists.find((l) => l.status === 'rejected');
              if (failed) throw failed.reason;
              return lists.map((l) => (l as PromiseFulfilledResult<unknown>).value) as [Awaited<ReturnType<typeof serviceImports.list>>, Awaited<ReturnType<typeof namespaces.list>>, Awaited<ReturnType<typeof leases.list>> | undefined];
            })(),
          )
        : undefined;
      const [both, exports, imports] = await Promise.all([common, exported, imported]);
      // A failed list is the outcome as it is ({ ok: false, error }).
      sources.push([c.name, !both.ok ? both : !exports.ok ? exports : { ok: true, items: [], serviceExports: exports.value, services: both.value[0], slices: both.value[1] }]);
      if (!imports) return;
      if (!both.ok || !imports.ok) return void targetOutcomes.push([c.name, !both.ok ? both : (imports as Failed)]);
      const [serviceImportList, namespaceList, leaseList] = imports.value;
      targetOutcomes.push([c.name, { ok: true, items: [], services: both.value[0], slices: both.value[1], serviceImports: serviceImportList, namespaces: namespaceList, ...(leaseList ? { leases: leaseList } : {}) }]);
    }),
  );
  return { sources: Object.fromEntries(sources.sort(([a], [b]) => (a < b ? -1 : 1))), targets: Object.fromEntries(targetOutcomes.sort(([a], [b]) => (a < b ? -1 : 1))) };
}
