// discovery.k8s.io/v1 EndpointSlice calls.

import type { SliceObject } from '../plan/index.ts';
import type { KubeClient } from './client.ts';

const resource = 'endpointslices';
const base = (namespace?: string) => (namespace ? `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices` : '/apis/discovery.k8s.io/v1/endpointslices');

/** A consistent list, paginated; an expired continue token restarts it once. */
export async function listEndpointSlices(client: KubeClient, options: { namespace?: string; labelSelector?: string; pageSize: number }): Promise<SliceObject[]> {
  for (let attempt = 0; ; attempt++) {
    const items: SliceObject[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await client.request<{ metadata?: { continue?: string }; items?: SliceObject[] }>({
          verb: 'list',
          resource,
          ...(options.namespace ? { namespace: options.namespace } : {}),
          path: base(options.namespace),
          query: { labelSelector: options.labelSelector || undefined, limit: options.pageSize > 0 ? String(options.pageSize) : undefined, continue: token },
        });
        items.push(...(page.items ?? []));
        token = page.metadata?.continue || undefined;
      } while (token);
      return items;
    } catch (err) {
      if ((err as { status?: number }).status === 410 && attempt === 0) continue;
      throw err;
    }
  }
}

export function createEndpointSlice(client: KubeClient, namespace: string, slice: SliceObject): Promise<SliceObject> {
  return client.request({ verb: 'create', resource, namespace, name: slice.metadata.name, path: base(namespace), body: slice });
}

export function replaceEndpointSlice(client: KubeClient, namespace: string, slice: SliceObject): Promise<SliceObject> {
  const name = slice.metadata.name;
  return client.request({ verb: 'update', resource, namespace, name, path: `${base(namespace)}/${encodeURIComponent(name)}`, body: slice });
}

export function deleteEndpointSlice(client: KubeClient, namespace: string, name: string, resourceVersion: string | undefined): Promise<unknown> {
  return client.request({
    verb: 'delete',
    resource,
    namespace,
    name,
    path: `${base(namespace)}/${encodeURIComponent(name)}`,
    body: { apiVersion: 'v1', kind: 'DeleteOptions', ...(resourceVersion ? { preconditions: { resourceVersion } } : {}) },
  });
}
