// make demo: three small real clusters on this machine, an application in
// each (a Service and its pods, the Endpoints made by the real controllers),
// and mefi doing its job, step by step. As root the pods sit on a routed pod
// network and answer HTTP, and the requests go through a real ingress in
// alpha, Contour with Envoy (as the original's users run it), balancing over
// all three clusters: the demo counts who answers. Ends by itself and cleans up.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { contourMissing, startContour } from '../../spec/support/contour.ts';
import type { Ingress } from '../../spec/support/ingress-scenario.ts';
import { startControlPlanes } from '../../spec/support/launch.ts';
import { byCluster, makePods, type PodRef } from '../../spec/support/pods.ts';
import { eventually, makeWorld, repo } from '../../spec/support/world.ts';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (n: number, title: string) => console.log(`\n${bold(`── ${n}. ${title}`)}\n`);

const clusters = ['alpha', 'beta', 'gamma'];
const network = process.getuid?.() === 0;
const dir = mkdtempSync(path.join(tmpdir(), 'mefi-demo-'));

step(
  1,
  `Start three clusters on this machine: kube-apiserver + etcd, kube-controller-manager${network ? ', real nodes (a kubelet with its own containerd, CoreDNS) on a routed pod network with kube-proxy' : ''}`,
);
if (!network)
  console.log(
    '(Not root: no pod network, so no traffic; the pods exist as API objects and the controllers still make their Endpoints. Run as root to see requests answered by all three clusters.)\n',
  );
const started = Date.now();
const planes = await startControlPlanes(dir, clusters, { network });
console.log(
  `alpha, beta and gamma ready after ${((Date.now() - started) / 1000).toFixed(1)}s. Kubeconfigs: ${dir}/<cluster>.kubeconfig`,
);
const world = makeWorld(dir);
const pods = makePods(dir);
const client: PodRef = { cluster: 'alpha', namespace: 'shop', name: 'client' };

const kubectl = (cluster: string, args: string[]) => {
  console.log(`$ kubectl --context ${cluster} ${args.join(' ')}`);
  const r = spawnSync(process.env.MEFI_KUBECTL!, ['--kubeconfig', path.join(dir, `${cluster}.kubeconfig`), ...args], {
    encoding: 'utf8',
    cwd: repo,
  });
  process.stdout.write(r.stdout + r.stderr.replace(/^Warning: v1 Endpoints is deprecated.*\n/gm, ''));
};

let ingress: Ingress | undefined;
try {
  step(
    2,
    "In every cluster: the shop's web Service, labelled isMefiRemote=true, and its pods (gamma's listen on another port)",
  );
  for (const c of clusters) {
    await world.ensureNamespace(c, 'shop');
    // Only the Service of examples/app/web.yaml (no Deployment controller here: the bed makes the pods).
    spawnSync(
      process.env.MEFI_KUBECTL!,
      [
        '--kubeconfig',
        path.join(dir, `${c}.kubeconfig`),
        'apply',
        '-f',
        'examples/app/web.yaml',
        '-l',
        'isMefiRemote=true',
      ],
      { cwd: repo },
    );
    for (const name of ['web-1', 'web-2'])
      await pods.add({
        cluster: c,
        namespace: 'shop',
        name: `${name}`,
        labels: { app: 'web' },
        ports: [c === 'gamma' ? 9080 : 8080],
      });
  }
  for (const c of clusters)
    await eventually(
      `${c}: shop/web has its pods`,
      async () => ((await world.getEndpoints(c, 'shop', 'web'))?.subsets?.[0]?.addresses?.length ?? 0) === 2,
    );
  kubectl('beta', ['-n', 'shop', 'get', 'pods,endpoints', '-o', 'wide']);

  step(3, 'alpha is the target: namespace mefi-system with a selector-less Service web (examples/target/service.yaml)');
  await world.ensureNamespace('alpha', 'mefi-system');
  kubectl('alpha', ['apply', '-f', 'examples/target/service.yaml']);
  await pods.add({ ...client, labels: { app: 'client' }, ports: [8080] });

  step(4, 'The config: one entry per cluster (alpha is type: local)');
  const config = path.join(dir, 'mefi.yaml');
  writeFileSync(
    config,
    [
      'clusters:',
      ...clusters.flatMap((c) => [
        `  - name: ${c}`,
        `    kubeconfig: ${c}.kubeconfig`,
        `    type: ${c === 'alpha' ? 'local' : 'remote'}`,
      ]),
    ].join('\n') + '\n',
  );
  console.log('$ cat mefi.yaml');
  process.stdout.write(spawnSync('cat', [config], { encoding: 'utf8' }).stdout);

  const run = (args: string[]) => {
    console.log(`$ mefi ${args.join(' ')}`);
    const r = spawnSync(process.execPath, [path.join(repo, 'bin/mefi'), ...args, '-c', config, '--log-level', 'warn'], {
      stdio: 'inherit',
      cwd: dir,
    });
    console.log(`(exit code ${r.status})`);
  };
  const host = 'web.example.com';
  const traffic = async (what: string, settled: (answers: Record<string, number>) => boolean) => {
    if (!ingress) return;
    // The ingress applies a change within about a second: wait for it, then count.
    const t = await eventually(
      what,
      async () => {
        const t = await pods.fetch(client, ingress!.url, 60, { host });
        return t.errors === 0 && settled(t.answers) ? t : undefined;
      },
      20_000,
    );
    console.log(
      `$ 60 requests from pod alpha/shop/client to ${ingress.url} (Envoy), Host: ${host} (HTTPProxy mefi-system/web)`,
    );
    for (const [body, n] of Object.entries(t.answers).sort())
      console.log(`  ${String(n).padStart(3)}  answered by ${body.replace(' ', ' pod ')}`);
    console.log(`  ${t.errors} failed`);
  };

  step(5, 'What would change? A dry run writes nothing');
  run(['sync', '--dry-run']);

  step(6, 'Sync: one mirror per cluster, and one aggregate merging them');
  run(['sync']);
  kubectl('alpha', ['-n', 'mefi-system', 'get', 'endpoints']);

  step(7, 'The ingress in alpha: Contour with Envoy, and an HTTPProxy over mefi-system/web (examples/target/contour/)');
  const missing = !network ? 'not root' : contourMissing;
  if (missing) console.log(`(No ingress: ${missing}.)`);
  else {
    ingress = await startContour({ w: world, pods, work: dir, client });
    kubectl('alpha', ['-n', 'mefi-system', 'get', 'httpproxy']);
  }
  await traffic('every cluster answers', (a) => new Set(Object.keys(byCluster({ answers: a, errors: 0 }))).size === 3);

  step(8, 'Run it again: nothing to do, no write. The CI drift check agrees (exit 0; 1 on drift)');
  run(['sync']);
  run(['diff']);

  step(9, 'A pod in beta is not ready: the next run leaves it out of the aggregate, and it gets no request');
  await pods.setReady({ cluster: 'beta', namespace: 'shop', name: 'web-2' }, false);
  await eventually(
    "beta's Endpoints follow",
    async () => ((await world.getEndpoints('beta', 'shop', 'web'))?.subsets?.[0]?.notReadyAddresses?.length ?? 0) === 1,
  );
  run(['sync']);
  await traffic('beta web-2 gets nothing', (a) => !a['beta web-2']);

  step(
    10,
    "gamma goes dark: its API server stops, its pods keep running. mefi keeps gamma's last known addresses (exit 2: not converged)",
  );
  await world.kill('gamma');
  run(['sync']);
  await traffic('gamma still answers', (a) => (byCluster({ answers: a, errors: 0 }).gamma ?? 0) > 0);
  await world.release('gamma');

  console.log(
    `\n${bold('Done.')} Next: mefi in every cluster as a CronJob or a loop (manifests/), and the ingress of your choice (examples/README.md, "Ingress controllers").`,
  );
  console.log('The clusters of this demo are stopped now.');
} finally {
  await ingress?.stop();
  await planes.stop();
  rmSync(dir, { recursive: true, force: true });
}
