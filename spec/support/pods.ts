// Pods, traffic and etcd compaction on the test bed (spec/support/controlplane/pods.go),
// through its control socket DIR/bed.sock: pods bound to a cluster's node with
// the status a kubelet would report, and, with the network, HTTP requests
// sent from inside a pod.

import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import path from 'node:path';

export interface PodSpec {
  cluster: string;
  namespace: string;
  name: string;
  labels?: Record<string, string>;
  /** Ports the pod answers HTTP on (with the network): the body is "<cluster> <pod>". */
  ports?: number[];
  ready?: boolean;
}

export interface PodRef {
  cluster: string;
  namespace: string;
  name: string;
}

export interface Traffic {
  /** Answers by body ("<cluster> <pod>"). */
  answers: Record<string, number>;
  errors: number;
  lastError?: string;
  /** With trace: each request, when it was sent (Unix ms) and what came of it. */
  trace?: { at: number; answer?: string; failed?: boolean }[];
}

function call<T>(dir: string, method: string, route: string, body: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const payload = JSON.stringify(body);
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) };
    const req = request(
      { socketPath: path.join(dir, 'bed.sock'), method, path: route, headers, timeout: 120_000 },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(JSON.parse(text) as T)
            : reject(new Error(`bed ${method} ${route}: ${res.statusCode} ${text.trim()}`)),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

export function makePods(dir: string) {
  return {
    /** Create a running pod; resolves with its IP. */
    add: (pod: PodSpec) => call<{ ip: string }>(dir, 'POST', '/pods', pod),
    setReady: (pod: PodRef, ready: boolean) => call(dir, 'PUT', '/pods/ready', { ...pod, ready }),
    remove: (pod: PodRef) => call(dir, 'DELETE', '/pods', pod),
    /** count requests from inside pod `from`, each on a new connection (`interval` apart, with `host` as Host, each given up after `timeout`, 2s by default; `trace` lists each request); an answer that is not 2xx is an error. */
    fetch: (
      from: PodRef,
      url: string,
      count: number,
      opts: { host?: string; interval?: string; timeout?: string; trace?: boolean } = {},
    ) => call<Traffic>(dir, 'POST', '/fetch', { ...from, url, count, ...opts }),
    /** The router drops (or routes again) the traffic to a cluster's pod range. */
    route: (cluster: string, action: 'blackhole' | 'restore') => call(dir, 'POST', '/route', { cluster, action }),
    /**
     * A command prefix that runs a program in a cluster's node namespace, in
     * its pod network (where mefi --probe belongs), reaching every cluster's
     * API server with the bed's kubeconfig as on the host.
     */
    onNode: (cluster: string): string[] => [
      'nsenter',
      `--net=/proc/${readFileSync(path.join(dir, cluster, 'proxy.pid'), 'utf8').trim()}/ns/net`,
      '--',
    ],
    /** etcd forgets every revision before its latest (the API server does so every five minutes). */
    compact: (cluster: string) => call<{ revision: number }>(dir, 'POST', '/compact', { cluster }),
  };
}

export type Pods = ReturnType<typeof makePods>;

/** Answers per cluster: the first word of each answer's body. */
export function byCluster(t: Traffic): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [body, n] of Object.entries(t.answers)) {
    const cluster = body.split(' ')[0]!;
    out[cluster] = (out[cluster] ?? 0) + n;
  }
  return out;
}

/** The bed's application image (spec/support/controlplane/cmd/bed-app), which real nodes have imported. */
export const appImage = 'mefi.dev/bed-app:v1';

/**
 * A workload's container (a Deployment's, a StatefulSet's) running the bed's
 * application: it answers HTTP on `port` with "<cluster> <pod>" (the pod's
 * name from the downward API) and is ready by the kubelet's probe. A
 * simulated node answers on the declared port alike.
 */
export function appContainer(cluster: string, port: number, name = 'web') {
  return {
    name,
    image: appImage,
    imagePullPolicy: 'Never',
    args: ['serve', `--port=${port}`, `--text=${cluster} $(POD_NAME)`],
    env: [{ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
    ports: [{ name: 'http', containerPort: port }],
    readinessProbe: { httpGet: { path: '/ready', port: 9901 }, periodSeconds: 1, failureThreshold: 1 },
  };
}

/** A Deployment of the bed's application (appContainer), as the traffic tests run it in each cluster. */
export function appDeployment(cluster: string, namespace: string, name = 'web', replicas = 2) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [appContainer(cluster, 8080)] } },
    },
  };
}
