// EndpointSlices, for every way that reads or writes them. Sources: the
// slices of labelled Services, read as the Endpoints they stand for, so every
// rule of the planner applies unchanged. Targets: the one slice writer, for
// the slices way (ways/slices.ts) and MCS (mcs/slices.ts): one address family
// and one port set per slice, at most maxEndpointsPerSlice endpoints.
// Chunking is stable: an endpoint stays in the slice it is in, so one change
// rewrites one slice, not all of them.

import equal from 'fast-deep-equal';
import { isOwned } from './object.ts';
import { normalizePorts, normalizeSubsets, portKey } from './normalize.ts';
import { compareIP, parseIP } from './ip.ts';
import type {
  Change,
  EndpointsObject,
  ObjectMeta,
  PlanOptions,
  RawSubset,
  SliceEndpoint,
  SliceObject,
  Subset,
} from './types.ts';
import type { TargetPlan } from './ways/way.ts';

export const serviceNameLabel = 'kubernetes.io/service-name';
export const managedByLabel = 'endpointslice.kubernetes.io/managed-by';
export const managedBy = 'mefi';

/**
 * Source slices → the Endpoints they stand for, one per (namespace, Service).
 * The first address of an endpoint is the one consumers use (as the API says);
 * ready unless ready is false; a terminating endpoint that is not ready is left
 * out, as the Endpoints controller leaves it out. FQDN slices carry no IP.
 */
export function slicesAsEndpoints(slices: SliceObject[]): EndpointsObject[] {
  const groups = new Map<string, { meta: ObjectMeta; subsets: RawSubset[] }>();
  for (const s of slices) {
    const service = s.metadata.labels?.[serviceNameLabel];
    if (!service || (s.addressType !== 'IPv4' && s.addressType !== 'IPv6')) continue;
    // Owned and foreign slices of one name stay apart, so mefi's own never echo.
    const key = `${s.metadata.namespace}/${service}/${s.metadata.labels?.[managedByLabel] === managedBy}`;
    let g = groups.get(key);
    if (!g)
      groups.set(
        key,
        (g = {
          meta: { name: service, namespace: s.metadata.namespace ?? '', labels: s.metadata.labels ?? {} },
          subsets: [],
        }),
      );
    const subset: RawSubset = { addresses: [], notReadyAddresses: [], ports: s.ports ?? [] };
    for (const e of s.endpoints ?? []) {
      const ip = e.addresses?.[0];
      if (!ip) continue;
      const address = { ip, ...(e.hostname ? { hostname: e.hostname } : {}) };
      if (e.conditions?.ready !== false) subset.addresses!.push(address);
      else if (!e.conditions?.terminating) subset.notReadyAddresses!.push(address);
    }
    g.subsets.push(subset);
  }
  return [...groups.values()].map((g) => ({ metadata: g.meta, subsets: g.subsets }));
}

/**
 * mefi's slices carry its ownership label and its managed-by. The mirroring
 * controller copies an Endpoints object's labels (mefi's aggregate's too) onto
 * the slices it makes: those carry the ownership label, and are its own.
 */
export function isMefiSlice(s: SliceObject, options: PlanOptions): boolean {
  return isOwned(s, options) && s.metadata.labels?.[managedByLabel] === managedBy;
}

/** One endpoint as mefi writes it, and as it compares a stored one. */
interface Entry {
  ip: string;
  ready: boolean;
  hostname?: string;
}

function entryOf(e: SliceEndpoint): Entry | undefined {
  const ip = e.addresses?.[0];
  if (!ip) return undefined;
  return { ip, ready: e.conditions?.ready !== false, ...(e.hostname ? { hostname: e.hostname } : {}) };
}

function toEndpoint(e: Entry): SliceEndpoint {
  return {
    addresses: [e.ip],
    conditions: { ready: e.ready, serving: e.ready, terminating: false },
    ...(e.hostname ? { hostname: e.hostname } : {}),
  };
}

const family = (ip: string) => (parseIP(ip)?.family === 6 ? 'IPv6' : 'IPv4');
/** Entries in canonical IP order; each IP is parsed once, not on every comparison. */
function sortByIP(entries: Entry[]): Entry[] {
  return entries
    .map((e) => ({ e, ip: parseIP(e.ip)! }))
    .sort((a, b) => compareIP(a.ip, b.ip))
    .map((x) => x.e);
}

/** A group of one mirror: one port set and one address family. */
interface Group {
  key: string;
  addressType: 'IPv4' | 'IPv6';
  ports: Subset['ports'];
  entries: Map<string, Entry>;
}

function groupsOf(subsets: Subset[]): Map<string, Group> {
  const out = new Map<string, Group>();
  for (const s of subsets) {
    const add = (ip: string, ready: boolean, hostname?: string) => {
      const addressType = family(ip);
      const key = `${addressType}|${portKey(s.ports)}`;
      let g = out.get(key);
      if (!g) out.set(key, (g = { key, addressType, ports: s.ports, entries: new Map() }));
      g.entries.set(ip, { ip, ready, ...(hostname ? { hostname } : {}) });
    };
    for (const a of s.addresses) add(a.ip, true, a.hostname);
    for (const a of s.notReadyAddresses) add(a.ip, false, a.hostname);
  }
  return out;
}

function sliceKey(s: SliceObject): string {
  return `${s.addressType}|${portKey(normalizePorts(s.ports).ports)}`;
}

/** What a slice says, in the canonical form both sides are compared in. */
function entriesOf(s: SliceObject): Entry[] {
  return sortByIP((s.endpoints ?? []).map(entryOf).filter((e): e is Entry => e !== undefined));
}

/** Subsets of a slice, for the report's before/after. */
export function sliceSubsets(s: SliceObject): Subset[] {
  return normalizeSubsets([
    {
      addresses: (s.endpoints ?? [])
        .map(entryOf)
        .filter((e): e is Entry => !!e && e.ready)
        .map((e) => ({ ip: e.ip, ...(e.hostname ? { hostname: e.hostname } : {}) })),
      notReadyAddresses: (s.endpoints ?? [])
        .map(entryOf)
        .filter((e): e is Entry => !!e && !e.ready)
        .map((e) => ({ ip: e.ip, ...(e.hostname ? { hostname: e.hostname } : {}) })),
      ports: s.ports ?? [],
    },
  ]).subsets;
}

/**
 * The slices of one Service: named <prefix>-<n>, labelled with the Service's
 * name. Every mirror has one set, for its source's Service <name> (the
 * aggregate's place in Endpoints mode); with clusterServices it has a second,
 * for the Service <name>-<cluster> that serves that cluster alone (so an
 * ingress can weight clusters). MCS mode writes one set per (import, exporting
 * cluster), for the derived Service.
 */
export interface SliceSet {
  /** The Service the slices are of (kubernetes.io/service-name), or the ServiceImport's name for an import's own set. */
  service: string;
  of?: 'Service' | 'ServiceImport';
  originalName: string;
  cluster: string;
  prefix: string;
  subsets: Subset[];
  /** What every slice of the set is labelled with. */
  labels: Record<string, string>;
}

/** Writes slice sets into one namespace of a target, into `result`; what it writes or holds is in `keep`. */
export interface SliceWriter {
  /** Plans one set over its current slices (mefi's, of that set). */
  writeSet(set: SliceSet, mine: SliceObject[]): void;
  /** A set that cannot be written keeps what it has. */
  hold(mine: SliceObject[]): void;
  /** Owned slices written or held: every other owned slice of a readable cluster goes. */
  keep: Set<string>;
}

/**
 * The one slice writer, for every mode that writes slices: one address family
 * and port set per slice, at most maxEndpointsPerSlice endpoints each, stable
 * chunking, new slices on the lowest free name, never over someone else's.
 * `items` are the slices of the namespace (mefi's and any on a name it wants).
 */
export function sliceWriter(
  options: PlanOptions,
  target: string,
  namespace: string,
  items: SliceObject[],
  result: TargetPlan,
): SliceWriter {
  const max = options.maxEndpointsPerSlice ?? 100;
  const byName = new Map(items.map((s) => [s.metadata.name, s]));
  const keep = new Set<string>();
  // Each slice's group key is computed once.
  const keyOf = new Map(items.filter((s) => isMefiSlice(s, options)).map((s) => [s, sliceKey(s)]));
  // New slices are never planned twice on one name, whichever set asks.
  const taken = new Set<string>();

  const write = (set: SliceSet, name: string, g: Group, entries: Entry[], current: SliceObject | undefined) => {
    const object: SliceObject = {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: current
        ? { ...(({ managedFields: _m, ...rest }) => rest)(current.metadata), labels: set.labels }
        : { name, namespace, labels: set.labels },
      addressType: g.addressType,
      endpoints: entries.map(toEndpoint),
      ports: g.ports,
    };
    const change: Change = {
      target,
      role: 'mirror',
      kind: 'EndpointSlice',
      namespace,
      name,
      originalName: set.originalName,
      cluster: set.cluster,
      after: sliceSubsets(object),
      object,
    };
    if (!current) {
      result.creates.push(change);
      return;
    }
    if (
      keyOf.get(current) === g.key &&
      equal(entriesOf(current), entries) &&
      equal(current.metadata.labels ?? {}, object.metadata.labels)
    )
      return;
    result.updates.push({
      ...change,
      before: sliceSubsets(current),
      beforeLabels: current.metadata.labels ?? {},
      ...(current.metadata.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
    });
  };

  const writeSet = (set: SliceSet, mine: SliceObject[]) => {
    const groups = groupsOf(set.subsets);
    // New slices take the lowest free index: free of mefi's slices and of anyone else's.
    let next = 0;
    const freshName = () => {
      for (;;) {
        const n = `${set.prefix}-${next++}`;
        if (!byName.has(n) && !taken.has(n)) {
          taken.add(n);
          return n;
        }
      }
    };
    for (const key of [...groups.keys()].sort()) {
      const g = groups.get(key)!;
      const remaining = new Map(g.entries);
      const slots: { name: string; current?: SliceObject; entries: Entry[] }[] = [];
      // Endpoints stay where they are.
      for (const s of mine.filter((x) => keyOf.get(x) === key)) {
        const kept: Entry[] = [];
        for (const e of entriesOf(s)) {
          const want = remaining.get(e.ip);
          if (want && kept.length < max) {
            kept.push(want);
            remaining.delete(e.ip);
          }
        }
        slots.push({ name: s.metadata.name, current: s, entries: kept });
      }
      // New endpoints fill the existing slices first, then new ones.
      const fresh = sortByIP([...remaining.values()]);
      for (const slot of slots) while (slot.entries.length < max && fresh.length) slot.entries.push(fresh.shift()!);
      while (fresh.length) slots.push({ name: freshName(), entries: fresh.splice(0, max) });
      for (const slot of slots) {
        if (slot.entries.length === 0) continue; // emptied: deleted by the caller
        const occupant = byName.get(slot.name);
        if (!slot.current && occupant) {
          result.problems.push({
            code: 'conflict',
            cluster: target,
            namespace,
            name: slot.name,
            message: `EndpointSlice ${namespace}/${slot.name} exists and is not mefi's; this part of the slices of ${set.of ?? 'Service'} ${set.service} from cluster ${set.cluster} is not written`,
          });
          continue;
        }
        write(set, slot.name, g, sortByIP(slot.entries), slot.current);
        if (slot.current) keep.add(slot.name);
      }
    }
  };
  const hold = (mine: SliceObject[]) => {
    for (const s of mine) keep.add(s.metadata.name);
  };
  return { writeSet, hold, keep };
}

/** Owned slices by the set they belong to (`keyOf`), each set in name order: what writeSet and hold take. */
export function slicesBySet(owned: SliceObject[], keyOf: (s: SliceObject) => string): (key: string) => SliceObject[] {
  const bySet = Map.groupBy(owned, keyOf);
  for (const set of bySet.values()) set.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
  return (key) => bySet.get(key) ?? [];
}

/** The change that deletes one of mefi's slices, conditional on what was read. */
export function sliceDelete(
  target: string,
  namespace: string,
  s: SliceObject,
  originalName: string,
  cluster: string | undefined,
): Change {
  return {
    target,
    role: 'mirror',
    kind: 'EndpointSlice',
    namespace,
    name: s.metadata.name,
    originalName,
    ...(cluster ? { cluster } : {}),
    before: sliceSubsets(s),
    beforeLabels: s.metadata.labels ?? {},
    ...(s.metadata.resourceVersion ? { resourceVersion: s.metadata.resourceVersion } : {}),
  };
}
