// Workloads on the bed, as a Multi-Cluster Services conformance test makes
// them: a Deployment whose pods the real controllers and kube-scheduler make
// and bind, the bed's kubelet role runs (an IP of the node's range, with the
// network a namespace answering HTTP), and the real EndpointSlice controller
// selects; scaling, garbage collection and namespace deletion remove them; the
// MCS API's CRDs are served. Every claim is asked of the API server, its audit
// log or the traffic. Without root, the traffic is left out, saying so.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlanes, type ControlPlanes } from '../support/launch.ts';
import { appContainer, makePods, type PodRef, type Pods } from '../support/pods.ts';
import { eventually, makeWorld, type World } from '../support/world.ts';

const skip = process.env.MEFI_CONTROLPLANE ? false : 'needs the control plane binary that make test builds';
const root = process.getuid?.() === 0;
const noTraffic = root ? false : 'needs root for the routed pod network (CI runs as root)';

interface Pod {
  metadata: { name: string; namespace: string; ownerReferences?: { kind: string }[]; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    hostIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { name: string; ready: boolean; state: { running?: unknown } }[];
  };
}
interface Slice {
  metadata: { labels: Record<string, string> };
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
}

describe(
  'workloads on the bed: Deployments, scheduling, the kubelet role, the MCS CRDs',
  { skip, timeout: 300_000 },
  () => {
    let planes: ControlPlanes;
    let w: World;
    let pods: Pods;
    const client: PodRef = { cluster: 'alpha', namespace: 'app', name: 'client' };
    const ns = 'work';

    const apply = (cluster: string, ...objects: object[]) => w.applyObjects(cluster, ...objects);
    const get = <T>(cluster: string, args: string[]) => w.getJson<T>(cluster, args);
    const webPods = async (namespace = ns) =>
      (await get<{ items: Pod[] }>('beta', ['-n', namespace, 'get', 'pods', '-l', 'app=web'])).items;
    const running = (p: Pod) =>
      !p.metadata.deletionTimestamp &&
      p.status.phase === 'Running' &&
      p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const sliceIPs = async (namespace = ns) => {
      const slices = (
        await get<{ items: Slice[] }>('beta', [
          '-n',
          namespace,
          'get',
          'endpointslices',
          '-l',
          'kubernetes.io/service-name=web',
        ])
      ).items;
      return {
        managers: [...new Set(slices.map((s) => s.metadata.labels['endpointslice.kubernetes.io/managed-by']))],
        ready: slices
          .flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses))
          .sort(),
      };
    };
    const deployment = (namespace: string, replicas: number) => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace },
      spec: {
        replicas,
        selector: { matchLabels: { app: 'web' } },
        // The bed's application, answering "<cluster> <pod>" (imported into real nodes, never pulled).
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [{ ...appContainer('beta', 8080), resources: { requests: { cpu: '100m', memory: '64Mi' } } }],
          },
        },
      },
    });
    const service = (namespace: string) => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace },
      spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
    });

    before(async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'mefi-workloads-'));
      const started = Date.now();
      planes = await startControlPlanes(dir, ['alpha', 'beta'], { network: root, mcs: true });
      w = makeWorld(dir, ['alpha', 'beta']);
      pods = makePods(dir);
      if (root) await pods.add({ ...client, ports: [8080] });
      process.stderr.write(
        `# bed: 2 clusters with controllers, the scheduler, the MCS CRDs${root ? ' and the network' : ''} in ${Date.now() - started} ms\n`,
      );
    });

    after(async () => {
      await planes?.stop();
      if (planes) rmSync(planes.dir, { recursive: true, force: true });
    });

    it("a Deployment of 2: the scheduler binds 2 pods to the node, the kubelet role runs them with IPs of its range, and the Service's EndpointSlice holds both", async () => {
      const mark = w.auditMark('beta');
      await apply(
        'beta',
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
        deployment(ns, 2),
        service(ns),
      );
      const started = Date.now();
      const ready = await eventually('2 Running Ready pods', async () => {
        const ps = await webPods();
        return ps.length === 2 && ps.every(running) ? ps : undefined;
      });
      process.stderr.write(`# a Deployment of 2 in ${Date.now() - started} ms from apply to both pods Ready\n`);
      for (const p of ready) {
        assert.equal(p.spec.nodeName, 'beta-node');
        assert.match(p.status.podIP!, /^10\.244\.2\.\d+$/);
        assert.equal(p.status.hostIP, '10.255.1.2');
        assert.deepEqual(
          p.metadata.ownerReferences?.map((o) => o.kind),
          ['ReplicaSet'],
        );
        assert.deepEqual(
          p.status.containerStatuses?.map((c) => [c.name, c.ready, !!c.state.running]),
          [['web', true, true]],
        );
        for (const t of ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'])
          assert.ok(
            p.status.conditions?.some((c) => c.type === t && c.status === 'True'),
            `${p.metadata.name}: ${t}`,
          );
      }
      assert.notEqual(ready[0]!.status.podIP, ready[1]!.status.podIP);
      // The audit log's word on who bound them: kube-scheduler, through pods/binding.
      const bindings = w
        .auditSince('beta', mark, { components: true })
        .filter(
          (e) => e.verb === 'create' && /\/pods\/[^/]+\/binding$/.test(e.requestURI) && e.objectRef?.namespace === ns,
        );
      assert.deepEqual(
        bindings.map((e) => e.user.username),
        ['system:kube-scheduler', 'system:kube-scheduler'],
      );
      await eventually(
        'the Deployment counts 2 available',
        async () =>
          ((await get<{ status: { availableReplicas?: number } }>('beta', ['-n', ns, 'get', 'deployment', 'web']))
            .status.availableReplicas ?? 0) === 2,
      );
      const want = ready.map((p) => p.status.podIP!).sort();
      const slices = await eventually('the EndpointSlice with both pods', async () => {
        const s = await sliceIPs();
        return JSON.stringify(s.ready) === JSON.stringify(want) ? s : undefined;
      });
      assert.deepEqual(slices.managers, ['endpointslice-controller.k8s.io']);
    });

    it(
      'traffic: a bed pod in alpha reaches each of them, answered by that pod, and one of them reaches the bed pod',
      { skip: noTraffic },
      async () => {
        for (const p of await webPods()) {
          const t = await pods.fetch(client, `http://${p.status.podIP}:8080/`, 3);
          assert.deepEqual(t, { answers: { [`beta ${p.metadata.name}`]: 3 }, errors: 0 });
        }
        const clientIP = (await get<Pod>('alpha', ['-n', 'app', 'get', 'pod', 'client'])).status.podIP;
        const from = (await webPods())[0]!;
        const t = await pods.fetch(
          { cluster: 'beta', namespace: ns, name: from.metadata.name },
          `http://${clientIP}:8080/`,
          1,
        );
        assert.deepEqual(t, { answers: { 'alpha client': 1 }, errors: 0 });
      },
    );

    it('scaled to 1: one pod is gone (its deletion confirmed), its address out of the EndpointSlice and, with the network, nothing answers at it', async () => {
      const before = await webPods();
      const r = await w.kubectl(['-n', ns, 'scale', 'deployment', 'web', '--replicas=1'], { cluster: 'beta' });
      assert.equal(r.code, 0, r.stderr);
      const [left] = await eventually('one pod left, the other deleted', async () => {
        const ps = await webPods();
        return ps.length === 1 && ps.every(running) ? ps : undefined;
      });
      const gone = before.find((p) => p.metadata.name !== left!.metadata.name)!;
      await eventually(
        'the EndpointSlice with the one left',
        async () => JSON.stringify((await sliceIPs()).ready) === JSON.stringify([left!.status.podIP]),
      );
      if (root) {
        assert.equal(
          (await pods.fetch(client, `http://${gone.status.podIP}:8080/`, 1, { timeout: '500ms' })).errors,
          1,
          "the removed pod's address answers no more",
        );
        assert.deepEqual((await pods.fetch(client, `http://${left!.status.podIP}:8080/`, 1)).answers, {
          [`beta ${left!.metadata.name}`]: 1,
        });
      }
    });

    it('a deleted Deployment takes its ReplicaSet and pods with it (the garbage collector)', async () => {
      const r = await w.kubectl(['-n', ns, 'delete', 'deployment', 'web'], { cluster: 'beta' });
      assert.equal(r.code, 0, r.stderr);
      await eventually(
        'no ReplicaSet, no pod',
        async () =>
          (await get<{ items: unknown[] }>('beta', ['-n', ns, 'get', 'replicasets'])).items.length === 0 &&
          (await webPods()).length === 0,
      );
      await eventually('an empty EndpointSlice', async () => (await sliceIPs()).ready.length === 0);
    });

    it("a deleted namespace goes, with a Deployment's pods and a bed pod in it (the namespace controller; the kubelet role confirms each pod's deletion)", async () => {
      const doomed = 'doomed';
      await apply('beta', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: doomed } }, deployment(doomed, 2));
      const { ip } = await pods.add({
        cluster: 'beta',
        namespace: doomed,
        name: 'bed-pod',
        labels: { app: 'bed' },
        ports: [8080],
      });
      await eventually('2 Running pods of the Deployment', async () => {
        const ps = await webPods(doomed);
        return ps.length === 2 && ps.every(running);
      });
      const mark = w.auditMark('beta');
      const started = Date.now();
      const r = await w.kubectl(['delete', 'namespace', doomed, '--wait=false'], { cluster: 'beta' });
      assert.equal(r.code, 0, r.stderr);
      await eventually(
        'the namespace gone',
        async () => (await w.kubectl(['get', 'namespace', doomed], { cluster: 'beta' })).code !== 0,
        60_000,
      );
      process.stderr.write(`# a namespace with 3 pods deleted in ${Date.now() - started} ms\n`);
      const podDeletes = w
        .auditSince('beta', mark, { components: true })
        .filter(
          (e) =>
            e.verb === 'delete' &&
            e.objectRef?.resource === 'pods' &&
            e.objectRef.namespace === doomed &&
            e.responseStatus?.code === 200,
        );
      const confirmed = podDeletes
        .filter((e) => e.user.username === 'system:node:beta-node')
        .map((e) => e.objectRef!.name!);
      assert.equal(
        confirmed.length,
        3,
        `each pod's deletion confirmed by the node: ${JSON.stringify(podDeletes.map((e) => [e.user.username, e.objectRef!.name]))}`,
      );
      assert.ok(confirmed.includes('bed-pod'));
      if (root)
        assert.equal(
          (await pods.fetch(client, `http://${ip}:8080/`, 1, { timeout: '500ms' })).errors,
          1,
          "the bed pod's namespace is gone too",
        );
    });

    it("the MCS API's CRDs are served in every cluster: ServiceExport and ServiceImport v1beta1, their schemas enforced", async () => {
      for (const cluster of ['alpha', 'beta']) {
        for (const kind of ['serviceexports', 'serviceimports']) {
          const r = await w.kubectl(['get', `${kind}.v1beta1.multicluster.x-k8s.io`, '-A'], { cluster });
          assert.equal(r.code, 0, `${cluster} ${kind}: ${r.stderr}`);
        }
      }
      await apply(
        'beta',
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mcs' } },
        {
          apiVersion: 'multicluster.x-k8s.io/v1beta1',
          kind: 'ServiceExport',
          metadata: { name: 'web', namespace: 'mcs' },
        },
        {
          apiVersion: 'multicluster.x-k8s.io/v1beta1',
          kind: 'ServiceImport',
          metadata: { name: 'web', namespace: 'mcs' },
          spec: { type: 'ClusterSetIP', ports: [{ port: 80, protocol: 'TCP' }] },
        },
      );
      const imp = await get<{ spec: { type: string; ports: { port: number }[] } }>('beta', [
        '-n',
        'mcs',
        'get',
        'serviceimports.multicluster.x-k8s.io',
        'web',
      ]);
      assert.deepEqual([imp.spec.type, imp.spec.ports.map((p) => p.port)], ['ClusterSetIP', [80]]);
      const bad = await w.kubectl(['apply', '-f', '-'], {
        cluster: 'beta',
        input: JSON.stringify({
          apiVersion: 'multicluster.x-k8s.io/v1beta1',
          kind: 'ServiceImport',
          metadata: { name: 'bad', namespace: 'mcs' },
          spec: { ports: [{ port: 80 }] },
        }),
      });
      assert.notEqual(bad.code, 0, 'a ServiceImport without its required type is refused');
      assert.match(bad.stderr, /spec\.type: Required value/);
    });
  },
);
