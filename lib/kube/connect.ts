// A cluster's config entry → a client-node KubeConfig that authenticates it.
// client-node does TLS, client certificates, exec plugins and keep-alive
// agents; mefi only chooses which cluster and user.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
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

/**
 * A kubeconfig user's tokenFile (client-go's field; client-node only knows a
 * "token-file" key, so without this such a user would send no credentials).
 * Relative paths are relative to the kubeconfig, as client-go resolves them.
 */
function userTokenFile(file: string, user: string): string | undefined {
  const doc = parse(readFileSync(file, 'utf8')) as { users?: { name?: string; user?: { tokenFile?: unknown } }[] } | null;
  const tokenFile = doc?.users?.find((u) => u?.name === user)?.user?.tokenFile;
  return typeof tokenFile === 'string' && tokenFile ? path.resolve(path.dirname(file), tokenFile) : undefined;
}

function fromKubeconfig(config: Config, c: ClusterConfig & { connection: { kind: 'kubeconfig' } }, index: number): { kc: KubeConfig; tokenFile?: string } {
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
  const user = kc.getCurrentUser();
  const tokenFile = user && !user.token ? userTokenFile(path, user.name) : undefined;
  return { kc, ...(tokenFile ? { tokenFile } : {}) };
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
      case 'kubeconfig': {
        const k = fromKubeconfig(config, c as ClusterConfig & { connection: { kind: 'kubeconfig' } }, index);
        kc = k.kc;
        tokenFile = k.tokenFile;
        break;
      }
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
