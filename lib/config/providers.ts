// mefi.yaml's clusterProfiles block and the access provider file it names
// (KEP-5339's format: {"providers": [{"name", "execConfig", ...}]}, as
// sigs.k8s.io/cluster-inventory-api's pkg/access reads it), checked like the
// rest of the config: every problem at once, each with its file, line and
// field. JSON is YAML, so the provider file is parsed with the config's
// parser and its errors name the provider file's own lines.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { isDNS1123Label } from '../plan/names.ts';
import {
  bool,
  Checker,
  isPlainObject,
  loadCluster,
  namespaceList,
  str,
  stringList,
  type ClusterConfig,
  type Defaults,
  type Path,
} from './config.ts';
import type { AccessProvider, ExecConfig, ProfilesConfig } from './profiles.ts';
import { selectorError } from './selector.ts';

export const execApiVersions = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

const profilesFields = ['hub', 'namespace', 'selector', 'clusterSet', 'namespaces', 'providerFile', 'providers'];
const notForHub = ['name', 'type', 'namespaces', 'podCIDRs', 'staleAfter'];

/** The clusterProfiles block; undefined (with the problems recorded) when it is wrong. */
export function loadProfiles(
  c: Checker,
  raw: unknown,
  baseDir: string,
  defaults: Defaults,
): ProfilesConfig | undefined {
  const at = (...rest: Path): Path => ['clusterProfiles', ...rest];
  if (!isPlainObject(raw)) {
    c.fail(at(), 'must be a mapping with hub, namespace and providerFile (or providers)');
    return undefined;
  }
  const before = c.issues.length;
  for (const k of Object.keys(raw))
    if (!profilesFields.includes(k)) c.fail(at(k), `unknown field; expected one of ${profilesFields.join(', ')}`);

  let hub: ClusterConfig | undefined;
  if (!isPlainObject(raw.hub)) c.fail(at('hub'), 'must be a mapping: how to reach the hub, as for a cluster');
  else {
    for (const k of notForHub)
      if (k in raw.hub)
        c.fail(
          at('hub', k),
          'does not go with hub: the hub is where ClusterProfiles are read, not a cluster mefi syncs',
        );
    const conn = Object.fromEntries(Object.entries(raw.hub).filter(([k]) => !notForHub.includes(k)));
    hub = loadCluster(c, at('hub'), { ...conn, name: 'hub' }, baseDir, defaults);
  }

  const namespace = str(c, at('namespace'), raw.namespace);
  if (raw.namespace === undefined) c.fail(at(), 'namespace is required: where the ClusterProfiles are');
  else if (namespace !== undefined && !isDNS1123Label(namespace))
    c.fail(at('namespace'), `${JSON.stringify(namespace)} is not a valid namespace name`);

  const clusterSet = str(c, at('clusterSet'), raw.clusterSet);
  const namespaces = stringList(c, at('namespaces'), raw.namespaces, namespaceList);
  const selector = str(c, at('selector'), raw.selector);
  if (selector !== undefined) {
    const problem = selectorError(selector);
    if (problem) c.fail(at('selector'), `${JSON.stringify(selector)} ${problem}`);
  }

  let providers: AccessProvider[] | undefined;
  let providersDir = baseDir;
  let providerFile: string | undefined;
  if ((raw.providerFile === undefined) === (raw.providers === undefined)) {
    c.fail(at(), 'give providerFile (an access provider file, KEP-5339) or providers, one of them');
  } else if (raw.providers !== undefined) {
    providers = loadProviders(c, at('providers'), raw.providers);
  } else {
    const given = str(c, at('providerFile'), raw.providerFile);
    if (given) {
      const file = path.resolve(baseDir, given);
      providersDir = path.dirname(file);
      providerFile = file;
      providers = loadProviderFile(c, at('providerFile'), file);
    }
  }
  if (c.issues.length > before || !hub || !namespace || !providers) return undefined;
  return {
    hub,
    namespace,
    ...(clusterSet ? { clusterSet } : {}),
    ...(namespaces ? { namespaces } : {}),
    ...(selector ? { selector } : {}),
    providers,
    ...(providerFile ? { providerFile } : {}),
    baseDir: providersDir,
  };
}

/** The provider file, read and checked with its own lines. */
function loadProviderFile(c: Checker, p: Path, file: string): AccessProvider[] | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    c.fail(
      p,
      `cannot read access provider file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
    return undefined;
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    c.issues.push({ file, line: e.linePos?.[0]?.line, message: `not JSON: ${e.message.split('\n')[0]}` });
    return undefined;
  }
  const own = new Checker(file, doc, lines);
  const root = doc.toJS({ maxAliasCount: 100 }) as unknown;
  let providers: AccessProvider[] | undefined;
  if (!isPlainObject(root) || root.providers === undefined)
    own.fail([], 'must be an object with a providers list (KEP-5339)');
  else providers = loadProviders(own, ['providers'], root.providers);
  c.issues.push(...own.issues);
  return own.issues.length ? undefined : providers;
}

function loadProviders(c: Checker, p: Path, raw: unknown): AccessProvider[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    c.fail(p, 'must be a non-empty list of access providers (name and execConfig)');
    return undefined;
  }
  const out: AccessProvider[] = [];
  const seen = new Set<string>();
  raw.forEach((item: unknown, i) => {
    const at = (...rest: Path): Path => [...p, i, ...rest];
    if (!isPlainObject(item)) return c.fail(at(), 'must be a mapping with name and execConfig');
    const name = str(c, at('name'), item.name);
    if (item.name === undefined) c.fail(at(), 'name is required');
    else if (name && seen.has(name)) c.fail(at('name'), `${name} is listed twice`);
    if (name) seen.add(name);
    const exec = loadExec(c, at('execConfig'), item.execConfig);
    const args = item.profileSourcedCLIArgsPolicy;
    if (args !== undefined && args !== 'Append' && args !== 'Ignore')
      c.fail(at('profileSourcedCLIArgsPolicy'), `must be Append or Ignore, got ${JSON.stringify(args)}`);
    const envs = item.profileSourcedEnvVarsPolicy;
    if (envs !== undefined && envs !== 'AppendIfNotExists' && envs !== 'Replace' && envs !== 'Ignore')
      c.fail(
        at('profileSourcedEnvVarsPolicy'),
        `must be AppendIfNotExists, Replace or Ignore, got ${JSON.stringify(envs)}`,
      );
    if (name && exec)
      out.push({
        name,
        execConfig: exec,
        ...(args ? { profileSourcedCLIArgsPolicy: args as 'Append' } : {}),
        ...(envs ? { profileSourcedEnvVarsPolicy: envs as 'Replace' } : {}),
      });
  });
  return out.length === raw.length ? out : undefined;
}

/** client-go's ExecConfig, checked as client-go would refuse it, before any plugin runs. */
export function loadExec(c: Checker, p: Path, raw: unknown): ExecConfig | undefined {
  if (!isPlainObject(raw)) {
    c.fail(p, 'must be a mapping with apiVersion and command (client-go ExecConfig)');
    return undefined;
  }
  const before = c.issues.length;
  const apiVersion = str(c, [...p, 'apiVersion'], raw.apiVersion);
  if (!apiVersion || !execApiVersions.includes(apiVersion))
    c.fail([...p, 'apiVersion'], `must be one of ${execApiVersions.join(', ')}, got ${JSON.stringify(raw.apiVersion)}`);
  const command = str(c, [...p, 'command'], raw.command);
  if (raw.command === undefined) c.fail(p, 'command is required');
  const args = raw.args ?? undefined;
  if (args !== undefined && (!Array.isArray(args) || !args.every((a) => typeof a === 'string')))
    c.fail([...p, 'args'], 'must be a list of strings');
  const env = raw.env ?? undefined;
  if (
    env !== undefined &&
    (!Array.isArray(env) ||
      !env.every((e) => isPlainObject(e) && typeof e.name === 'string' && e.name && typeof e.value === 'string'))
  )
    c.fail([...p, 'env'], 'must be a list of {name, value} strings');
  const provideClusterInfo = bool(c, [...p, 'provideClusterInfo'], raw.provideClusterInfo);
  const mode = raw.interactiveMode;
  if (mode === 'Always')
    c.fail([...p, 'interactiveMode'], 'Always needs a terminal, which mefi never has: use Never or IfAvailable');
  else if (mode !== undefined && mode !== 'Never' && mode !== 'IfAvailable')
    c.fail([...p, 'interactiveMode'], `must be Never or IfAvailable, got ${JSON.stringify(mode)}`);
  const installHint = typeof raw.installHint === 'string' ? raw.installHint : undefined;
  if (c.issues.length > before || !apiVersion || !command) return undefined;
  return {
    apiVersion,
    command,
    ...(args ? { args: args as string[] } : {}),
    ...(env ? { env: env as ExecConfig['env'] } : {}),
    ...(provideClusterInfo ? { provideClusterInfo } : {}),
    ...(typeof mode === 'string' ? { interactiveMode: mode } : {}),
    ...(installHint ? { installHint } : {}),
  };
}
