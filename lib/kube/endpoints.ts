// core/v1 Endpoints calls, typed with the planner's shapes.

import type { EndpointsObject } from '../plan/index.ts';
import type { KubeClient } from './client.ts';

interface List {
  metadata?: { continue?: string; resourceVersion?: string };
  items?: EndpointsObject[];
}

const resource = 'endpoints';
const base = (namespace?: string) => (namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/endpoints` : '/api/v1/endpoints');

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  /** Page size; 0 for one unpaginated list. */
  pageSize: number;
}

/** A consistent (quorum) list, paginated; an expired continue token restarts it once. */
export async function listEndpoints(client: KubeClient, options: ListOptions): Promise<EndpointsObject[]> {
  for (let attempt = 0; ; attempt++) {
    const items: EndpointsObject[] = [];
    let token: string | undefined;
    try {
      do {
        const page = await client.request<List>({
          verb: 'list',
          resource,
          ...(options.namespace ? { namespace: options.namespace } : {}),
          path: base(options.namespace),
          query: {
            labelSelector: options.labelSelector || undefined,
            limit: options.pageSize > 0 ? String(options.pageSize) : undefined,
            continue: token,
          },
        });
        for (const item of page.items ?? []) {
          // Items of a list carry no namespace in some proxies' output; the path says it.
          if (options.namespace && !item.metadata.namespace) item.metadata.namespace = options.namespace;
          items.push(item);
        }
        token = page.metadata?.continue || undefined;
      } while (token);
      return items;
    } catch (err) {
      if ((err as { status?: number }).status === 410 && attempt === 0) continue;
      throw err;
    }
  }
}

export function getEndpoints(client: KubeClient, namespace: string, name: string): Promise<EndpointsObject> {
  return client.request({ verb: 'get', resource, namespace, name, path: `${base(namespace)}/${encodeURIComponent(name)}` });
}

export function createEndpoints(client: KubeClient, namespace: string, object: EndpointsObject, dryRun = false): Promise<EndpointsObject> {
  return client.request({ verb: 'create', resource, namespace, name: object.metadata.name, path: base(namespace), query: { dryRun: dryRun ? 'All' : undefined }, body: object });
}

/** A PUT carrying metadata.resourceVersion: the server refuses it (409) if the object changed since it was read. */
export function replaceEndpoints(client: KubeClient, namespace: string, object: EndpointsObject): Promise<EndpointsObject> {
  const name = object.metadata.name;
  return client.request({ verb: 'update', resource, namespace, name, path: `${base(namespace)}/${encodeURIComponent(name)}`, body: object });
}

/** A delete with a resourceVersion precondition: never removes an object changed since it was read. */
export function deleteEndpoints(client: KubeClient, namespace: string, name: string, resourceVersion: string | undefined): Promise<unknown> {
  return client.request({
    verb: 'delete',
    resource,
    namespace,
    name,
    path: `${base(namespace)}/${encodeURIComponent(name)}`,
    body: { apiVersion: 'v1', kind: 'DeleteOptions', ...(resourceVersion ? { preconditions: { resourceVersion } } : {}) },
  });
}
