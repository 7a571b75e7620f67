// Apply a plan: only its calls, bounded per target, each conditional on the
// resourceVersion that was read. A conflict (someone wrote in between) is
// decided again from fresh state, once, by the planner's own rule; what still
// fails is reported and left to the next run.

import pLimit from 'p-limit';
import { ApiError, type KubeClient } from './kube/client.ts';
import { endpoints, endpointSlices, leases } from './kube/kinds.ts';
import { decide, desiredOf } from './plan/object.ts';
import type { Change, EndpointsObject, LeaseChange, Plan, PlanOptions, TargetObject } from './plan/index.ts';

export type Action = 'create' | 'update' | 'delete';

export interface Outcome {
  action: Action;
  change: Change;
  /** done: the call succeeded; skipped: fresh state needed nothing, or a foreign object holds the name; failed: left to the next run. */
  result: 'done' | 'skipped' | 'failed';
  /** What the retry did, or why the write failed. */
  message?: string;
  retried: boolean;
  /** Skipped and the object is not as wanted (a foreign object holds the name, a slice left to the next run): not converged. */
  blocking?: boolean;
}

export interface LeaseOutcome {
  lease: LeaseChange;
  /** skipped: another run renewed it first (409), which is as good. */
  result: 'done' | 'skipped' | 'failed';
  message?: string;
}

export interface ApplySettings {
  options: PlanOptions;
  concurrency: number;
  /** Every configured cluster: to recognise the original mefi's unlabelled mirrors. */
  clusters: string[];
  /**
   * Told of every write as soon as the server took it: the object it now
   * holds (null once deleted), and the change it was made for (whose
   * resourceVersion the write was conditional on). A watching loop knows its
   * own echo by it, and keeps its cache as current as its writes.
   */
  onStored?: (change: Change, stored: TargetObject | null) => void;
}

const isStatus = (err: unknown, status: number) => err instanceof ApiError && err.status === status;

/** One call; what the server stored for a create or update, null after a delete. */
async function send(client: KubeClient, options: PlanOptions, action: Action, change: Change): Promise<TargetObject | null> {
  const kind = (change.kind === 'EndpointSlice' ? endpointSlices : endpoints) as typeof endpoints;
  if (action === 'create') return kind.create(client, options.namespace, change.object as EndpointsObject);
  if (action === 'update') return kind.replace(client, options.namespace, change.object as EndpointsObject);
  try {
    await kind.delete(client, options.namespace, change.name, change.resourceVersion);
  } catch (err) {
    if (!isStatus(err, 404)) throw err; // already gone is what we wanted
  }
  return null;
}

async function fresh(client: KubeClient, change: Change): Promise<EndpointsObject | undefined> {
  try {
    return await endpoints.get(client, change.namespace, change.name);
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

async function applyOne(client: KubeClient, s: ApplySettings, action: Action, change: Change): Promise<Outcome> {
  try {
    const stored = await send(client, s.options, action, change);
    s.onStored?.(change, stored);
    return { action, change, result: 'done', retried: false };
  } catch (err) {
    // 409: changed since read (update, delete) or created meanwhile (create). 404 on update: deleted meanwhile.
    const stale = isStatus(err, 409) || (action === 'update' && isStatus(err, 404));
    if (!stale) return { action, change, result: 'failed', message: (err as Error).message, retried: false };
    // A slice's place depends on its siblings: rather than decide one alone, leave it to the next run.
    if (change.kind === 'EndpointSlice') return { action, change, result: 'skipped', message: 'changed since read; the next run decides again', retried: false, blocking: true };
  }
  try {
    const current = await fresh(client, change);
    const decision = decide(s.options, change.target, action === 'delete' ? undefined : desiredOf(change), current, s.clusters, { adoptable: change.adopted === true, adopt: change.adopted === true });
    if (decision.action === 'none') return { action, change, result: 'skipped', message: 'already as wanted when read again', retried: true };
    if (decision.action === 'conflict') return { action, change, result: 'skipped', message: decision.message, retried: true, blocking: true };
    const stored = await send(client, s.options, decision.action, decision.change);
    s.onStored?.(decision.change, stored);
    return { action, change, result: 'done', message: `retried as ${decision.action} from fresh state`, retried: true };
  } catch (err) {
    return { action, change, result: 'failed', message: `${(err as Error).message} (after one retry from fresh state; the next run will try again)`, retried: true };
  }
}

async function applyLease(client: KubeClient, l: LeaseChange): Promise<LeaseOutcome> {
  try {
    await (l.action === 'create' ? leases.create(client, l.namespace, l.object) : leases.replace(client, l.namespace, l.object));
    return { lease: l, result: 'done' };
  } catch (err) {
    if (isStatus(err, 409)) return { lease: l, result: 'skipped', message: 'renewed by another run meanwhile' };
    return { lease: l, result: 'failed', message: (err as Error).message };
  }
}

/** Lease renewals, after the Endpoints: a record of the read, written only once the read was acted on. */
export function applyLeases(plan: Plan, clients: Map<string, KubeClient>): Promise<LeaseOutcome[]> {
  return Promise.all(plan.leases.map((l) => applyLease(clients.get(l.target)!, l)));
}

export async function applyPlan(plan: Plan, clients: Map<string, KubeClient>, s: ApplySettings): Promise<Outcome[]> {
  const limits = new Map<string, ReturnType<typeof pLimit>>();
  const run = (action: Action, change: Change) => {
    let limit = limits.get(change.target);
    if (!limit) limits.set(change.target, (limit = pLimit(s.concurrency)));
    return limit(() => applyOne(clients.get(change.target)!, s, action, change));
  };
  // Writes before deletes: a renamed or moved address is added before the old one goes.
  const writes = await Promise.all([...plan.creates.map((c) => run('create', c)), ...plan.updates.map((c) => run('update', c))]);
  const deletes = await Promise.all(plan.deletes.map((c) => run('delete', c)));
  return [...writes, ...deletes];
}
