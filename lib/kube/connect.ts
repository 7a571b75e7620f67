// A cluster's config entry → a client-node KubeConfig that authenticates it.
// client-node does TLS, client certificates, exec plugins and keep-alive
// agents; mefi only chooses which cluster and user.

import { readFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, type ClusterConfig, type Config } from '../config.ts';

export interface Connection {
  cluster: string;
  server: string;
  kubeConfig: KubeConfig;
  /** Read per request (trimmed, cached a minute): projected tokens rotate. */
  tokenFile?: string;
}

function fromURL(c: ClusterConfig & { connection: { kind: 'url' } }): KubeConfig {
  const { url, token, caData, caFile, insecureSkipTLSVerify } = c.connection;
  const kc = new KubeConfig();
  kc.loadFromClusterAndUser(
    {
      name: c.name,
      server: url.replace(/\/+$/, ''),
      skipTLSVerify: insecureSkipTLSVerify,
      ...(caData ? { caData: Buffer.from(caData).toString('base64') } : {}),
      ...(caFile ? { caFile } : {}),
    },
    { name: `${c.name}-user`, ...(token ? { token } : {}) },
  );
  return kc;
}

function fromKubeconfig(config: Config, c: ClusterConfig & { connection: { kind: 'kubeconfig' } }, index: number): KubeConfig {
  const { path, context, insecureSkipTLSVerify } = c.connection;
  const kc = new KubeConfig();
  const fail = (message: string) => new ConfigError([{ file: config.file, field: `clusters[${index}].${context && message.includes('context') ? 'context' : 'kubeconfig'}`, message }]);
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw fail(`cannot load kubeconfig ${path}: ${(err as Error).message}`);
  }
  const name = context ?? kc.getCurrentContext();
  if (!name || !kc.getContextObject(name)) {
    const known = kc.getContexts().map((x) => x.name);
    throw fail(context ? `context ${context} is not in ${path} (it has: ${known.join(', ') || 'none'})` : `${path} has no current-context; set context`);
  }
  kc.setCurrentContext(name);
  if (!kc.getCurrentCluster()) throw fail(`context ${name} in ${path} names no known cluster`);
  if (insecureSkipTLSVerify) {
    const cluster = kc.getCurrentCluster()!;
    kc.clusters = kc.clusters.map((x) => (x.name === cluster.name ? { ...x, skipTLSVerify: true } : x));
  }
  return kc;
}

function fromInCluster(config: Config, index: number): KubeConfig {
  const kc = new KubeConfig();
  if (!process.env.KUBERNETES_SERVICE_HOST) {
    throw new ConfigError([{ file: config.file, field: `clusters[${index}].inCluster`, message: 'KUBERNETES_SERVICE_HOST is not set: not running in a pod' }]);
  }
  kc.loadFromCluster();
  return kc;
}

/** Builds every connection before any API call, so a bad entry exits 3 with nothing read. */
export function connect(config: Config): Map<string, Connection> {
  const out = new Map<string, Connection>();
  config.clusters.forEach((c, index) => {
    let kc: KubeConfig;
    let tokenFile: string | undefined;
    switch (c.connection.kind) {
      case 'url':
        kc = fromURL(c as ClusterConfig & { connection: { kind: 'url' } });
        tokenFile = c.connection.tokenFile;
        break;
      case 'kubeconfig':
        kc = fromKubeconfig(config, c as ClusterConfig & { connection: { kind: 'kubeconfig' } }, index);
        break;
      case 'inCluster':
        kc = fromInCluster(config, index);
        break;
    }
    out.set(c.name, { cluster: c.name, server: kc.getCurrentCluster()!.server.replace(/\/+$/, ''), kubeConfig: kc, ...(tokenFile ? { tokenFile } : {}) });
  });
  return out;
}

const tokenCache = new Map<string, { token: string; readAt: number }>();

export function readTokenFile(file: string, now = Date.now()): string {
  const cached = tokenCache.get(file);
  if (cached && now - cached.readAt < 60_000) return cached.token;
  const token = readFileSync(file, 'utf8').trim();
  tokenCache.set(file, { token, readAt: now });
  return token;
}
