// Read the world: every cluster's sources, every target's mefi namespace.
// Concurrent and bounded; a cluster that fails becomes an outcome, not a throw.

import pLimit from 'p-limit';
import { ConfigError, type ClusterConfig } from '../config/config.ts';
import { ApiError, type KubeClient } from '../kube/client.ts';
import { endpoints, endpointSlices, leases } from '../kube/kinds.ts';
import { readMcsWorld } from './read-mcs.ts';
import { slicesAsEndpoints } from '../plan/index.ts';
import type { EndpointsObject, PlanInput, ReadOutcome } from '../plan/index.ts';

export interface ReadSettings {
  /** Label selector for sources (--remote-filter). */
  remoteFilter: string;
  /** The namespace mefi owns in each target. */
  namespace: string;
  targets: string[];
  concurrency: number;
  pageSize: number;
  /** Clusters not to ask this run (loop backoff), with the reason they count as unreadable. */
  skip?: Map<string, string>;
  /** With staleAfter: also list mefi's Leases in each target, with this selector. */
  leaseSelector?: string;
  /** Read sources from Endpoints (default) or from the EndpointSlices of labelled Services. */
  source?: 'endpoints' | 'endpointslices';
  /** Write Endpoints (default) or EndpointSlices: what to list in each target. */
  target?: 'endpoints' | 'endpointslices';
  /** MCS mode: ServiceExports in, ServiceImports out (lib/world/read-mcs.ts). */
  mode?: 'endpoints' | 'mcs';
  /** Called with every source cluster's outcome as soon as all are in, while the targets may still be read: the very record the world will hold. */
  onSources?: (sources: PlanInput['sources']) => void;
}

async function outcome(read: () => Promise<EndpointsObject[] | Extract<ReadOutcome, { ok: true }>>, skipped?: string): Promise<ReadOutcome> {
  if (skipped !== undefined) return { ok: false, error: skipped };
  try {
    const got = await read();
    return Array.isArray(got) ? { ok: true, items: got } : got;
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    return { ok: false, error: (err as Error).message };
  }
}

/**
 * mefi checks the selector as apimachinery parses it; should a server still
 * refuse it (400), that is the user's input, not the cluster's health: a usage
 * error (exit 3), with the server's words.
 */
async function refusedSelector<T>(cluster: string, selector: string, list: () => Promise<T>): Promise<T> {
  try {
    return await list();
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) throw new ConfigError([{ file: 'command line', field: '--remote-filter', message: `${JSON.stringify(selector)}: cluster ${cluster} refuses it: ${err.message}` }]);
    throw err;
  }
}

export async function readWorld(clusters: ClusterConfig[], clients: Map<string, KubeClient>, s: ReadSettings): Promise<PlanInput> {
  if (s.mode === 'mcs') return readMcsWorld(clusters, clients, s);
  const limit = pLimit(s.concurrency);
  const client = (name: string) => clients.get(name)!;

  // Each source cluster is listed once per run, whatever the number of targets.
  // A slot per list: a cluster scoped to many namespaces lists them side by side, within --concurrency.
  const sources = clusters.map((c) =>
    outcome(async () => {
      const list = (namespace?: string) =>
        limit(async () => {
          const o = { ...(namespace ? { namespace } : {}), labelSelector: s.remoteFilter, pageSize: s.pageSize };
          return refusedSelector(c.name, s.remoteFilter, async () =>
            // Held for this run only: as read (compacting them, as a watching loop must, cost a quarter of the lists' time).
            s.source === 'endpointslices' ? slicesAsEndpoints(await endpointSlices.list(client(c.name), o)) : endpoints.list(client(c.name), o),
          );
        });
      if (!c.namespaces) return list();
      return (await Promise.all(c.namespaces.map(list))).flat();
    }, s.skip?.get(c.name)).then((o) => [c.name, o] as const),
  );
  // The whole namespace, not only owned objects: a foreign object on a wanted name must be seen.
  const targets = s.targets.map((t) =>
    limit(() =>
      outcome(async () => {
        const slices = s.target === 'endpointslices';
        const items = slices ? [] : await endpoints.list(client(t), { namespace: s.namespace, pageSize: s.pageSize });
        return {
          ok: true as const,
          items,
          ...(slices ? { slices: await endpointSlices.list(client(t), { namespace: s.namespace, pageSize: s.pageSize }) } : {}),
          ...(s.leaseSelector ? { leases: await leases.list(client(t), { namespace: s.namespace, labelSelector: s.leaseSelector, pageSize: s.pageSize }) } : {}),
        };
      }, s.skip?.get(t)),
    ).then((o) => [t, o] as const),
  );
  const sourcesIn = Promise.all(sources).then((all) => {
    const record: PlanInput['sources'] = Object.fromEntries(all);
    s.onSources?.(record);
    return record;
  });
  return { sources: await sourcesIn, targets: Object.fromEntries(await Promise.all(targets)) };
}
