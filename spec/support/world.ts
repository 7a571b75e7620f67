// Integration helpers: admin access to the test clusters, the mefi CLI as a
// user runs it, and write counts read from the API servers' audit logs (not
// from mefi's own report).

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, readSync, closeSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeClient } from '../../lib/kube/client.ts';
import { connect } from '../../lib/kube/connect.ts';
import type { EndpointsObject, RawSubset } from '../../lib/plan/index.ts';
import { makePods } from './pods.ts';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const dir = process.env.MEFI_TEST_DIR ?? '';
/** For describe(..., { skip }): integration tests need make test's control planes. */
export const skip = dir ? false : 'needs the control planes that make test starts';
export const clusterNames = ['alpha', 'beta', 'gamma'];

export interface AuditEvent {
  verb: string;
  userAgent?: string;
  requestURI: string;
  user: { username: string; extra?: Record<string, string[]> };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
}

export interface TestConfig {
  file: string;
  dir: string;
}

export interface MefiResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Directories made by scratch(), removed when the test file's process exits (they hold tokens and kubeconfigs). */
const scratches: string[] = [];
process.once('exit', () => {
  for (const d of scratches) rmSync(d, { recursive: true, force: true });
});

/** A temporary directory of this test file's, removed when its process exits however its tests end. */
export function scratch(prefix: string): string {
  const d = mkdtempSync(path.join(tmpdir(), prefix));
  scratches.push(d);
  return d;
}

/** A short unique id for names, namespaces and labels of one test. */
export function uid(prefix = 't'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

export interface MefiResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** bin/mefi as a user runs it, on this Node (24). */
/** bin/mefi with args; `via` is a command prefix to run it under (pods.onNode: inside a node's network namespace). */
export function mefi(args: string[], env: Record<string, string> = {}, via: string[] = []): Promise<MefiResult> {
  const [cmd, ...rest] = [...via, process.execPath, path.join(repo, 'bin/mefi'), ...args];
  return new Promise((resolve) => {
    execFile(
      cmd!,
      rest,
      { env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : -1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface Loop {
  child: ChildProcess;
  /** Everything it logged so far. */
  log(): string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** `mefi sync --interval …` in the background. */
export function startLoop(args: string[], env: Record<string, string> = {}, via: string[] = []): Loop {
  const [cmd, ...rest] = [...via, process.execPath, path.join(repo, 'bin/mefi'), 'sync', ...args];
  const child = spawn(cmd!, rest, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    log: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Poll until check() holds, or fail after timeoutMs. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs / 1000}s: ${what}`);
    await sleep(50);
  }
}

/** Flags that isolate a test: its own source label and its own mefi namespace. */
export function isolation(id: string): { args: string[]; sourceLabels: Record<string, string>; namespace: string } {
  return {
    args: ['--remote-filter', `mefi-test=${id}`, '--mefi-namespace', `mefi-${id}`],
    sourceLabels: { 'mefi-test': id },
    namespace: `mefi-${id}`,
  };
}

/** Subsets for a test source: ready and not-ready IPs on one port. */
export function subset(ready: string[], notReady: string[] = [], port = 8080, name = 'http'): RawSubset {
  return {
    ...(ready.length ? { addresses: ready.map((ip) => ({ ip })) } : {}),
    ...(notReady.length ? { notReadyAddresses: notReady.map((ip) => ({ ip })) } : {}),
    ports: [{ name, port, protocol: 'TCP' }],
  };
}

/** Users of the bed's components, as a real cluster names them. */
function isComponent(user: string | undefined): boolean {
  // A refused request (401) has no user.
  if (user === undefined) return false;
  return (
    user === 'system:kube-controller-manager' ||
    user === 'system:kube-proxy' ||
    user === 'system:kube-scheduler' ||
    user.startsWith('system:node:') ||
    user.startsWith('system:serviceaccount:kube-system:')
  );
}

/** Helpers bound to the control planes in one directory (make test's, or a test's own). */
export function makeWorld(dir: string, clusterNames = ['alpha', 'beta', 'gamma']) {
  const admins = new Map<string, KubeClient>();

  function kubeconfigOf(cluster: string): string {
    return path.join(dir, `${cluster}.kubeconfig`);
  }

  function admin(cluster: string): KubeClient {
    let c = admins.get(cluster);
    if (!c) {
      const conns = connect({
        file: 'test',
        clusters: [
          {
            name: cluster,
            type: 'remote',
            connection: { kind: 'kubeconfig', path: kubeconfigOf(cluster), insecureSkipTLSVerify: false },
          },
        ],
      });
      c = new KubeClient(conns.get(cluster)!, { requestTimeoutMs: 30_000, userAgent: 'mefi-test-admin' });
      admins.set(cluster, c);
    }
    return c;
  }

  async function ensureNamespace(cluster: string, name: string): Promise<void> {
    try {
      await admin(cluster).request({
        verb: 'create',
        resource: 'namespaces',
        path: '/api/v1/namespaces',
        body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } },
      });
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
    }
  }

  const epPath = (ns: string, name?: string) => `/api/v1/namespaces/${ns}/endpoints${name ? `/${name}` : ''}`;

  async function getEndpoints(cluster: string, ns: string, name: string): Promise<EndpointsObject | undefined> {
    try {
      return await admin(cluster).request<EndpointsObject>({
        verb: 'get',
        resource: 'endpoints',
        namespace: ns,
        name,
        path: epPath(ns, name),
      });
    } catch (err) {
      if ((err as { status?: number }).status === 404) return undefined;
      throw err;
    }
  }

  /** Create or replace an Endpoints object. */
  async function putEndpoints(
    cluster: string,
    ns: string,
    name: string,
    labels: Record<string, string>,
    subsets: RawSubset[],
    annotations?: Record<string, string>,
  ): Promise<EndpointsObject> {
    await ensureNamespace(cluster, ns);
    const current = await getEndpoints(cluster, ns, name);
    const body = {
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: {
        name,
        namespace: ns,
        labels,
        ...(annotations ? { annotations } : {}),
        ...(current ? { resourceVersion: current.metadata.resourceVersion } : {}),
      },
      subsets,
    };
    return current
      ? admin(cluster).request({
          verb: 'update',
          resource: 'endpoints',
          namespace: ns,
          name,
          path: epPath(ns, name),
          body,
        })
      : admin(cluster).request({ verb: 'create', resource: 'endpoints', namespace: ns, name, path: epPath(ns), body });
  }

  const svcPath = (ns: string, name?: string) => `/api/v1/namespaces/${ns}/services${name ? `/${name}` : ''}`;

  /**
   * Create or update a headless Service selecting pods (app: name, plus the
   * given selector): the Endpoints controller then makes its Endpoints, and
   * copies the Service's labels onto them. Headless: no cluster IP taken
   * from the bed's small service range.
   */
  async function putService(
    cluster: string,
    ns: string,
    name: string,
    labels: Record<string, string>,
    selector: Record<string, string>,
    targetPort = 8080,
  ): Promise<void> {
    await ensureNamespace(cluster, ns);
    let current: { metadata: { resourceVersion: string } } | undefined;
    try {
      current = await admin(cluster).request({
        verb: 'get',
        resource: 'services',
        namespace: ns,
        name,
        path: svcPath(ns, name),
      });
    } catch (err) {
      if ((err as { status?: number }).status !== 404) throw err;
    }
    const body = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name,
        namespace: ns,
        labels,
        ...(current ? { resourceVersion: current.metadata.resourceVersion } : {}),
      },
      spec: { clusterIP: 'None', selector, ports: [{ name: 'http', port: 80, targetPort }] },
    };
    await (current
      ? admin(cluster).request({
          verb: 'update',
          resource: 'services',
          namespace: ns,
          name,
          path: svcPath(ns, name),
          body,
        })
      : admin(cluster).request({ verb: 'create', resource: 'services', namespace: ns, name, path: svcPath(ns), body }));
  }

  async function deleteService(cluster: string, ns: string, name: string): Promise<void> {
    await admin(cluster).request({
      verb: 'delete',
      resource: 'services',
      namespace: ns,
      name,
      path: svcPath(ns, name),
    });
  }

  /** Ready and not-ready IPs of an Endpoints object (sorted), or undefined when there is none. */
  async function endpointsIPs(
    cluster: string,
    ns: string,
    name: string,
  ): Promise<{ ready: string[]; notReady: string[]; labels: Record<string, string> } | undefined> {
    const ep = await getEndpoints(cluster, ns, name);
    if (!ep) return undefined;
    const all = (k: 'addresses' | 'notReadyAddresses') =>
      (ep.subsets ?? []).flatMap((s) => (s[k] ?? []).map((a) => a.ip!)).sort();
    return { ready: all('addresses'), notReady: all('notReadyAddresses'), labels: ep.metadata.labels ?? {} };
  }

  async function deleteEndpoints(cluster: string, ns: string, name: string): Promise<void> {
    await admin(cluster).request({
      verb: 'delete',
      resource: 'endpoints',
      namespace: ns,
      name,
      path: epPath(ns, name),
    });
  }

  async function listEndpoints(cluster: string, ns: string): Promise<EndpointsObject[]> {
    const list = await admin(cluster).request<{ items: EndpointsObject[] }>({
      verb: 'list',
      resource: 'endpoints',
      namespace: ns,
      path: epPath(ns),
    });
    return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  }

  /** A mefi.yaml connecting to the test clusters with their admin kubeconfigs. */
  function writeConfig(
    opts: {
      local?: string[];
      clusters?: string[];
      extra?: Record<string, Record<string, unknown>>;
      top?: Record<string, unknown>;
    } = {},
  ): TestConfig {
    const d = scratch('mefi-cfg-');
    const local = opts.local ?? ['alpha'];
    const lines = ['clusters:'];
    for (const c of opts.clusters ?? clusterNames) {
      lines.push(
        `  - name: ${c}`,
        `    kubeconfig: ${kubeconfigOf(c)}`,
        `    type: ${local.includes(c) ? 'local' : 'remote'}`,
      );
      for (const [k, v] of Object.entries(opts.extra?.[c] ?? {})) lines.push(`    ${k}: ${JSON.stringify(v)}`);
    }
    for (const [k, v] of Object.entries(opts.top ?? {})) lines.push(`${k}: ${JSON.stringify(v)}`);
    const file = path.join(d, 'mefi.yaml');
    writeFileSync(file, lines.join('\n') + '\n');
    return { file, dir: d };
  }

  // --- the audit log --------------------------------------------------------

  const auditFile = (cluster: string) => path.join(dir, cluster, 'audit.log');

  /** The audit log's current end: events after it belong to what a test does next. */
  function auditMark(cluster: string): number {
    return statSync(auditFile(cluster)).size;
  }

  /**
   * Requests since the mark, without those of the bed's own components
   * (controller-manager, its controllers' ServiceAccounts, kube-proxy), unless
   * asked for: tests count what the clients under test did.
   */
  function auditSince(cluster: string, mark: number, opts: { components?: boolean } = {}): AuditEvent[] {
    const size = statSync(auditFile(cluster)).size;
    const buf = Buffer.alloc(size - mark);
    const fd = openSync(auditFile(cluster), 'r');
    try {
      readSync(fd, buf, 0, buf.length, mark);
    } finally {
      closeSync(fd);
    }
    // The API server may be writing a line as this reads (its writes can split
    // a line): only whole lines count, the end of a line a mark cut is skipped.
    const text = buf.toString('utf8');
    const lines = text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter(Boolean);
    const whole = (l: string) => {
      try {
        return JSON.parse(l) as AuditEvent;
      } catch {
        return undefined;
      }
    };
    if (lines.length > 0 && whole(lines[0]!) === undefined) lines.shift();
    return lines
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => opts.components || !isComponent(e.user.username));
  }

  const writeVerbs = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

  /** Write requests that reached the API server in a namespace since the mark. */
  function writesSince(cluster: string, mark: number, namespace: string): AuditEvent[] {
    return auditSince(cluster, mark).filter((e) => writeVerbs.has(e.verb) && e.objectRef?.namespace === namespace);
  }

  function marks(): Record<string, number> {
    return Object.fromEntries(clusterNames.map((c) => [c, auditMark(c)]));
  }

  /** The kubectl built with the control plane (make test sets MEFI_KUBECTL). */
  function kubectl(
    args: string[],
    opts: { kubeconfig?: string; cluster?: string; input?: string; cwd?: string } = {},
  ): Promise<MefiResult> {
    const bin = process.env.MEFI_KUBECTL;
    if (!bin) throw new Error('MEFI_KUBECTL is not set: run the tests with make test');
    const kc = opts.kubeconfig ?? (opts.cluster ? kubeconfigOf(opts.cluster) : undefined);
    return new Promise((resolve) => {
      const child = execFile(
        bin,
        [...(kc ? ['--kubeconfig', kc] : []), ...args],
        { cwd: opts.cwd ?? repo, maxBuffer: 64 << 20, timeout: 120_000 },
        (err, stdout, stderr) => {
          const code = err
            ? typeof (err as { code?: unknown }).code === 'number'
              ? (err as { code: number }).code
              : -1
            : 0;
          resolve({ code, stdout, stderr });
        },
      );
      if (opts.input !== undefined) child.stdin!.end(opts.input);
    });
  }

  /** kubectl apply of these objects (one List), as a user would; fails the test if refused. */
  async function applyObjects(cluster: string, ...objects: object[]): Promise<void> {
    const r = await kubectl(['apply', '-f', '-'], {
      cluster,
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    });
    if (r.code !== 0) throw new Error(`kubectl apply in ${cluster}: ${r.stderr}`);
  }

  /** kubectl <args> -o json, parsed; fails the test if kubectl does. */
  async function getJson<T>(cluster: string, args: string[]): Promise<T> {
    const r = await kubectl([...args, '-o', 'json'], { cluster });
    if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} in ${cluster}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  // --- faults: the server of a cluster is the process in <dir>/<cluster>/pid ---

  const pidOf = (cluster: string) => Number(readFileSync(path.join(dir, cluster, 'pid'), 'utf8').trim());

  /** Kill a cluster's API server (and its etcd); it stays down until release(). */
  async function kill(cluster: string): Promise<void> {
    writeFileSync(path.join(dir, cluster, 'hold'), '');
    const pid = pidOf(cluster);
    process.kill(pid, 'SIGKILL');
    while (isAlive(pid)) await sleep(20);
  }

  /** Let the control plane restart a killed server on the same ports and data, and wait until it answers. */
  async function release(cluster: string): Promise<void> {
    rmSync(path.join(dir, cluster, 'hold'), { force: true });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await admin(cluster).request({
          verb: 'list',
          resource: 'namespaces',
          path: '/api/v1/namespaces',
          query: { limit: '1' },
        });
        return;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await sleep(100);
      }
    }
  }

  /** Freeze a cluster's API server: connections open, no answer, as a server stuck under load. */
  function pause(cluster: string): void {
    process.kill(pidOf(cluster), 'SIGSTOP');
  }

  function resume(cluster: string): void {
    process.kill(pidOf(cluster), 'SIGCONT');
  }

  const pods = makePods(dir);

  return {
    dir,
    clusterNames,
    kill,
    release,
    pause,
    resume,
    applyObjects,
    getJson,
    kubeconfigOf,
    admin,
    ensureNamespace,
    getEndpoints,
    putEndpoints,
    deleteEndpoints,
    listEndpoints,
    putService,
    deleteService,
    endpointsIPs,
    pods,
    writeConfig,
    auditMark,
    auditSince,
    writesSince,
    marks,
    kubectl,
  };
}

export type World = ReturnType<typeof makeWorld>;

/** The bed make test starts, as a World (for helpers that take one). */
export const world = makeWorld(dir);
export const {
  applyObjects,
  getJson,
  kubeconfigOf,
  admin,
  ensureNamespace,
  getEndpoints,
  putEndpoints,
  deleteEndpoints,
  listEndpoints,
  putService,
  deleteService,
  endpointsIPs,
  pods,
  writeConfig,
  auditMark,
  auditSince,
  writesSince,
  marks,
  kubectl,
} = world;
