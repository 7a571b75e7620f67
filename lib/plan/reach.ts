// Reachability gating (--probe), the pure half. The run probes, from the
// target cluster's pod network, every remote address and TCP port the target
// is about to serve (toProbe); what did not answer comes back as plain input
// (PlanInput.unreachable), and such an address is served as not ready until
// it answers again. As with affinity, the mirrors stay as their sources say;
// only what the target serves changes. Local addresses are never probed: their
// own readiness already says it. UDP and SCTP ports cannot be TCP-probed and
// are left as the source says.

import { memoBy } from './memo.ts';
import { normalizeSubsets } from './normalize.ts';
import { clusterOf, isOwned } from './object.ts';
import { keptAsIs, podCIDRFilter, sourceView, type SourceView } from './sources.ts';
import type { Finding, PlanInput, PlanOptions, Subset } from './types.ts';

export interface ProbeAddress {
  /** The cluster the address comes from. */
  cluster: string;
  ip: string;
  port: number;
  /** probeKey(ip, port). */
  key: string;
}

/** How an (address, port) is named in PlanInput.unreachable: "10.0.0.1:80", "[fd00::1]:80". */
export function probeKey(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

const tcpPorts = (s: Subset) => s.ports.filter((p) => p.protocol === 'TCP').map((p) => p.port);

const listed = new WeakMap<object, unknown>();

/**
 * The ready (address, TCP port)s of one mirror's subsets, remembered per
 * subsets (a watching loop's sources stand still). Subsets belong to one
 * source object, so to one cluster; only an empty list could be shared.
 */
function probesOf(cluster: string, subsets: Subset[]): ProbeAddress[] {
  return memoBy(listed, [subsets], () => {
    const out: ProbeAddress[] = [];
    for (const s of subsets)
      for (const a of s.addresses)
        for (const port of tcpPorts(s)) out.push({ cluster, ip: a.ip, port, key: probeKey(a.ip, port) });
    return out;
  });
}

/**
 * Every remote (address, TCP port) the target would serve as ready this run:
 * the ready addresses of the other clusters' sources, and, in Endpoints mode,
 * of the mirrors kept as they are (their cluster unreadable), which still
 * count in the aggregates. Only addresses inside the cluster's podCIDRs (when
 * set): a probe never goes where a mirror could not point. In the order of
 * the clusters, then the mirrors, then their (sorted) addresses; no repeats.
 */
export function toProbe(
  options: PlanOptions,
  input: PlanInput,
  target: string,
  view: SourceView = sourceView(options, input.sources),
): ProbeAddress[] {
  const lists: ProbeAddress[][] = [];
  for (const m of view.mirrors) if (m.cluster !== target) lists.push(probesOf(m.cluster, m.subsets));
  const current = input.targets[target];
  if (current?.ok && options.target !== 'endpointslices') {
    for (const obj of current.items) {
      if (!isOwned(obj, options)) continue;
      const cluster = clusterOf(obj, options, view.clusters);
      if (cluster === undefined || cluster === target || !keptAsIs(options, view, cluster, obj.metadata.name)) continue;
      lists.push(
        probesOf(cluster, normalizeSubsets(obj.subsets, podCIDRFilter(cluster, options.podCIDRs?.[cluster])).subsets),
      );
    }
  }
  const seen = new Map<string, Set<string>>();
  const out: ProbeAddress[] = [];
  for (const list of lists) {
    const first = list[0];
    if (!first) continue;
    let keys = seen.get(first.cluster);
    if (!keys) seen.set(first.cluster, (keys = new Set()));
    for (const p of list) {
      if (keys.has(p.key)) continue;
      keys.add(p.key);
      out.push(p);
    }
  }
  return out;
}

const reached = new WeakMap<object, unknown>();
const none: ReadonlySet<string> = new Set();

/**
 * A remote mirror's subsets as the target serves them: a ready address one
 * of whose TCP ports did not answer becomes not ready. The same subsets when
 * nothing changes (identity, for the planner's memo).
 */
export function servedReachable(
  subsets: Subset[],
  unreachable: ReadonlySet<string> = none,
): { subsets: Subset[]; gated: string[] } {
  if (unreachable.size === 0) return { subsets, gated: [] };
  return memoBy(reached, [subsets, unreachable], () => {
    const gated: string[] = [];
    const out = subsets.map((s) => {
      const ports = tcpPorts(s);
      const bad = s.addresses.filter((a) => ports.some((p) => unreachable.has(probeKey(a.ip, p))));
      if (bad.length === 0) return s;
      for (const a of bad)
        gated.push(...ports.filter((p) => unreachable.has(probeKey(a.ip, p))).map((p) => probeKey(a.ip, p)));
      return {
        addresses: s.addresses.filter((a) => !bad.includes(a)),
        notReadyAddresses: [...bad, ...s.notReadyAddresses],
        ports: s.ports,
      };
    });
    return gated.length ? { subsets: out, gated } : { subsets, gated };
  });
}

/** The finding that says a remote mirror's addresses are not served here. */
export function unreachableFinding(
  options: PlanOptions,
  target: string,
  m: { name: string; originalName: string; cluster: string; subsets: Subset[] },
  gated: string[],
): Finding {
  const ready = m.subsets.reduce((n, s) => n + s.addresses.length, 0);
  const ips = new Set(gated.map((k) => k.replace(/:\d+$/, '')));
  const shown = gated.slice(0, 5).join(', ') + (gated.length > 5 ? `, and ${gated.length - 5} more` : '');
  return {
    code: 'unreachable',
    cluster: target,
    namespace: options.namespace,
    name: m.name,
    message: `${ips.size} of ${ready} ready addresses of ${m.originalName} from cluster ${m.cluster} do not answer from ${target} (${shown}); not served until they do`,
  };
}
