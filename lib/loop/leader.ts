// --leader-elect: several replicas of a loop, one writing. The leader holds a
// coordination.k8s.io Lease in mefi-system of the target (of the first, by
// name, when a loop has several) and renews it every retry period; a standby
// tries as often, and takes the Lease once it has seen it unchanged for a
// lease duration (by its own clock, as client-go does: no two clocks are
// compared), or at once when the leader released it on SIGTERM. A leader that
// cannot renew within the renew deadline stops leading. Writes stay
// conditional on what was read, so even a leader that lost its Lease and does
// not know yet cannot overwrite newer state.

import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, type KubeClient } from '../kube/client.ts';
import { leases } from '../kube/kinds.ts';
import type { LeaseObject } from '../plan/index.ts';
import { microTime } from '../plan/leases.ts';

export interface LeaderSettings {
  namespace: string;
  name: string;
  /** Who this replica is, in the Lease's holderIdentity: the pod's name. */
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** The Lease's spec: who holds it, since when, renewed when, for how long. */
export type LeaseRecord = NonNullable<LeaseObject['spec']>;

/** What a replica last saw of the Lease, and when (its own clock). */
export interface Observed {
  key: string;
  atMs: number;
}

/** The record's identity for "has it changed since I last looked": holder, renewal and transitions. */
export function recordKey(r: LeaseRecord | undefined): string {
  return JSON.stringify([r?.holderIdentity ?? '', r?.renewTime ?? '', r?.leaseTransitions ?? 0]);
}

/**
 * May this replica take (or keep) the Lease now? Yes when no one holds it,
 * when it holds it, or when the holder's record has not changed for the
 * holder's lease duration since this replica first saw it so.
 */
export function mayAcquire(
  r: LeaseRecord | undefined,
  observed: Observed | undefined,
  nowMs: number,
  me: string,
  defaultDurationMs: number,
): boolean {
  const holder = r?.holderIdentity ?? '';
  if (holder === '' || holder === me) return true;
  if (!observed || observed.key !== recordKey(r)) return false;
  const durationMs = r?.leaseDurationSeconds ? r.leaseDurationSeconds * 1000 : defaultDurationMs;
  return nowMs - observed.atMs >= durationMs;
}

/** The record a replica writes to take or renew the Lease. */
export function acquired(r: LeaseRecord | undefined, me: string, nowMs: number, durationMs: number): LeaseRecord {
  const time = microTime(nowMs);
  const mine = r?.holderIdentity === me;
  return {
    holderIdentity: me,
    leaseDurationSeconds: Math.max(1, Math.round(durationMs / 1000)),
    acquireTime: mine && r?.acquireTime ? r.acquireTime : time,
    renewTime: time,
    leaseTransitions: (r?.leaseTransitions ?? 0) + (mine || !r?.holderIdentity ? 0 : 1),
  };
}

export class LeaderElection {
  private isLeader = false;
  private observed?: Observed;
  private current?: LeaseObject;
  private lastRenewMs = 0;
  private announced = false;

  /** The target's client (a reloaded config replaces it). */
  private readonly clientOf: () => KubeClient;
  private readonly s: LeaderSettings;
  /** Told when this replica starts or stops leading. */
  private readonly changed: (leading: boolean, why: string) => void;

  constructor(clientOf: () => KubeClient, s: LeaderSettings, changed: (leading: boolean, why: string) => void) {
    this.clientOf = clientOf;
    this.s = s;
    this.changed = changed;
  }

  get leading(): boolean {
    return this.isLeader;
  }

  /** Whether the Lease was seen (or written) within a renew deadline: the election itself is working. */
  healthy(nowMs = Date.now()): boolean {
    return this.observed !== undefined && nowMs - this.observed.atMs <= this.s.leaseDurationMs + this.s.renewDeadlineMs;
  }

  /** Try, renew and (on abort, when leading) release, until the signal. */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await this.tryOnce().catch((err: Error) => this.failed(err));
      await sleep(this.s.retryPeriodMs, undefined, { signal }).catch(() => undefined);
    }
    if (this.isLeader) await this.release();
  }

  private see(lease: LeaseObject | undefined, nowMs: number): void {
    const key = recordKey(lease?.spec);
    // Unchanged, it keeps the time it was first seen so: a lease duration from there, it has expired.
    if (this.observed?.key !== key) this.observed = { key, atMs: nowMs };
    this.current = lease;
  }

  private async get(): Promise<LeaseObject | undefined> {
    try {
      return await leases.get(this.clientOf(), this.s.namespace, this.s.name);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  private async tryOnce(): Promise<void> {
    const now = Date.now();
    // A leader renews what it wrote last; anyone else reads first.
    const lease = this.isLeader && this.current ? this.current : await this.get();
    if (!this.isLeader) this.see(lease, now);
    if (!mayAcquire(lease?.spec, this.observed, now, this.s.identity, this.s.leaseDurationMs)) {
      // Said once, at the start: a replica that never leads stands by.
      if (!this.announced) this.step(false, `the Lease is held by ${lease?.spec?.holderIdentity}`);
      return;
    }
    const spec = acquired(lease?.spec, this.s.identity, now, this.s.leaseDurationMs);
    let stored: LeaseObject;
    try {
      stored = lease
        ? await leases.replace(this.clientOf(), this.s.namespace, { ...lease, spec })
        : await leases.create(this.clientOf(), this.s.namespace, {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.s.name, namespace: this.s.namespace },
            spec,
          });
    } catch (err) {
      // Someone else wrote it first (409): read again next time.
      if (err instanceof ApiError && (err.status === 409 || err.status === 404)) {
        this.current = undefined;
        if (this.isLeader) this.step(false, 'the Lease was taken');
        return;
      }
      throw err;
    }
    this.lastRenewMs = now;
    this.see(stored, now);
    if (!this.isLeader) this.step(true, lease?.spec?.holderIdentity ? 'took the Lease' : 'acquired the Lease');
  }

  private failed(err: Error): void {
    this.current = undefined;
    if (this.isLeader && Date.now() - this.lastRenewMs > this.s.renewDeadlineMs)
      this.step(false, `could not renew the Lease within the renew deadline: ${err.message}`);
  }

  private step(leading: boolean, why: string): void {
    this.announced = true;
    this.isLeader = leading;
    this.changed(leading, why);
  }

  /** SIGTERM: hand the Lease over now (an empty holder, one second), not after a lease duration. */
  private async release(): Promise<void> {
    const lease = this.current;
    this.step(false, 'released the Lease');
    if (!lease) return;
    const now = microTime(Date.now());
    await leases
      .replace(this.clientOf(), this.s.namespace, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now, acquireTime: now },
      })
      .catch(() => undefined); // the standby takes it after a lease duration instead
  }
}
