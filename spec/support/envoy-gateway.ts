// Envoy Gateway in a cluster of the bed, as its users install it: `helm
// install eg` of its chart (from its pinned module, spec/support/envoy-gateway:
// its CRDs and the Gateway API's, the certgen Job as a pre-install hook, the
// controller's Deployment, ServiceAccount and RBAC) into envoy-gateway-system,
// and the quick start's GatewayClass "eg". The controller runs as a pod on
// alpha's real node, and deploys each Gateway's Envoy as pods there too, from
// the image the GatewayClass's EnvoyProxy names; both images are built here
// (node-images.ts) and imported into alpha's containerd, never pulled. The
// requests go to the Envoy Service's cluster IP, through kube-proxy.

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { helm } from './helm.ts';
import { answering, applyExamples, type StartIngress } from './ingress-scenario.ts';
import { eventually, type World } from './world.ts';

export const envoyGatewayMissing =
  !process.env.MEFI_KUBELET || !process.env.MEFI_NODE_IMAGES
    ? 'needs real nodes, for the pods Envoy Gateway runs and deploys (as root, make test builds them: make nodes)'
    : !process.env.MEFI_ENVOY_GATEWAY_CHART || !process.env.MEFI_HELM
      ? 'needs Envoy Gateway and helm (as root, make test builds them: make envoy-gateway helm)'
      : false;

const cluster = 'alpha';
const namespace = 'envoy-gateway-system';
/** The user's resources (examples/target/envoy-gateway) and the virtual host each routes. */
const hosts = { httproute: 'web-gateway.example.com' };
const examples = ['service.yaml', 'envoy-gateway/gateway.yaml', 'envoy-gateway/weighted.yaml'];
const weighted = { host: 'web-weighted.example.com', weights: { alpha: 80, beta: 20 } };
/** MCS mode's routes to the ServiceImport (examples/target/envoy-gateway/serviceimport.yaml): in its namespace, and granted from another. */
export const importHosts = {
  'ServiceImport, same namespace': 'web-import.example.com',
  'ServiceImport, granted': 'web-import-granted.example.com',
};
export const importExample = 'envoy-gateway/serviceimport.yaml';

function run(cmd: string, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) =>
    execFile(cmd, args, { maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}`.trim() }),
    ),
  );
}

/** The images into the node's own containerd (the kubelet's), as a registry pull would have left them. */
async function importImages(w: World, dir: string): Promise<void> {
  const socket = path.join(w.dir, cluster, 'node', 'containerd.sock');
  for (const tar of readdirSync(dir).filter((f) => f.endsWith('.tar'))) {
    const r = await run('ctr', ['--address', socket, '--namespace', 'k8s.io', 'images', 'import', path.join(dir, tar)]);
    if (r.code !== 0) throw new Error(`${cluster}: import ${tar}: ${r.out}`);
  }
}

/** The last lines of every container of the namespace, from the kubelet's own log files. */
function podLogs(w: World): string {
  const root = path.join(w.dir, cluster, 'node', 'kubelet', 'pods-logs');
  if (!existsSync(root)) return '';
  const out: string[] = [];
  for (const pod of readdirSync(root).filter((p) => p.startsWith(`${namespace}_`)))
    for (const container of readdirSync(path.join(root, pod)))
      for (const file of readdirSync(path.join(root, pod, container))) {
        const lines = readFileSync(path.join(root, pod, container, file), 'utf8')
          .trim()
          .split('\n');
        out.push(`--- ${pod.split('_')[1]} ${container}`, ...lines.slice(-40));
      }
  return out.join('\n');
}

export const startEnvoyGateway: StartIngress = async ({ w, pods, client }) => {
  const version = process.env.MEFI_ENVOY_GATEWAY_VERSION!;
  const envoyImage = `mefi.dev/envoy:distroless-v${process.env.MEFI_ENVOY_GATEWAY_ENVOY!}`;
  await importImages(w, process.env.MEFI_ENVOY_GATEWAY_IMAGES!);
  const install = await helm(
    [
      'install',
      'eg',
      process.env.MEFI_ENVOY_GATEWAY_CHART!,
      '-n',
      namespace,
      '--create-namespace',
      '--wait',
      '--timeout',
      '4m',
    ],
    w.kubeconfigOf(cluster),
    300_000,
  );
  if (install.code !== 0)
    throw new Error(`helm install eg (Envoy Gateway ${version}): ${install.stderr}\n${podLogs(w)}`);
  // The quick start's GatewayClass; its EnvoyProxy names the image this bed has, and a Service a pod can reach.
  await applyExamples(w, cluster, examples, [
    {
      apiVersion: 'gateway.envoyproxy.io/v1alpha1',
      kind: 'EnvoyProxy',
      metadata: { name: 'bed', namespace },
      spec: {
        provider: {
          type: 'Kubernetes',
          kubernetes: {
            envoyDeployment: { container: { image: envoyImage } },
            envoyService: { type: 'ClusterIP' },
          },
        },
      },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'eg' },
      spec: {
        controllerName: 'gateway.envoyproxy.io/gatewayclass-controller',
        parametersRef: { group: 'gateway.envoyproxy.io', kind: 'EnvoyProxy', name: 'bed', namespace },
      },
    },
  ]);
  // The Gateway's Envoy: a Deployment and a Service Envoy Gateway names after the Gateway.
  const owner =
    'gateway.envoyproxy.io/owning-gateway-namespace=mefi-system,gateway.envoyproxy.io/owning-gateway-name=web';
  const ip = await eventually(
    "the Gateway's Envoy Service",
    async () => {
      const r = await w.getJson<{ items: { spec: { clusterIP?: string } }[] }>(cluster, [
        '-n',
        namespace,
        'get',
        'services',
        '-l',
        owner,
      ]);
      return r.items[0]?.spec.clusterIP;
    },
    60_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${podLogs(w)}`);
  });
  const ready = await w.kubectl(
    ['-n', namespace, 'wait', '--for=condition=Available', '--timeout=120s', 'deployment', '-l', owner],
    { cluster },
  );
  if (ready.code !== 0) throw new Error(`the Gateway's Envoy: ${ready.stderr}\n${podLogs(w)}`);
  return answering(`Envoy Gateway ${version} with Envoy ${process.env.MEFI_ENVOY_GATEWAY_ENVOY}`, pods, client, {
    url: `http://${ip}:80/`,
    hosts,
    weighted,
    log: () => podLogs(w),
    // Its pods go with the bed.
    stop: async () => {},
  });
};
