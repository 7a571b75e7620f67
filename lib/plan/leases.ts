// staleAfter: one Lease per source cluster in each target records when that
// cluster was last read. A cluster unreadable for longer than its staleAfter
// is stale: its mirrors are no longer kept. The Lease is renewed only when it
// is older than a quarter of staleAfter, so most steady-state runs write
// nothing, and a stale cluster's mirrors go between 3/4 and 1 × staleAfter
// after its last successful read.

import type { LeaseChange, LeaseObject, PlanOptions, Finding } from './types.ts';

export function leaseName(cluster: string): string {
  return `mefi-source-${cluster}`;
}

/** metav1.MicroTime: RFC 3339 with six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function renewedAt(lease: LeaseObject | undefined): number | undefined {
  const t = lease?.spec?.renewTime ? Date.parse(lease.spec.renewTime) : NaN;
  return Number.isNaN(t) ? undefined : t;
}

function leasesByCluster(options: PlanOptions, leases: LeaseObject[] | undefined): Map<string, LeaseObject> {
  const out = new Map<string, LeaseObject>();
  for (const l of leases ?? []) {
    if (l.metadata.labels?.[options.ownerLabel.key] !== options.ownerLabel.value) continue;
    const cluster = l.metadata.labels?.[options.sourceClusterLabel];
    if (cluster && l.metadata.name === leaseName(cluster)) out.set(cluster, l);
  }
  return out;
}

export interface Staleness {
  /** Unreadable clusters whose mirrors are no longer kept in this target. */
  stale: Set<string>;
  problems: Finding[];
  renewals: LeaseChange[];
}

/**
 * Which unreadable clusters are stale in this target, and which Leases to
 * renew. `unknown` are clusters that still have mirrors here but are no
 * longer configured: never read, so judged like unreadable ones, by the
 * top-level staleAfter.
 */
export function staleness(
  options: PlanOptions,
  target: string,
  leases: LeaseObject[] | undefined,
  unreadable: Set<string>,
  clusters: string[],
  now: number | undefined,
  unknown: string[] = [],
): Staleness {
  const result: Staleness = { stale: new Set(), problems: [], renewals: [] };
  if ((!options.staleAfter && options.staleAfterDefault === undefined) || now === undefined) return result;
  const byCluster = leasesByCluster(options, leases);
  for (const cluster of [...clusters, ...unknown]) {
    const isUnknown = !clusters.includes(cluster);
    const limit = isUnknown ? options.staleAfterDefault : options.staleAfter?.[cluster];
    if (limit === undefined) continue;
    const lease = byCluster.get(cluster);
    const last = renewedAt(lease);
    if (unreadable.has(cluster) || isUnknown) {
      // No record of a last read: its age is unknown, so its mirrors are kept.
      if (last !== undefined && now - last > limit) {
        result.stale.add(cluster);
        result.problems.push({
          code: 'stale-cluster',
          cluster: target,
          name: cluster,
          message: `cluster ${cluster} was last read at ${new Date(last).toISOString()}, more than staleAfter (${limit / 1000}s) ago: its mirrors are removed from ${target}`,
        });
      }
      continue;
    }
    if (last !== undefined && now - last < limit / 4) continue;
    const name = leaseName(cluster);
    const object: LeaseObject = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        ...(lease
          ? (({ managedFields: _m, ...rest }) => rest)(lease.metadata)
          : { name, namespace: options.namespace }),
        labels: {
          ...(lease?.metadata.labels ?? {}),
          [options.ownerLabel.key]: options.ownerLabel.value,
          [options.sourceClusterLabel]: cluster,
        },
      },
      spec: { holderIdentity: 'mefi', leaseDurationSeconds: Math.ceil(limit / 1000), renewTime: microTime(now) },
    };
    result.renewals.push({
      action: lease ? 'update' : 'create',
      target,
      cluster,
      namespace: options.namespace,
      name,
      object,
      ...(lease?.metadata.resourceVersion ? { resourceVersion: lease.metadata.resourceVersion } : {}),
    });
  }
  return result;
}
