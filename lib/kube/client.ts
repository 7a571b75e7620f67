// The one place mefi speaks HTTP to an API server: plain JSON in and out, a
// timeout on every request, typed errors that name the cluster, verb and
// resource, a count of calls by verb, and the server's Warning headers.
// Authentication comes from client-node's KubeConfig.

import type https from 'node:https';
import type { DispatcherOptions } from '@kubernetes/client-node';
import { Agent, ProxyAgent, request, type Dispatcher } from 'undici';
import { clientNode, readTokenFile, type Connection } from './connect.ts';

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

  constructor(spec: RequestSpec, cluster: string, status: number, reason: string, detail: string) {
    const where = spec.name ? `${spec.namespace}/${spec.name}` : spec.namespace ? `in namespace ${spec.namespace}` : 'in all namespaces';
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
   * One undici dispatcher per cluster, so requests share keep-alive
   * connections (client-node's applySecurityAuthentication builds a new one on
   * every call: a TLS handshake per request, and an agent left behind). It is
   * built from the connection's TLS (or, for exec plugins, client-node's TLS
   * and proxy options), with undici's connect timeout set to --request-timeout
   * (undici's fixed 10 s would otherwise cut in first, and name itself).
   * Renewed every ten minutes for rotated files.
   */
  private dispatcher?: Dispatcher;
  private dispatcherAt = 0;

  constructor(connection: Connection, options: ClientOptions) {
    this.cluster = connection.cluster;
    this.connection = connection;
    this.options = options;
  }

  /** Close the pooled connections (a reloaded config replaces this client). */
  close(): void {
    this.dispatcher?.close().catch(() => undefined);
    this.dispatcher = undefined;
  }

  get writes(): number {
    return this.calls.create + this.calls.update + this.calls.delete;
  }

  /** Headers for one request (tokens; exec plugins refresh here); the shared dispatcher made or renewed as needed. */
  private async authenticate(): Promise<Record<string, string>> {
    const c = this.connection;
    const renew = !this.dispatcher || Date.now() - this.dispatcherAt > 600_000;
    if (!c.kubeConfig) {
      if (renew) {
        const tls = c.tls();
        this.renew(dispatcherFor(c.proxyUrl ? { type: 'proxy', uri: c.proxyUrl, requestTls: tls, connect: {} } : { type: 'agent', connect: { ...tls } }, this.options.requestTimeoutMs));
      }
      return c.token ? { Authorization: `Bearer ${c.token}` } : {};
    }
    // An exec plugin or auth provider: client-node authenticates.
    const kc = c.kubeConfig;
    const opts: https.RequestOptions & { headers: Record<string, string> } = { headers: {} };
    await kc.applyToHTTPSOptions(opts);
    if (renew) {
      const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = opts;
      const o = kc.createDispatcherOptions(kc.getCurrentCluster(), { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } as https.AgentOptions);
      if (o.type === 'socks') {
        // client-node's own SOCKS connector (not exported on its own); its connect timeout stays undici's.
        const { HttpMethod, RequestContext } = clientNode();
        const context = new RequestContext(c.server, HttpMethod.GET);
        await kc.applySecurityAuthentication(context);
        this.renew(context.getDispatcher() as Dispatcher | undefined);
      } else {
        this.renew(dispatcherFor(o, this.options.requestTimeoutMs));
      }
    }
    if (opts.auth) opts.headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    return opts.headers;
  }

  private renew(dispatcher: Dispatcher | undefined): void {
    const old = this.dispatcher;
    this.dispatcher = dispatcher;
    this.dispatcherAt = Date.now();
    old?.close().catch(() => undefined);
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
    try {
      const headers = await this.headers();
      response = await request(url, { method: 'GET', headers, headersTimeout: this.options.requestTimeoutMs, bodyTimeout: 0, signal, ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}) });
    } catch (err) {
      if (signal.aborted) return;
      throw new ApiError(spec, this.cluster, 0, describeNetworkError(err, this.options.requestTimeoutMs), '');
    }
    if (response.statusCode < 200 || response.statusCode >= 300) throw this.refused(spec, response.statusCode, await response.body.text().catch(() => ''));
    let rest = '';
    const lines: string[] = [];
    try {
      for await (const chunk of response.body) {
        rest += (chunk as Buffer).toString('utf8');
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
      throw new ApiError(spec, this.cluster, 0, describeNetworkError(err, this.options.requestTimeoutMs), 'while watching');
    }
  }

  /** Every request's headers: credentials (a token file's current token), JSON, mefi's User-Agent. */
  private async headers(): Promise<Record<string, string>> {
    const headers: Record<string, string> = { ...(await this.authenticate()), accept: 'application/json', 'user-agent': this.options.userAgent ?? 'mefi' };
    if (this.connection.tokenFile) headers.Authorization = `Bearer ${readTokenFile(this.connection.tokenFile)}`;
    return headers;
  }

  private url(spec: RequestSpec): URL {
    const url = new URL(this.connection.server + spec.path);
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    return url;
  }

  async request<T>(spec: RequestSpec): Promise<T> {
    const url = this.url(spec);
    const method = ({ list: 'GET', get: 'GET', create: 'POST', update: 'PUT', delete: 'DELETE', watch: 'GET' } as const)[spec.verb];
    this.calls[spec.verb]++;

    let response;
    try {
      const headers = await this.headers();
      if (spec.body !== undefined) headers['content-type'] = 'application/json';
      // undici.request, not fetch: the same pooled connections without the WHATWG
      // stream layers. Its signal does not cut a hanging connect short, so the
      // timeout also races the whole call.
      const signal = AbortSignal.timeout(this.options.requestTimeoutMs);
      const timedOut = new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));
      response = await Promise.race([
        request(url, {
          method,
          headers,
          ...(spec.body !== undefined ? { body: JSON.stringify(spec.body) } : {}),
          ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
          signal,
        }),
        timedOut,
      ]);
    } catch (err) {
      throw new ApiError(spec, this.cluster, 0, describeNetworkError(err, this.options.requestTimeoutMs), '');
    }

    const warning = response.headers.warning;
    for (const w of [warning ?? []].flat()) for (const parsed of parseWarnings(w)) this.warnings.add(parsed);
    let text: string;
    try {
      text = await response.body.text();
    } catch (err) {
      throw new ApiError(spec, this.cluster, 0, describeNetworkError(err, this.options.requestTimeoutMs), 'while reading the response');
    }
    const ok = response.statusCode >= 200 && response.statusCode < 300;
    if (ok) return JSON.parse(text) as T;
    throw this.refused(spec, response.statusCode, text);
  }

  /** A non-2xx answer as an ApiError, in the words of its Status object. */
  private refused(spec: RequestSpec, statusCode: number, text: string): ApiError {
    let status: { reason?: string; message?: string } = {};
    try {
      status = JSON.parse(text);
    } catch {
      // Not a Status object (a proxy in the way): the HTTP status says enough.
    }
    return new ApiError(spec, this.cluster, statusCode, status.reason || `HTTP ${statusCode}`, status.message ?? text.slice(0, 200));
  }
}

/** An error of the connection (socket, TLS, undici), as opposed to one a caller threw. */
function isNetworkError(err: unknown): boolean {
  const e = err as { code?: string; name?: string };
  return typeof e.code === 'string' || e.name === 'SocketError' || e.name === 'AbortError' || e.name === 'TimeoutError';
}

/** undici dispatchers for client-node's dispatcher options, every connect bounded by the request timeout. */
function dispatcherFor(o: Exclude<DispatcherOptions, { type: 'socks' }>, timeoutMs: number): Dispatcher | undefined {
  switch (o.type) {
    case 'agent':
      return new Agent({ connect: { ...o.connect, timeout: timeoutMs } });
    case 'proxy':
      return new ProxyAgent({ uri: o.uri, requestTls: { ...o.requestTls, timeout: timeoutMs }, proxyTls: { timeout: timeoutMs }, connect: { ...o.connect, timeout: timeoutMs } } as ProxyAgent.Options);
    case 'none':
      return undefined;
  }
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  const e = err as Error & { code?: string; cause?: Error & { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || e.cause?.name === 'TimeoutError' || e.code === 'UND_ERR_CONNECT_TIMEOUT') return `no answer within ${timeoutMs / 1000}s (--request-timeout)`;
  // undici.request throws the socket's error itself; fetch wrapped it in cause.
  const inner = e.code ? e : (e.cause ?? e);
  const code = (inner as { code?: string }).code;
  if (!code) return inner.message;
  return inner.message && !inner.message.includes(code) ? `${code} (${inner.message})` : inner.message ? `${code}: ${inner.message}` : code;
}

/** `299 - "text"` entries, comma-separated (RFC 7234 warn-value). */
export function parseWarnings(header: string): string[] {
  const out: string[] = [];
  const re = /\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(header); m; m = re.exec(header)) out.push(m[1]!.replace(/\\(.)/g, '$1'));
  return out;
}
