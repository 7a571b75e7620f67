// The bed's Cluster Inventory: a hub (one of the bed's API servers) with the
// ClusterProfile CRD from sigs.k8s.io/cluster-inventory-api's module, profiles
// written as a cluster manager writes them (spec, then status), and the access
// provider the bed gives mefi: mefi-token-plugin (spec/support/tokenplugin),
// which hands out short-lived TokenRequest tokens of a ServiceAccount in each
// cluster, bound to Secrets a reaper deletes once they expire.

import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterProfileObject } from '../../lib/config/profiles.ts';
import { scratch, type World } from './world.ts';

export const profilesPath = (ns: string, name?: string) =>
  `/apis/multicluster.x-k8s.io/v1alpha1/namespaces/${ns}/clusterprofiles${name ? `/${name}` : ''}`;

/** Why the inventory tests cannot run here, or false. */
export function withoutInventory(): string | false {
  if (!process.env.MEFI_TOKEN_PLUGIN || !process.env.MEFI_CLUSTERPROFILE_CRD)
    return 'needs the Cluster Inventory API parts that make test builds (MEFI_TOKEN_PLUGIN, MEFI_CLUSTERPROFILE_CRD)';
  return false;
}

/** The ClusterProfile CRD in the hub, established. */
export async function installCRD(w: World, hub: string): Promise<void> {
  const r = await w.kubectl(['apply', '--server-side', '-f', process.env.MEFI_CLUSTERPROFILE_CRD!], { cluster: hub });
  if (r.code !== 0) throw new Error(`ClusterProfile CRD: ${r.stderr}`);
  const ok = await w.kubectl(
    ['wait', '--for=condition=Established', '--timeout=60s', 'crd/clusterprofiles.multicluster.x-k8s.io'],
    { cluster: hub },
  );
  if (ok.code !== 0) throw new Error(`ClusterProfile CRD not established: ${ok.stderr}`);
}

export interface Spoke {
  /** The profile's name: the cluster's name for mefi. */
  name: string;
  world: World;
  /** The bed's name of the cluster (its kubeconfig's). */
  cluster: string;
}

/** Where the token plugin finds each cluster (a kubeconfig per clusterName) and logs what it issued. */
export interface TokenService {
  dir: string;
  log: string;
  /** One line per token the plugin issued: its cluster, JTI and issue time. */
  issued(): { cluster: string; jti: string; iat: number; secret: string; expires: string }[];
}

export function tokenService(spokes: Spoke[]): TokenService {
  const dir = scratch('mefi-tokens-');
  for (const s of spokes) symlinkSync(s.world.kubeconfigOf(s.cluster), path.join(dir, `${s.name}.kubeconfig`));
  const log = path.join(dir, 'issued.jsonl');
  writeFileSync(log, '');
  return {
    dir,
    log,
    issued: () =>
      readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as ReturnType<TokenService['issued']>[number]),
  };
}

/** An access provider file: the token plugin first, then any more providers given. */
export function providerFile(tokens: TokenService, more: object[] = [], name = 'providers.json'): string {
  const file = path.join(tokens.dir, name);
  writeFileSync(
    file,
    JSON.stringify({
      providers: [
        {
          name: 'mefi-token',
          execConfig: {
            apiVersion: 'client.authentication.k8s.io/v1',
            command: process.env.MEFI_TOKEN_PLUGIN,
            provideClusterInfo: true,
            env: [
              { name: 'MEFI_TOKEN_PLUGIN_KUBECONFIGS', value: tokens.dir },
              { name: 'MEFI_TOKEN_PLUGIN_LOG', value: tokens.log },
            ],
          },
        },
        ...more,
      ],
    }),
  );
  return file;
}

/** The access provider entry a cluster manager writes for a cluster: its server and CA, and the plugin's config. */
export function accessProvider(
  s: Spoke,
  plugin: { namespace: string; serviceAccount: string; lifetimeSeconds: number },
  name = 'mefi-token',
): NonNullable<ClusterProfileObject['status']>['accessProviders'] {
  const kc = JSON.parse(readFileSync(s.world.kubeconfigOf(s.cluster), 'utf8')) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
  };
  const c = kc.clusters[0]!.cluster;
  return [
    {
      name,
      cluster: {
        server: c.server,
        'certificate-authority-data': c['certificate-authority-data'],
        extensions: [{ name: 'client.authentication.k8s.io/exec', extension: { clusterName: s.name, ...plugin } }],
      },
    },
  ];
}

export const healthy = (status: 'True' | 'False' = 'True') => [
  {
    type: 'ControlPlaneHealthy',
    status,
    reason: status === 'True' ? 'Healthy' : 'Unreachable',
    message: status === 'True' ? '' : 'the cluster manager lost its agent',
    lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  },
];

/** Create or replace a ClusterProfile and its status, as a cluster manager writes them. */
export async function putProfile(
  w: World,
  hub: string,
  ns: string,
  name: string,
  status: NonNullable<ClusterProfileObject['status']>,
): Promise<void> {
  const c = w.admin(hub);
  let current: ClusterProfileObject | undefined;
  try {
    current = await c.request<ClusterProfileObject>({
      verb: 'get',
      resource: 'clusterprofiles',
      namespace: ns,
      name,
      path: profilesPath(ns, name),
    });
  } catch (err) {
    if ((err as { status?: number }).status !== 404) throw err;
  }
  current ??= await c.request<ClusterProfileObject>({
    verb: 'create',
    resource: 'clusterprofiles',
    namespace: ns,
    name,
    path: profilesPath(ns),
    body: {
      apiVersion: 'multicluster.x-k8s.io/v1alpha1',
      kind: 'ClusterProfile',
      metadata: { name, namespace: ns, labels: { 'x-k8s.io/cluster-manager': 'mefi-test' } },
      spec: { displayName: name, clusterManager: { name: 'mefi-test' } },
    },
  });
  await c.request({
    verb: 'update',
    resource: 'clusterprofiles/status',
    namespace: ns,
    name,
    path: `${profilesPath(ns, name)}/status`,
    body: { ...current, status: { conditions: [], ...status } },
  });
}

export async function deleteProfile(w: World, hub: string, ns: string, name: string): Promise<void> {
  await w.admin(hub).request({
    verb: 'delete',
    resource: 'clusterprofiles',
    namespace: ns,
    name,
    path: profilesPath(ns, name),
  });
}

/** A ServiceAccount the plugin issues tokens of, allowed what mefi's shipped roles allow in the test's own namespaces (cluster-admin here: the deploy tests prove the shipped roles). */
export async function tokenIdentity(w: World, cluster: string, ns: string, name: string): Promise<void> {
  await w.ensureNamespace(cluster, ns);
  await w.applyObjects(
    cluster,
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${ns}-${name}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
    },
  );
}

/**
 * Ends every token the plugin issued in this cluster once its advertised
 * expiry has passed (its Secret deleted: the API server refuses the token
 * from then on), until stopped. `now` revokes them all at once.
 */
export function reaper(
  w: World,
  cluster: string,
  ns: string,
): { stop: () => Promise<void>; revokeAll: () => Promise<number> } {
  let running = true;
  const sweep = async (all: boolean) => {
    const list = await w.admin(cluster).request<{
      items: { metadata: { name: string; annotations?: Record<string, string> } }[];
    }>({
      verb: 'list',
      resource: 'secrets',
      namespace: ns,
      path: `/api/v1/namespaces/${ns}/secrets`,
      query: { labelSelector: 'mefi.dev/token-plugin' },
    });
    let n = 0;
    for (const s of list.items) {
      const expires = Date.parse(s.metadata.annotations?.['mefi.dev/expires-at'] ?? '');
      if (!all && !(expires <= Date.now())) continue;
      await w
        .admin(cluster)
        .request({
          verb: 'delete',
          resource: 'secrets',
          namespace: ns,
          name: s.metadata.name,
          path: `/api/v1/namespaces/${ns}/secrets/${s.metadata.name}`,
        })
        .catch(() => undefined);
      n++;
    }
    return n;
  };
  const done = (async () => {
    while (running) {
      await sweep(false).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 250));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
    },
    revokeAll: () => sweep(true),
  };
}
