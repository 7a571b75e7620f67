// A cluster's config entry → how to reach and authenticate to its API server.
// The common cases (a URL with a token or token file and a CA; a kubeconfig
// whose user has a token, a token file, a client certificate or an exec
// plugin; the pod's ServiceAccount; a ClusterProfile's access provider) are
// read here. @kubernetes/client-node is loaded only for a kubeconfig user
// with an auth provider or basic auth: it brings its whole
// generated API with it (~50 MiB and ~0.4 s at start), which the watching
// loop and every CronJob run would otherwise pay for nothing.

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { ConfigError, type ClusterConfig, type Config } from '../config/config.ts';
import { resolveKubeconfig } from '../config/kubeconfig.ts';
import { execApiVersions } from '../config/providers.ts';
import { execExtension, extension, type ExecConfig } from '../config/profiles.ts';
import { ExecCredentials, type ExecCluster } from './exec.ts';

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
  /** Only for auth providers and basic auth: client-node's KubeConfig does the authentication. */
  kubeConfig?: KubeConfig;
  /** An exec credential plugin (a kubeconfig user's, a ClusterProfile's access provider). */
  exec?: ExecCredentials;
  /** Known unreadable before any call (a ClusterProfile that says why): every call fails with this. */
  unavailable?: string;
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
  entry: string,
): Connection {
  const { path: file, context, insecureSkipTLSVerify } = c.connection;
  const fail = (message: string, onContext = false) =>
    new ConfigError([{ file: config.file, field: `${entry}.${onContext ? 'context' : 'kubeconfig'}`, message }]);
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
  if (user.exec) {
    const exec = user.exec as ExecConfig;
    if (!execApiVersions.includes(exec.apiVersion) || typeof exec.command !== 'string' || !exec.command)
      throw fail(
        `the user of context ${name} in ${file} has an exec plugin without a command or with apiVersion ${JSON.stringify(exec.apiVersion)} (expected one of ${execApiVersions.join(', ')})`,
      );
    if (exec.interactiveMode === 'Always')
      throw fail(`the exec plugin of context ${name} in ${file} is interactiveMode Always; mefi has no terminal`);
    const tls = tlsOf(false);
    const info = execCluster({
      server,
      ca: tls().ca,
      tlsServerName: typeof cluster['tls-server-name'] === 'string' ? cluster['tls-server-name'] : undefined,
      insecure: cluster['insecure-skip-tls-verify'] === true,
      proxyUrl,
      config: extension(cluster, execExtension),
    });
    return { ...common, tls, exec: new ExecCredentials(exec, info, `context ${name} of ${file}`, base) };
  }
  if (user['auth-provider'] || user.username) {
    // Auth providers and basic auth: client-node's implementation.
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

function fromInCluster(config: Config, c: ClusterConfig, entry: string): Connection {
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host)
    throw new ConfigError([
      {
        file: config.file,
        field: `${entry}.inCluster`,
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

/** The cluster an exec plugin is told of (KUBERNETES_EXEC_INFO), from a kubeconfig's cluster or a profile's. */
function execCluster(c: {
  server: string;
  ca: string | Buffer | undefined;
  tlsServerName: string | undefined;
  insecure: boolean;
  proxyUrl: string | undefined;
  config: unknown;
}): ExecCluster {
  return {
    server: c.server,
    ...(c.ca ? { 'certificate-authority-data': Buffer.from(c.ca).toString('base64') } : {}),
    ...(c.tlsServerName ? { 'tls-server-name': c.tlsServerName } : {}),
    ...(c.insecure ? { 'insecure-skip-tls-verify': true } : {}),
    ...(c.proxyUrl ? { 'proxy-url': c.proxyUrl } : {}),
    ...(c.config !== undefined ? { config: c.config } : {}),
  };
}

function fromProfile(c: ClusterConfig & { connection: { kind: 'exec' } }): Connection {
  const x = c.connection;
  const info = execCluster({
    server: x.server,
    ca: x.caData,
    tlsServerName: x.tlsServerName,
    insecure: x.insecureSkipTLSVerify,
    proxyUrl: x.proxyUrl,
    config: x.pluginConfig,
  });
  return {
    cluster: c.name,
    server: x.server,
    tls: () => ({
      rejectUnauthorized: !x.insecureSkipTLSVerify,
      ...(x.caData ? { ca: x.caData } : {}),
      ...(x.tlsServerName ? { servername: x.tlsServerName } : {}),
    }),
    ...(x.proxyUrl ? { proxyUrl: x.proxyUrl } : {}),
    exec: new ExecCredentials(x.exec, info, x.owner, x.baseDir),
  };
}

/** One cluster's connection (a ConfigError naming its `entry` in the config, before any call). */
export function connectOne(config: Config, c: ClusterConfig, entry: string): Connection {
  switch (c.connection.kind) {
    case 'url':
      return fromURL(c as ClusterConfig & { connection: { kind: 'url' } });
    case 'kubeconfig':
      return fromKubeconfig(config, c as ClusterConfig & { connection: { kind: 'kubeconfig' } }, entry);
    case 'inCluster':
      return fromInCluster(config, c, entry);
    case 'exec':
      return fromProfile(c as ClusterConfig & { connection: { kind: 'exec' } });
    case 'unavailable':
      return {
        cluster: c.name,
        server: 'https://unavailable.invalid',
        tls: () => ({ rejectUnauthorized: true }),
        unavailable: c.connection.reason,
      };
  }
}

/** Builds every connection before any API call, so a bad entry exits 3 with nothing read. */
export function connect(config: Config): Map<string, Connection> {
  const out = new Map<string, Connection>();
  config.clusters.forEach((c, index) => out.set(c.name, connectOne(config, c, `clusters[${index}]`)));
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
