// The calls mefi makes on one kind of object, written once: a consistent,
// paginated list (an expired continue token restarts it once), get, create,
// a replace conditional on the resourceVersion the object carries, and a
// delete with a resourceVersion precondition.

import type { KubeClient } from './client.ts';

interface Named {
  metadata: { name: string; namespace?: string };
}

/** A watch event as the API server streams it. */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T & { code?: number; message?: string; reason?: string };
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  /** Page size; 0 for one unpaginated list. */
  pageSize: number;
}

/** Watch from a resourceVersion, with bookmarks, until the server ends the stream (after timeoutSeconds), the signal aborts, or it fails. */
export type Watch<T> = (
  client: KubeClient,
  o: Omit<ListOptions, 'pageSize'>,
  resourceVersion: string,
  onEvent: (e: WatchEvent<T>) => void,
  signal: AbortSignal,
  timeoutSeconds?: number,
) => Promise<void>;

export function resource<T extends Named>(resource: string, apiPath: string) {
  const base = (namespace?: string) =>
    namespace ? `${apiPath}/namespaces/${encodeURIComponent(namespace)}/${resource}` : `${apiPath}/${resource}`;
  const one = (namespace: string, name: string) => `${base(namespace)}/${encodeURIComponent(name)}`;
  /** A list or a watch, in one namespace or all, of the objects a selector picks. */
  const collection = (verb: 'list' | 'watch', o: Omit<ListOptions, 'pageSize'>) => ({
    verb,
    resource,
    ...(o.namespace ? { namespace: o.namespace } : {}),
    path: base(o.namespace),
    labelSelector: o.labelSelector || undefined,
  });
  /** A create or an update of the object (or of a subresource of it: kind "endpoints/status"). */
  const write = (
    client: KubeClient,
    verb: 'create' | 'update',
    kind: string,
    path: string,
    namespace: string,
    object: T,
  ) => client.request<T>({ verb, resource: kind, namespace, name: object.metadata.name, path, body: object });
  const watch: Watch<T> = (client, o, resourceVersion, onEvent, signal, timeoutSeconds = 300) => {
    const { labelSelector, ...spec } = collection('watch', o);
    const query = {
      labelSelector,
      watch: '1',
      resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(timeoutSeconds),
    };
    return client.watch<WatchEvent<T>>({ ...spec, query }, onEvent, signal);
  };
  return {
    /** The resource's name in the API ("endpoints"). */
    name: resource,
    async list(client: KubeClient, o: ListOptions): Promise<T[]> {
      return (await this.listAt(client, o)).items;
    },
    /** The list and the resourceVersion it is consistent at (where a watch starts). */
    async listAt(client: KubeClient, o: ListOptions): Promise<{ items: T[]; resourceVersion: string }> {
      for (let attempt = 0; ; attempt++) {
        const items: T[] = [];
        let token: string | undefined;
        let resourceVersion = '';
        try {
          do {
            const { labelSelector, ...spec } = collection('list', o);
            const limit = o.pageSize > 0 ? String(o.pageSize) : undefined;
            const page = await client.request<{
              metadata?: { continue?: string; resourceVersion?: string };
              items?: T[];
            }>({ ...spec, query: { labelSelector, limit, continue: token } });
            for (const item of page.items ?? []) {
              // The path says the namespace even where an item omits it.
              if (o.namespace && !item.metadata.namespace) item.metadata.namespace = o.namespace;
              items.push(item);
            }
            resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
            token = page.metadata?.continue || undefined;
          } while (token);
          return { items, resourceVersion };
        } catch (err) {
          if ((err as { status?: number }).status === 410 && attempt === 0) continue;
          throw err;
        }
      }
    },
    watch,
    get(client: KubeClient, namespace: string, name: string): Promise<T> {
      return client.request({ verb: 'get', resource, namespace, name, path: one(namespace, name) });
    },
    create(client: KubeClient, namespace: string, object: T): Promise<T> {
      return write(client, 'create', resource, base(namespace), namespace, object);
    },
    /** A PUT carrying metadata.resourceVersion: refused (409) if the object changed since it was read. */
    replace(client: KubeClient, namespace: string, object: T): Promise<T> {
      return write(client, 'update', resource, one(namespace, object.metadata.name), namespace, object);
    },
    /** A PUT of the status subresource alone, conditional as replace is (the server ignores status elsewhere). */
    replaceStatus(client: KubeClient, namespace: string, object: T): Promise<T> {
      const path = `${one(namespace, object.metadata.name)}/status`;
      return write(client, 'update', `${resource}/status`, path, namespace, object);
    },
    /** With a resourceVersion precondition: never removes an object changed since it was read. */
    delete(client: KubeClient, namespace: string, name: string, resourceVersion: string | undefined): Promise<unknown> {
      return client.request({
        verb: 'delete',
        resource,
        namespace,
        name,
        path: one(namespace, name),
        body: {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          ...(resourceVersion ? { preconditions: { resourceVersion } } : {}),
        },
      });
    },
  };
}
