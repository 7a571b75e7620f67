// The one canonical form of Endpoints subsets. Desired objects are built with
// it and current objects are read through it, so what mefi wrote always
// compares equal to what it wants: the fixed point depends on this.
//
// Rules (DESIGN.md §4): protocol defaults to TCP; nodeName and targetRef are
// dropped (they name objects of another cluster); addresses the API server
// would reject are dropped; subsets with identical port sets are merged; an IP
// ready anywhere in a merged subset is ready; everything is sorted.

import { compareIP, formatIP, parseIP, specialIPReason, type IP } from './ip.ts';
import { isDNS1123Label } from './names.ts';
import type { Address, Port, RawAddress, RawPort, RawSubset, Subset } from './types.ts';

export interface Dropped {
  code: 'invalid-address' | 'invalid-port' | 'disallowed-address';
  message: string;
}

/** Why an address may not be mirrored (a policy such as podCIDRs), or undefined. */
export type AddressFilter = (ip: IP) => string | undefined;

const protocols = new Set(['TCP', 'UDP', 'SCTP']);

function normalizePort(raw: RawPort, nameRequired: boolean): Port | string {
  const port = raw.port;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    return `port ${JSON.stringify(port)} is not in 1-65535`;
  }
  const protocol = raw.protocol || 'TCP';
  if (!protocols.has(protocol)) return `port ${port}: protocol ${JSON.stringify(protocol)} is not TCP, UDP or SCTP`;
  if (raw.name && !isDNS1123Label(raw.name))
    return `port ${port}: name ${JSON.stringify(raw.name)} is not a DNS-1123 label`;
  if (!raw.name && nameRequired) return `port ${port}: a subset with several ports needs a name on each`;
  // Fields in Go's declaration order (name, port, protocol, appProtocol), as the server returns them.
  return {
    ...(raw.name ? { name: raw.name } : {}),
    port,
    protocol: protocol as Port['protocol'],
    ...(raw.appProtocol ? { appProtocol: raw.appProtocol } : {}),
  };
}

/** A port list in canonical form and order, or why the API server would refuse it. */
export function normalizePorts(raw: RawPort[] | null | undefined): { ports: Port[]; errors: string[] } {
  const list = raw ?? [];
  const ports: Port[] = [];
  const errors: string[] = [];
  for (const rawPort of list) {
    const port = normalizePort(rawPort ?? {}, list.length > 1);
    if (typeof port === 'string') errors.push(port);
    else ports.push(port);
  }
  return { ports: ports.sort(comparePort), errors };
}

// Code-unit order, not a locale's: the same everywhere, and no ICU collation
// loaded (its data cost the process about 8 MiB of memory).
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function comparePort(a: Port, b: Port): number {
  return (
    byCodeUnit(a.name ?? '', b.name ?? '') ||
    a.port - b.port ||
    byCodeUnit(a.protocol, b.protocol) ||
    byCodeUnit(a.appProtocol ?? '', b.appProtocol ?? '')
  );
}

export function portKey(ports: Port[]): string {
  return JSON.stringify(ports.map((p) => [p.name ?? '', p.port, p.protocol, p.appProtocol ?? '']));
}

interface Member {
  ip: IP;
  text: string;
  ready: boolean;
  hostname?: string;
}

interface Group {
  ports: Port[];
  members: Map<string, Member>;
}

/** A dotted quad without leading zeros prints as itself. */
function isCanonicalIPv4(text: string): boolean {
  for (let i = 0; i < text.length - 1; i++) {
    if (
      text.charCodeAt(i) === 48 /* 0 */ &&
      (i === 0 || text.charCodeAt(i - 1) === 46) &&
      text.charCodeAt(i + 1) !== 46
    )
      return false;
  }
  return true;
}

function addAddress(group: Group, raw: RawAddress, ready: boolean, dropped: Dropped[], filter?: AddressFilter): void {
  const ip = parseIP(raw?.ip as string);
  if (!ip) {
    dropped.push({ code: 'invalid-address', message: `address ${JSON.stringify(raw?.ip)} is not an IP address` });
    return;
  }
  // Most addresses arrive canonical already: keep the text rather than print it again.
  const text = ip.family === 4 && isCanonicalIPv4(raw.ip!) ? raw.ip! : formatIP(ip);
  const special = specialIPReason(ip);
  if (special) {
    dropped.push({ code: 'invalid-address', message: `address ${text} is ${special}` });
    return;
  }
  const refused = filter?.(ip);
  if (refused) {
    dropped.push({ code: 'disallowed-address', message: `address ${text} ${refused}` });
    return;
  }
  if (raw.hostname && !isDNS1123Label(raw.hostname)) {
    dropped.push({
      code: 'invalid-address',
      message: `address ${text}: hostname ${JSON.stringify(raw.hostname)} is not a DNS-1123 label`,
    });
    return;
  }
  const seen = group.members.get(text);
  if (!seen) {
    group.members.set(text, { ip, text, ready, ...(raw.hostname ? { hostname: raw.hostname } : {}) });
    return;
  }
  seen.ready ||= ready;
  // Duplicates that disagree on hostname: keep the least, so the result is order-free.
  if (raw.hostname && (!seen.hostname || raw.hostname < seen.hostname)) seen.hostname = raw.hostname;
}

/** Sorted members into one subset: ready ones in addresses, the rest in notReadyAddresses. */
function partition(sorted: Member[], ports: Port[]): Subset {
  const subset: Subset = { addresses: [], notReadyAddresses: [], ports };
  for (const m of sorted)
    (m.ready ? subset.addresses : subset.notReadyAddresses).push(
      m.hostname ? { ip: m.text, hostname: m.hostname } : { ip: m.text },
    );
  return subset;
}

export function normalizeSubsets(
  raw: RawSubset[] | null | undefined,
  filter?: AddressFilter,
): { subsets: Subset[]; dropped: Dropped[] } {
  const dropped: Dropped[] = [];
  const groups = new Map<string, Group>();
  for (const subset of raw ?? []) {
    const { ports, errors } = normalizePorts(subset?.ports);
    const addressCount = (subset?.addresses?.length ?? 0) + (subset?.notReadyAddresses?.length ?? 0);
    if (errors.length > 0) {
      // Without valid ports no address of this subset can be served correctly.
      dropped.push({
        code: 'invalid-port',
        message: `subset dropped with its ${addressCount} address(es): ${errors.join('; ')}`,
      });
      continue;
    }
    const key = portKey(ports);
    let group = groups.get(key);
    if (!group) {
      group = { ports, members: new Map() };
      groups.set(key, group);
    }
    for (const a of subset?.addresses ?? []) addAddress(group, a, true, dropped, filter);
    for (const a of subset?.notReadyAddresses ?? []) addAddress(group, a, false, dropped, filter);
  }

  const subsets: Subset[] = [];
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key)!;
    const members = [...group.members.values()].sort((a, b) => compareIP(a.ip, b.ip));
    if (members.length === 0) continue;
    subsets.push(partition(members, group.ports));
  }
  return { subsets, dropped };
}

/**
 * normalizeSubsets for input that is already normalized (mirrors merged into
 * an aggregate): the same result, without validating or reformatting every
 * address again. Each distinct IP is parsed once, to sort.
 */
export function mergeNormalized(parts: Subset[]): Subset[] {
  const groups = new Map<string, { ports: Port[]; members: Map<string, { ready: boolean; hostname?: string }> }>();
  for (const s of parts) {
    const key = portKey(s.ports);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { ports: s.ports, members: new Map() }));
    const add = (a: Address, ready: boolean) => {
      const seen = group.members.get(a.ip);
      if (!seen) {
        group.members.set(a.ip, a.hostname ? { ready, hostname: a.hostname } : { ready });
        return;
      }
      seen.ready ||= ready;
      if (a.hostname && (!seen.hostname || a.hostname < seen.hostname)) seen.hostname = a.hostname;
    };
    for (const a of s.addresses) add(a, true);
    for (const a of s.notReadyAddresses) add(a, false);
  }
  const out: Subset[] = [];
  for (const key of [...groups.keys()].sort()) {
    const group = groups.get(key)!;
    if (group.members.size === 0) continue;
    const members: Member[] = [];
    for (const [text, m] of group.members)
      members.push({ ip: parseIP(text)!, text, ready: m.ready, ...(m.hostname ? { hostname: m.hostname } : {}) });
    out.push(
      partition(
        members.sort((a, b) => compareIP(a.ip, b.ip)),
        group.ports,
      ),
    );
  }
  return out;
}

/**
 * Whether stored subsets are exactly the normalized ones, field by field: the
 * steady-state check, with no normalizing. False only means "normalize and
 * compare" (the stored form may differ in order or in fields mefi drops).
 */
export function equalsRaw(raw: RawSubset[] | null | undefined, want: Subset[]): boolean {
  const r = raw ?? [];
  if (r.length !== want.length) return false;
  const sameAddresses = (got: RawAddress[] | null | undefined, w: Address[]) => {
    const g = got ?? [];
    if (g.length !== w.length) return false;
    for (let i = 0; i < g.length; i++) {
      const a = g[i]!;
      const b = w[i]!;
      if (a.ip !== b.ip || a.hostname !== b.hostname || a.nodeName !== undefined || a.targetRef !== undefined)
        return false;
    }
    return true;
  };
  for (let i = 0; i < r.length; i++) {
    const g = r[i]!;
    const w = want[i]!;
    if (!sameAddresses(g.addresses, w.addresses) || !sameAddresses(g.notReadyAddresses, w.notReadyAddresses))
      return false;
    const gp = g.ports ?? [];
    if (gp.length !== w.ports.length) return false;
    for (let j = 0; j < gp.length; j++) {
      const a = gp[j]!;
      const b = w.ports[j]!;
      if (
        (a.name || undefined) !== b.name ||
        a.port !== b.port ||
        a.protocol !== b.protocol ||
        (a.appProtocol || undefined) !== b.appProtocol
      )
        return false;
    }
  }
  return true;
}

export function addressCount(subsets: Subset[]): number {
  return subsets.reduce((n, s) => n + s.addresses.length + s.notReadyAddresses.length, 0);
}

/** The API form of normalized subsets: empty lists omitted, as the server stores them. */
export function toRawSubsets(subsets: Subset[]): RawSubset[] {
  return subsets.map((s) => ({
    ...(s.addresses.length ? { addresses: s.addresses } : {}),
    ...(s.notReadyAddresses.length ? { notReadyAddresses: s.notReadyAddresses } : {}),
    ...(s.ports.length ? { ports: s.ports } : {}),
  }));
}
