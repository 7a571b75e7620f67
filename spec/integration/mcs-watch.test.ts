// MCS mode in the watching loop, on the shared clusters: a ServiceExport
// created, a second cluster's export, endpoints changing and the exports
// going reach every target without a resync; at rest the loop writes
// nothing. Asked of the API servers and their audit logs.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  applyObjects,
  auditMark,
  eventually,
  kubectl,
  skip,
  startLoop,
  uid,
  writeConfig,
  writesSince,
  type Loop,
} from '../support/world.ts';

const ns = `mcsw-${uid()}`;
const targets = ['alpha', 'beta'];

interface Import {
  spec: { ips?: string[]; ports: { port: number }[] };
  status?: { clusters?: { cluster: string }[] };
}

describe('MCS mode in the watching loop', { skip, timeout: 180_000 }, () => {
  let loop: Loop;

  const apply = applyObjects;

  const importIn = async (cluster: string): Promise<Import | undefined> => {
    const r = await kubectl(
      ['-n', ns, 'get', 'serviceimports.multicluster.x-k8s.io', 'web', '-o', 'json', '--ignore-not-found'],
      { cluster },
    );
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim() ? (JSON.parse(r.stdout) as Import) : undefined;
  };
  const exporters = async (cluster: string) =>
    (await importIn(cluster))?.status?.clusters?.map((c) => c.cluster).join(',') ?? '';
  const sliceIPs = async (cluster: string, source: string) => {
    const r = await kubectl(
      [
        '-n',
        ns,
        'get',
        'endpointslices',
        '-l',
        `multicluster.kubernetes.io/service-name=web,multicluster.kubernetes.io/source-cluster=${source}`,
        '-o',
        'jsonpath={.items[*].endpoints[*].addresses[0]}',
      ],
      { cluster },
    );
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split(/\s+/).filter(Boolean).sort().join(',');
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'web', namespace: ns },
    spec: { ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
  const slice = (ips: string[]) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: 'web-src',
      namespace: ns,
      labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': 'mefi-test' },
    },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
  });
  const serviceExport = {
    apiVersion: 'multicluster.x-k8s.io/v1beta1',
    kind: 'ServiceExport',
    metadata: { name: 'web', namespace: ns },
  };
  const timed = async (what: string, check: () => Promise<boolean>) => {
    const started = Date.now();
    await eventually(what, async () => check(), 20_000);
    return Date.now() - started;
  };

  before(async () => {
    for (const c of ['alpha', 'beta', 'gamma'])
      await apply(c, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
    await apply('beta', service, slice(['10.244.1.10']));
    await apply('gamma', service, slice(['10.244.3.10']));
    const extra = Object.fromEntries(['alpha', 'beta', 'gamma'].map((c) => [c, { namespaces: [ns] }]));
    const config = writeConfig({ local: targets, extra }).file;
    loop = startLoop(['--mode', 'mcs', '--watch', '-c', config, '--log-level', 'debug']);
    await eventually("the loop's first run", async () => /run finished/.test(loop.log()), 30_000);
  });

  after(async () => {
    await loop?.stop();
    for (const c of ['alpha', 'beta', 'gamma'])
      await kubectl(['delete', 'namespace', ns, '--wait=false'], { cluster: c });
  });

  it("an export, a second cluster's export and changed endpoints reach every target without a resync; at rest, no writes", async () => {
    await apply('beta', serviceExport);
    const first = await timed(
      'the import in both targets, from beta',
      async () =>
        (await exporters('alpha')) === 'beta' &&
        (await exporters('beta')) === 'beta' &&
        (await sliceIPs('alpha', 'beta')) === '10.244.1.10',
    );
    for (const c of targets) assert.equal((await importIn(c))!.spec.ips?.length, 1, `${c}: a ClusterSet IP`);

    await apply('gamma', serviceExport);
    const second = await timed(
      'gamma among the exporters, its endpoints in both targets',
      async () =>
        (await exporters('alpha')) === 'beta,gamma' &&
        (await exporters('beta')) === 'beta,gamma' &&
        (await sliceIPs('beta', 'gamma')) === '10.244.3.10',
    );

    await apply('gamma', slice(['10.244.3.10', '10.244.3.11']));
    const moved = await timed(
      "gamma's new endpoint in both targets",
      async () =>
        (await sliceIPs('alpha', 'gamma')) === '10.244.3.10,10.244.3.11' &&
        (await sliceIPs('beta', 'gamma')) === '10.244.3.10,10.244.3.11',
    );
    process.stderr.write(
      `# MCS watch: export to import ${first} ms, second export ${second} ms, endpoints ${moved} ms (polled by kubectl)\n`,
    );

    // At rest: nothing written by mefi anywhere in the namespace (status echoes included).
    await sleep(1_000);
    const marks = Object.fromEntries(['alpha', 'beta', 'gamma'].map((c) => [c, auditMark(c)]));
    await sleep(3_000);
    for (const c of ['alpha', 'beta', 'gamma'])
      assert.deepEqual(
        writesSince(c, marks[c]!, ns)
          .filter((e) => e.userAgent?.startsWith('mefi/'))
          .map((e) => `${e.verb} ${e.requestURI}`),
        [],
        `${c}: no writes at rest`,
      );
  });

  it('the exports deleted: the import and everything of it go from every target', async () => {
    for (const c of ['beta', 'gamma'])
      assert.equal((await kubectl(['-n', ns, 'delete', 'serviceexport', 'web'], { cluster: c })).code, 0);
    await timed(
      'no import left',
      async () =>
        (await importIn('alpha')) === undefined &&
        (await importIn('beta')) === undefined &&
        (await sliceIPs('alpha', 'gamma')) === '',
    );
    for (const c of targets) {
      const r = await kubectl(['-n', ns, 'get', 'services,endpointslices', '-l', 'isMefiLocal=true', '-o', 'name'], {
        cluster: c,
      });
      assert.equal(r.stdout.trim(), '', `${c}: nothing of mefi's left`);
    }
    assert.equal(await loop.stop(), 0);
  });
});
