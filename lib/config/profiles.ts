// Clusters from a hub's inventory: ClusterProfiles (KEP-4322,
// multicluster.x-k8s.io/v1alpha1) and the access providers a consumer is
// given (KEP-5339: a provider file of exec credential plugins). Pure: the
// profiles as listed in, the clusters they make out, with the reason of every
// profile that makes an unreadable one. The rules follow
// sigs.k8s.io/cluster-inventory-api's pkg/access: the first provider of the
// file that a profile offers is used; the profile's
// `client.authentication.k8s.io/exec` extension is the plugin's cluster
// config; its additional-args and additional-envs extensions are applied as
// the provider's policies allow.

import { isDNS1123Label } from '../plan/names.ts';
import type { ClusterConfig } from './config.ts';

export interface ExecConfig {
  apiVersion: string;
  command: string;
  args?: string[];
  env?: { name: string; value: string }[];
  provideClusterInfo?: boolean;
  interactiveMode?: string;
  installHint?: string;
}

export interface AccessProvider {
  name: string;
  execConfig: ExecConfig;
  profileSourcedCLIArgsPolicy?: 'Append' | 'Ignore';
  profileSourcedEnvVarsPolicy?: 'AppendIfNotExists' | 'Replace' | 'Ignore';
}

/** The `clusterProfiles:` block of mefi.yaml. */
export interface ProfilesConfig {
  /** How to reach the hub that holds the ClusterProfiles (any of a cluster's connection forms). */
  hub: ClusterConfig;
  namespace: string;
  /** The ClusterSet (clusterset.k8s.io) the profiles must be in; unset: the one most of them name. */
  clusterSet?: string;
  /** Every profile's cluster read only in these namespaces (as a cluster's namespaces). */
  namespaces?: string[];
  /** A label selector over the ClusterProfiles (apimachinery's syntax). */
  selector?: string;
  providers: AccessProvider[];
  /** The access provider file, when the providers come from one (a loop reloads on its change). */
  providerFile?: string;
  /** Where relative plugin commands resolve from: the provider file's directory (or the config's, for inline providers). */
  baseDir: string;
}

interface ClusterEntry {
  server?: string;
  'certificate-authority-data'?: string;
  'tls-server-name'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'proxy-url'?: string;
  extensions?: { name?: string; extension?: unknown }[];
}

export interface ClusterProfileObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
  status?: {
    conditions?: { type?: string; status?: string; reason?: string; message?: string }[];
    properties?: { name?: string; value?: string }[];
    accessProviders?: { name?: string; cluster?: ClusterEntry }[];
    credentialProviders?: { name?: string; cluster?: ClusterEntry }[];
  };
}

export const execExtension = 'client.authentication.k8s.io/exec';
const argsExtension = 'clusterprofiles.multicluster.x-k8s.io/exec/additional-args';
const envsExtension = 'clusterprofiles.multicluster.x-k8s.io/exec/additional-envs';
/** KEP-2149's well-known ClusterProperty: the cluster's id in its ClusterSet. */
export const clusterIdProperty = 'cluster.clusterset.k8s.io';
export const clusterSetProperty = 'clusterset.k8s.io';

/** A profile that makes no readable cluster, and why (mefi's logs and problems name it). */
export interface Unusable {
  profile: string;
  why: string;
}

/** A kubeconfig Cluster's extension of this name (a ClusterProfile's access provider carries the same Cluster). */
export function extension(c: { extensions?: unknown }, name: string): unknown {
  return Array.isArray(c.extensions)
    ? (c.extensions as { name?: string; extension?: unknown }[]).find((e) => e.name === name)?.extension
    : undefined;
}

/** The exec config a profile's extensions make of the provider's, under the provider's policies (pkg/access's rules). */
function execFor(p: AccessProvider, c: ClusterEntry): ExecConfig | string {
  const exec: ExecConfig = { ...p.execConfig, ...(p.execConfig.env ? { env: [...p.execConfig.env] } : {}) };
  const args = extension(c, argsExtension);
  if (args !== undefined && p.profileSourcedCLIArgsPolicy === 'Append') {
    if (!Array.isArray(args) || !args.every((a) => typeof a === 'string'))
      return `its ${argsExtension} extension is not a list of strings`;
    exec.args = [...(exec.args ?? []), ...args];
  }
  const envs = extension(c, envsExtension);
  const policy = p.profileSourcedEnvVarsPolicy;
  if (envs !== undefined && (policy === 'AppendIfNotExists' || policy === 'Replace')) {
    if (typeof envs !== 'object' || envs === null || !Object.values(envs).every((v) => typeof v === 'string'))
      return `its ${envsExtension} extension is not a map of strings`;
    const own = new Map((exec.env ?? []).map((e) => [e.name, e.value]));
    const merged = new Map(Object.entries(envs as Record<string, string>));
    for (const [k, v] of own) if (policy === 'AppendIfNotExists' || !merged.has(k)) merged.set(k, v);
    exec.env = [...merged].sort(([a], [b]) => a.localeCompare(b)).map(([name, value]) => ({ name, value }));
  }
  return exec;
}

/** The value most often given (ties: the first by name); undefined when none is. */
function mostNamed(values: (string | undefined)[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) if (v !== undefined) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort(([a, x], [b, y]) => y - x || a.localeCompare(b))[0]?.[0];
}

/** A Kubernetes label value: at most 63 characters, alphanumerics with '-', '_' or '.' inside. */
function isLabelValue(v: string): boolean {
  return v.length <= 63 && /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v) && v !== '';
}

function unhealthy(p: ClusterProfileObject): string | undefined {
  const c = p.status?.conditions?.find((x) => x.type === 'ControlPlaneHealthy');
  if (c?.status !== 'False') return undefined;
  return `ControlPlaneHealthy is False${c.reason ? ` (${c.reason}${c.message ? `: ${c.message}` : ''})` : ''}`;
}

/** A ClusterProperty-style property of the profile's status. */
export function propertyOf(p: ClusterProfileObject, name: string): string | undefined {
  return p.status?.properties?.find((x) => x.name === name)?.value || undefined;
}

/**
 * The clusters the profiles make, by the profile's name. A profile named
 * like a static cluster is left out (the static entry wins: that is how a
 * cluster reaches itself in-cluster). A profile that cannot be used still
 * makes a cluster, an unavailable one: its mirrors are kept as for any
 * unreadable cluster, and the reason is said.
 */
export function clustersOfProfiles(
  profiles: ClusterProfileObject[],
  pc: ProfilesConfig,
  staticNames: ReadonlySet<string>,
  defaults: { staleAfterMs?: number } = {},
): { clusters: ClusterConfig[]; unusable: Unusable[]; shadowed: string[] } {
  const clusters: ClusterConfig[] = [];
  const unusable: Unusable[] = [];
  const shadowed: string[] = [];
  const sorted = [...profiles].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  const clusterSet = pc.clusterSet ?? mostNamed(sorted.map((p) => propertyOf(p, clusterSetProperty)));
  const ids = new Map<string, string>();
  for (const p of sorted) {
    const name = p.metadata.name;
    const id = `ClusterProfile ${p.metadata.namespace ?? pc.namespace}/${name}`;
    if (staticNames.has(name)) {
      shadowed.push(name);
      continue;
    }
    if (!isDNS1123Label(name)) {
      // Mirrors are named <service>-<cluster>: a cluster's name must be a label; a subdomain with dots is not one.
      unusable.push({ profile: id, why: 'its name is not a DNS-1123 label, which mefi needs of a cluster name' });
      continue;
    }
    const cluster = (connection: ClusterConfig['connection'], clusterId?: string): ClusterConfig => ({
      name,
      type: 'remote',
      connection,
      ...(pc.namespaces ? { namespaces: pc.namespaces } : {}),
      ...(defaults.staleAfterMs !== undefined ? { staleAfterMs: defaults.staleAfterMs } : {}),
      ...(clusterId !== undefined && clusterId !== name ? { clusterId } : {}),
    });
    // KEP-2149's id, known even while the cluster cannot be read: its slices stay found by it.
    const given = propertyOf(p, clusterIdProperty);
    const clusterId = given !== undefined && isLabelValue(given) && !ids.has(given) ? given : undefined;
    if (clusterId !== undefined) ids.set(clusterId, name);
    const down = (why: string) => {
      unusable.push({ profile: id, why });
      clusters.push(cluster({ kind: 'unavailable', reason: `${id}: ${why}` }, clusterId));
    };
    if (given !== undefined && !isLabelValue(given)) {
      down(`its ${clusterIdProperty} ${JSON.stringify(given)} cannot be a label value (at most 63 characters)`);
      continue;
    }
    if (given !== undefined && clusterId === undefined) {
      down(`its ${clusterIdProperty} ${given} is ClusterProfile ${pc.namespace}/${ids.get(given)}'s too`);
      continue;
    }
    // KEP-2149: one ClusterSet; a cluster of another is not one to import from or into.
    const set = propertyOf(p, clusterSetProperty);
    if (set !== undefined && clusterSet !== undefined && set !== clusterSet) {
      down(
        `it is in ClusterSet ${set} (its ${clusterSetProperty} property), not ${clusterSet}${pc.clusterSet ? ' (clusterProfiles.clusterSet)' : ', which most profiles name'}: not one ClusterSet`,
      );
      continue;
    }
    const sick = unhealthy(p);
    if (sick) {
      down(sick);
      continue;
    }
    // pkg/access: credentialProviders (deprecated) first, accessProviders override by name.
    const offered = new Map<string, ClusterEntry>();
    for (const a of [...(p.status?.credentialProviders ?? []), ...(p.status?.accessProviders ?? [])])
      if (a.name) offered.set(a.name, a.cluster ?? {});
    if (offered.size === 0) {
      down('its status has no access providers');
      continue;
    }
    const provider = pc.providers.find((x) => offered.has(x.name));
    if (!provider) {
      down(
        `it offers access providers ${[...offered.keys()].join(', ')}; mefi is given ${pc.providers.map((x) => x.name).join(', ')}`,
      );
      continue;
    }
    const entry = offered.get(provider.name)!;
    if (typeof entry.server !== 'string' || !entry.server.startsWith('https://')) {
      down(`its access provider ${provider.name} has no https:// server`);
      continue;
    }
    const exec = execFor(provider, entry);
    if (typeof exec === 'string') {
      down(exec);
      continue;
    }
    const ca = entry['certificate-authority-data'];
    const pluginConfig = extension(entry, execExtension);
    clusters.push(
      cluster(
        {
          kind: 'exec',
          server: entry.server.replace(/\/+$/, ''),
          ...(ca ? { caData: Buffer.from(ca, 'base64').toString('utf8') } : {}),
          ...(entry['tls-server-name'] ? { tlsServerName: entry['tls-server-name'] } : {}),
          ...(entry['proxy-url'] ? { proxyUrl: entry['proxy-url'] } : {}),
          insecureSkipTLSVerify: entry['insecure-skip-tls-verify'] === true,
          exec,
          ...(pluginConfig !== undefined ? { pluginConfig } : {}),
          owner: `${id} (provider ${provider.name})`,
          baseDir: pc.baseDir,
        },
        clusterId,
      ),
    );
  }
  return { clusters, unusable, shadowed };
}
