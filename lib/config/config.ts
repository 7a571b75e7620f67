// mefi.yaml: load, validate, and say exactly where it is wrong.
//
// The original mefi's format loads unchanged (clusters with name, url or
// server, token, ca or CA as base64 PEM, type local|remote), and so do
// kubeconfig (+ context), inCluster, tokenFile and caFile.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { crypto } from '../builtins.ts';
import { resolveKubeconfig } from './kubeconfig.ts';
import { originalConfigKeys } from './original.ts';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { isDNS1123Label } from '../plan/names.ts';
import { parseDuration } from './duration.ts';
import { parseCIDR } from '../plan/ip.ts';
import type { ExecConfig, ProfilesConfig } from './profiles.ts';
import { loadProfiles } from './providers.ts';

export type Connection =
  | {
      kind: 'url';
      url: string;
      token?: string;
      tokenFile?: string;
      caData?: string;
      caFile?: string;
      insecureSkipTLSVerify: boolean;
    }
  | { kind: 'kubeconfig'; path: string; context?: string; insecureSkipTLSVerify: boolean }
  | { kind: 'inCluster' }
  /** A ClusterProfile's access provider: an exec plugin for the credentials (lib/config/profiles.ts). */
  | {
      kind: 'exec';
      server: string;
      /** PEM. */
      caData?: string;
      tlsServerName?: string;
      proxyUrl?: string;
      insecureSkipTLSVerify: boolean;
      exec: ExecConfig;
      /** The profile's client.authentication.k8s.io/exec extension, handed to the plugin. */
      pluginConfig?: unknown;
      /** "ClusterProfile fleet/alpha (provider tokens)": named in every error of the plugin. */
      owner: string;
      baseDir: string;
    }
  /** A ClusterProfile that cannot be used (unhealthy, no provider mefi has): unreadable, for this reason. */
  | { kind: 'unavailable'; reason: string };

export interface ClusterConfig {
  name: string;
  type: 'local' | 'remote';
  connection: Connection;
  /** Namespaces to read sources from; all when absent. */
  namespaces?: string[];
  /** The only ranges this cluster's addresses may come from. */
  podCIDRs?: string[];
  /** Remove this cluster's mirrors once it has been unreadable this long (off when absent). */
  staleAfterMs?: number;
  /** MCS mode: its id in the ClusterSet (the cluster.clusterset.k8s.io property its ClusterProfile reports). */
  clusterId?: string;
}

export interface Config {
  file: string;
  /** The static clusters, and (once the hub is read) the ClusterProfiles' after them. */
  clusters: ClusterConfig[];
  /** clusterProfiles: the hub whose ClusterProfiles are clusters too (lib/world/inventory.ts reads it). */
  profiles?: ProfilesConfig;
  /** The top-level staleAfter: every cluster's default, and the rule for clusters no longer configured. */
  staleAfterMs?: number;
  /** The original's flag keys found at the top level (viper merged them with the flags): flags and MEFI_* win. */
  flags?: Record<string, unknown>;
}

export interface ConfigIssue {
  file: string;
  line?: number;
  field?: string;
  message: string;
}

export class ConfigError extends Error {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super(issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file}${i.line ? `:${i.line}` : ''}: ${i.field ? `${i.field}: ` : ''}${i.message}`;
}

export type Path = (string | number)[];

const clusterFields = new Map<string, string>([
  ['name', 'name'],
  ['type', 'type'],
  ['url', 'url'],
  ['server', 'url'], // the original's first format
  ['token', 'token'],
  ['tokenFile', 'tokenFile'],
  ['ca', 'ca'],
  ['CA', 'ca'], // the original's first format
  ['caFile', 'caFile'],
  ['insecureSkipTLSVerify', 'insecureSkipTLSVerify'],
  ['kubeconfig', 'kubeconfig'],
  ['context', 'context'],
  ['inCluster', 'inCluster'],
  ['namespaces', 'namespaces'],
  ['podCIDRs', 'podCIDRs'],
  ['staleAfter', 'staleAfter'],
]);

function fieldName(p: Path): string {
  return p.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${k}` : k), '');
}

export class Checker {
  readonly issues: ConfigIssue[] = [];
  readonly file: string;
  readonly doc: Document;
  readonly lines: LineCounter;
  constructor(file: string, doc: Document, lines: LineCounter) {
    this.file = file;
    this.doc = doc;
    this.lines = lines;
  }

  /** The line of the node at p, or of its nearest ancestor that exists. */
  line(p: Path): number | undefined {
    for (let n = p.length; n >= 0; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(p.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) return this.lines.linePos(range[0]).line;
    }
    return undefined;
  }

  fail(p: Path, message: string): void {
    this.issues.push({ file: this.file, line: this.line(p), field: fieldName(p) || undefined, message });
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(c: Checker, p: Path, v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.trim() === '') {
    c.fail(p, `must be a non-empty string, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return v.trim();
}

export function bool(c: Checker, p: Path, v: unknown): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') {
    c.fail(p, `must be true or false, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return v;
}

/** An API server URL as client-go takes it: https, a host, optionally a path prefix (a proxy's), nothing else. */
function urlProblem(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return 'must be an https:// URL';
  }
  if (u.protocol !== 'https:') return 'must be an https:// URL';
  if (!u.hostname || u.username || u.password || u.search || u.hash || /\s/.test(text))
    return 'must be an https:// URL with a host and at most a path';
  return undefined;
}

/** Why this is not a PEM certificate (or bundle) that TLS can use, if it is not. */
function certificateProblem(pem: string): string | undefined {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
  if (!blocks) return 'holds no PEM certificate';
  for (const b of blocks) {
    try {
      new crypto.X509Certificate(b);
    } catch (err) {
      return `holds a certificate that does not parse (${(err as Error).message})`;
    }
  }
  return undefined;
}

function decodeCA(c: Checker, p: Path, v: string): string | undefined {
  const pem = Buffer.from(v.replace(/\s+/g, ''), 'base64').toString('utf8');
  const problem = /^[A-Za-z0-9+/=\s]+$/.test(v) ? certificateProblem(pem) : 'is not base64';
  if (problem) {
    c.fail(
      p,
      `must be a base64-encoded PEM certificate (as in a kubeconfig's certificate-authority-data): it ${problem}`,
    );
    return undefined;
  }
  return pem;
}

/** A CA file that exists and holds certificates. */
function checkCAFile(c: Checker, p: Path, file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    c.fail(p, `cannot read CA file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return file;
  }
  const problem = certificateProblem(text);
  if (problem) c.fail(p, `CA file ${file} ${problem}`);
  return file;
}

/**
 * A kubeconfig's shape, checked here rather than by client-node: the error
 * names the config's own line and field, never prints the file's bytes, and
 * comes with every other error of the config at once.
 */
function checkKubeconfig(c: Checker, p: Path, contextPath: Path, file: string, context: string | undefined): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    c.fail(p, `cannot read kubeconfig ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return;
  }
  const doc = parseDocument(text, { merge: true });
  let kc: unknown;
  try {
    kc = doc.errors.length ? undefined : doc.toJS({ maxAliasCount });
  } catch {
    kc = undefined;
  }
  if (doc.errors.length || kc === undefined) {
    const where = doc.errors[0]?.linePos?.[0]?.line;
    c.fail(p, `${file} is not a kubeconfig (invalid YAML${where ? ` at its line ${where}` : ''})`);
    return;
  }
  const r = resolveKubeconfig(kc, file, context);
  if (!r.ok) c.fail(r.onContext ? contextPath : p, r.message);
}

/** An optional, non-empty list of strings, each checked; undefined when absent or wrong. */
export function stringList(
  c: Checker,
  p: Path,
  v: unknown,
  rule: {
    empty: string;
    valid: (s: string) => boolean;
    invalid: (item: unknown) => string;
    read?: (s: string) => string;
    unique?: boolean;
  },
): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) {
    c.fail(p, rule.empty);
    return undefined;
  }
  const out: string[] = [];
  v.forEach((item: unknown, j) => {
    const s = typeof item === 'string' ? (rule.read ?? ((x: string) => x))(item) : undefined;
    if (s === undefined || !rule.valid(s)) c.fail([...p, j], rule.invalid(item));
    else if (rule.unique && out.includes(s)) c.fail([...p, j], `${s} is listed twice`);
    else out.push(s);
  });
  return out;
}

/** A `namespaces` list's rule: names, each once. */
export const namespaceList = {
  empty: 'must be a non-empty list of namespace names',
  valid: isDNS1123Label,
  invalid: (item: unknown) => `${JSON.stringify(item)} is not a valid namespace name`,
  unique: true,
};

export function checkFile(c: Checker, p: Path, file: string, what: string): string {
  try {
    readFileSync(file);
  } catch (err) {
    c.fail(p, `cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return file;
}

function staleAfter(c: Checker, p: Path, v: unknown): number | undefined {
  const ms = typeof v === 'string' || typeof v === 'number' ? parseDuration(String(v)) : undefined;
  if (ms === undefined || ms < 1000) {
    c.fail(p, `must be a duration of at least 1s, such as 10m, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return ms;
}

export interface Defaults {
  staleAfterMs?: number;
}

export function loadCluster(
  c: Checker,
  base: Path,
  raw: unknown,
  baseDir: string,
  defaults: Defaults,
): ClusterConfig | undefined {
  const at = (...rest: Path): Path => [...base, ...rest];
  if (!isPlainObject(raw)) {
    c.fail(at(), 'must be a mapping with at least name and a way to connect');
    return undefined;
  }
  const v: Record<string, unknown> = {};
  const key: Record<string, string> = {};
  for (const [k, value] of Object.entries(raw)) {
    const canonical = clusterFields.get(k);
    if (!canonical) {
      c.fail(at(k), `unknown field; expected one of ${[...new Set(clusterFields.values())].join(', ')}`);
      continue;
    }
    if (canonical in v) {
      c.fail(at(k), `given twice (as ${key[canonical]} and ${k})`);
      continue;
    }
    v[canonical] = value;
    key[canonical] = k;
  }
  const field = (name: string) => at(key[name] ?? name);
  const resolve = (f: string) => path.resolve(baseDir, f);
  const issuesBefore = c.issues.length;

  const name = str(c, field('name'), v.name);
  if (v.name === undefined) c.fail(at(), 'name is required');
  else if (name !== undefined && !isDNS1123Label(name)) {
    c.fail(
      field('name'),
      `${JSON.stringify(name)} is not a DNS-1123 label (lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit)`,
    );
  }
  const type = v.type ?? 'remote';
  if (type !== 'local' && type !== 'remote')
    c.fail(field('type'), `must be local or remote, got ${JSON.stringify(type)}`);

  const insecure = bool(c, field('insecureSkipTLSVerify'), v.insecureSkipTLSVerify) ?? false;
  const styles = [
    v.url !== undefined && 'url',
    v.kubeconfig !== undefined && 'kubeconfig',
    v.inCluster !== undefined && v.inCluster !== false && 'inCluster',
  ].filter(Boolean);
  let connection: Connection | undefined;
  if (styles.length !== 1) {
    c.fail(
      at(),
      styles.length === 0
        ? 'needs one way to connect: url (with token or tokenFile), kubeconfig, or inCluster: true'
        : `has ${styles.join(' and ')}: give only one way to connect`,
    );
  } else if (styles[0] === 'url') {
    const url = str(c, field('url'), v.url);
    if (url !== undefined) {
      const problem = urlProblem(url);
      if (problem) c.fail(field('url'), `${problem}, got ${JSON.stringify(url)}`);
    }
    if (v.token !== undefined && v.tokenFile !== undefined)
      c.fail(field('tokenFile'), 'give token or tokenFile, not both');
    if (v.ca !== undefined && v.caFile !== undefined) c.fail(field('caFile'), 'give ca or caFile, not both');
    const token = str(c, field('token'), v.token);
    const tokenFile = str(c, field('tokenFile'), v.tokenFile);
    const ca = str(c, field('ca'), v.ca);
    const caFile = str(c, field('caFile'), v.caFile);
    if (v.token === undefined && v.tokenFile === undefined) c.fail(at(), 'url needs token or tokenFile');
    connection = {
      kind: 'url',
      url: url ?? '',
      ...(token ? { token } : {}),
      ...(tokenFile ? { tokenFile: checkFile(c, field('tokenFile'), resolve(tokenFile), 'token file') } : {}),
      ...(ca ? { caData: decodeCA(c, field('ca'), ca) } : {}),
      ...(caFile ? { caFile: checkCAFile(c, field('caFile'), resolve(caFile)) } : {}),
      insecureSkipTLSVerify: insecure,
    };
  } else if (styles[0] === 'kubeconfig') {
    for (const f of ['token', 'tokenFile', 'ca', 'caFile'])
      if (v[f] !== undefined) c.fail(field(f), 'does not go with kubeconfig (the kubeconfig carries the credentials)');
    const file = str(c, field('kubeconfig'), v.kubeconfig);
    const context = str(c, field('context'), v.context);
    if (file) checkKubeconfig(c, field('kubeconfig'), field('context'), resolve(file), context);
    connection = {
      kind: 'kubeconfig',
      path: file ? resolve(file) : '',
      ...(context ? { context } : {}),
      insecureSkipTLSVerify: insecure,
    };
  } else {
    if (v.inCluster !== true) c.fail(field('inCluster'), `must be true, got ${JSON.stringify(v.inCluster)}`);
    for (const f of ['token', 'tokenFile', 'ca', 'caFile', 'context'])
      if (v[f] !== undefined) c.fail(field(f), 'does not go with inCluster');
    connection = { kind: 'inCluster' };
  }
  if (v.context !== undefined && styles[0] !== 'kubeconfig') c.fail(field('context'), 'needs kubeconfig');

  const namespaces = stringList(c, field('namespaces'), v.namespaces, namespaceList);
  const podCIDRs = stringList(c, field('podCIDRs'), v.podCIDRs, {
    empty: 'must be a non-empty list of CIDRs, such as [10.244.0.0/16, fd00:10:244::/56]',
    read: (s) => s.trim(),
    valid: (s) => parseCIDR(s) !== undefined,
    invalid: (item) => `${JSON.stringify(item)} is not a CIDR such as 10.244.0.0/16`,
  });
  const staleAfterMs =
    v.staleAfter === undefined ? defaults.staleAfterMs : staleAfter(c, field('staleAfter'), v.staleAfter);
  if (c.issues.length > issuesBefore || !connection || !name) return undefined;
  return {
    name,
    type: type as ClusterConfig['type'],
    connection,
    ...(namespaces ? { namespaces } : {}),
    ...(podCIDRs ? { podCIDRs } : {}),
    ...(staleAfterMs !== undefined ? { staleAfterMs } : {}),
  };
}

/** Aliases expanded at most this many times: an alias bomb is refused, not expanded. */
const maxAliasCount = 100;

function toPlain(doc: Document, file: string): unknown {
  try {
    return doc.toJS({ maxAliasCount });
  } catch (err) {
    throw new ConfigError([
      {
        file,
        message: `invalid YAML: ${(err as Error).message.split('\n')[0]} (aliases may expand at most ${maxAliasCount} times)`,
      },
    ]);
  }
}

/** Parse and validate; throws ConfigError listing every problem found. */
export function parseConfig(text: string, file: string): Config {
  const lines = new LineCounter();
  // Merge keys (<<: *defaults) work, as in YAML 1.1 and most Kubernetes tooling.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true, merge: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => ({
        file,
        line: e.linePos?.[0]?.line,
        message: `invalid YAML: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`,
      })),
    );
  }
  const c = new Checker(file, doc, lines);
  const root = toPlain(doc, file);
  if (!isMap(doc.contents) || !isPlainObject(root)) {
    throw new ConfigError([{ file, line: c.line([]), message: 'must be a mapping with a clusters list' }]);
  }
  const flags: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(root)) {
    if (k === 'clusters' || k === 'staleAfter' || k === 'clusterProfiles') continue;
    if (!originalConfigKeys.includes(k))
      c.fail(
        [k],
        `unknown field; expected clusters, clusterProfiles, staleAfter, or one of the original's flag keys (${originalConfigKeys.join(', ')})`,
      );
    else if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      c.fail([k], `must be a string or a number, got ${JSON.stringify(v)}`);
    else flags[k] = v;
  }
  const defaults: Defaults =
    root.staleAfter === undefined ? {} : { staleAfterMs: staleAfter(c, ['staleAfter'], root.staleAfter) };
  const clusters: ClusterConfig[] = [];
  const baseDir = path.dirname(path.resolve(file));
  const profiles =
    root.clusterProfiles === undefined ? undefined : loadProfiles(c, root.clusterProfiles, baseDir, defaults);
  // With a hub, the static list may be absent (every cluster a ClusterProfile) or empty.
  if (
    root.clusterProfiles !== undefined &&
    (root.clusters === undefined || (Array.isArray(root.clusters) && !root.clusters.length))
  ) {
    // nothing static
  } else if (!isSeq(doc.get('clusters', true)) || !Array.isArray(root.clusters) || root.clusters.length === 0) {
    c.fail(['clusters'], 'must be a non-empty list of clusters (or give clusterProfiles)');
  } else {
    const seen = new Map<string, number>();
    root.clusters.forEach((raw: unknown, i: number) => {
      const cluster = loadCluster(c, ['clusters', i], raw, path.dirname(path.resolve(file)), defaults);
      if (cluster) clusters.push(cluster);
      // Checked on the raw name, so a duplicate is reported even when the entry has other faults.
      const name = isPlainObject(raw) && typeof raw.name === 'string' ? raw.name.trim() : undefined;
      if (name === undefined) return;
      const first = seen.get(name);
      if (first !== undefined)
        c.fail(['clusters', i, 'name'], `duplicate cluster name ${name} (first at clusters[${first}])`);
      else seen.set(name, i);
    });
  }
  if (c.issues.length > 0) throw new ConfigError(c.issues);
  return {
    file,
    clusters,
    ...(profiles ? { profiles } : {}),
    ...defaults,
    ...(Object.keys(flags).length ? { flags } : {}),
  };
}

export function loadConfig(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([
      { file, message: `cannot read config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` },
    ]);
  }
  return parseConfig(text, file);
}

/**
 * The targets of a run: --local names (or all), else the clusters marked
 * type: local.
 */
export function selectTargets(config: Config, local: string[] | undefined): string[] {
  const names = config.clusters.map((c) => c.name);
  const issue = (message: string): ConfigIssue => ({ file: config.file, field: '--local', message });
  if (local && local.length > 0) {
    if (local.includes('all')) return names;
    const unknown = local.filter((n) => !names.includes(n));
    if (unknown.length > 0)
      throw new ConfigError([
        issue(`names no configured cluster: ${unknown.join(', ')} (configured: ${names.join(', ')})`),
      ]);
    return [...new Set(local)].sort();
  }
  const marked = config.clusters.filter((c) => c.type === 'local').map((c) => c.name);
  if (marked.length === 0) {
    throw new ConfigError([
      {
        file: config.file,
        field: 'clusters',
        message: 'no target: mark a cluster type: local, or pass --local NAME (or all)',
      },
    ]);
  }
  return marked.sort();
}
