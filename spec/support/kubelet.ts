// A pod's container run by podman as a kubelet runs it (for the image test):
// the pod spec as the API server stores it, turned into podman's flags, its
// volumes written as a kubelet writes them; what it does not know how to
// honour, it refuses, so the test never runs a pod otherwise than a kubelet.

import { chmodSync, chownSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { podman } from './image.ts';

export interface SecurityContext {
  runAsNonRoot?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  fsGroup?: number;
  supplementalGroups?: number[];
  seccompProfile?: { type: string };
  allowPrivilegeEscalation?: boolean;
  readOnlyRootFilesystem?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  envFrom?: unknown[];
  securityContext?: SecurityContext;
  resources?: { limits?: Record<string, string> };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
}

export interface Volume {
  name: string;
  configMap?: { name: string; defaultMode?: number; optional?: boolean; items?: unknown };
  secret?: { secretName: string; defaultMode?: number; optional?: boolean; items?: unknown };
  emptyDir?: Record<string, unknown>;
}

export interface PodSpec {
  containers: Container[];
  volumes?: Volume[];
  securityContext?: SecurityContext;
  automountServiceAccountToken?: boolean;
  terminationGracePeriodSeconds?: number;
}

/** The pod of a Deployment or of a CronJob's Job. */
export function podOf(workload: { kind: string; spec?: unknown }): PodSpec {
  const spec = workload.spec as {
    template?: { spec: PodSpec };
    jobTemplate?: { spec: { template: { spec: PodSpec } } };
  };
  return workload.kind === 'CronJob' ? spec.jobTemplate!.spec.template.spec : spec.template!.spec;
}

/** What a kubelet gives the pod besides its spec: the objects its volumes name, and its ServiceAccount's token. */
export interface Node {
  /** Where the volumes are written (a kubelet's pods directory). */
  dir: string;
  /** A ConfigMap's or Secret's data, as the API server has it; undefined when it does not exist. */
  data(kind: 'ConfigMap' | 'Secret', name: string): Promise<Record<string, Buffer> | undefined>;
  /** The ServiceAccount's token, the cluster's CA and the namespace (what kubelet projects into every pod), and the API server's address (KUBERNETES_SERVICE_HOST, _PORT). */
  serviceAccount: { token: string; ca: Buffer; namespace: string; host: string; port: string };
}

export interface Run {
  /** The podman run command line, after `podman run`. */
  args: string[];
  /** Where the container may write: its writable volumes (none, unless the pod has an emptyDir). */
  writable: string[];
  /** Every mount point, writable or not. */
  mounts: string[];
  /** terminationGracePeriodSeconds (30 by default, as Kubernetes). */
  graceSeconds: number;
}

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';
const podKeys = new Set(['runAsNonRoot', 'runAsUser', 'runAsGroup', 'fsGroup', 'supplementalGroups', 'seccompProfile']);
const containerKeys = new Set([
  'runAsNonRoot',
  'runAsUser',
  'runAsGroup',
  'seccompProfile',
  'allowPrivilegeEscalation',
  'readOnlyRootFilesystem',
  'privileged',
  'capabilities',
]);

function unsupported(what: string): never {
  throw new Error(
    `the image test does not know how to run ${what}: teach spec/support/kubelet.ts, or the test would run the pod otherwise than a kubelet`,
  );
}

/** Files of a volume as a kubelet writes them: mode defaultMode (0644 by default), and with fsGroup, group fsGroup and at least group-readable. */
function writeVolume(dir: string, files: Record<string, Buffer>, mode: number, fsGroup: number | undefined): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [name, content] of Object.entries(files)) {
    const f = path.join(dir, name);
    writeFileSync(f, content);
    chownSync(f, 0, fsGroup ?? 0);
    chmodSync(f, fsGroup === undefined ? mode : mode | 0o440);
  }
}

/** A memory quantity (Ki, Mi, Gi or none) in bytes. */
export function bytes(quantity: string): number {
  const m = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!m) unsupported(`a memory limit of ${quantity}`);
  return Number(m[1]) * { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] ?? '']!;
}

/**
 * podman run's arguments for the pod's first container, as a kubelet would
 * run it: its image (the local image that images maps the pod's reference to), its user and groups (runAsUser, runAsGroup, fsGroup), read-only
 * root file system and no tmpfs of podman's own, capabilities, no privilege
 * escalation, seccomp RuntimeDefault (podman's default profile), memory limit,
 * environment, volumes (ConfigMaps and Secrets read-only with their modes,
 * emptyDirs as tmpfs) and the ServiceAccount's token where Kubernetes mounts
 * it. What it does not know how to honour, it refuses. The network is the
 * host's (engineEnv).
 */
export async function kubeletRun(
  pod: PodSpec,
  node: Node,
  opts: { name: string; images: Record<string, string>; args?: string[]; detach?: boolean },
): Promise<Run> {
  const c = pod.containers[0]!;
  const image =
    opts.images[c.image] ?? unsupported(`the image ${c.image} (known: ${Object.keys(opts.images).join(', ')})`);
  const podSc = pod.securityContext ?? {};
  const sc = c.securityContext ?? {};
  for (const k of Object.keys(podSc)) if (!podKeys.has(k)) unsupported(`the pod's securityContext.${k}`);
  for (const k of Object.keys(sc)) if (!containerKeys.has(k)) unsupported(`the container's securityContext.${k}`);
  const user = sc.runAsUser ?? podSc.runAsUser;
  const group = sc.runAsGroup ?? podSc.runAsGroup;
  if (user === undefined || group === undefined)
    unsupported("a container without runAsUser and runAsGroup (the image's USER would apply)");
  if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) && user === 0)
    throw new Error('runAsNonRoot with runAsUser 0: a kubelet would not start it');
  const seccomp = (sc.seccompProfile ?? podSc.seccompProfile)?.type;
  if (seccomp !== undefined && seccomp !== 'RuntimeDefault') unsupported(`seccompProfile ${seccomp}`);
  if (sc.privileged) unsupported('a privileged container');
  if (c.envFrom?.length) unsupported('envFrom');
  // The downward API's pod name, as the kubelet fills it in: the pod here is the container of that name.
  const downward: Record<string, string> = { 'metadata.name': opts.name };
  const valueOf = (e: NonNullable<Container['env']>[number]) => {
    if (!e.valueFrom) return e.value ?? '';
    const field = e.valueFrom.fieldRef?.fieldPath;
    return (field && downward[field]) ?? unsupported(`env ${e.name}: valueFrom other than fieldRef metadata.name`);
  };

  const args = [
    '--name',
    opts.name,
    opts.detach ? '--detach' : '--rm',
    '--pull=never',
    '--network=host',
    '--runtime=runc',
  ];
  args.push(`--user=${user}:${group}`);
  for (const g of new Set([
    ...(podSc.fsGroup !== undefined ? [podSc.fsGroup] : []),
    ...(podSc.supplementalGroups ?? []),
  ]))
    args.push(`--group-add=${g}`);
  // podman mounts tmpfs on /tmp, /var/tmp and /run of a read-only container; a kubelet does not.
  if (sc.readOnlyRootFilesystem) args.push('--read-only', '--read-only-tmpfs=false');
  for (const cap of sc.capabilities?.drop ?? []) args.push(`--cap-drop=${cap}`);
  for (const cap of sc.capabilities?.add ?? []) args.push(`--cap-add=${cap}`);
  if (sc.allowPrivilegeEscalation === false) args.push('--security-opt=no-new-privileges');
  const limits = c.resources?.limits ?? {};
  for (const k of Object.keys(limits)) if (k !== 'memory') unsupported(`a ${k} limit`);
  if (limits.memory) args.push(`--memory=${bytes(limits.memory)}`);
  for (const e of c.env ?? []) args.push(`--env=${e.name}=${valueOf(e)}`);
  args.push(
    `--env=KUBERNETES_SERVICE_HOST=${node.serviceAccount.host}`,
    `--env=KUBERNETES_SERVICE_PORT=${node.serviceAccount.port}`,
  );

  const mounts: string[] = [];
  const writable: string[] = [];
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.get(m.name) ?? unsupported(`a mount of the undeclared volume ${m.name}`);
    if (m.subPath) unsupported('subPath mounts');
    const dir = path.join(node.dir, opts.name, v.name);
    rmSync(dir, { recursive: true, force: true });
    if (v.configMap || v.secret) {
      const source = v.configMap
        ? { ...v.configMap, kind: 'ConfigMap' as const }
        : { ...v.secret!, kind: 'Secret' as const, name: v.secret!.secretName };
      if (source.items) unsupported(`items in volume ${v.name}`);
      const data = await node.data(source.kind, source.name);
      if (!data && !source.optional)
        throw new Error(`${source.kind} ${source.name} does not exist: a kubelet would not start the pod`);
      writeVolume(dir, data ?? {}, source.defaultMode ?? 0o644, podSc.fsGroup);
      // ConfigMap, Secret and projected volumes are always read-only in the container.
      args.push(`--volume=${dir}:${m.mountPath}:ro`);
    } else if (v.emptyDir) {
      args.push(`--mount=type=tmpfs,destination=${m.mountPath},tmpfs-mode=0777${m.readOnly ? ',ro=true' : ''}`);
      if (!m.readOnly) writable.push(m.mountPath);
    } else {
      unsupported(
        `volume ${v.name} (${Object.keys(v)
          .filter((k) => k !== 'name')
          .join(', ')})`,
      );
    }
    mounts.push(m.mountPath);
  }
  if (pod.automountServiceAccountToken !== false) {
    const dir = path.join(node.dir, opts.name, 'kube-api-access');
    rmSync(dir, { recursive: true, force: true });
    const sa = node.serviceAccount;
    writeVolume(
      dir,
      { token: Buffer.from(sa.token), 'ca.crt': sa.ca, namespace: Buffer.from(sa.namespace) },
      0o644,
      podSc.fsGroup,
    );
    args.push(`--volume=${dir}:${serviceAccountDir}:ro`);
    mounts.push(serviceAccountDir);
  }
  if (c.command) args.push(`--entrypoint=${JSON.stringify(c.command)}`);
  args.push(image, ...(opts.args ?? c.args ?? []));
  return { args, writable, mounts, graceSeconds: pod.terminationGracePeriodSeconds ?? 30 };
}

/**
 * What the container changed in its root file system (podman diff), but the
 * mount points the runtime made for its volumes and their parents: what the
 * process itself wrote outside its writable volumes.
 */
export async function written(name: string, run: Run): Promise<string[]> {
  const r = await podman(['diff', '--format', 'json', name]);
  if (r.code !== 0) throw new Error(`podman diff ${name}: ${r.stderr}`);
  const d = JSON.parse(r.stdout || '{}') as { changed?: string[]; added?: string[]; deleted?: string[] };
  const paths = [...(d.changed ?? []), ...(d.added ?? []), ...(d.deleted ?? [])];
  // /var/run is /run in the image: the runtime makes the ServiceAccount's mount point there. A kubelet's runtime
  // (and podman) also mounts /etc/hosts, /etc/hostname and /etc/resolv.conf, and podman /run/.containerenv.
  const runtime = ['/etc/hosts', '/etc/hostname', '/etc/resolv.conf', '/run/.containerenv'];
  const targets = [
    ...runtime,
    ...run.mounts.flatMap((m) => (m.startsWith('/var/run/') ? [m, m.slice('/var'.length)] : [m])),
  ];
  const isMountOrParent = (p: string) => targets.some((m) => m === p || m.startsWith(`${p}/`));
  return paths.filter((p) => !isMountOrParent(p) && !run.writable.some((w) => p === w || p.startsWith(`${w}/`))).sort();
}
