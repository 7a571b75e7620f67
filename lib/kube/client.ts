// The one place mefi speaks HTTP to an API server: plain JSON in and out, a
// timeout on every request, typed errors that name the cluster, verb and
// resource, a count of calls by verb, and the server's Warning headers.
// Authentication: tokens, token files and client certificates; exec plugins
// (exec.ts); auth providers and basic auth through client-node's KubeConfig.

import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type https from 'node:https';
import type { TLS } from './connect.ts';
import { agentFor, send, text } from './transport.ts';
import { readTokenFile, type Connection } from './connect.ts';
import { ExecError, type Credential } from './exec.ts';

/** A cluster mefi knows it cannot ask (its ClusterProfile says why): every call fails at once with that reason. */
class Unavailable extends Error {}

export type Verb = 'list' | 'get' | 'create' | 'update' | 'delete' | 'watch';

export interface RequestSpec {
  verb: Verb;
  /** For messages: "endpoints". */
  resource: string;
  namespace?: string;
  name?: string;
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
}

/** A failed call, said the way an operator wants to read it. */
export class ApiError extends Error {
  readonly cluster: string;
  readonly verb: Verb;
  readonly resource: string;
  readonly namespace?: string;
  readonly objectName?: string;
  /** HTTP status; 0 when no response came (timeout, refused, TLS). */
  readonly status: number;
  readonly reason: string;
  /** The server said to come back after this long (429, or a 5xx with Retry-After): the call was not acted on. */
  retryAfterMs?: number;

  constructor(spec: RequestSpec, cluster: string, status: number, reason: string, detail: string) {
    const where = spec.name
      ? `${spec.namespace}/${spec.name}`
      : spec.namespace
        ? `in namespace ${spec.namespace}`
        : 'in all namespaces';
    super(`cluster ${cluster}: ${spec.verb} ${spec.resource} ${where}: ${reason}${detail ? `: ${detail}` : ''}`);
    this.name = 'ApiError';
    this.cluster = cluster;
    this.verb = spec.verb;
    this.resource = spec.resource;
    if (spec.namespace !== undefined) this.namespace = spec.namespace;
    if (spec.name !== undefined) this.objectName = spec.name;
    this.status = status;
    this.reason = reason;
  }
}

export interface ClientOptions {
  requestTimeoutMs: number;
  /** Sent as User-Agent, so the server's audit log and metrics tell mefi's calls apart (client-go does the same). */
  userAgent?: string;
}

export class KubeClient {
  readonly cluster: string;
  /** Calls made, by verb: for the run summary and for tests. */
  readonly calls: Record<Verb, number> = { list: 0, get: 0, create: 0, update: 0, delete: 0, watch: 0 };
  readonly warnings = new Set<string>();
  private readonly connection: Connection;
  private readonly options: ClientOptions;
  /**
   * One keep-alive agent per cluster, so requests share connections
   * (client-node makes a new one per call: a TLS handshake per request). Made
   * from the connection's TLS (or, for exec plugins and auth providers,
   * client-node's), renewed every ten minutes for rotated files.
   */
  private agent?: { agent: http.Agent; tls: TLS; at: number };

  constructor(connection: Connection, options: ClientOptions) {
    this.cluster = connection.cluster;
    this.connection = connection;
    this.options = options;
  }

  /** Close the pooled connections (a reloaded config replaces this client). */
  close(): void {
    this.agent?.agent.destroy();
    this.agent = undefined;
  }

  get writes(): number {
    return this.calls.create + this.calls.update + this.calls.delete;
  }

  /**
   * Headers for one request (tokens; exec plugins refresh here); the shared
   * agent made or renewed as needed. `used` is the exec plugin's credential
   * the headers carry: a 401 with it makes the plugin run again.
   */
  private async authenticate(): Promise<{ headers: Record<string, string>; used?: Credential }> {
    const c = this.connection;
    if (c.unavailable !== undefined) throw new Unavailable(c.unavailable);
    const renew = !this.agent || Date.now() - this.agent.at > 600_000;
    if (c.exec) {
      const used = await c.exec.get();
      const tls = c.tls();
      // A client certificate from the plugin is part of the TLS: a new one, a new pool.
      if (renew || this.agent!.tls.cert !== used.cert)
        this.renew({ ...tls, ...(used.cert ? { cert: used.cert, key: used.key } : {}) }, c.proxyUrl);
      return { headers: used.token ? { Authorization: `Bearer ${used.token}` } : {}, used };
    }
    if (!c.kubeConfig) {
      if (renew) this.renew(c.tls(), c.proxyUrl);
      return { headers: c.token ? { Authorization: `Bearer ${c.token}` } : {} };
    }
    // An auth provider or basic auth: client-node authenticates.
    const kc = c.kubeConfig;
    const opts: https.RequestOptions & { headers: Record<string, string> } = { headers: {} };
    await kc.applyToHTTPSOptions(opts);
    if (renew) {
      const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = opts;
      const tls = Object.fromEntries(
        Object.entries({
          ca,
          cert,
          key,
          pfx,
          passphrase,
          rejectUnauthorized: rejectUnauthorized !== false,
          servername,
        }).filter(([, v]) => v !== undefined),
      ) as unknown as TLS;
      this.renew(tls, kc.getCurrentCluster()?.proxyUrl ?? c.proxyUrl);
    }
    if (opts.auth) opts.headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    return { headers: opts.headers };
  }

  private renew(tls: TLS, proxyUrl: string | undefined): void {
    const old = this.agent?.agent;
    this.agent = { agent: agentFor(this.connection.server, tls, proxyUrl), tls, at: Date.now() };
    // Watches on the old connections end within their timeout (300 s): only then are they closed.
    if (old) setTimeout(() => old.destroy(), 330_000).unref();
  }

  /**
   * A watch: the stream's JSON lines, one event each, until the server ends it
   * (resolves), the signal aborts (resolves), or it fails (throws ApiError).
   * --request-timeout bounds connecting and the response headers, not the
   * stream, which stays open while nothing changes.
   */
  async watch<E>(spec: RequestSpec, onEvent: (e: E) => void, signal: AbortSignal): Promise<void> {
    const url = this.url(spec);
    this.calls.watch++;
    let response;
    let used: Credential | undefined;
    // The timeout bounds the answer's headers; the stream itself stays open.
    const answered = new AbortController();
    const timer = setTimeout(
      () => answered.abort(new DOMException('no answer', 'TimeoutError')),
      this.options.requestTimeoutMs,
    );
    try {
      const auth = await this.headers();
      const headers = auth.headers;
      used = auth.used;
      response = await send(url, {
        method: 'GET',
        headers,
        agent: this.agent!.agent,
        tls: this.agent!.tls,
        signal: AbortSignal.any([signal, answered.signal]),
      });
    } catch (err) {
      if (signal.aborted) return;
      throw this.unanswered(spec, err);
    } finally {
      clearTimeout(timer);
    }
    if (response.status < 200 || response.status >= 300) {
      // The list after a failed watch runs the plugin again and retries.
      if (response.status === 401 && used) this.connection.exec!.refused(used);
      throw this.refused(spec, response.status, await text(response.body).catch(() => ''));
    }
    let rest = '';
    const lines: string[] = [];
    try {
      response.body.setEncoding('utf8');
      for await (const chunk of response.body) {
        rest += chunk as string;
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          lines.push(rest.slice(0, nl));
          rest = rest.slice(nl + 1);
        }
        // The caller's own errors (an ERROR event it refuses) pass through as they are.
        for (const line of lines.splice(0)) if (line.trim()) onEvent(JSON.parse(line) as E);
      }
    } catch (err) {
      if (signal.aborted) return;
      if (!isNetworkError(err)) throw err;
      throw new ApiError(
        spec,
        this.cluster,
        0,
        describeNetworkError(err, this.options.requestTimeoutMs),
        'while watching',
      );
    } finally {
      response.body.destroy();
    }
  }

  /** Every request's headers: credentials (a token file's current token), JSON, mefi's User-Agent. */
  private async headers(): Promise<{ headers: Record<string, string>; used?: Credential }> {
    const auth = await this.authenticate();
    const headers: Record<string, string> = {
      ...auth.headers,
      accept: 'application/json',
      'user-agent': this.options.userAgent ?? 'mefi',
    };
    if (this.connection.tokenFile) headers.Authorization = `Bearer ${readTokenFile(this.connection.tokenFile)}`;
    return { headers, ...(auth.used ? { used: auth.used } : {}) };
  }

  private url(spec: RequestSpec): URL {
    const url = new URL(this.connection.server + spec.path);
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    return url;
  }

  /**
   * One call, sent again while the server says to come back later (429, or
   * a 5xx with Retry-After: it did not act on it, so any verb may be resent),
   * as client-go does: at most 5 times, each after the wait it asks for (1 s
   * to 10 s), within --request-timeout overall. A CRD's first request on a
   * fresh API server is one such ("storage is (re)initializing").
   */
  async request<T>(spec: RequestSpec): Promise<T> {
    const started = Date.now();
    let reauthenticated = false;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(spec);
      } catch (err) {
        // An exec plugin's credential refused (revoked, expired early): the plugin runs again, the call once more, as client-go.
        if (err instanceof ApiError && err.status === 401 && this.connection.exec && !reauthenticated) {
          reauthenticated = true;
          continue;
        }
        const wait = err instanceof ApiError ? err.retryAfterMs : undefined;
        if (wait === undefined || attempt >= 5 || Date.now() - started + wait > this.options.requestTimeoutMs)
          throw err;
        await sleep(wait);
      }
    }
  }

  private async once<T>(spec: RequestSpec): Promise<T> {
    const url = this.url(spec);
    const method = (
      { list: 'GET', get: 'GET', create: 'POST', update: 'PUT', delete: 'DELETE', watch: 'GET' } as const
    )[spec.verb];
    this.calls[spec.verb]++;

    // The timeout bounds the whole call: connecting, the answer and its body.
    const signal = AbortSignal.timeout(this.options.requestTimeoutMs);
    let response;
    let used: Credential | undefined;
    try {
      const auth = await this.headers();
      const headers = auth.headers;
      used = auth.used;
      if (spec.body !== undefined) headers['content-type'] = 'application/json';
      response = await send(url, {
        method,
        headers,
        ...(spec.body !== undefined ? { body: JSON.stringify(spec.body) } : {}),
        agent: this.agent!.agent,
        tls: this.agent!.tls,
        signal,
      });
    } catch (err) {
      throw this.unanswered(spec, err);
    }

    for (const w of [response.headers.warning ?? []].flat())
      for (const parsed of parseWarnings(w)) this.warnings.add(parsed);
    let body: string;
    try {
      body = await text(response.body);
    } catch (err) {
      throw new ApiError(
        spec,
        this.cluster,
        0,
        describeNetworkError(err, this.options.requestTimeoutMs),
        'while reading the response',
      );
    }
    if (response.status >= 200 && response.status < 300) return JSON.parse(body) as T;
    if (response.status === 401 && used) this.connection.exec!.refused(used);
    throw this.refused(spec, response.status, body, response.headers['retry-after']);
  }

  /** A call that got no answer: the network, a timeout, or no credential to send (the cluster's profile, its plugin). */
  private unanswered(spec: RequestSpec, err: unknown): ApiError {
    const why =
      err instanceof Unavailable || err instanceof ExecError
        ? err.message
        : describeNetworkError(err, this.options.requestTimeoutMs);
    return new ApiError(spec, this.cluster, 0, why, '');
  }

  /** A non-2xx answer as an ApiError, in the words of its Status object. */
  private refused(spec: RequestSpec, statusCode: number, text: string, retryAfter?: string | string[]): ApiError {
    let status: { reason?: string; message?: string } = {};
    try {
      status = JSON.parse(text) as typeof status;
    } catch {
      // Not a Status object (a proxy in the way): the HTTP status says enough.
    }
    const e = new ApiError(
      spec,
      this.cluster,
      statusCode,
      status.reason || `HTTP ${statusCode}`,
      status.message ?? text.slice(0, 200),
    );
    const seconds = Number([retryAfter ?? []].flat()[0]);
    if (statusCode === 429 || (statusCode >= 500 && Number.isFinite(seconds)))
      e.retryAfterMs = Math.min(10, Math.max(1, Number.isFinite(seconds) ? seconds : 1)) * 1000;
    return e;
  }
}

/** An error of the connection (socket, TLS, a timeout), as opposed to one a caller threw. */
function isNetworkError(err: unknown): boolean {
  const e = err as { code?: string; name?: string };
  return typeof e.code === 'string' || e.name === 'AbortError' || e.name === 'TimeoutError';
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  const e = err as Error & { code?: string; cause?: Error & { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || e.cause?.name === 'TimeoutError')
    return `no answer within ${timeoutMs / 1000}s (--request-timeout)`;
  const inner = e.code ? e : (e.cause ?? e);
  const code = (inner as { code?: string }).code;
  if (!code) return inner.message;
  return inner.message && !inner.message.includes(code)
    ? `${code} (${inner.message})`
    : inner.message
      ? `${code}: ${inner.message}`
      : code;
}

/** `299 - "text"` entries, comma-separated (RFC 7234 warn-value). */
export function parseWarnings(header: string): string[] {
  const out: string[] = [];
  const re = /\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(header); m; m = re.exec(header)) out.push(m[1]!.replace(/\\(.)/g, '$1'));
  return out;
}
