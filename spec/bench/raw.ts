// The floor: a minimal raw HTTP client (undici, admin client certificate) that
// sends the same requests mefi sends, with no planning around them.

import { readFileSync } from 'node:fs';
import pLimit from 'p-limit';
import { Agent, request } from 'undici';

export interface Raw {
  server: string;
  agent: Agent;
}

export function rawClient(kubeconfig: string, keepAlive = true): Raw {
  const kc = JSON.parse(readFileSync(kubeconfig, 'utf8'));
  const b64 = (s: string) => Buffer.from(s, 'base64');
  const agent = new Agent({
    connect: {
      ca: b64(kc.clusters[0].cluster['certificate-authority-data']),
      cert: b64(kc.users[0].user['client-certificate-data']),
      key: b64(kc.users[0].user['client-key-data']),
    },
    ...(keepAlive ? {} : { pipelining: 0, keepAliveTimeout: 1, keepAliveMaxTimeout: 1 }),
  });
  return { server: kc.clusters[0].cluster.server, agent };
}

export async function call<T>(raw: Raw, method: string, path: string, body?: unknown, close = false): Promise<T> {
  const res = await request(raw.server + path, {
    method: method as 'GET',
    dispatcher: raw.agent,
    headers: {
      accept: 'application/json',
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...(close ? { connection: 'close' } : {}),
    },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${path}: ${res.statusCode} ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

/** A paginated list, as mefi makes it; returns the items and the bytes read. */
export async function listAll(
  raw: Raw,
  path: string,
  query: Record<string, string>,
  pageSize: number,
): Promise<{ items: unknown[]; pages: number }> {
  const items: unknown[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const q = new URLSearchParams({
      ...query,
      ...(pageSize ? { limit: String(pageSize) } : {}),
      ...(token ? { continue: token } : {}),
    });
    const page = await call<{ items: unknown[]; metadata: { continue?: string } }>(
      raw,
      'GET',
      `${path}?${q.toString()}`,
    );
    items.push(...page.items);
    token = page.metadata.continue || undefined;
    pages++;
  } while (token);
  return { items, pages };
}

export async function createAll(
  raw: Raw,
  objects: { path: string; body: unknown }[],
  concurrency: number,
  close = false,
): Promise<void> {
  const limit = pLimit(concurrency);
  await Promise.all(objects.map((o) => limit(() => call(raw, 'POST', o.path, o.body, close))));
}

/** A raw watch: calls onEvent for each event line until stop(); the floor of what a watch can see. */
export function watchRaw(
  raw: Raw,
  path: string,
  onEvent: (e: { type: string; object: { metadata: { name: string }; subsets?: unknown } }) => void,
): { stop(): void } {
  const ctl = new AbortController();
  void (async () => {
    try {
      let res = await request(raw.server + path, {
        method: 'GET',
        dispatcher: raw.agent,
        headers: { accept: 'application/json' },
        signal: ctl.signal,
        bodyTimeout: 0,
      });
      // Come back later (a CRD's watch cache starting: "storage is (re)initializing"), as every client does.
      for (let attempt = 0; res.statusCode === 429 && attempt < 10; attempt++) {
        await res.body.text();
        await new Promise((r) => setTimeout(r, 1000 * Math.min(10, Number(res.headers['retry-after']) || 1)));
        res = await request(raw.server + path, {
          method: 'GET',
          dispatcher: raw.agent,
          headers: { accept: 'application/json' },
          signal: ctl.signal,
          bodyTimeout: 0,
        });
      }
      if (res.statusCode >= 300) throw new Error(`${res.statusCode} ${(await res.body.text()).slice(0, 200)}`);
      let rest = '';
      for await (const chunk of res.body) {
        rest += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = rest.slice(0, nl);
          rest = rest.slice(nl + 1);
          if (line.trim()) onEvent(JSON.parse(line));
        }
      }
    } catch (err) {
      // Stopped; anything else is said, or a figure would miss its events without a word.
      if (!ctl.signal.aborted) process.stderr.write(`# raw watch ${path} ended: ${(err as Error).message}\n`);
    }
  })();
  return { stop: () => ctl.abort() };
}
