// The images the bed's real nodes run (spec/support/controlplane/node.go),
// built here with buildah from scratch and imported into every node's
// containerd, never pulled:
//   registry.k8s.io/pause:3.10       the sandbox of every pod (bed-app as /pause)
//   mefi.dev/bed-app:v1              the application the traffic tests balance, and their client (podapp)
//   mefi.dev/coredns:v1.15.0         each cluster's DNS (spec/support/coredns)
//   alpine/socat:1.7.4.4,            what a conformance-style client runs: /bin/sh, socat, nslookup, nc,
//   nicolaka/netshoot:v0.15          grep, awk, sed (Debian's busybox-static and socat with its libraries),
//                                    under the names SIG-Multicluster's conformance suite uses
// Each is a docker archive in OUT (ctr names an image by its RepoTags).
//
//   node spec/support/node-images.ts OUT BED_APP COREDNS

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

function images(bedApp: string, coredns: string): NodeImage[] {
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
      await must(['config', '--entrypoint', JSON.stringify(image.entrypoint), '--cmd', '', ctr], env);
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

const [out, bedApp, coredns] = process.argv.slice(2);
if (!out || !bedApp || !coredns) throw new Error('usage: node spec/support/node-images.ts OUT BED_APP COREDNS');
mkdirSync(out, { recursive: true });
const env = engineEnv();
for (const image of images(bedApp, coredns)) {
  await build(image, out, env);
  process.stderr.write(`node image ${image.names.join(', ')}\n`);
}
