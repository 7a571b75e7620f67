// A cluster's config entry → how to reach and authenticate to its API server.
// The common cases (a URL with a token or token file and a CA; a kubeconfig
// whose user has a token, a token file or a client certificate; the pod's
// ServiceAccount) are read here. @kubernetes/client-node is loaded only for a
// kubeconfig user with an exec plugin or an auth provider: it brings its whole
// generated API with it (~50 MiB and ~0.4 s at start), which the watching
// loop and every CronJob run would otherwise pay for nothing.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { ConfigError, type ClusterConfig, type Config } from '../config/config.ts';
import { resolveKubeconfig } from '../config/kubeconfig.ts';

export interface TLS {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

export interface Connection {
  cluster: string;
  server: string;
  /** Read when the connection pool is (re)made, every ten minutes: CA and client certificate files rotate. */
  tls: () => TLS;
  /** A static bearer token. */
  token?: string;
  /** Read per request (trimmed, cached a minute): projected tokens rotate. */
  tokenFile?: string;
  /** An HTTP(S) proxy in front of the API server (a kubeconfig's proxy-url). */
  proxyUrl?: string;
  /** Only for exec plugins and auth providers: client-node's KubeConfig does the authentication. */
  kubeConfig?: KubeConfig;
}

const serviceAccount = '/var/run/secrets/kubernetes.io/serviceaccount';

function fromURL(c: ClusterConfig & { connection: { kind: 'url' } }): Connection {
  const { url, token, tokenFile, caData, caFile, insecureSkipTLSVerify } = c.connection;
  return {
    cluster: c.name,
    server: url.replace(/\/+$/, ''),
    tls: () => {
      const ca = caData ?? (caFile ? readFileSync(caFile) : undefined);
      return { rejectUnauthorized: !insecureSkipTLSVerify, ...(ca ? { ca } : {}) };
    },
    ...(token ? { token } : {}),
    ...(tokenFile ? { tokenFile } : {}),
  };
}

/** A kubeconfig field given inline (base64 *-data) or as a file (relative to the kubeconfig, as client-go resolves it). */
function material(
  entry: Record<string, unknown> | undefined,
  base: string,
  dataKey: string,
  fileKey: string,
): Buffer | undefined {
  const data = entry?.[dataKey];
  if (typeof data === 'string' && data) return Buffer.from(data, 'base64');
  const file = entry?.[fileKey];
  if (typeof file === 'string' && file) return readFileSync(path.resolve(base, file));
  return undefined;
}

/** client-node, loaded on first need only (it is ESM; require() of ESM works on every Node mefi supports). */
function clientNode(): typeof import('@kubernetes/client-node') {
  return createRequire(import.meta.url)('@kubernetes/client-node') as typeof import('@kubernetes/client-node');
}

function fromKubeconfig(
  config: Config,
  c: ClusterConfig & { connection: { kind: 'kubeconfig' } },
  index: number,
): Connection {
  const { path: file, context, insecureSkipTLSVerify } = c.connection;
  const fail = (message: string, onContext = false) =>
    new ConfigError([
      { file: config.file, field: `clusters[${index}].${onContext ? 'context' : 'kubeconfig'}`, message },
    ]);
  let kc: unknown;
  try {
    kc = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw fail(`cannot load kubeconfig ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  // The config loader has checked this already (with its line); a Config built otherwise is checked here.
  const r = resolveKubeconfig(kc, file, context);
  if (!r.ok) throw fail(r.message, r.onContext);
  const { context: name, cluster, user } = r;
  const server = (cluster.server as string).replace(/\/+$/, '');
  const base = path.dirname(file);
  const tlsOf =
    (withClientCert: boolean): (() => TLS) =>
    () => {
      const ca = material(cluster, base, 'certificate-authority-data', 'certificate-authority');
      const cert = withClientCert ? material(user, base, 'client-certificate-data', 'client-certificate') : undefined;
      const key = withClientCert ? material(user, base, 'client-key-data', 'client-key') : undefined;
      return {
        rejectUnauthorized: !(insecureSkipTLSVerify || cluster['insecure-skip-tls-verify'] === true),
        ...(ca ? { ca } : {}),
        ...(cert ? { cert } : {}),
        ...(key ? { key } : {}),
        ...(typeof cluster['tls-server-name'] === 'string' ? { servername: cluster['tls-server-name'] } : {}),
      };
    };
  const proxyUrl = typeof cluster['proxy-url'] === 'string' ? cluster['proxy-url'] : undefined;
  const common = { cluster: c.name, server, ...(proxyUrl ? { proxyUrl } : {}) };
  if (user.exec || user['auth-provider'] || user.username) {
    // Plugins, providers and basic auth: client-node's implementation, as before.
    const k = new (clientNode().KubeConfig)();
    k.loadFromFile(file);
    k.setCurrentContext(name);
    if (insecureSkipTLSVerify) {
      const current = k.getCurrentCluster()!;
      k.clusters = k.clusters.map((x) => (x.name === current.name ? { ...x, skipTLSVerify: true } : x));
    }
    return { ...common, tls: tlsOf(false), kubeConfig: k };
  }
  // Files are checked now (exit 3 before any request), and read again when the pool is renewed.
  tlsOf(true)();
  // client-go's field is tokenFile (client-node only knew a "token-file" key).
  const tokenFile =
    typeof user.tokenFile === 'string' && user.tokenFile ? path.resolve(base, user.tokenFile) : undefined;
  return {
    ...common,
    tls: tlsOf(true),
    ...(typeof user.token === 'string' && user.token ? { token: user.token } : tokenFile ? { tokenFile } : {}),
  };
}

function fromInCluster(config: Config, c: ClusterConfig, index: number): Connection {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host)
    throw new ConfigError([
      {
        file: config.file,
        field: `clusters[${index}].inCluster`,
        message: 'KUBERNETES_SERVICE_HOST is not set: not running in a pod',
      },
    ]);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  readFileSync(`${serviceAccount}/ca.crt`); // there now, or exit 3
  return {
    cluster: c.name,
    server: `https://${hostPart}:${port}`,
    tls: () => ({ rejectUnauthorized: true, ca: readFileSync(`${serviceAccount}/ca.crt`) }),
    tokenFile: `${serviceAccount}/token`,
  };
}

/** Builds every connection before any API call, so a bad entry exits 3 with nothing read. */
export function connect(config: Config): Map<string, Connection> {
  const out = new Map<string, Connection>();
  config.clusters.forEach((c, index) => {
    switch (c.connection.kind) {
      case 'url':
        out.set(c.name, fromURL(c as ClusterConfig & { connection: { kind: 'url' } }));
        break;
      case 'kubeconfig':
        out.set(c.name, fromKubeconfig(config, c as ClusterConfig & { connection: { kind: 'kubeconfig' } }, index));
        break;
      case 'inCluster':
        out.set(c.name, fromInCluster(config, c, index));
        break;
    }
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

export { clientNode };
