// The manifests and examples as users apply them, and mefi running with
// exactly the rights they grant, on three real API servers. The cross-cluster
// kubeconfigs are made with the README's own commands.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { ConfigError, parseConfig } from '../../lib/config/config.ts';
import { KubeClient } from '../../lib/kube/client.ts';
import { connect } from '../../lib/kube/connect.ts';
import {
  applyObjects,
  auditSince,
  clusterNames,
  getJson,
  dir,
  ensureNamespace,
  eventually,
  getEndpoints,
  kubeconfigOf,
  kubectl,
  marks,
  mefi,
  putEndpoints,
  repo,
  skip,
  startLoop,
  subset,
  uid,
  type AuditEvent,
  scratch,
} from '../support/world.ts';

const ns = 'mefi-system';
const work = scratch('mefi-deploy-');
const id = uid('d');
const filter = `mefi-test=${id}`;
const mefiUser = 'system:serviceaccount:mefi-system:mefi';

/** A client that authenticates with a kubeconfig file, as mefi would. */
function clientFor(kubeconfig: string): KubeClient {
  const c = connect({
    file: 'test',
    clusters: [
      { name: 'x', type: 'remote', connection: { kind: 'kubeconfig', path: kubeconfig, insecureSkipTLSVerify: false } },
    ],
  });
  return new KubeClient(c.get('x')!, { requestTimeoutMs: 10_000 });
}

async function status(
  client: KubeClient,
  verb: 'list' | 'get' | 'create' | 'update' | 'delete',
  resource: string,
  p: string,
  body?: unknown,
): Promise<number> {
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
  const ca = await kubectl(
    ['config', 'view', '--minify', '--raw', '-o', 'jsonpath={.clusters[0].cluster.certificate-authority-data}'],
    admin,
  );
  writeFileSync(path.join(work, `${cluster}-ca.crt`), Buffer.from(ca.stdout, 'base64'));
  const file = path.join(work, `${cluster}.kubeconfig`);
  const steps = [
    [
      'config',
      'set-cluster',
      cluster,
      `--kubeconfig=${file}`,
      `--server=${server.stdout}`,
      `--certificate-authority=${path.join(work, `${cluster}-ca.crt`)}`,
      '--embed-certs',
    ],
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

/** A kubeconfig of those files: mefi's own identity in the target, for kubectl and clients. */
function selfKubeconfig(files: Awaited<ReturnType<typeof inClusterFiles>>, name: string): string {
  const file = path.join(work, name);
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'a', cluster: { server: files.server, 'certificate-authority': files.caFile } }],
      users: [{ name: 'm', user: { tokenFile: files.tokenFile } }],
      contexts: [{ name: 'a', context: { cluster: 'a', user: 'm' } }],
      'current-context': 'a',
    }),
  );
  return file;
}

/**
 * The admission policy (manifests/policy) in every cluster, as a cluster of
 * Kubernetes 1.30 or later runs it; once applied, awaited until the API
 * server enforces it on mefi's identity (a server-side dry run, refused).
 */
async function withAdmissionPolicy(kubeconfig: string): Promise<void> {
  for (const c of clusterNames) {
    const r = await kubectl(['apply', '-k', 'manifests/policy'], { cluster: c });
    assert.equal(r.code, 0, r.stderr);
  }
  const probe = { apiVersion: 'v1', kind: 'Endpoints', metadata: { name: `probe-${id}`, namespace: ns } };
  await refused(kubeconfig, 'the policy, enforced', ['create', '--dry-run=server', '-f', '-'], probe);
}

async function withoutAdmissionPolicy(): Promise<void> {
  for (const c of clusterNames)
    await kubectl(['delete', '-k', 'manifests/policy', '--ignore-not-found'], { cluster: c });
}

/** What the API server says to `kubectl <args>` run as mefi's own identity: refused by the policy, or done. */
async function asMefi(kubeconfig: string, args: string[], input?: object): Promise<{ code: number; stderr: string }> {
  return kubectl(['--kubeconfig', kubeconfig, ...args], input ? { input: JSON.stringify(input) } : {});
}

/** A user's object as mefi would label its own: what the policy must not let mefi take. */
function asMefis<T extends { metadata: { labels?: Record<string, string> } }>(o: T): T {
  o.metadata.labels = { ...o.metadata.labels, isMefiLocal: 'true', 'endpointslice.kubernetes.io/managed-by': 'mefi' };
  return o;
}

/** A user's object in alpha: mefi's token may neither take it as its own nor delete it. */
async function notTaken(kubeconfig: string, namespace: string, kind: string, name: string): Promise<void> {
  const theirs = await getJson<{ metadata: { labels?: Record<string, string> } }>('alpha', [
    '-n',
    namespace,
    'get',
    kind,
    name,
  ]);
  await refused(
    kubeconfig,
    `taking the user's ${kind} ${namespace}/${name} as its own`,
    ['replace', '-f', '-'],
    asMefis(theirs),
  );
  await refused(kubeconfig, `deleting the user's ${kind} ${namespace}/${name}`, [
    '-n',
    namespace,
    'delete',
    kind,
    name,
  ]);
}

/** The policy refuses: every message names it, and what was asked. */
async function refused(kubeconfig: string, what: string, args: string[], input?: object): Promise<void> {
  // A new policy takes a moment to be enforced: until then, the first refusal is awaited.
  const r = await eventually(`${what}: refused`, async () => {
    const r = await asMefi(kubeconfig, args, input);
    return r.code !== 0 ? r : undefined;
  });
  assert.match(
    r.stderr,
    /ValidatingAdmissionPolicy 'mefi-writes-only-its-own'.*denied request: mefi (writes|changes) only its own objects/s,
    what,
  );
}

/**
 * The kustomization applied in every cluster, as a user applies it; the
 * identities made as the README says (alpha's own mefi in-cluster, the
 * others' readers); a config of them, every cluster scoped to `namespace`
 * when given. Returns the config file, the readers' kubeconfigs and alpha's
 * in-cluster files.
 */
async function deployed(
  kustomization: string,
  file: string,
  namespace?: string,
): Promise<{ config: string; readers: Record<string, string>; alpha: Awaited<ReturnType<typeof inClusterFiles>> }> {
  for (const c of clusterNames) {
    const r = await kubectl(['apply', '-k', kustomization], { cluster: c });
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /PodSecurity|would violate/i, `${c}: ${r.stderr}`);
  }
  const readers = { beta: await readerKubeconfig('beta'), gamma: await readerKubeconfig('gamma') };
  const alpha = await inClusterFiles('alpha');
  const config = path.join(work, file);
  const scope = namespace ? [`    namespaces: [${namespace}]`] : [];
  writeFileSync(
    config,
    [
      'clusters:',
      '  - name: alpha',
      `    url: ${alpha.server}`,
      `    tokenFile: ${alpha.tokenFile}`,
      `    caFile: ${alpha.caFile}`,
      '    type: local',
      ...scope,
      '  - name: beta',
      `    kubeconfig: ${readers.beta}`,
      ...scope,
      '  - name: gamma',
      `    kubeconfig: ${readers.gamma}`,
      ...scope,
    ].join('\n') + '\n',
  );
  return { config, readers, alpha };
}

describe('deployed with the shipped manifests and RBAC only', { skip }, () => {
  let config = '';
  let readers: Record<string, string> = {};

  let selfKc = '';

  before(async () => {
    const d = await deployed('manifests/', 'mefi.yaml');
    ({ config, readers } = d);
    // Every test here runs under the admission policy: mefi converges within it.
    selfKc = selfKubeconfig(d.alpha, 'alpha-mefi-policy.kubeconfig');
    await withAdmissionPolicy(selfKc);
  });

  after(async () => {
    // Leave the shared clusters as the other tests expect them.
    await withoutAdmissionPolicy();
    for (const c of clusterNames) await kubectl(['apply', '-k', 'manifests/'], { cluster: c });
  });

  it('every kustomization builds and every manifest and example passes server-side validation', async () => {
    for (const k of [
      'manifests',
      'manifests/base',
      'manifests/cronjob',
      'manifests/loop',
      'manifests/policy',
      'manifests/alerts',
    ]) {
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
        const other = err.issues.filter(
          (i) => !/cannot read (kubeconfig|token file|CA file|access provider file)/.test(i.message),
        );
        assert.deepEqual(other, [], f);
      }
    }
  });

  it('converges with the shipped identities, and a second run writes nothing', async () => {
    for (const [c, net] of [
      ['alpha', '10.1'],
      ['beta', '10.2'],
      ['gamma', '10.3'],
    ] as const) {
      await putEndpoints(c, `app-${id}`, 'shop', { 'mefi-test': id }, [subset([`${net}.7.1`, `${net}.7.2`])]);
    }
    const r = await mefi(['sync', '-c', config, '--remote-filter', filter]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const n of ['shop', 'shop-alpha', 'shop-beta', 'shop-gamma']) assert.ok(await getEndpoints('alpha', ns, n), n);
    assert.equal((await getEndpoints('alpha', ns, 'shop'))!.subsets![0]!.addresses!.length, 6);

    const m = marks();
    const again = await mefi(['sync', '-c', config, '--remote-filter', filter]);
    assert.equal(again.code, 0, again.stderr);
    const writes = auditSince('alpha', m.alpha!).filter(
      (e) => e.user.username === mefiUser && !['list', 'get'].includes(e.verb),
    );
    assert.deepEqual(writes, []);

    // EndpointSlice mode, both ways, with the same shipped roles.
    const slices = await mefi([
      'sync',
      '-c',
      config,
      '--remote-filter',
      filter,
      '--source',
      'endpointslices',
      '--target',
      'endpointslices',
    ]);
    assert.equal(slices.code, 0, slices.stdout + slices.stderr);
    const sm = marks();
    const sliceTarget = await mefi(['sync', '-c', config, '--remote-filter', filter, '--target', 'endpointslices']);
    assert.equal(sliceTarget.code, 0, sliceTarget.stdout + sliceTarget.stderr);
    const created = auditSince('alpha', sm.alpha!).filter(
      (e) => e.user.username === mefiUser && e.verb === 'create' && e.objectRef?.resource === 'endpointslices',
    );
    assert.equal(created.length, 3, 'one slice per cluster of shop, created with the shipped identity');
  });

  it("with the admission policy: in mefi-system, mefi's own token cannot create Endpoints or an EndpointSlice without mefi's labels, nor change or delete a user's; the API server names the policy, and refuses nobody else", async () => {
    const name = `theirs-${id}`;
    const endpoints = (labels: Record<string, string>) => ({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace: ns, labels },
      subsets: [subset(['10.9.0.1'])],
    });
    const slice = (labels: Record<string, string>) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name, namespace: ns, labels },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.9.0.1'] }],
    });
    await refused(selfKc, 'Endpoints without its label', ['create', '-f', '-'], endpoints({}));
    await refused(selfKc, 'a slice without managed-by', ['create', '-f', '-'], slice({ isMefiLocal: 'true' }));
    // A user's own objects in mefi-system (another identity: the policy does not apply to it).
    await applyObjects('alpha', endpoints({ app: 'theirs' }), slice({ 'kubernetes.io/service-name': 'theirs' }));
    for (const kind of ['endpoints', 'endpointslices']) {
      await notTaken(selfKc, ns, kind, name);
    }
    // Its own aggregate (the converging test's) cannot be given away either: an update keeps the label.
    const own = await getJson<{ metadata: { labels: Record<string, string> } }>('alpha', [
      '-n',
      ns,
      'get',
      'endpoints',
      'shop',
    ]);
    delete own.metadata.labels.isMefiLocal;
    await refused(selfKc, 'dropping its label from its own aggregate', ['replace', '-f', '-'], own);
    const mine = await asMefi(selfKc, ['create', '--dry-run=server', '-f', '-'], {
      ...endpoints({ isMefiLocal: 'true' }),
      metadata: { name: `mine-${id}`, namespace: ns, labels: { isMefiLocal: 'true' } },
    });
    assert.equal(mine.code, 0, `what is mefi's passes: ${mine.stderr}`);
    for (const kind of ['endpoints', 'endpointslices']) {
      const r = await kubectl(['-n', ns, 'delete', kind, name], { cluster: 'alpha' });
      assert.equal(r.code, 0, `the user deletes their own: ${r.stderr}`);
    }
  });

  it('cannot write outside mefi-system nor read Secrets; the reader cannot write at all', async () => {
    const target = await inClusterFiles('alpha');
    const kc = selfKubeconfig(target, 'alpha-mefi.kubeconfig');
    const self = clientFor(kc);
    const ep = (namespace: string, name: string) => ({
      apiVersion: 'v1',
      kind: 'Endpoints',
      metadata: { name, namespace },
    });
    assert.equal(
      await status(self, 'list', 'endpoints', `/api/v1/namespaces/${ns}/endpoints`),
      200,
      'sanity: its own namespace',
    );
    assert.equal(
      await status(self, 'create', 'endpoints', '/api/v1/namespaces/default/endpoints', ep('default', 'x')),
      403,
    );
    assert.equal(
      await status(self, 'create', 'configmaps', `/api/v1/namespaces/${ns}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'x' },
      }),
      403,
    );
    assert.equal(await status(self, 'list', 'secrets', `/api/v1/namespaces/${ns}/secrets`), 403);
    assert.equal(await status(self, 'get', 'secrets', `/api/v1/namespaces/${ns}/secrets/mefi-reader-token`), 403);
    assert.equal(await status(self, 'delete', 'namespaces', '/api/v1/namespaces/default'), 403);

    for (const c of ['beta', 'gamma']) {
      const reader = clientFor(readers[c]!);
      assert.equal(await status(reader, 'list', 'endpoints', '/api/v1/endpoints'), 200, 'sanity: it can list');
      assert.equal(await status(reader, 'create', 'endpoints', `/api/v1/namespaces/${ns}/endpoints`, ep(ns, 'x')), 403);
      assert.equal(
        await status(
          reader,
          'update',
          'endpoints',
          `/api/v1/namespaces/app-${id}/endpoints/shop`,
          ep(`app-${id}`, 'shop'),
        ),
        403,
      );
      assert.equal(await status(reader, 'delete', 'endpoints', `/api/v1/namespaces/app-${id}/endpoints/shop`), 403);
      assert.equal(
        await status(reader, 'get', 'endpoints', `/api/v1/namespaces/app-${id}/endpoints/shop`),
        403,
        'list only, not get',
      );
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
      assert.match(
        r.stdout,
        /^update\s+alpha\s+mefi-system\/shop-beta\s+beta\s+failed: cluster alpha: update endpoints mefi-system\/shop-beta: Forbidden: .*User "system:serviceaccount:mefi-system:mefi" cannot update resource "endpoints"/m,
      );
      assert.match(r.stdout, /2 failed/);
      const attempts = auditSince('alpha', m.alpha!).filter(
        (e) => e.user.username === mefiUser && !['list', 'get'].includes(e.verb),
      );
      assert.ok(attempts.length > 0);
      assert.deepEqual(
        attempts.filter((e) => e.responseStatus?.code !== 403),
        [],
        'every write was refused: nothing written',
      );
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
      assert.match(
        r.stdout,
        /UNREADABLE beta \(source\): cluster beta: list endpoints in all namespaces: Forbidden: .*User "system:serviceaccount:mefi-system:mefi-reader" cannot list resource "endpoints"/,
      );
      assert.equal(
        (await getEndpoints('alpha', ns, 'shop-beta'))!.metadata.resourceVersion,
        before.metadata.resourceVersion,
      );
      const aggregate = (await getEndpoints('alpha', ns, 'shop'))!;
      assert.ok(
        aggregate.subsets![0]!.addresses!.some((a) => a.ip === '10.2.7.3'),
        "beta's last known addresses stay in the aggregate",
      );
    } finally {
      assert.equal((await kubectl(['apply', '-k', 'manifests/'], { cluster: 'beta' })).code, 0);
    }
  });
});

describe('MCS mode deployed with the shipped manifests and RBAC only (manifests/mcs)', { skip }, () => {
  const mcsNs = `mcs-${id}`;
  const readerUser = 'system:serviceaccount:mefi-system:mefi-reader';
  const ours = (e: AuditEvent) => e.user.username === mefiUser || e.user.username === readerUser;
  const readVerbs = ['list', 'watch'];
  let config = '';
  let readers: Record<string, string> = {};
  let mcsKubeconfig = '';

  const apply = applyObjects;
  const getJSON = getJson;
  /** A Service exported from a cluster, with the slice its endpoints are in (no selector: the test is the slice controller). */
  const exportFrom = (cluster: string, net: string, ips: string[]) =>
    apply(
      cluster,
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: mcsNs } },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: mcsNs },
        spec: { ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'web-1', namespace: mcsNs, labels: { 'kubernetes.io/service-name': 'web' } },
        addressType: 'IPv4',
        endpoints: ips.map((ip) => ({ addresses: [`${net}.${ip}`], conditions: { ready: true } })),
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
      {
        apiVersion: 'multicluster.x-k8s.io/v1beta1',
        kind: 'ServiceExport',
        metadata: { name: 'web', namespace: mcsNs },
      },
    );
  type Slice = { metadata: { labels: Record<string, string> }; endpoints?: { addresses: string[] }[] };
  /** mefi's slices of the import in alpha: addresses by source cluster. */
  const importedSlices = async () => {
    const items = (
      await getJSON<{ items: Slice[] }>('alpha', [
        '-n',
        mcsNs,
        'get',
        'endpointslices',
        '-l',
        'multicluster.kubernetes.io/service-name=web',
      ])
    ).items;
    const out: Record<string, string[]> = {};
    for (const s of items)
      (out[s.metadata.labels['multicluster.kubernetes.io/source-cluster']!] ??= []).push(
        ...(s.endpoints ?? []).flatMap((e) => e.addresses),
      );
    for (const k of Object.keys(out)) out[k]!.sort();
    return out;
  };
  type Export = { status?: { conditions?: { type: string; status: string }[] } };
  const conditions = async (cluster: string) =>
    Object.fromEntries(
      (
        (await getJSON<Export>(cluster, ['-n', mcsNs, 'get', 'serviceexports.multicluster.x-k8s.io', 'web'])).status
          ?.conditions ?? []
      ).map((c) => [c.type, c.status]),
    );

  before(async () => {
    const d = await deployed('manifests/mcs-cronjob', 'mefi-mcs.yaml', mcsNs);
    ({ config, readers } = d);
    mcsKubeconfig = selfKubeconfig(d.alpha, 'alpha-mefi-mcs.kubeconfig');
    await withAdmissionPolicy(mcsKubeconfig);
  });

  after(async () => {
    // As the other tests expect the shared clusters: manifests/ (the CronJob without --mode=mcs), no MCS roles, no test namespace.
    await withoutAdmissionPolicy();
    for (const c of clusterNames) {
      await kubectl(['apply', '-k', 'manifests/'], { cluster: c });
      await kubectl(
        [
          'delete',
          '--ignore-not-found',
          'clusterrolebinding/mefi-mcs-source',
          'clusterrolebinding/mefi-mcs-target',
          'clusterrole/mefi-mcs-source',
          'clusterrole/mefi-mcs-target',
        ],
        { cluster: c },
      );
      await kubectl(['delete', 'namespace', mcsNs, '--ignore-not-found', '--wait=false'], { cluster: c });
    }
  });

  it('builds as a component of either workload, adding --mode=mcs and its roles; the loop variant passes server-side validation', async () => {
    type Workload = {
      kind: string;
      metadata: { name: string };
      spec: {
        template?: { spec: { containers: { args: string[] }[] } };
        jobTemplate?: { spec: { template: { spec: { containers: { args: string[] }[] } } } };
      };
    };
    const argsOf = (o: Workload) => (o.spec.jobTemplate?.spec.template ?? o.spec.template)!.spec.containers[0]!.args;
    for (const [variant, plain, kind] of [
      ['manifests/mcs-cronjob', 'manifests/cronjob', 'CronJob'],
      ['manifests/mcs-loop', 'manifests/loop', 'Deployment'],
    ] as const) {
      const built = await kubectl(['kustomize', variant]);
      assert.equal(built.code, 0, `${variant}: ${built.stderr}`);
      const base = await kubectl(['kustomize', plain]);
      const objects = parseAllDocuments(built.stdout).map((d) => d.toJS() as Workload);
      const without = parseAllDocuments(base.stdout).map((d) => d.toJS() as Workload);
      const names = (os: Workload[]) => os.map((o) => `${o.kind}/${o.metadata.name}`).sort();
      assert.deepEqual(
        names(objects),
        [
          ...names(without),
          'ClusterRole/mefi-mcs-source',
          'ClusterRole/mefi-mcs-target',
          'ClusterRoleBinding/mefi-mcs-source',
          'ClusterRoleBinding/mefi-mcs-target',
        ].sort(),
        variant,
      );
      const workloads = objects.filter((o) => o.kind === 'CronJob' || o.kind === 'Deployment');
      assert.deepEqual(
        workloads.map((o) => o.kind),
        [kind],
        variant,
      );
      assert.deepEqual(
        argsOf(workloads[0]!),
        [...argsOf(without.find((o) => o.kind === kind)!), '--mode=mcs'],
        `${variant}: the plain variant's command line and --mode=mcs`,
      );
    }
    const dry = await kubectl(['apply', '--dry-run=server', '-k', 'manifests/mcs-loop'], { cluster: 'alpha' });
    assert.equal(dry.code, 0, dry.stderr);
    assert.doesNotMatch(dry.stderr, /PodSecurity|would violate/i);
  });

  it('converges on an export of three clusters with the shipped identities (cron and watching loop), and a second run writes nothing', async () => {
    await exportFrom('alpha', '10.1', ['9.1']);
    await exportFrom('beta', '10.2', ['9.1', '9.2']);
    await exportFrom('gamma', '10.3', ['9.1']);
    const m = marks();
    const r = await mefi(['sync', '--mode', 'mcs', '-c', config]);
    assert.equal(r.code, 0, r.stdout + r.stderr);

    type Import = {
      metadata: { annotations?: Record<string, string> };
      spec: { type: string; ips?: string[] };
      status?: { clusters?: { cluster: string }[] };
    };
    const imp = await getJSON<Import>('alpha', ['-n', mcsNs, 'get', 'serviceimports.multicluster.x-k8s.io', 'web']);
    assert.equal(imp.spec.type, 'ClusterSetIP');
    assert.deepEqual(
      (imp.status?.clusters ?? []).map((c) => c.cluster).sort(),
      ['alpha', 'beta', 'gamma'],
      "the import's status: its status subresource written",
    );
    const derived = imp.metadata.annotations?.['multicluster.kubernetes.io/derived-service'];
    assert.ok(derived, 'the import names its derived Service');
    const service = await getJSON<{ spec: { clusterIPs: string[] } }>('alpha', [
      '-n',
      mcsNs,
      'get',
      'service',
      derived,
    ]);
    assert.deepEqual(imp.spec.ips, service.spec.clusterIPs, "the import's ips are its derived Service's");
    assert.deepEqual(await importedSlices(), {
      alpha: ['10.1.9.1'],
      beta: ['10.2.9.1', '10.2.9.2'],
      gamma: ['10.3.9.1'],
    });
    assert.deepEqual(
      await conditions('alpha'),
      { Valid: 'True', Ready: 'True', Conflict: 'False' },
      "alpha's own export has its status",
    );
    for (const c of ['beta', 'gamma'])
      assert.deepEqual(await conditions(c), {}, `${c}'s export: a remote's status is its own mefi's to write`);

    // Who did what: in alpha mefi wrote, only what MCS mode writes; the readers only listed; nobody was refused, and no get.
    const alphaCalls = auditSince('alpha', m.alpha!).filter(ours);
    assert.deepEqual([...new Set(alphaCalls.map((e) => e.user.username))], [mefiUser]);
    const subresource = (e: AuditEvent) => e.objectRef?.subresource;
    const written = new Set(
      alphaCalls
        .filter((e) => !readVerbs.includes(e.verb))
        .map((e) => `${e.verb} ${e.objectRef?.resource}${subresource(e) ? `/${subresource(e)}` : ''}`),
    );
    assert.deepEqual([...written].sort(), [
      'create endpointslices',
      'create serviceimports',
      'create services',
      'update serviceexports/status',
      'update serviceimports/status',
    ]);
    for (const c of ['beta', 'gamma']) {
      const calls = auditSince(c, m[c]!).filter(ours);
      assert.ok(calls.length > 0, c);
      assert.deepEqual(
        calls.filter((e) => e.user.username !== readerUser || e.verb !== 'list'),
        [],
        `${c}: mefi-reader lists, nothing else`,
      );
    }
    for (const c of clusterNames)
      assert.deepEqual(
        auditSince(c, m[c]!).filter((e) => ours(e) && (e.verb === 'get' || (e.responseStatus?.code ?? 0) >= 400)),
        [],
        `${c}: no get, nothing refused`,
      );

    const again = marks();
    const second = await mefi(['sync', '--mode', 'mcs', '-c', config]);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    for (const c of clusterNames)
      assert.deepEqual(
        auditSince(c, again[c]!).filter((e) => ours(e) && !readVerbs.includes(e.verb)),
        [],
        `${c}: a second run writes nothing`,
      );

    // The watching loop (manifests/mcs-loop's command line) with the same identities: it watches, and follows a change in a remote.
    const looped = marks();
    const loop = startLoop(['--mode', 'mcs', '-c', config, '--watch', '--resync=5m', '-v', 'debug']);
    try {
      await eventually("the loop's first run", async () => /run finished/.test(loop.log()), 30_000);
      await exportFrom('gamma', '10.3', ['9.1', '9.3']);
      await eventually(
        "gamma's new endpoint in alpha",
        async () => (await importedSlices()).gamma?.includes('10.3.9.3'),
        30_000,
      );
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
    }
    assert.doesNotMatch(loop.log(), /forbidden|cluster unreadable|write failed/i, loop.log());
    for (const c of clusterNames) {
      const calls = auditSince(c, looped[c]!).filter(ours);
      assert.ok(
        calls.some((e) => e.verb === 'watch'),
        `${c}: the loop watches`,
      );
      assert.deepEqual(
        calls.filter((e) => e.verb === 'get' || (e.responseStatus?.code ?? 0) >= 400),
        [],
        `${c}: the loop: no get, nothing refused`,
      );
      if (c !== 'alpha')
        assert.deepEqual(
          calls.filter((e) => e.user.username !== readerUser || !readVerbs.includes(e.verb)),
          [],
          `${c}: the loop reads it as mefi-reader, list and watch only`,
        );
    }
  });

  it("with the admission policy: the MCS roles reach every Service, EndpointSlice and ServiceImport, the policy only mefi's own; its token cannot create one without mefi's labels, nor take, change or delete a user's", async () => {
    const kc = mcsKubeconfig;
    await refused(kc, 'a Service without its label', ['create', '-f', '-'], {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `theirs-${id}`, namespace: mcsNs },
      spec: { ports: [{ port: 80 }] },
    });
    await refused(kc, 'a ServiceImport without its label', ['create', '-f', '-'], {
      apiVersion: 'multicluster.x-k8s.io/v1beta1',
      kind: 'ServiceImport',
      metadata: { name: `theirs-${id}`, namespace: mcsNs },
      spec: { type: 'ClusterSetIP', ports: [{ port: 80, protocol: 'TCP' }] },
    });
    // The user's exported Service and its slice, in alpha.
    for (const [kind, name] of [
      ['service', 'web'],
      ['endpointslice', 'web-1'],
    ] as const) {
      await notTaken(kc, mcsNs, kind, name);
    }
    // mefi's own derived Service keeps its label.
    const imp = await getJson<{ metadata: { annotations: Record<string, string> } }>('alpha', [
      '-n',
      mcsNs,
      'get',
      'serviceimports.multicluster.x-k8s.io',
      'web',
    ]);
    const derived = await getJson<{ metadata: { labels: Record<string, string> } }>('alpha', [
      '-n',
      mcsNs,
      'get',
      'service',
      imp.metadata.annotations['multicluster.kubernetes.io/derived-service']!,
    ]);
    delete derived.metadata.labels.isMefiLocal;
    await refused(kc, 'dropping the label of its derived Service', ['replace', '-f', '-'], derived);
  });

  it('the identities cannot do more than MCS mode needs: the reader writes nothing, mefi reads no Secrets, and neither gets', async () => {
    const self = clientFor(mcsKubeconfig);
    const api = '/apis/multicluster.x-k8s.io/v1beta1';
    const imp = (name: string) => ({
      apiVersion: 'multicluster.x-k8s.io/v1beta1',
      kind: 'ServiceImport',
      metadata: { name, namespace: mcsNs },
      spec: { type: 'ClusterSetIP', ports: [{ port: 80, protocol: 'TCP' }] },
    });
    const exp = {
      apiVersion: 'multicluster.x-k8s.io/v1beta1',
      kind: 'ServiceExport',
      metadata: { name: 'web', namespace: mcsNs },
    };
    assert.equal(await status(self, 'list', 'serviceimports', `${api}/serviceimports`), 200, 'sanity: cluster-wide');
    assert.equal(
      await status(self, 'get', 'serviceimports', `${api}/namespaces/${mcsNs}/serviceimports/web`),
      403,
      'list, not get',
    );
    assert.equal(
      await status(self, 'get', 'services', `/api/v1/namespaces/${mcsNs}/services/web`),
      403,
      'list, not get',
    );
    assert.equal(
      await status(self, 'create', 'serviceexports', `${api}/namespaces/${mcsNs}/serviceexports`, exp),
      403,
      "exports are the users'",
    );
    assert.equal(
      await status(self, 'update', 'serviceexports', `${api}/namespaces/${mcsNs}/serviceexports/web`, exp),
      403,
      'only their status',
    );
    assert.equal(await status(self, 'delete', 'serviceexports', `${api}/namespaces/${mcsNs}/serviceexports/web`), 403);
    assert.equal(await status(self, 'list', 'secrets', '/api/v1/secrets'), 403);
    assert.equal(await status(self, 'get', 'secrets', `/api/v1/namespaces/${ns}/secrets/mefi-reader-token`), 403);
    assert.equal(
      await status(self, 'create', 'configmaps', `/api/v1/namespaces/${mcsNs}/configmaps`, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'x' },
      }),
      403,
    );
    assert.equal(await status(self, 'delete', 'namespaces', `/api/v1/namespaces/${mcsNs}`), 403);
    // No patch anywhere (the API server's own answer for this identity).
    for (const resource of [
      'services',
      'endpointslices.discovery.k8s.io',
      'serviceimports.multicluster.x-k8s.io',
      'serviceexports.multicluster.x-k8s.io',
    ]) {
      const can = await kubectl(['--kubeconfig', mcsKubeconfig, 'auth', 'can-i', 'patch', resource, '-n', mcsNs]);
      assert.equal(can.stdout.trim(), 'no', `patch ${resource}`);
    }

    for (const c of ['beta', 'gamma']) {
      const reader = clientFor(readers[c]!);
      const exported = await getJSON<{ metadata: { resourceVersion: string } }>(c, [
        '-n',
        mcsNs,
        'get',
        'serviceexports.multicluster.x-k8s.io',
        'web',
      ]);
      assert.equal(await status(reader, 'list', 'serviceexports', `${api}/serviceexports`), 200, 'sanity: it can list');
      assert.equal(
        await status(reader, 'create', 'serviceimports', `${api}/namespaces/${mcsNs}/serviceimports`, imp('x')),
        403,
      );
      assert.equal(
        await status(reader, 'list', 'serviceimports', `${api}/serviceimports`),
        403,
        "imports are the target's business",
      );
      assert.equal(
        await status(reader, 'update', 'serviceexports', `${api}/namespaces/${mcsNs}/serviceexports/web/status`, {
          ...exp,
          metadata: { ...exp.metadata, resourceVersion: exported.metadata.resourceVersion },
          status: { conditions: [] },
        }),
        403,
        "the status is its own mefi's",
      );
      assert.equal(
        await status(reader, 'get', 'serviceexports', `${api}/namespaces/${mcsNs}/serviceexports/web`),
        403,
        'list only, not get',
      );
      assert.equal(
        await status(reader, 'create', 'services', `/api/v1/namespaces/${mcsNs}/services`, {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'x' },
          spec: { ports: [{ port: 80 }] },
        }),
        403,
      );
      assert.equal(
        await status(
          reader,
          'delete',
          'endpointslices',
          `/apis/discovery.k8s.io/v1/namespaces/${mcsNs}/endpointslices/web-1`,
        ),
        403,
      );
      assert.equal(await status(reader, 'list', 'namespaces', '/api/v1/namespaces'), 403);
      assert.equal(await status(reader, 'list', 'secrets', '/api/v1/secrets'), 403);
    }
  });
});
