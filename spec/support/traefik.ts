// Traefik in a cluster of the bed, with the three providers users run over
// mefi's Service: kubernetesIngress and kubernetesCRD (which route by an
// endpoint's serving condition and ignore ready) and kubernetesGateway (which
// requires ready). Its CRDs and ClusterRoles come from Traefik's module, the
// Gateway API CRDs from the gateway-api module it depends on; it runs as its
// own ServiceAccount bound to those roles (as its chart binds them), in the
// node's network namespace (as the chart's DaemonSet with hostPort would),
// so it reaches every cluster's pods over the routed network. Pinned:
// spec/support/traefik/go.mod.

import path from 'node:path';
import { readdirSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { daemon } from './daemon.ts';
import { answering, applyExamples, installManifests, type StartIngress } from './ingress-scenario.ts';
import { nodeIP, serviceAccount } from './serviceaccount.ts';

export const traefikMissing = !process.env.MEFI_TRAEFIK ? 'needs Traefik (make test builds it: make traefik)' : false;

/** The chart's "web" entry point; the Gateway's listener names its port. */
const webPort = 8000;
/** The user's resources (examples/target/traefik) and the virtual host each routes. */
const hosts = {
  ingress: 'web-ingress.example.com',
  ingressroute: 'web.example.com',
  httproute: 'web-gateway.example.com',
};
const examples = [
  'service.yaml',
  'traefik/ingress.yaml',
  'traefik/ingressroute.yaml',
  'traefik/gateway.yaml',
  'traefik/weighted.yaml',
];
const weighted = { host: 'web-weighted.example.com', weights: { alpha: 80, beta: 20 } };
const namespace = 'traefik';

function version(bin: string): Promise<string> {
  return new Promise((resolve) =>
    execFile(bin, ['version'], (_err, stdout) => resolve(/Version:\s*(\S+)/.exec(stdout)?.[1] ?? 'traefik')),
  );
}

export const startTraefik: StartIngress = async ({ w, pods, work, client }) => {
  const cluster = 'alpha';
  const traefik = process.env.MEFI_TRAEFIK!;
  const dir = process.env.MEFI_TRAEFIK_MANIFESTS!;
  // CRDs and ClusterRoles as Traefik publishes them; the docs bind them to ServiceAccounts in default, the chart to its own.
  await installManifests(
    w,
    cluster,
    readdirSync(dir)
      .sort()
      .map((f) => path.join(dir, f)),
    ['ingressroutes.traefik.io', 'httproutes.gateway.networking.k8s.io'],
  );
  const binding = (role: string) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: `traefik-${role}` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role },
    subjects: [{ kind: 'ServiceAccount', name: 'traefik', namespace }],
  });
  await applyExamples(w, cluster, examples, [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'traefik', namespace } },
    binding('traefik-ingress-controller'),
    binding('gateway-role'),
    // What Traefik's chart creates for the Ingress and Gateway providers.
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'IngressClass',
      metadata: { name: 'traefik' },
      spec: { controller: 'traefik.io/ingress-controller' },
    },
    {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'GatewayClass',
      metadata: { name: 'traefik' },
      spec: { controllerName: 'traefik.io/gateway-controller' },
    },
  ]);
  const creds = await serviceAccount(w, cluster, namespace, 'traefik', work);
  const provider = (p: string) => [
    `--providers.${p}=true`,
    `--providers.${p}.endpoint=${creds.server}`,
    `--providers.${p}.token=${creds.tokenFile}`,
    `--providers.${p}.certAuthFilePath=${creds.caFile}`,
  ];
  const proxy = daemon(
    'traefik',
    pods.onNode(cluster),
    [
      traefik,
      `--entryPoints.web.address=:${webPort}`,
      ...provider('kubernetesIngress'),
      ...provider('kubernetesCRD'),
      ...provider('kubernetesGateway'),
      '--log.level=INFO',
      '--global.checkNewVersion=false',
      '--global.sendAnonymousUsage=false',
    ],
    path.join(work, `traefik-${cluster}.log`),
  );
  const url = `http://${await nodeIP(w, cluster)}:${webPort}/`;
  return answering(`traefik ${await version(traefik)}`, pods, client, {
    url,
    hosts,
    weighted,
    log: proxy.log,
    stop: () => proxy.stop(),
  });
};
