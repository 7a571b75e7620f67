// client-go's exec credential plugins (client.authentication.k8s.io), run by
// mefi itself: for a kubeconfig user with `exec:` and for a ClusterProfile's
// access provider (KEP-5339). As client-go does: the credential is kept until
// its expirationTimestamp (here: renewed a little before it passes, so no
// request carries a token in its last seconds), run again when a request is
// refused with 401, and one run is shared by every request waiting for it.
// KUBERNETES_EXEC_INFO carries the cluster when provideClusterInfo is set.

import { execFile } from 'node:child_process';
import path from 'node:path';
import type { ExecConfig } from '../config/profiles.ts';

/** The cluster as the plugin is told of it (client.authentication.k8s.io Cluster). */
export interface ExecCluster {
  server: string;
  'certificate-authority-data'?: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'proxy-url'?: string;
  /** The `client.authentication.k8s.io/exec` extension: the plugin's per-cluster configuration. */
  config?: unknown;
}

export interface Credential {
  token?: string;
  cert?: string;
  key?: string;
  /** Milliseconds since the epoch; undefined: until refused. */
  expiresAt?: number;
}

/** The plugin failed, or said something that is not a credential: its cluster is unreadable until it works. */
export class ExecError extends Error {}

/** Renewed this long before it expires (at most a tenth of its life): a request never races the expiry. */
const renewAheadMs = 10_000;
/** A plugin that has not answered by then is killed: its cluster is unreadable for this request. */
const pluginTimeoutMs = 30_000;

export class ExecCredentials {
  /** How many times the plugin ran: for tests and the debug log. */
  runs = 0;
  private current?: { credential: Credential; renewAt: number };
  private running?: Promise<Credential>;
  private readonly config: ExecConfig;
  private readonly cluster: ExecCluster;
  /** Who this plugin serves, for errors: "ClusterProfile fleet/alpha (provider tokens)". */
  private readonly owner: string;
  private readonly baseDir: string;

  constructor(config: ExecConfig, cluster: ExecCluster, owner: string, baseDir: string) {
    this.config = config;
    this.cluster = cluster;
    this.owner = owner;
    this.baseDir = baseDir;
  }

  /** The credential to send now: the one held while fresh, else the plugin's next. */
  async get(now = Date.now()): Promise<Credential> {
    if (this.current && now < this.current.renewAt) return this.current.credential;
    this.running ??= this.run().finally(() => (this.running = undefined));
    return this.running;
  }

  /** A request with this credential was refused (401): the next request runs the plugin again, unless that already happened. */
  refused(used: Credential): void {
    if (this.current?.credential === used) this.current = undefined;
  }

  private async run(): Promise<Credential> {
    this.runs++;
    const started = Date.now();
    const stdout = await this.exec();
    const credential = parseExecCredential(stdout, this.config.apiVersion, this.describe());
    const life = credential.expiresAt === undefined ? Infinity : credential.expiresAt - started;
    const renewAt =
      credential.expiresAt === undefined ? Infinity : credential.expiresAt - Math.min(renewAheadMs, life / 10);
    this.current = { credential, renewAt };
    return credential;
  }

  private describe(): string {
    return `exec plugin ${this.config.command} of ${this.owner}`;
  }

  private exec(): Promise<string> {
    const c = this.config;
    // As client-go: a relative command with a directory in it is relative to the file that names it.
    const command =
      c.command.includes('/') && !path.isAbsolute(c.command) ? path.resolve(this.baseDir, c.command) : c.command;
    const info = {
      apiVersion: c.apiVersion,
      kind: 'ExecCredential',
      spec: { interactive: false, ...(c.provideClusterInfo ? { cluster: this.cluster } : {}) },
    };
    const env = {
      ...process.env,
      ...Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value])),
      KUBERNETES_EXEC_INFO: JSON.stringify(info),
    };
    return new Promise((resolve, reject) => {
      execFile(
        command,
        c.args ?? [],
        { env, timeout: pluginTimeoutMs, maxBuffer: 1 << 20, windowsHide: true },
        (err, stdout, stderr) => {
          if (!err) return resolve(stdout);
          const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
          const said = stderr.trim().split('\n').pop()?.slice(0, 300);
          const why =
            e.code === 'ENOENT'
              ? `not found${c.installHint ? ` (${c.installHint.trim().split('\n')[0]})` : ''}`
              : e.code === 'EACCES'
                ? 'not executable'
                : e.killed
                  ? `no answer within ${pluginTimeoutMs / 1000}s`
                  : `exited ${typeof e.code === 'number' ? e.code : String(e.code ?? e.message)}`;
          reject(new ExecError(`${this.describe()}: ${why}${said ? `: ${said}` : ''}`));
        },
      );
    });
  }
}

/** A plugin's output, checked: an ExecCredential of the version asked for, with a token or a client certificate and key. */
export function parseExecCredential(stdout: string, apiVersion: string, who: string): Credential {
  let o: {
    apiVersion?: unknown;
    kind?: unknown;
    status?: {
      token?: unknown;
      clientCertificateData?: unknown;
      clientKeyData?: unknown;
      expirationTimestamp?: unknown;
    };
  };
  try {
    o = JSON.parse(stdout) as typeof o;
  } catch {
    throw new ExecError(`${who}: printed no ExecCredential (not JSON: ${JSON.stringify(stdout.slice(0, 60))})`);
  }
  if (typeof o !== 'object' || o === null || o.kind !== 'ExecCredential')
    throw new ExecError(`${who}: printed no ExecCredential (kind ${JSON.stringify((o as { kind?: unknown })?.kind)})`);
  if (o.apiVersion !== apiVersion)
    throw new ExecError(`${who}: answered in ${String(o.apiVersion)}, asked for ${apiVersion}`);
  const s = o.status ?? {};
  const str = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
  const token = str(s.token);
  const cert = str(s.clientCertificateData);
  const key = str(s.clientKeyData);
  if (!token && !(cert && key))
    throw new ExecError(
      `${who}: its ExecCredential has neither status.token nor status.clientCertificateData and clientKeyData`,
    );
  if ((cert && !key) || (key && !cert))
    throw new ExecError(`${who}: its ExecCredential has only one of clientCertificateData and clientKeyData`);
  let expiresAt: number | undefined;
  if (s.expirationTimestamp !== undefined && s.expirationTimestamp !== null) {
    expiresAt = typeof s.expirationTimestamp === 'string' ? Date.parse(s.expirationTimestamp) : NaN;
    if (!Number.isFinite(expiresAt))
      throw new ExecError(
        `${who}: status.expirationTimestamp ${JSON.stringify(s.expirationTimestamp)} is not an RFC 3339 time`,
      );
  }
  return {
    ...(token ? { token } : {}),
    ...(cert && key ? { cert, key } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
  };
}
