// Integration helpers: admin access to the test clusters, the mefi CLI as a
// user runs it, and write counts read from the API servers' audit logs (not
// from mefi's own report).

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readSync, closeSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeClient } from '../../lib/kube/client.ts';
import { connect } from '../../lib/kube/connect.ts';
import type { EndpointsObject, RawSubset } from '../../lib/plan/index.ts';

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const dir = process.env.MEFI_TEST_DIR ?? '';
/** For describe(..., { skip }): integration tests need make test's control planes. */
export const skip = dir ? false : 'needs the control planes that make test starts';
export const clusterNames = ['alpha', 'beta', 'gamma'];

const admins = new Map<string, KubeClient>();

export function kubeconfigOf(cluster: string): string {
  return path.join(dir, `${cluster}.kubeconfig`);
}

export function admin(cluster: string): KubeClient {
  let c = admins.get(cluster);
  if (!c) {
    const conns = connect({ file: 'test', clusters: [{ name: cluster, type: 'remote', connection: { kind: 'kubeconfig', path: kubeconfigOf(cluster), insecureSkipTLSVerify: false } }] });
    c = new KubeClient(conns.get(cluster)!, { requestTimeoutMs: 30_000 });
    admins.set(cluster, c);
  }
  return c;
}

/** A short unique id for names, namespaces and labels of one test. */
export function uid(prefix = 't'): string {
  return `${prefix}${randomBytes(4).toString('hex')}`;
}

export async function ensureNamespace(cluster: string, name: string): Promise<void> {
  try {
    await admin(cluster).request({ verb: 'create', resource: 'namespaces', path: '/api/v1/namespaces', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name } } });
  } catch (err) {
    if ((err as { status?: number }).status !== 409) throw err;
  }
}

const epPath = (ns: string, name?: string) => `/api/v1/namespaces/${ns}/endpoints${name ? `/${name}` : ''}`;

export async function getEndpoints(cluster: string, ns: string, name: string): Promise<EndpointsObject | undefined> {
  try {
    return await admin(cluster).request<EndpointsObject>({ verb: 'get', resource: 'endpoints', namespace: ns, name, path: epPath(ns, name) });
  } catch (err) {
    if ((err as { status?: number }).status === 404) return undefined;
    throw err;
  }
}

/** Create or replace an Endpoints object. */
export async function putEndpoints(cluster: string, ns: string, name: string, labels: Record<string, string>, subsets: RawSubset[]): Promise<EndpointsObject> {
  await ensureNamespace(cluster, ns);
  const current = await getEndpoints(cluster, ns, name);
  const body = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace: ns, labels, ...(current ? { resourceVersion: current.metadata.resourceVersion } : {}) }, subsets };
  return current
    ? admin(cluster).request({ verb: 'update', resource: 'endpoints', namespace: ns, name, path: epPath(ns, name), body })
    : admin(cluster).request({ verb: 'create', resource: 'endpoints', namespace: ns, name, path: epPath(ns), body });
}

export async function deleteEndpoints(cluster: string, ns: string, name: string): Promise<void> {
  await admin(cluster).request({ verb: 'delete', resource: 'endpoints', namespace: ns, name, path: epPath(ns, name) });
}

export async function listEndpoints(cluster: string, ns: string): Promise<EndpointsObject[]> {
  const list = await admin(cluster).request<{ items: EndpointsObject[] }>({ verb: 'list', resource: 'endpoints', namespace: ns, path: epPath(ns) });
  return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

export interface TestConfig {
  file: string;
  dir: string;
}

/** A mefi.yaml connecting to the test clusters with their admin kubeconfigs. */
export function writeConfig(opts: { local?: string[]; clusters?: string[]; extra?: Record<string, Record<string, unknown>> } = {}): TestConfig {
  const d = mkdtempSync(path.join(tmpdir(), 'mefi-cfg-'));
  const local = opts.local ?? ['alpha'];
  const lines = ['clusters:'];
  for (const c of opts.clusters ?? clusterNames) {
    lines.push(`  - name: ${c}`, `    kubeconfig: ${kubeconfigOf(c)}`, `    type: ${local.includes(c) ? 'local' : 'remote'}`);
    for (const [k, v] of Object.entries(opts.extra?.[c] ?? {})) lines.push(`    ${k}: ${JSON.stringify(v)}`);
  }
  const file = path.join(d, 'mefi.yaml');
  writeFileSync(file, lines.join('\n') + '\n');
  return { file, dir: d };
}

export interface MefiResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** bin/mefi as a user runs it, on this Node (24). */
export function mefi(args: string[], env: Record<string, string> = {}): Promise<MefiResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repo, 'bin/mefi'), ...args], { env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Flags that isolate a test: its own source label and its own mefi namespace. */
export function isolation(id: string): { args: string[]; sourceLabels: Record<string, string>; namespace: string } {
  return { args: ['--remote-filter', `mefi-test=${id}`, '--mefi-namespace', `mefi-${id}`], sourceLabels: { 'mefi-test': id }, namespace: `mefi-${id}` };
}

// --- the audit log --------------------------------------------------------

export interface AuditEvent {
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
}

const auditFile = (cluster: string) => path.join(dir, cluster, 'audit.log');

/** The audit log's current end: events after it belong to what a test does next. */
export function auditMark(cluster: string): number {
  return statSync(auditFile(cluster)).size;
}

export function auditSince(cluster: string, mark: number): AuditEvent[] {
  const size = statSync(auditFile(cluster)).size;
  const buf = Buffer.alloc(size - mark);
  const fd = openSync(auditFile(cluster), 'r');
  try {
    readSync(fd, buf, 0, buf.length, mark);
  } finally {
    closeSync(fd);
  }
  return buf
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditEvent);
}

const writeVerbs = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/** Write requests that reached the API server in a namespace since the mark. */
export function writesSince(cluster: string, mark: number, namespace: string): AuditEvent[] {
  return auditSince(cluster, mark).filter((e) => writeVerbs.has(e.verb) && e.objectRef?.namespace === namespace);
}

export function marks(): Record<string, number> {
  return Object.fromEntries(clusterNames.map((c) => [c, auditMark(c)]));
}

/** Subsets for a test source: ready and not-ready IPs on one port. */
export function subset(ready: string[], notReady: string[] = [], port = 8080, name = 'http'): RawSubset {
  return {
    ...(ready.length ? { addresses: ready.map((ip) => ({ ip })) } : {}),
    ...(notReady.length ? { notReadyAddresses: notReady.map((ip) => ({ ip })) } : {}),
    ports: [{ name, port, protocol: 'TCP' }],
  };
}

/** The kubectl built with the control plane (make test sets MEFI_KUBECTL). */
export function kubectl(args: string[], opts: { kubeconfig?: string; cluster?: string; input?: string; cwd?: string } = {}): Promise<MefiResult> {
  const bin = process.env.MEFI_KUBECTL;
  if (!bin) throw new Error('MEFI_KUBECTL is not set: run the tests with make test');
  const kc = opts.kubeconfig ?? (opts.cluster ? kubeconfigOf(opts.cluster) : undefined);
  return new Promise((resolve) => {
    const child = execFile(bin, [...(kc ? ['--kubeconfig', kc] : []), ...args], { cwd: opts.cwd ?? repo, maxBuffer: 64 << 20, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}
