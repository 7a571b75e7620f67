// The manifests and examples as users apply them, and mefi running with
// exactly the rights they grant, on three real API servers. The cross-cluster
// kubeconfigs are made with the README's own commands.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../lib/config.ts';
import { KubeClient } from '../../lib/kube/client.ts';
import { connect } from '../../lib/kube/connect.ts';
import { auditSince, clusterNames, dir, ensureNamespace, getEndpoints, kubeconfigOf, kubectl, marks, mefi, putEndpoints, repo, skip, subset, uid } from '../support/world.ts';

const ns = 'mefi-system';
const work = mkdtempSync(path.join(tmpdir(), 'mefi-deploy-'));
const id = uid('d');
const filter = `mefi-test=${id}`;
const mefiUser = 'system:serviceaccount:mefi-system:mefi';

/** A client that authenticates with a kubeconfig file, as mefi would. */
function clientFor(kubeconfig: string): KubeClient {
  const c = connect({ file: 'test', clusters: [{ name: 'x', type: 'remote', connection: { kind: 'kubeconfig', path: kubeconfig, insecureSkipTLSVerify: false } }] });
  return new KubeClient(c.get('x')!, { requestTimeoutMs: 10_000 });
}

async function status(client: KubeClient, verb: 'list' | 'get' | 'create' | 'update' | 'delete', resource: string, p: string, body?: unknown): Promise<number> {
  try {
    await client.request({ verb, resource, path: p, ...(body ? { body } : {}) });
    return 200;
  } catch (err) {
    return (err as { status: number }).status;
  }
}

/** README, "Cross-cluster kubeconfigs": the commands, run against one cluster. */
async function readerKubeconfig(cluster: string): Promise<string> {
  const admin = { cluster };
  const token = await kubectl(['-n', ns, 'create', 'token', 'mefi-reader', '--duration=8760h'], admin);
  assert.equal(token.code, 0, token.stderr);
  const server = await kubectl(['config', 'view', '--minify', '-o', 'jsonpath={.clusters[0].cluster.server}'], admin);
  const ca = await kubectl(['config', 'view', '--minify', '--raw', '-o', 'jsonpath={.clusters[0].cluster.certificate-authority-data}'], admin);
  writeFileSync(path.join(work, `${cluster}-ca.crt`), Buffer.from(ca.stdout, 'base64'));
  const file = path.join(work, `${cluster}.kubeconfig`);
  const steps = [
    ['config', 'set-cluster', cluster, `--kubeconfig=${file}`, `--server=${server.stdout}`, `--certificate-authority=${path.join(work, `${cluster}-ca.crt`)}`, '--embed-certs'],
    ['config', 'set-credentials', 'mefi-reader', `--kubeconfig=${file}`, `--token=${token.stdout.trim()}`],
    ['config', 'set-context', cluster, `--kubeconfig=${file}`, `--cluster=${cluster}`, '--user=mefi-reader'],
    ['config', 'use-context', cluster, `--kubeconfig=${file}`],
  ];
  for (const s of steps) {
    const r = await kubectl(s);
    assert.equal(r.code, 0, `${s.join(' ')}: ${r.stderr}`);
  }
  return file;
}

/** What inCluster reads in a pod of the target: the mefi ServiceAccount's token and the cluster CA. */
async function inClusterFiles(cluster: string): Promise<{ server: string; tokenFile: string; caFile: string }> {
  const token = await kubectl(['-n', ns, 'create', 'token', 'mefi'], { cluster });
  assert.equal(token.code, 0, token.stderr);
  const kc = JSON.parse(readFileSync(kubeconfigOf(cluster), 'utf8'));
  const tokenFile = path.join(work, `${cluster}-sa-token`);
  const caFile = path.join(work, `${cluster}-sa-ca.crt`);
  writeFileSync(tokenFile, token.stdout.trim());
  writeFileSync(caFile, Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64'));
  return { server: kc.clusters[0].cluster.server, tokenFile, caFile };
}

describe('deployed with the shipped manifests and RBAC only', { skip }, () => {
  let config = '';
  let readers: Record<string, string> = {};

  before(async () => {
    for (const c of clusterNames) {
      const r = await kubectl(['apply', '-k', 'manifests/'], { cluster: c });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /PodSecurity|would violate/i, `${c}: ${r.stderr}`);
    }
    readers = { beta: await readerKubeconfig('beta'), gamma: await readerKubeconfig('gamma') };
    const alpha = await inClusterFiles('alpha');
    config = path.join(work, 'mefi.yaml');
    writeFileSync(
      config,
      [
        'clusters:',
        '  - name: alpha',
        `    url: ${alpha.server}`,
        `    tokenFile: ${alpha.tokenFile}`,
        `    caFile: ${alpha.caFile}`,
        '    type: local',
        '  - name: beta',
        `    kubeconfig: ${readers.beta}`,
        '  - name: gamma',
        `    kubeconfig: ${readers.gamma}`,
      ].join('\n') + '\n',
    );
  });

  after(async () => {
    // Leave the shared clusters as the other tests expect them.
    for (const c of clusterNames) await kubectl(['apply', '-k', 'manifests/'], { cluster: c });
  });

  it('every kustomization builds and every manifest and example passes server-side validation', async () => {
    for (const k of ['manifests', 'manifests/base', 'manifests/cronjob', 'manifests/loop']) {
      const r = await kubectl(['kustomize', k]);
      assert.equal(r.code, 0, `${k}: ${r.stderr}`);
    }
    await ensureNamespace('alpha', 'shop');
    const dryRuns = [
      ['apply', '--dry-run=server', '-k', 'manifests/loop'],
      ['apply', '--dry-run=server', '-f', 'manifests/remotes-secret.example.yaml'],
      ['apply', '--dry-run=server', '-f', 'examples/app/web.yaml'],
      ['apply', '--dry-run=server', '-f', 'examples/target/service.yaml'],
      ['apply', '--dry-run=server', '-f', 'examples/target/contour/ingress.yaml'],
    ];
    for (const args of dryRuns) {
      const r = await kubectl(args, { cluster: 'alpha' });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /PodSecurity|would violate/i, `${args.join(' ')}: ${r.stderr}`);
    }
    // The example configs are valid mefi configs; only the files they name exist elsewhere.
    // The placeholders stand for a real CA: the test cluster's.
    const pem = readFileSync(path.join(dir, 'alpha', 'ca.crt')).toString('base64');
    for (const f of readdirSync(path.join(repo, 'examples/config'))) {
      // Placeholders are for the user to fill in: give them values of the right form.
      const text = readFileSync(path.join(repo, 'examples/config', f), 'utf8').replace(/<base64 PEM[^>]*>/g, pem);
      try {
        parseConfig(text, f);
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        const other = err.issues.filter((i) => !/cannot read (kubeconfig|token file|CA file)/.test(i.message));
        assert.deepEqual(other, [], f);
      }
    }
  });

  it('converges with the shipped identities, and a second run writes nothing', async () => {
    for (const [c, net] of [['alpha', '10.1'], ['beta', '10.2'], ['gamma', '10.3']] as const) {
      await putEndpoints(c, `app-${id}`, 'shop', { 'mefi-test': id }, [subset([`${net}.7.1`, `${net}.7.2`])]);
    }
    const r = await mefi(['sync', '-c', config, '--remote-filter', filter]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const n of ['shop', 'shop-alpha', 'shop-beta', 'shop-gamma']) assert.ok(await getEndpoints('alpha', ns, n), n);
    assert.equal((await getEndpoints('alpha', ns, 'shop'))!.subsets![0]!.addresses!.length, 6);

    const m = marks();
    const again = await mefi(['sync', '-c', config, '--remote-filter', filter]);
    assert.equal(again.code, 0, again.stderr);
    const writes = auditSince('alpha', m.alpha!).filter((e) => e.user.username === mefiUser && !['list', 'get'].includes(e.verb));
    assert.deepEqual(writes, []);

    // EndpointSlice mode, both ways, with the same shipped roles.
    const slices = await mefi(['sync', '-c', config, '--remote-filter', filter, '--source', 'endpointslices', '--target', 'endpointslices']);
    assert.equal(slices.code, 0, slices.stdout + slices.stderr);
    const sm = marks();
    const sliceTarget = await mefi(['sync', '-c', config, '--remote-filter', filter, '--target', 'endpointslices']);
    assert.equal(sliceTarget.code, 0, sliceTarget.stdout + sliceTarget.stderr);
    const created = auditSince('alpha', sm.alpha!).filter((e) => e.user.username === mefiUser && e.verb === 'create' && e.objectRef?.resource === 'endpointslices');
    assert.equal(created.length, 3, 'one slice per cluster of shop, created with the shipped identity');
  });

  it('cannot write outside mefi-system nor read Secrets; the reader cannot write at all', async () => {
    const target = await inClusterFiles('alpha');
    const kc = path.join(work, 'alpha-mefi.kubeconfig');
    writeFileSync(kc, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'a', cluster: { server: target.server, 'certificate-authority': target.caFile } }], users: [{ name: 'm', user: { tokenFile: target.tokenFile } }], contexts: [{ name: 'a', context: { cluster: 'a', user: 'm' } }], 'current-context': 'a' }));
    const self = clientFor(kc);
    const ep = (namespace: string, name: string) => ({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace } });
    assert.equal(await status(self, 'list', 'endpoints', `/api/v1/namespaces/${ns}/endpoints`), 200, 'sanity: its own namespace');
    assert.equal(await status(self, 'create', 'endpoints', '/api/v1/namespaces/default/endpoints', ep('default', 'x')), 403);
    assert.equal(await status(self, 'create', 'configmaps', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }), 403);
    assert.equal(await status(self, 'list', 'secrets', `/api/v1/namespaces/${ns}/secrets`), 403);
    assert.equal(await status(self, 'get', 'secrets', `/api/v1/namespaces/${ns}/secrets/mefi-reader-token`), 403);
    assert.equal(await status(self, 'delete', 'namespaces', '/api/v1/namespaces/default'), 403);

    for (const c of ['beta', 'gamma']) {
      const reader = clientFor(readers[c]!);
      assert.equal(await status(reader, 'list', 'endpoints', '/api/v1/endpoints'), 200, 'sanity: it can list');
      assert.equal(await status(reader, 'create', 'endpoints', `/api/v1/namespaces/${ns}/endpoints`, ep(ns, 'x')), 403);
      assert.equal(await status(reader, 'update', 'endpoints', `/api/v1/namespaces/app-${id}/endpoints/shop`, ep(`app-${id}`, 'shop')), 403);
      assert.equal(await status(reader, 'delete', 'endpoints', `/api/v1/namespaces/app-${id}/endpoints/shop`), 403);
      assert.equal(await status(reader, 'get', 'endpoints', `/api/v1/namespaces/app-${id}/endpoints/shop`), 403, 'list only, not get');
      assert.equal(await status(reader, 'list', 'secrets', '/api/v1/secrets'), 403);
    }
  });

  it('without its target role it names cluster, verb and resource, exits 2 and writes nothing', async () => {
    await putEndpoints('beta', `app-${id}`, 'shop', { 'mefi-test': id }, [subset(['10.2.7.1', '10.2.7.3'])]);
    assert.equal((await kubectl(['-n', ns, 'delete', 'rolebinding', 'mefi-target'], { cluster: 'alpha' })).code, 0);
    try {
      const m = marks();
      const r = await mefi(['sync', '-c', config, '--remote-filter', filter]);
      assert.equal(r.code, 2);
      // It can still list (mefi-source is cluster-wide), so each update is refused, and says so.
      assert.match(r.stdout, /^update\s+alpha\s+mefi-system\/shop-beta\s+beta\s+failed: cluster alpha: update endpoints mefi-system\/shop-beta: Forbidden: .*User "system:serviceaccount:mefi-system:mefi" cannot update resource "endpoints"/m);
      assert.match(r.stdout, /2 failed/);
      const attempts = auditSince('alpha', m.alpha!).filter((e) => e.user.username === mefiUser && !['list', 'get'].includes(e.verb));
      assert.ok(attempts.length > 0);
      assert.deepEqual(attempts.filter((e) => e.responseStatus?.code !== 403), [], 'every write was refused: nothing written');
    } finally {
      assert.equal((await kubectl(['apply', '-k', 'manifests/'], { cluster: 'alpha' })).code, 0);
    }
    assert.equal((await mefi(['sync', '-c', config, '--remote-filter', filter])).code, 0, 'restored, it converges');
  });

  it('without a source role that cluster is unreadable: exit 2, its mirror and addresses are kept', async () => {
    const before = (await getEndpoints('alpha', ns, 'shop-beta'))!;
    await putEndpoints('beta', `app-${id}`, 'shop', { 'mefi-test': id }, [subset(['10.2.7.9'])]);
    assert.equal((await kubectl(['delete', 'clusterrolebinding', 'mefi-source'], { cluster: 'beta' })).code, 0);
    try {
      const r = await mefi(['sync', '-c', config, '--remote-filter', filter]);
      assert.equal(r.code, 2);
      assert.match(r.stdout, /UNREADABLE beta \(source\): cluster beta: list endpoints in all namespaces: Forbidden: .*User "system:serviceaccount:mefi-system:mefi-reader" cannot list resource "endpoints"/);
      assert.equal((await getEndpoints('alpha', ns, 'shop-beta'))!.metadata.resourceVersion, before.metadata.resourceVersion);
      const aggregate = (await getEndpoints('alpha', ns, 'shop'))!;
      assert.ok(aggregate.subsets![0]!.addresses!.some((a) => a.ip === '10.2.7.3'), 'beta\'s last known addresses stay in the aggregate');
    } finally {
      assert.equal((await kubectl(['apply', '-k', 'manifests/'], { cluster: 'beta' })).code, 0);
    }
  });
});
