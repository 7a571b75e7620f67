// The Multi-Cluster Services API as users use it, on real nodes: from client
// pods in each cluster, names under clusterset.local answered by that
// cluster's CoreDNS (its kubernetes plugin with `multicluster
// clusterset.local`, reading what mefi writes), and requests by name answered
// by every exporting cluster's pods (counted at the pods). Written from the
// KEP (1645) and the Kubernetes multicluster DNS specification:
//   <svc>.<ns>.svc.clusterset.local                  a ClusterSetIP import's IP
//   the same, headless                               the ready addresses of every exporting cluster
//   <hostname>.<cluster-id>.<svc>.<ns>.svc.clusterset.local   one of them (a StatefulSet's pod)
//   _<port>._<proto>.<svc>.<ns>.svc.clusterset.local SRV, by the ports' names
// The bed is this file's own: killing a server disturbs no other test.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import { startControlPlanes, withoutRealNodes, type ControlPlanes } from '../support/launch.ts';
import { appContainer, appDeployment, byCluster, type PodRef } from '../support/pods.ts';
import { parse } from 'yaml';
import { eventually, makeWorld, mefi, repo, type World } from '../support/world.ts';

const skip = withoutRealNodes();
const clusters = ['alpha', 'beta'];
const ns = 'dns';
const zone = 'svc.clusterset.local';

interface Import {
  spec: { type: string; ips?: string[] };
}

/** What busybox's nslookup answered: the addresses (A) or SRV records, or NXDOMAIN. */
interface Lookup {
  nxdomain: boolean;
  addresses: string[];
  srv: string[];
  out: string;
}

describe(
  'MCS names through CoreDNS on real nodes: clusterset.local from client pods',
  { skip, timeout: 600_000 },
  () => {
    let planes: ControlPlanes;
    let w: World;
    let config = '';
    const client = (cluster: string): PodRef => ({ cluster, namespace: ns, name: 'client' });
    const get = <T>(cluster: string, args: string[]) => w.getJson<T>(cluster, args);
    const sync = async () => mefi(['sync', '--mode', 'mcs', '-c', config]);
    const readyIPs = async (cluster: string, app: string) =>
      (
        await get<{ items: { status: { podIP?: string; conditions?: { type: string; status: string }[] } }[] }>(
          cluster,
          ['-n', ns, 'get', 'pods', '-l', `app=${app}`],
        )
      ).items
        .filter((p) => p.status.podIP && p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        .map((p) => p.status.podIP!)
        .sort();

    /** nslookup in the cluster's tools pod (the conformance suite's netshoot image, built here). */
    const lookup = async (cluster: string, name: string, type = 'A'): Promise<Lookup> => {
      const r = await w.kubectl(['-n', ns, 'exec', 'tools', '--', 'nslookup', `-type=${type}`, name], { cluster });
      const answer = r.stdout
        .split(/\n\s*\n/)
        .slice(1)
        .join('\n');
      return {
        nxdomain: /NXDOMAIN/.test(r.stdout + r.stderr),
        addresses: [...answer.matchAll(/^Address: (\S+)$/gm)].map((m) => m[1]!).sort(),
        srv: [...answer.matchAll(/service = (.+)$/gm)].map((m) => m[1]!.trim()).sort(),
        out: r.stdout + r.stderr,
      };
    };
    /** Requests (20) by name from the cluster's client pod, answers per cluster. */
    const byName = async (cluster: string, url: string, count = 20) => {
      const t = await w.pods.fetch(client(cluster), url, count, { timeout: '1s' });
      return { clusters: byCluster(t), errors: t.errors, lastError: t.lastError };
    };
    const converge = async (what: string, ok: () => Promise<boolean>) =>
      eventually(what, async () => {
        const r = await sync();
        assert.notEqual(r.code, 3, r.stderr);
        return r.code === 0 && (await ok());
      });

    before(async () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'mefi-mcs-dns-'));
      planes = await startControlPlanes(dir, clusters, { network: true, mcs: true });
      w = makeWorld(dir, clusters);
      config = w.writeConfig({ clusters, local: clusters, top: { staleAfter: '8s' } }).file;
      const exportOf = (name: string) => ({
        apiVersion: 'multicluster.x-k8s.io/v1beta1',
        kind: 'ServiceExport',
        metadata: { name, namespace: ns },
      });
      const service = (name: string, app: string, headless = false) => ({
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace: ns },
        spec: {
          selector: { app },
          ...(headless ? { clusterIP: 'None' } : {}),
          ports: [{ name: 'http', port: 80, targetPort: 8080 }],
        },
      });
      for (const c of clusters) {
        await w.applyObjects(
          c,
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
          { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mefi-system' } },
          appDeployment(c, ns),
          {
            apiVersion: 'apps/v1',
            kind: 'StatefulSet',
            metadata: { name: 'db', namespace: ns },
            spec: {
              replicas: 2,
              serviceName: 'db',
              selector: { matchLabels: { app: 'db' } },
              template: {
                metadata: { labels: { app: 'db' } },
                spec: { terminationGracePeriodSeconds: 1, containers: [appContainer(c, 8080, 'db')] },
              },
            },
          },
          {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: 'tools', namespace: ns },
            spec: {
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: 'tools',
                  image: 'nicolaka/netshoot:v0.15',
                  imagePullPolicy: 'Never',
                  command: ['sleep', '3600'],
                },
              ],
            },
          },
          service('web', 'web'),
          service('db', 'db', true),
          service('private', 'web'),
          service('gone', 'web'),
          exportOf('web'),
          exportOf('db'),
          exportOf('gone'),
        );
        await w.pods.add({ ...client(c), ports: [8080] });
      }
      for (const c of clusters) {
        await eventually(
          `${c}: web's and db's pods ready`,
          async () => (await readyIPs(c, 'web')).length === 2 && (await readyIPs(c, 'db')).length === 2,
          120_000,
        );
        await eventually(
          `${c}: the tools pod running`,
          async () =>
            (await get<{ status: { phase: string } }>(c, ['-n', ns, 'get', 'pod', 'tools'])).status.phase === 'Running',
          120_000,
        );
      }
      const want = async (name: string) => (await Promise.all(clusters.map((c) => readyIPs(c, name)))).flat().sort();
      const sliced = async (cluster: string, name: string) =>
        (
          await get<{ items: { endpoints?: { addresses: string[] }[] }[] }>(cluster, [
            '-n',
            ns,
            'get',
            'endpointslices',
            '-l',
            `multicluster.kubernetes.io/service-name=${name}`,
          ])
        ).items
          .flatMap((s) => (s.endpoints ?? []).flatMap((e) => e.addresses))
          .sort();
      const web = await want('web');
      const db = await want('db');
      await converge("every pod of web and db in both clusters' MCS slices", async () => {
        for (const c of clusters)
          if (
            JSON.stringify(await sliced(c, 'web')) !== JSON.stringify(web) ||
            JSON.stringify(await sliced(c, 'db')) !== JSON.stringify(db)
          )
            return false;
        return true;
      });
    });

    after(async () => {
      await planes?.stop();
      if (planes) rmSync(planes.dir, { recursive: true, force: true });
    });

    it("each cluster's CoreDNS runs with the Corefile lines and the RBAC rule examples/README.md tells users to add", async () => {
      const doc = readFileSync(path.join(repo, 'examples/README.md'), 'utf8')
        .split('\n### DNS\n')[1]!
        .split('\n## ')[0]!;
      const blocks = [...doc.matchAll(/```(\w*)\n([\s\S]*?)```/g)];
      const corefile = blocks.find((b) => b[1] === '')![2]!;
      const rule = (parse(blocks.find((b) => b[1] === 'yaml')![2]!) as object[])[0];
      const lines = (text: string) =>
        text
          .split('\n')
          .map((l) => l.trim())
          .filter(Boolean);
      for (const c of clusters) {
        const running = (
          await get<{ data: { Corefile: string } }>(c, ['-n', 'kube-system', 'get', 'configmap', 'coredns'])
        ).data.Corefile;
        const at = lines(running).indexOf(lines(corefile)[0]!);
        assert.deepEqual(
          lines(running).slice(at, at + lines(corefile).length),
          lines(corefile),
          `${c}'s Corefile:\n${running}`,
        );
        const role = await get<{ rules: object[] }>(c, ['get', 'clusterrole', 'system:coredns']);
        assert.ok(
          role.rules.some((r) => isDeepStrictEqual(r, rule)),
          `${c}: system:coredns has ${JSON.stringify(rule)}`,
        );
      }
    });

    it("<svc>.<ns>.svc.clusterset.local resolves to the import's ClusterSet IP in each cluster, and requests by that name reach both clusters' pods", async () => {
      for (const c of clusters) {
        const ip = (await get<Import>(c, ['-n', ns, 'get', 'serviceimports.multicluster.x-k8s.io', 'web'])).spec
          .ips![0]!;
        const found = await eventually(`${c}: web.${ns}.${zone} resolving`, async () => {
          const l = await lookup(c, `web.${ns}.${zone}`);
          return l.addresses.length ? l : undefined;
        });
        assert.deepEqual(found.addresses, [ip], found.out);
        const t = await eventually(
          `${c}: requests to http://web.${ns}.${zone}/ answered by both clusters`,
          async () => {
            const t = await byName(c, `http://web.${ns}.${zone}/`);
            return t.errors === 0 && Object.keys(t.clusters).length === 2 ? t : undefined;
          },
        );
        process.stderr.write(`# ${c}: 20 requests to web.${ns}.${zone} answered by ${JSON.stringify(t.clusters)}\n`);
      }
    });

    it('a headless export resolves to the ready pods of every exporting cluster, and each StatefulSet pod to itself as <hostname>.<cluster>.<svc>.<ns>.svc.clusterset.local', async () => {
      const all = (await Promise.all(clusters.map((c) => readyIPs(c, 'db')))).flat().sort();
      for (const c of clusters) {
        const l = await eventually(`${c}: db.${ns}.${zone} resolving to all four pods`, async () => {
          const l = await lookup(c, `db.${ns}.${zone}`);
          return JSON.stringify(l.addresses) === JSON.stringify(all) ? l : undefined;
        });
        assert.equal(l.nxdomain, false);
        for (const source of clusters) {
          const pods = await get<{ items: { metadata: { name: string }; status: { podIP: string } }[] }>(source, [
            '-n',
            ns,
            'get',
            'pods',
            '-l',
            'app=db',
          ]);
          for (const p of pods.items) {
            const one = await lookup(c, `${p.metadata.name}.${source}.db.${ns}.${zone}`);
            assert.deepEqual(one.addresses, [p.status.podIP], `${c}: ${p.metadata.name}.${source}.db: ${one.out}`);
          }
        }
      }
    });

    it("SRV records name the export's ports: _http._tcp.<svc> answers port 80 at the service's name, and per pod for a headless one", async () => {
      for (const c of clusters) {
        const web = await lookup(c, `_http._tcp.web.${ns}.${zone}`, 'SRV');
        assert.equal(web.srv.length, 1, web.out);
        assert.match(web.srv[0]!, new RegExp(`^\\d+ \\d+ 80 web\\.${ns}\\.svc\\.clusterset\\.local\\.?$`), web.out);
        const db = await lookup(c, `_http._tcp.db.${ns}.${zone}`, 'SRV');
        const targets = db.srv.map((s) => s.split(' ')[3]!.replace(/\.$/, '')).sort();
        const want = clusters
          .flatMap((source) => ['db-0', 'db-1'].map((h) => `${h}.${source}.db.${ns}.${zone}`))
          .sort();
        assert.deepEqual(targets, want, db.out);
      }
    });

    it('a Service that is not exported has no clusterset.local name (its cluster.local name still resolves)', async () => {
      for (const c of clusters) {
        const local = await lookup(c, `private.${ns}.svc.cluster.local`);
        assert.equal(local.addresses.length, 1, `the cluster's own name resolves: ${local.out}`);
        const l = await lookup(c, `private.${ns}.${zone}`);
        assert.ok(l.nxdomain, `private.${ns}.${zone} in ${c}: ${l.out}`);
        assert.deepEqual(l.addresses, []);
      }
    });

    it('unexported everywhere: the name goes (NXDOMAIN) and its ClusterSet IP answers no more', async () => {
      const ips = Object.fromEntries(
        await Promise.all(
          clusters.map(
            async (c) =>
              [
                c,
                (await get<Import>(c, ['-n', ns, 'get', 'serviceimports.multicluster.x-k8s.io', 'gone'])).spec.ips![0]!,
              ] as const,
          ),
        ),
      );
      for (const c of clusters) {
        const before = await eventually(`${c}: gone.${ns} answered by name`, async () => {
          const t = await byName(c, `http://gone.${ns}.${zone}/`);
          return t.errors === 0 ? t : undefined;
        });
        assert.ok(Object.keys(before.clusters).length > 0);
      }
      for (const c of clusters) {
        const r = await w.kubectl(['-n', ns, 'delete', 'serviceexports.multicluster.x-k8s.io', 'gone'], { cluster: c });
        assert.equal(r.code, 0, r.stderr);
      }
      await converge('the import of gone removed everywhere', async () => {
        for (const c of clusters) {
          const r = await w.kubectl(['-n', ns, 'get', 'serviceimports.multicluster.x-k8s.io', 'gone'], { cluster: c });
          if (r.code === 0) return false;
        }
        return true;
      });
      for (const c of clusters) {
        const l = await eventually(`${c}: gone.${ns}.${zone} NXDOMAIN`, async () => {
          const l = await lookup(c, `gone.${ns}.${zone}`);
          return l.nxdomain ? l : undefined;
        });
        assert.deepEqual(l.addresses, []);
        const t = await eventually(`${c}: nothing answers at ${ips[c]}`, async () => {
          const t = await byName(c, `http://${ips[c]}/`, 5);
          return t.errors === 5 ? t : undefined;
        });
        assert.deepEqual(t.clusters, {});
      }
    });

    it("an exporting cluster's API server killed: its pods keep answering by name until staleAfter, then only the live cluster's do", async () => {
      assert.equal((await sync()).code, 0);
      await w.kill('beta');
      try {
        const r = await sync();
        assert.equal(r.code, 2, `beta unreadable: not converged\n${r.stderr}`);
        const kept = await byName('alpha', `http://web.${ns}.${zone}/`);
        assert.equal(kept.errors, 0, kept.lastError);
        assert.ok(
          (kept.clusters.beta ?? 0) > 0,
          `beta's pods (their API server gone) still answer by name: ${JSON.stringify(kept.clusters)}`,
        );
        await sleep(8_500);
        assert.equal((await sync()).code, 2);
        const only = await eventually('web by name from alpha answered by alpha alone', async () => {
          const t = await byName('alpha', `http://web.${ns}.${zone}/`);
          return t.errors === 0 && Object.keys(t.clusters).join() === 'alpha' ? t : undefined;
        });
        assert.equal(only.clusters.alpha, 20);
        const db = await lookup('alpha', `db.${ns}.${zone}`);
        assert.deepEqual(
          db.addresses,
          await readyIPs('alpha', 'db'),
          `the headless name holds alpha's pods alone: ${db.out}`,
        );
      } finally {
        await w.release('beta');
      }
    });
  },
);
