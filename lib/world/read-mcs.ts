// Read the world in MCS mode: per cluster, its ServiceExports (as a source),
// its ServiceImports and Namespaces (as a target), and the Services and
// EndpointSlices both roles need, listed once per run whatever the roles.
// A cluster whose lists fail becomes an outcome, as in read.ts.

import pLimit from 'p-limit';
import type { ClusterConfig } from '../config/config.ts';
import { ApiError, type KubeClient } from '../kube/client.ts';
import { endpointSlices, leases, namespaces, serviceExports, serviceImports, services } from '../kube/kinds.ts';
import type { ListOptions } from '../kube/resource.ts';
import type { PlanInput, ReadOutcome } from '../plan/index.ts';
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

export type McsKind = 'services' | 'endpointslices' | 'serviceexports' | 'serviceimports' | 'namespaces' | 'leases';

export const mcsResources = { services, endpointslices: endpointSlices, serviceexports: serviceExports, serviceimports: serviceImports, namespaces, leases } as const;

export interface McsList {
  kind: McsKind;
  /** The namespaces to list it in; undefined: all. */
  within?: string[];
  labelSelector?: string;
}

/**
 * What MCS mode lists in one cluster, for a read and for the watching loop
 * alike: Services and slices where a target may import (or, a source only,
 * where it exports), its exports where it exports, and as a target its
 * imports, the Namespaces and mefi's Leases.
 */
export function mcsLists(c: ClusterConfig, isTarget: boolean, scope: string[] | undefined, s: Pick<ReadSettings, 'namespace' | 'leaseSelector'>): McsList[] {
  const within = isTarget ? scope : (c.namespaces ?? scope);
  const lists: McsList[] = [
    { kind: 'services', ...(within ? { within } : {}) },
    { kind: 'endpointslices', ...(within ? { within } : {}) },
    { kind: 'serviceexports', ...((c.namespaces ?? scope) ? { within: c.namespaces ?? scope! } : {}) },
  ];
  if (!isTarget) return lists;
  lists.push({ kind: 'serviceimports', ...(scope ? { within: scope } : {}) }, { kind: 'namespaces' });
  if (s.leaseSelector) lists.push({ kind: 'leases', within: [s.namespace], labelSelector: s.leaseSelector });
  return lists;
}

/** What one list gave: its items, or why there are none. */
export type Listed = { items: unknown[] } | { error: string };

/**
 * A cluster's outcomes from what its lists gave. A role is unreadable while
 * a list it needs failed, and says the first of them in this order: the
 * Services, the slices, then the role's own kinds.
 */
export function mcsOutcomes(got: ReadonlyMap<McsKind, Listed>, isTarget: boolean): { source: ReadOutcome; target?: ReadOutcome } {
  const items = <T>(kind: McsKind) => ((got.get(kind) as { items?: T[] } | undefined)?.items ?? []) as T[];
  const failed = (kinds: McsKind[]): ReadOutcome | undefined => {
    for (const k of kinds) {
      const g = got.get(k);
      if (g && 'error' in g) return { ok: false, error: g.error };
    }
    return undefined;
  };
  const source = failed(['services', 'endpointslices', 'serviceexports']) ?? { ok: true, items: [], serviceExports: items('serviceexports'), services: items('services'), slices: items('endpointslices') };
  if (!isTarget) return { source };
  const target = failed(['services', 'endpointslices', 'serviceimports', 'namespaces', 'leases']) ?? {
    ok: true,
    items: [],
    services: items('services'),
    slices: items('endpointslices'),
    serviceImports: items('serviceimports'),
    namespaces: items('namespaces'),
    ...(got.has('leases') ? { leases: items('leases') } : {}),
  };
  return { source, target };
}

export async function readMcsWorld(clusters: ClusterConfig[], clients: Map<string, KubeClient>, s: ReadSettings): Promise<PlanInput> {
  const limit = pLimit(s.concurrency);
  const scope = mcsScope(clusters);
  const targets = new Set(s.targets);
  /** One list, in each namespace of `within` (or in all), each bounded by the limit; a 404 of an MCS kind says the CRDs are missing. */
  const list = async (client: KubeClient, cluster: string, l: McsList): Promise<Listed> => {
    const kind = mcsResources[l.kind] as { list(c: KubeClient, o: ListOptions): Promise<unknown[]> };
    const one = (namespace?: string) => limit(() => kind.list(client, { ...(namespace ? { namespace } : {}), ...(l.labelSelector ? { labelSelector: l.labelSelector } : {}), pageSize: s.pageSize }));
    const all = l.within ? Promise.all(l.within.map(one)).then((x) => x.flat()) : one();
    const mcs = l.kind === 'serviceexports' || l.kind === 'serviceimports';
    return (mcs ? served(cluster, l.kind === 'serviceexports' ? 'ServiceExport' : 'ServiceImport', all) : all).then(
      (items) => ({ items }),
      (err: unknown) => ({ error: (err as Error).message }),
    );
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
      // Both roles read a cluster's Services and slices: once.
      const lists = mcsLists(c, isTarget, scope, s);
      const got = new Map(await Promise.all(lists.map(async (l) => [l.kind, await list(client, c.name, l)] as const)));
      const { source, target } = mcsOutcomes(got, isTarget);
      sources.push([c.name, source]);
      if (target) targetOutcomes.push([c.name, target]);
    }),
  );
  return { sources: Object.fromEntries(sources.sort(([a], [b]) => (a < b ? -1 : 1))), targets: Object.fromEntries(targetOutcomes.sort(([a], [b]) => (a < b ? -1 : 1))) };
}
