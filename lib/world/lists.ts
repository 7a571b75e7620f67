// What a run lists in each cluster, for each way of publishing, declared
// once: the read (read.ts) and the watching loop (watch.ts) make the same
// lists, the one by listing, the other by keeping an informer on each (and
// knowing from the list what mefi writes there, and what its events touch); and
// how a cluster's lists make its outcomes as a source and as a target, the
// same for both. A cluster is unreadable in a role while a list that role
// needs failed.

import type { ClusterConfig } from '../config/config.ts';
import {
  endpoints,
  endpointSlices,
  leases,
  namespaces,
  serviceExports,
  serviceImports,
  services,
} from '../kube/kinds.ts';
import {
  slicesAsEndpoints,
  type Change,
  type EndpointsObject,
  type ReadOutcome,
  type SliceObject,
} from '../plan/index.ts';
import { wayNameOf, type WayName } from '../plan/ways/index.ts';
import type { Touches } from './changes.ts';
import { compactSource, compactSourceSlice, withoutManagedFields } from './compact.ts';

export const resources = {
  endpoints,
  endpointslices: endpointSlices,
  services,
  serviceexports: serviceExports,
  serviceimports: serviceImports,
  namespaces,
  leases,
} as const;
export type Kind = keyof typeof resources;

/** What the lists are made from: the flags and what the config adds. */
export interface ListSettings {
  /** Label selector for sources (--remote-filter). */
  remoteFilter: string;
  /** The namespace mefi owns in each target. */
  namespace: string;
  /** With staleAfter: also list mefi's Leases in each target, with this selector. */
  leaseSelector?: string;
  /** Read sources from Endpoints (default) or from the EndpointSlices of labelled Services. */
  source?: 'endpoints' | 'endpointslices';
  /** Write Endpoints (default) or EndpointSlices: what to list in each target. */
  target?: 'endpoints' | 'endpointslices';
  /** MCS mode: ServiceExports in, ServiceImports out. */
  mode?: 'endpoints' | 'mcs';
}

/** One list a cluster is asked for (in each namespace of `within`, or in all). */
export interface List {
  /** Its name among the cluster's lists. */
  id: string;
  kind: Kind;
  /** Which of the cluster's outcomes need it. */
  role: 'source' | 'target' | 'both';
  within?: string[];
  labelSelector?: string;
  /** The selector is the user's (--remote-filter): a server that refuses it is told of as a usage error. */
  usersSelector?: boolean;
  /** What the planner is given of one list's items (the slices of labelled Services: the Endpoints they stand for). */
  readAs?: (items: never[]) => unknown[];
  /** What the watching loop keeps of each object it holds for good. */
  keep: (o: never) => unknown;
  /**
   * The kind of change mefi writes to objects of this list (its target
   * objects; MCS: the exports' status too): in a watching loop, a write's
   * answer goes into this list's cache, and its events may be mefi's own
   * coming back (watch.ts).
   */
  writes?: NonNullable<Change['kind']>;
  /** For planning what changed (changes.ts): an event of this list touches a source's name, or a target object's names; else the world. */
  touches?: Touches;
}

/** What one list gave (the items of each namespace it was made in, in order), or why it gave nothing. */
export type Listed = { parts: unknown[][] } | { error: string };

interface WayLists {
  /** Every list of one cluster, as a source and, if it is one, as a target. */
  lists(c: ClusterConfig, isTarget: boolean, all: ClusterConfig[], s: ListSettings): List[];
  /** A cluster's outcomes from what its lists gave (target: only if it is one). */
  outcomes(got: ReadonlyMap<string, Listed>, isTarget: boolean): { source: ReadOutcome; target?: ReadOutcome };
}

const items = <T>(got: ReadonlyMap<string, Listed>, id: string): T[] =>
  ((got.get(id) as { parts?: T[][] } | undefined)?.parts ?? []).flat();

/** The first of these lists that failed, in this order: what the role says it could not read. */
function failed(got: ReadonlyMap<string, Listed>, ids: string[]): ReadOutcome | undefined {
  for (const id of ids) {
    const g = got.get(id);
    if (g && 'error' in g) return { ok: false, error: g.error };
  }
  return undefined;
}

/** With staleAfter, every way lists mefi's Leases in each target's mefi namespace. */
const leaseLists = (s: ListSettings, keep: List['keep']): List[] =>
  s.leaseSelector
    ? [{ id: 'leases', role: 'target', kind: 'leases', within: [s.namespace], labelSelector: s.leaseSelector, keep }]
    : [];

/**
 * Labelled Endpoints, published as Endpoints or as EndpointSlices: a source
 * lists its labelled Endpoints (or the slices of its labelled Services), each
 * namespace the config scopes it to; a target the whole mefi namespace (not
 * only what mefi owns: a foreign object on a wanted name must be seen) and,
 * with staleAfter, mefi's Leases there.
 */
function labelled(targetKind: 'endpoints' | 'endpointslices'): WayLists {
  return {
    lists(c, isTarget, _all, s) {
      const slices = s.source === 'endpointslices';
      const lists: List[] = [
        {
          id: 'sources',
          role: 'source',
          kind: slices ? 'endpointslices' : 'endpoints',
          ...(c.namespaces ? { within: c.namespaces } : {}),
          labelSelector: s.remoteFilter,
          usersSelector: true,
          ...(slices ? { readAs: (x: SliceObject[]) => slicesAsEndpoints(x) } : {}),
          keep: slices ? compactSourceSlice : compactSource,
          touches: 'source',
        },
      ];
      if (!isTarget) return lists;
      lists.push({
        id: 'objects',
        role: 'target',
        kind: targetKind,
        within: [s.namespace],
        keep: withoutManagedFields,
        writes: targetKind === 'endpointslices' ? 'EndpointSlice' : 'Endpoints',
        touches: 'target',
      });
      lists.push(...leaseLists(s, withoutManagedFields));
      return lists;
    },
    outcomes(got, isTarget) {
      const source = failed(got, ['sources']) ?? { ok: true, items: items<EndpointsObject>(got, 'sources') };
      if (!isTarget) return { source };
      const objects =
        targetKind === 'endpointslices'
          ? { items: [], slices: items<SliceObject>(got, 'objects') }
          : { items: items<EndpointsObject>(got, 'objects') };
      const target = failed(got, ['objects', 'leases']) ?? {
        ok: true as const,
        ...objects,
        ...(got.has('leases') ? { leases: items(got, 'leases') } : {}),
      };
      return { source, target };
    },
  };
}

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

/**
 * The Multi-Cluster Services API: Services and slices where a target may
 * import (or, a source only, where it exports), its exports where it exports,
 * and as a target its imports, the Namespaces and mefi's Leases. Both roles
 * read a cluster's Services and slices: listed once.
 */
const mcs: WayLists = {
  lists(c, isTarget, all, s) {
    const scope = mcsScope(all);
    const within = isTarget ? scope : (c.namespaces ?? scope);
    const exportsWithin = c.namespaces ?? scope;
    const keep = withoutManagedFields;
    const lists: List[] = [
      { id: 'services', role: 'both', kind: 'services', ...(within ? { within } : {}), keep, writes: 'Service' },
      {
        id: 'endpointslices',
        role: 'both',
        kind: 'endpointslices',
        ...(within ? { within } : {}),
        keep,
        writes: 'EndpointSlice',
      },
      {
        id: 'serviceexports',
        role: 'source',
        kind: 'serviceexports',
        ...(exportsWithin ? { within: exportsWithin } : {}),
        keep,
        writes: 'ServiceExportStatus',
      },
    ];
    if (!isTarget) return lists;
    lists.push(
      {
        id: 'serviceimports',
        role: 'target',
        kind: 'serviceimports',
        ...(scope ? { within: scope } : {}),
        keep,
        writes: 'ServiceImport',
      },
      { id: 'namespaces', role: 'target', kind: 'namespaces', keep },
    );
    lists.push(...leaseLists(s, keep));
    return lists;
  },
  // A role says the first list it needs that failed: the Services, the slices, then its own kinds.
  outcomes(got, isTarget) {
    const source = failed(got, ['services', 'endpointslices', 'serviceexports']) ?? {
      ok: true,
      items: [],
      serviceExports: items(got, 'serviceexports'),
      services: items(got, 'services'),
      slices: items(got, 'endpointslices'),
    };
    if (!isTarget) return { source };
    const target = failed(got, ['services', 'endpointslices', 'serviceimports', 'namespaces', 'leases']) ?? {
      ok: true,
      items: [],
      services: items(got, 'services'),
      slices: items(got, 'endpointslices'),
      serviceImports: items(got, 'serviceimports'),
      namespaces: items(got, 'namespaces'),
      ...(got.has('leases') ? { leases: items(got, 'leases') } : {}),
    };
    return { source, target };
  },
};

const byWay: Record<WayName, WayLists> = {
  endpoints: labelled('endpoints'),
  endpointslices: labelled('endpointslices'),
  mcs,
};

/** What the way of publishing the settings choose lists, and how its lists make outcomes. */
export function listsOf(s: ListSettings): WayLists {
  return byWay[wayNameOf(s)];
}
