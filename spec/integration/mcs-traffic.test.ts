// MCS mode with real traffic: Deployments in two clusters, each Service
// exported; from a pod in each cluster, requests to the import's ClusterSet
// IP go through that cluster's kube-proxy to the pods of both clusters
// (counted at the pods). An exporting cluster's API server killed keeps its
// endpoints (last known) until staleAfter, then they go. The bed is this
// file's own: killing a server disturbs no other test.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlanes, type ControlPlanes } from '../support/launch.ts';
import { appDeployment, byCluster, type PodRef } from '../support/pods.ts';
import { eventually, makeWorld, mefi, type World } from '../support/world.ts';

const skip = !process.env.MEFI_CONTROLPLANE
  ? 'needs the control plane binary that make test builds'
  : process.getuid?.() !== 0
    ? 'needs root for the routed pod network and kube-proxy (CI runs as root)'
    : false;
const clusters = ['alpha', 'beta'];
const ns = 'shop';

interface Import {
  spec: { type: string; ips?: string[]; ports: { port: number }[] };
  status?: { clusters?: { cluster: string }[] };
  metadata: { annotations: Record<string, string> };
}
interface Slice {
  metadata: { labels: Record<string, string> };
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
}

describe(
  'MCS mode with traffic: the ClusterSet IP through kube-proxy, and staleAfter',
  { skip, timeout: 300_000 },
  () => {
    let planes: ControlPlanes;
    let w: World;
    let config = '';
    const client = (cluster: string): PodRef => ({ cluster, namespace: 'app', name: 'client' });

    const apply = (cluster: string, ...objects: object[]) => w.applyObjects(cluster, ...objects);
    const get = <T>(cluster: string, args: string[]) => w.getJson<T>(cluster, args);
    const theImport = (cluster: string) =>
      get<Import>(cluster, ['-n', ns, 'get', 'serviceimports.multicluster.x-k8s.io', 'web']);
    /** Ready addresses of mefi's slices of the import in a cluster, per source cluster. */
    const mcsSlices = async (cluster: string) => {
      const slices = (
        await get<{ items: Slice[] }>(cluster, [
          '-n',
          ns,
          'get',
          'endpointslices',
          '-l',
          'multicluster.kubernetes.io/service-name=web',
        ])
      ).items;
      const out: Record<string, string[]> = {};
      for (const s of slices)
        (out[s.metadata.labels['multicluster.kubernetes.io/source-cluster']!] ??= []).push(
          ...(s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses),
        );
      for (const k of Object.keys(out)) out[k]!.sort();
      return out;
    };
    const podIPs = async (cluster: string) =>
      (
        await get<{ items: { status: { podIP?: string; phase?: string } }[] }>(cluster, [
          '-n',
          ns,
          'get',
          'pods',
          '-l',
          'app=web',
        ])
      ).items
        .filter((p) => p.status.phase === 'Running' && p.status.podIP)
        .map((p) => p.status.podIP!)
        .sort();
    const sync = async (...extra: string[]) => mefi(['sync', '--mode', 'mcs', '-c', config, ...extra]);
    /** 40 requests from a pod in `from` to the ClusterSet IP, answers per cluster. */
    const toClusterSetIP = async (from: string, ip: string) => {
      const t = await w.pods.fetch(client(from), `http://${ip}:80/`, 40, { timeout: '1s' });
      return { clusters: byCluster(t), errors: t.errors, pods: Object.keys(t.answers).length };
    };

    before(async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'mefi-mcs-traffic-'));
      planes = await startControlPlanes(dir, clusters, { network: true, mcs: true });
      w = makeWorld(dir, clusters);
      const top = { staleAfter: '6s' };
      config = w.writeConfig({ clusters, local: clusters, top }).file;
      for (const c of clusters) {
        await w.pods.add({ ...client(c), ports: [8080] });
        await apply(
          c,
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
          // staleAfter keeps its Leases in mefi's namespace.
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mefi-system' } },
          appDeployment(c, ns),
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'web', namespace: ns },
            spec: { selector: { app: 'web' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
          },
          {
            apiVersion: 'multicluster.x-k8s.io/v1beta1',
            kind: 'ServiceExport',
            metadata: { name: 'web', namespace: ns },
          },
        );
      }
      for (const c of clusters)
        await eventually(`2 running pods of web in ${c}`, async () => (await podIPs(c)).length === 2, 60_000);
    });

    after(async () => {
      await planes?.stop();
      if (planes) rmSync(planes.dir, { recursive: true, force: true });
    });

    it('from a pod in each cluster, the ClusterSet IP is answered by the pods of both clusters', async () => {
      // The EndpointSlice controller may not have every pod in its slice at the first run: run until it has.
      const want = Object.fromEntries(await Promise.all(clusters.map(async (c) => [c, await podIPs(c)] as const)));
      await eventually("both clusters' pods in every cluster's MCS slices", async () => {
        const r = await sync();
        assert.equal(r.code, 0, r.stderr);
        for (const c of clusters) if (JSON.stringify(await mcsSlices(c)) !== JSON.stringify(want)) return false;
        return true;
      });
      for (const c of clusters) {
        const imp = await theImport(c);
        const derived = await get<{ spec: { clusterIP: string } }>(c, [
          '-n',
          ns,
          'get',
          'service',
          imp.metadata.annotations['multicluster.kubernetes.io/derived-service']!,
        ]);
        assert.equal(imp.spec.type, 'ClusterSetIP');
        assert.deepEqual(
          imp.spec.ips,
          [derived.spec.clusterIP],
          `${c}: the import's IP is its derived Service's cluster IP`,
        );
        assert.deepEqual(
          imp.status?.clusters?.map((x) => x.cluster),
          clusters,
        );
        // kube-proxy programs the Service's rules from the slices within a moment.
        const t = await eventually(`${c}: traffic to ${imp.spec.ips[0]} reaching both clusters`, async () => {
          const t = await toClusterSetIP(c, imp.spec.ips![0]!);
          return t.errors === 0 && Object.keys(t.clusters).length === 2 ? t : undefined;
        });
        process.stderr.write(
          `# ${c}: 40 requests to the ClusterSet IP answered by ${JSON.stringify(t.clusters)} (${t.pods} pods)\n`,
        );
        assert.equal(t.clusters.alpha! + t.clusters.beta!, 40);
      }
    });

    it('an exporting cluster killed: its endpoints stay (last known) and still take traffic until staleAfter, then go; back, it is imported again', async () => {
      const ip = (await theImport('alpha')).spec.ips![0]!;
      const betaPods = await podIPs('beta');
      // beta's last read: staleAfter counts from here.
      assert.equal((await sync()).code, 0);
      await w.kill('beta');
      try {
        const r = await sync();
        assert.equal(r.code, 2, `beta unreadable: not converged\n${r.stderr}`);
        assert.deepEqual((await mcsSlices('alpha')).beta, betaPods, "beta's endpoints kept as last read");
        assert.deepEqual(
          (await theImport('alpha')).status?.clusters?.map((x) => x.cluster),
          clusters,
          'the import kept as it is',
        );
        const kept = await toClusterSetIP('alpha', ip);
        assert.equal(kept.errors, 0);
        assert.ok(
          (kept.clusters.beta ?? 0) > 0,
          `beta's pods (their API server gone) still answer: ${JSON.stringify(kept.clusters)}`,
        );

        // Past staleAfter (6 s since beta was last read): its endpoints go.
        await sleep(6_500);
        const stale = await sync();
        assert.equal(stale.code, 2, stale.stderr);
        assert.equal((await mcsSlices('alpha')).beta, undefined, "beta's slices removed once stale");
        assert.deepEqual(
          (await theImport('alpha')).status?.clusters?.map((x) => x.cluster),
          ['alpha'],
        );
        const only = await eventually('traffic from alpha answered by alpha alone', async () => {
          const t = await toClusterSetIP('alpha', ip);
          return t.errors === 0 && Object.keys(t.clusters).join() === 'alpha' ? t : undefined;
        });
        assert.equal(only.clusters.alpha, 40);
      } finally {
        await w.release('beta');
      }
      const back = await sync();
      assert.equal(back.code, 0, back.stderr);
      assert.deepEqual((await mcsSlices('alpha')).beta, betaPods);
      assert.deepEqual((await theImport('alpha')).spec.ips, [ip], 'the ClusterSet IP stayed the same throughout');
    });
  },
);
