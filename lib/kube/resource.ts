// The calls mefi makes on one kind of object, written once: a consistent,
// paginated list (an expired continue token restarts it once), get, create,
// a replace conditional on the resourceVersion the object carries, and a
// delete with a resourceVersion precondition.

import type { KubeClient } from './client.ts';

interface Named {
  metadata: { name: string; namespace?: string };
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  /** Page size; 0 for one unpaginated list. */
  pageSize: number;
}

export function resource<T extends Named>(resource: string, apiPath: string) {
  const base = (namespace?: string) => (namespace ? `${apiPath}/namespaces/${encodeURIComponent(namespace)}/${resource}` : `${apiPath}/${resource}`);
  const one = (namespace: string, name: string) => `${base(namespace)}/${encodeURIComponent(name)}`;
  return {
    async list(client: KubeClient, o: ListOptions): Promise<T[]> {
      for (let attempt = 0; ; attempt++) {
        const items: T[] = [];
        let token: string | undefined;
        try {
          do {
            const page = await client.request<{ metadata?: { continue?: string }; items?: T[] }>({
              verb: 'list',
              resource,
              ...(o.namespace ? { namespace: o.namespace } : {}),
              path: base(o.namespace),
              query: { labelSelector: o.labelSelector || undefined, limit: o.pageSize > 0 ? String(o.pageSize) : undefined, continue: token },
            });
            for (const item of page.items ?? []) {
              // The path says the namespace even where an item omits it.
              if (o.namespace && !item.metadata.namespace) item.metadata.namespace = o.namespace;
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
    },
    get(client: KubeClient, namespace: string, name: string): Promise<T> {
      return client.request({ verb: 'get', resource, namespace, name, path: one(namespace, name) });
    },
    create(client: KubeClient, namespace: string, object: T): Promise<T> {
      return client.request({ verb: 'create', resource, namespace, name: object.metadata.name, path: base(namespace), body: object });
    },
    /** A PUT carrying metadata.resourceVersion: refused (409) if the object changed since it was read. */
    replace(client: KubeClient, namespace: string, object: T): Promise<T> {
      return client.request({ verb: 'update', resource, namespace, name: object.metadata.name, path: one(namespace, object.metadata.name), body: object });
    },
    /** With a resourceVersion precondition: never removes an object changed since it was read. */
    delete(client: KubeClient, namespace: string, name: string, resourceVersion: string | undefined): Promise<unknown> {
      return client.request({
        verb: 'delete',
        resource,
        namespace,
        name,
        path: one(namespace, name),
        body: { apiVersion: 'v1', kind: 'DeleteOptions', ...(resourceVersion ? { preconditions: { resourceVersion } } : {}) },
      });
    },
  };
}
