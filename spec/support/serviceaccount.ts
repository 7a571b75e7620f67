// Credentials of a ServiceAccount, as a pod of it would have them (a bound
// token and the cluster's CA, what kubelet mounts), for the bed's controllers
// that run out of a pod: they get exactly the RBAC their manifests grant.

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { World } from './world.ts';

export interface Credentials {
  server: string;
  tokenFile: string;
  caFile: string;
  /** The same as a kubeconfig. */
  kubeconfig: string;
}

export async function serviceAccount(
  w: World,
  cluster: string,
  namespace: string,
  name: string,
  work: string,
): Promise<Credentials> {
  const token = await w.kubectl(['-n', namespace, 'create', 'token', name, '--duration=24h'], { cluster });
  if (token.code !== 0) throw new Error(`token of ${namespace}/${name}: ${token.stderr}`);
  const admin = JSON.parse(readFileSync(w.kubeconfigOf(cluster), 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
  };
  const entry = admin.clusters[0]!.cluster;
  const base = path.join(work, `${cluster}-${namespace}-${name}`);
  const creds = {
    server: entry.server!,
    tokenFile: `${base}.token`,
    caFile: `${base}.ca.crt`,
    kubeconfig: `${base}.kubeconfig`,
  };
  writeFileSync(creds.tokenFile, token.stdout.trim());
  writeFileSync(creds.caFile, Buffer.from(entry['certificate-authority-data']!, 'base64'));
  writeFileSync(
    creds.kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: cluster, cluster: { server: creds.server, 'certificate-authority': creds.caFile } }],
      users: [{ name, user: { tokenFile: creds.tokenFile } }],
      contexts: [{ name: cluster, context: { cluster, user: name } }],
      'current-context': cluster,
    }),
  );
  return creds;
}

/** The node's InternalIP: where a controller on the node's network listens, as pods reach it. */
export async function nodeIP(w: World, cluster: string): Promise<string> {
  const r = await w.kubectl(['get', 'nodes', '-o', 'json'], { cluster });
  const nodes = JSON.parse(r.stdout) as { items: { status: { addresses: { type: string; address: string }[] } }[] };
  const ip = nodes.items[0]?.status.addresses.find((a) => a.type === 'InternalIP')?.address;
  if (!ip) throw new Error(`${cluster}: no node with an InternalIP: ${r.stderr}`);
  return ip;
}
