// The HTTP under mefi's client: Node's own http and https with one keep-alive
// agent per cluster. (undici, the client before, brought about 25 MiB of its
// own to every process, its HTTP parser being WebAssembly; Node's client is
// already in the binary.) A kubeconfig's proxy-url goes through hpagent (HTTP
// and HTTPS proxies, CONNECT) or socks-proxy-agent, the agents client-node
// itself depends on.

import type http from 'node:http';
import { createRequire } from 'node:module';
import { http as httpModule, https } from '../builtins.ts';
import type { TLS } from './connect.ts';

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: http.IncomingMessage;
}

const load = createRequire(import.meta.url);

/** The agent of one cluster's server: keep-alive, its TLS, its proxy if any (loaded only then). */
export function agentFor(server: string, tls: TLS, proxyUrl: string | undefined): http.Agent {
  const secure = server.startsWith('https:');
  const keepAlive = { keepAlive: true, scheduling: 'lifo' as const };
  if (proxyUrl?.startsWith('socks')) {
    const { SocksProxyAgent } = load('socks-proxy-agent') as typeof import('socks-proxy-agent');
    return new SocksProxyAgent(proxyUrl, keepAlive);
  }
  if (proxyUrl) {
    const { HttpProxyAgent, HttpsProxyAgent } = load('hpagent') as typeof import('hpagent');
    return secure
      ? new HttpsProxyAgent({ ...keepAlive, ...tls, proxy: proxyUrl })
      : new HttpProxyAgent({ ...keepAlive, proxy: proxyUrl });
  }
  return secure ? new https.Agent({ ...keepAlive, ...tls }) : new httpModule.Agent(keepAlive);
}

/**
 * One request; resolves with the response once its headers are in. The TLS
 * options ride on the request too: the SOCKS agent takes them from there.
 */
export function send(
  url: URL,
  o: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    agent: http.Agent;
    tls: TLS;
    signal: AbortSignal;
  },
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const headers =
      o.body !== undefined ? { ...o.headers, 'content-length': String(Buffer.byteLength(o.body)) } : o.headers;
    const options = {
      method: o.method,
      headers,
      agent: o.agent,
      signal: o.signal,
      ...(url.protocol === 'https:' ? o.tls : {}),
    };
    const req = (url.protocol === 'https:' ? https : httpModule).request(url, options, (res) =>
      resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }),
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** A response body, whole. */
export async function text(body: http.IncomingMessage): Promise<string> {
  body.setEncoding('utf8');
  let out = '';
  for await (const chunk of body) out += chunk as string;
  return out;
}
