// make demo: three real clusters on loopback, an application in each, and
// mefi doing its job, step by step. Ends by itself and cleans up.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlanes } from '../../spec/support/launch.ts';

const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const step = (n: number, title: string) => console.log(`\n${bold(`── ${n}. ${title}`)}\n`);

const clusters = ['alpha', 'beta', 'gamma'];
const dir = mkdtempSync(path.join(tmpdir(), 'mefi-demo-'));

step(1, 'Start three Kubernetes control planes (kube-apiserver + etcd) on 127.0.0.1');
const started = Date.now();
const planes = await startControlPlanes(dir, clusters);
console.log(`alpha, beta and gamma answer /readyz after ${((Date.now() - started) / 1000).toFixed(1)}s. Kubeconfigs: ${dir}/<cluster>.kubeconfig`);
process.env.MEFI_TEST_DIR = dir;
const world = await import('../../spec/support/world.ts');

try {
  step(2, 'In every cluster, the Endpoints of the shop\'s web service carry isMefiRemote=true');
  // What a Deployment's pods look like through their Service's Endpoints: other pods and ports per cluster.
  const pods: Record<string, { ready: string[]; notReady: string[]; port: number }> = {
    alpha: { ready: ['10.244.1.12', '10.244.1.13'], notReady: ['10.244.1.14'], port: 8080 },
    beta: { ready: ['10.245.3.7', '10.245.3.8'], notReady: [], port: 8080 },
    gamma: { ready: ['10.246.0.21'], notReady: [], port: 9080 },
  };
  for (const c of clusters) {
    const p = pods[c]!;
    const address = (ip: string, i: number) => ({ ip, nodeName: `${c}-node-${i % 2}`, targetRef: { kind: 'Pod', namespace: 'shop', name: `web-${c}-${i}` } });
    await world.putEndpoints(c, 'shop', 'web', { isMefiRemote: 'true', app: 'web' }, [
      { addresses: p.ready.map(address), ...(p.notReady.length ? { notReadyAddresses: p.notReady.map(address) } : {}), ports: [{ name: 'http', port: p.port, protocol: 'TCP' }] },
    ]);
    console.log(`${c.padEnd(6)} shop/web  ready ${p.ready.join(', ')}${p.notReady.length ? `  not ready ${p.notReady.join(', ')}` : ''}  port ${p.port}`);
  }
  await world.ensureNamespace('alpha', 'mefi-system');
  console.log('\nalpha is the target: it has namespace mefi-system, where its ingress will balance over every cluster.');

  step(3, 'The config: one entry per cluster (alpha is type: local)');
  const config = path.join(dir, 'mefi.yaml');
  writeFileSync(config, ['clusters:', ...clusters.flatMap((c) => [`  - name: ${c}`, `    kubeconfig: ${c}.kubeconfig`, `    type: ${c === 'alpha' ? 'local' : 'remote'}`])].join('\n') + '\n');
  console.log('$ cat mefi.yaml');
  process.stdout.write(spawnSync('cat', [config], { encoding: 'utf8' }).stdout);

  const run = (args: string[]) => {
    console.log(`$ mefi ${args.join(' ')}`);
    const r = spawnSync(process.execPath, [path.join(world.repo, 'bin/mefi'), ...args, '-c', config, '--log-level', 'warn'], { stdio: 'inherit', cwd: dir });
    console.log(`(exit code ${r.status})`);
  };

  step(4, 'What would change? A dry run writes nothing');
  run(['sync', '--dry-run']);

  step(5, 'Sync: one mirror per cluster, and one aggregate merging them');
  run(['sync']);

  step(6, 'The result in alpha');
  const kubectl = (args: string[]) => {
    console.log(`$ kubectl ${args.join(' ')}`);
    process.stdout.write(spawnSync(process.env.MEFI_KUBECTL!, ['--kubeconfig', path.join(dir, 'alpha.kubeconfig'), ...args], { encoding: 'utf8' }).stdout);
  };
  kubectl(['get', 'endpoints', '-n', 'mefi-system', '--show-labels']);
  const web = await world.getEndpoints('alpha', 'mefi-system', 'web');
  console.log('\nThe aggregate mefi-system/web, subset by subset (gamma serves another port, so it has its own subset;');
  console.log('10.244.1.14 is not ready, so the ingress will not send it traffic):');
  for (const s of web?.subsets ?? []) {
    console.log(`  port ${s.ports?.map((p) => `${p.name}/${p.port}`).join(',')}: ready ${(s.addresses ?? []).map((a) => a.ip).join(', ') || '-'}; not ready ${(s.notReadyAddresses ?? []).map((a) => a.ip).join(', ') || '-'}`);
  }

  step(7, 'Run it again: nothing to do, no write. The CI drift check agrees (exit 0; 1 on drift)');
  run(['sync']);
  run(['diff']);

  step(8, 'A pod in beta goes away; the next run updates one mirror and the aggregate');
  await world.putEndpoints('beta', 'shop', 'web', { isMefiRemote: 'true', app: 'web' }, [world.subset(['10.245.3.7'])]);
  run(['sync']);

  console.log(`\n${bold('Done.')} Next: put a selector-less Service "web" and an Ingress in alpha's mefi-system (examples/),`);
  console.log('and run mefi in every cluster as a CronJob (manifests/). The clusters of this demo are stopped now.');
} finally {
  await planes.stop();
  rmSync(dir, { recursive: true, force: true });
}
