// Apply a plan: only its calls, bounded per target, each conditional on the
// resourceVersion that was read. A conflict (someone wrote in between) is
// decided again from fresh state, once, by the planner's own rule; what still
// fails is reported and left to the next run.

import pLimit from 'p-limit';
import { ApiError, type KubeClient } from '../kube/client.ts';
import { endpoints, leases, resourceOf } from '../kube/kinds.ts';
import type { resource } from '../kube/resource.ts';
import { heldKey } from '../plan/held.ts';
import { decide, desiredOf } from '../plan/object.ts';
import type {
  Change,
  EndpointsObject,
  LeaseChange,
  Plan,
  PlanOptions,
  ServiceExportObject,
  ServiceImportObject,
  ServiceObject,
  TargetObject,
} from '../plan/index.ts';

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

type Sent = TargetObject | ServiceObject | ServiceImportObject | ServiceExportObject;

async function remove(client: KubeClient, change: Change): Promise<null> {
  try {
    await resourceOf(change).delete(client, change.namespace, change.name, change.resourceVersion);
  } catch (err) {
    if (!isStatus(err, 404)) throw err; // already gone is what we wanted
  }
  return null;
}

/**
 * The calls of one change, in the change's own namespace; what the server
 * stored for a create or update, null after a delete. A kind with a status
 * subresource gets the calls change.writes names: the object, then its
 * status on what the first call stored.
 */
async function send(
  client: KubeClient,
  action: Action,
  change: Change,
  onStored: ApplySettings['onStored'],
): Promise<Sent | null> {
  const sent = (c: Change, stored: Sent | null) => (onStored?.(c, stored), stored);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- it is needed: each kind's resource becomes one that takes any Sent
  const kind = resourceOf(change) as ReturnType<typeof resource<Sent>>;
  if (action === 'delete') return sent(change, await remove(client, change));
  const object = change.object as Sent;
  if (change.kind === 'ServiceExportStatus')
    return sent(change, await kind.replaceStatus(client, change.namespace, object));
  if (change.recreate) {
    // An immutable field changes (clusterIP, the primary family): delete what was read, create anew.
    sent(change, await remove(client, change));
    const { resourceVersion: _rv, ...created } = change;
    return sent(created, await kind.create(client, change.namespace, object));
  }
  const writes = change.writes ?? ['object'];
  let stored: Sent = object;
  let basis = change;
  if (action === 'create' || writes.includes('object')) {
    stored = sent(
      change,
      await (action === 'create'
        ? kind.create(client, change.namespace, object)
        : kind.replace(client, change.namespace, object)),
    )!;
    basis = {
      ...change,
      ...(stored.metadata.resourceVersion ? { resourceVersion: stored.metadata.resourceVersion } : {}),
    };
  }
  // The status on what the object's write stored (its resourceVersion), or on what was read.
  if (writes.includes('status'))
    stored = sent(
      basis,
      await kind.replaceStatus(client, change.namespace, { ...stored, status: (object as ServiceImportObject).status }),
    )!;
  return stored;
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
    await send(client, action, change, s.onStored);
    return { action, change, result: 'done', retried: false };
  } catch (err) {
    // 409: changed since read (update, delete) or created meanwhile (create). 404 on update: deleted meanwhile.
    const stale = isStatus(err, 409) || (action === 'update' && isStatus(err, 404));
    if (!stale) return { action, change, result: 'failed', message: (err as Error).message, retried: false };
    // A slice's place depends on its siblings, an MCS object's on the whole name: rather than decide one alone, leave it to the next run.
    if (change.kind !== undefined && change.kind !== 'Endpoints')
      return {
        action,
        change,
        result: 'skipped',
        message: 'changed since read; the next run decides again',
        retried: false,
        blocking: true,
      };
  }
  try {
    const current = await fresh(client, change);
    const decision = decide(
      s.options,
      change.target,
      action === 'delete' ? undefined : desiredOf(change),
      current,
      s.clusters,
      { adoptable: change.adopted === true, adopt: change.adopted === true },
    );
    if (decision.action === 'none')
      return { action, change, result: 'skipped', message: 'already as wanted when read again', retried: true };
    if (decision.action === 'conflict')
      return { action, change, result: 'skipped', message: decision.message, retried: true, blocking: true };
    await send(client, decision.action, decision.change, s.onStored);
    return { action, change, result: 'done', message: `retried as ${decision.action} from fresh state`, retried: true };
  } catch (err) {
    return {
      action,
      change,
      result: 'failed',
      message: `${(err as Error).message} (after one retry from fresh state; the next run will try again)`,
      retried: true,
    };
  }
}

async function applyLease(client: KubeClient, l: LeaseChange): Promise<LeaseOutcome> {
  try {
    await (l.action === 'create'
      ? leases.create(client, l.namespace, l.object)
      : leases.replace(client, l.namespace, l.object));
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

/** An import whose ips are its derived Service's (Change.ipsFrom), completed from what the server allocated. */
function withIps(change: Change, service: ServiceObject): Change {
  const o = change.object as ServiceImportObject;
  const spec = service.spec ?? {};
  const ips = (spec.clusterIPs ?? [spec.clusterIP ?? '']).filter((ip) => ip && ip !== 'None').slice(0, 2);
  const ipFamilies = o.spec.ipFamilies ?? spec.ipFamilies ?? undefined;
  return {
    ...change,
    object: {
      ...o,
      spec: {
        ...o.spec,
        ...(o.spec.type === 'ClusterSetIP' && ips.length ? { ips } : {}),
        ...(ipFamilies?.length ? { ipFamilies: [...ipFamilies] } : {}),
      },
    },
  };
}

export async function applyPlan(plan: Plan, clients: Map<string, KubeClient>, s: ApplySettings): Promise<Outcome[]> {
  const limits = new Map<string, ReturnType<typeof pLimit>>();
  const run = (action: Action, change: Change, o: ApplySettings = s) => {
    let limit = limits.get(change.target);
    if (!limit) limits.set(change.target, (limit = pLimit(s.concurrency)));
    return limit(() => applyOne(clients.get(change.target)!, o, action, change));
  };
  const writes: [Action, Change][] = [
    ...plan.creates.map((c) => ['create', c] as [Action, Change]),
    ...plan.updates.map((c) => ['update', c] as [Action, Change]),
  ];
  // MCS: derived Services first: an import's ips are the cluster IPs the server gives them.
  const allocated = new Map<string, ServiceObject>();
  const remember: ApplySettings = {
    ...s,
    onStored: (c, stored) => (stored && allocated.set(heldKey(c), stored), s.onStored?.(c, stored)),
  };
  const services = await Promise.all(
    writes.filter(([, c]) => c.kind === 'Service').map(([a, c]) => run(a, c, remember)),
  );
  // Writes before deletes: a renamed or moved address is added before the old one goes.
  const rest = await Promise.all(
    writes
      .filter(([, c]) => c.kind !== 'Service')
      .map(async ([action, change]): Promise<Outcome> => {
        if (!change.ipsFrom) return run(action, change);
        const service = allocated.get(
          heldKey({ target: change.target, namespace: change.namespace, name: change.ipsFrom }),
        );
        if (!service)
          return {
            action,
            change,
            result: 'failed',
            message: `its derived Service ${change.namespace}/${change.ipsFrom} was not written; the next run tries again`,
            retried: false,
          };
        return { ...(await run(action, withIps(change, service))), change };
      }),
  );
  const deletes = await Promise.all(plan.deletes.map((c) => run('delete', c)));
  return [...services, ...rest, ...deletes];
}
