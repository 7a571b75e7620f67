// coordination.k8s.io/v1 Leases: mefi's record of when each source cluster was last read (staleAfter).

import type { LeaseObject } from '../plan/index.ts';
import type { KubeClient } from './client.ts';

const resource = 'leases';
const base = (namespace: string) => `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;

export async function listLeases(client: KubeClient, namespace: string, labelSelector: string): Promise<LeaseObject[]> {
  const list = await client.request<{ items?: LeaseObject[] }>({ verb: 'list', resource, namespace, path: base(namespace), query: { labelSelector } });
  return list.items ?? [];
}

export function createLease(client: KubeClient, namespace: string, lease: LeaseObject): Promise<LeaseObject> {
  return client.request({ verb: 'create', resource, namespace, name: lease.metadata.name, path: base(namespace), body: lease });
}

/** Conditional on the resourceVersion the lease carries. */
export function replaceLease(client: KubeClient, namespace: string, lease: LeaseObject): Promise<LeaseObject> {
  const name = lease.metadata.name;
  return client.request({ verb: 'update', resource, namespace, name, path: `${base(namespace)}/${encodeURIComponent(name)}`, body: lease });
}
