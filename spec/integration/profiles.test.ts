// Clusters from a hub's ClusterProfiles (KEP-4322) with credentials from an
// access provider's exec plugin (KEP-5339), on the bed's API servers: alpha
// is the hub, alpha, beta and gamma its profiles, read with only the shipped
// hub Role (manifests/hub). Tokens come from a real plugin process,
// mefi-token-plugin, built on sigs.k8s.io/cluster-inventory-api's plugin frame;
// they are TokenRequest tokens, ended by the API server when their Secret goes.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { startControlPlanes, type ControlPlanes } from '../support/launch.ts';
import {
  accessProvider,
  deleteProfile,
  healthy,
  installCRD,
  providerFile,
  putProfile,
  reaper,
  tokenIdentity,
  tokenService,
  withoutInventory,
  type Spoke,
  type TokenService,
} from '../support/inventory.ts';
import { serviceAccount } from '../support/serviceaccount.ts';
import {
  auditMark,
  auditSince,
  eventually,
  getEndpoints,
  isolation,
  makeWorld,
  mefi,
  putEndpoints,
  repo,
  skip as noBed,
  startLoop,
  subset,
  uid,
  world as w,
  writesSince,
  type World,
  scratch,
} from '../support/world.ts';

const skip = noBed || withoutInventory();
const hub = 'alpha';

describe('clusters from a hub: ClusterProfiles and access providers', { skip }, () => {
  const id = uid('cp');
  const { namespace, sourceLabels, args } = isolation(id);
  const fleet = `fleet-${id}`;
  // The plugin's ServiceAccount and token Secrets in a namespace of their own: its writes are not mefi's.
  const plugin = { namespace: `tokens-${id}`, serviceAccount: `mefi-${id}` };
  const spokes: Spoke[] = ['alpha', 'beta', 'gamma'].map((c) => ({ name: c, world: w, cluster: c }));
  let tokens: TokenService;
  let providers: string;
  let work: string;
  let hubConfig: (extra?: string) => string;
  let delta: { planes: ControlPlanes; world: World } | undefined;
  /** The shipped hub RoleBinding, for the test's reader in the test's namespace. */
  let hubBinding: object;

  const status = (s: Spoke, lifetimeSeconds = 600) => ({
    conditions: healthy(),
    properties: [{ name: 'cluster.clusterset.k8s.io', value: `${s.name}-${id}` }],
    accessProviders: accessProvider(s, { ...plugin, lifetimeSeconds }),
  });

  before(async () => {
    work = scratch('mefi-profiles-');
    await installCRD(w, hub);
    await w.ensureNamespace(hub, fleet);
    await w.ensureNamespace('alpha', namespace);
    for (const s of spokes) await tokenIdentity(w, s.cluster, plugin.namespace, plugin.serviceAccount);
    // The hub's identity: mefi-reader with only the shipped hub Role, in this test's namespace.
    await w.ensureNamespace(hub, 'mefi-system');
    const [role, binding] = readFileSync(path.join(repo, 'manifests/hub/rbac-hub.yaml'), 'utf8')
      .split('\n---\n')
      .map((doc) => parse(doc) as { metadata: Record<string, unknown> });
    const reader = `reader-${id}`;
    hubBinding = {
      ...binding!,
      metadata: { ...binding!.metadata, namespace: fleet },
      subjects: [{ kind: 'ServiceAccount', name: reader, namespace: 'mefi-system' }],
    };
    await w.applyObjects(
      hub,
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: reader, namespace: 'mefi-system' } },
      { ...role!, metadata: { ...role!.metadata, namespace: fleet } },
      hubBinding,
    );
    const creds = await serviceAccount(w, hub, 'mefi-system', reader, work);
    tokens = tokenService(spokes);
    providers = providerFile(tokens);
    hubConfig = (extra = '') => {
      const file = path.join(work, `mefi-${uid('c')}.yaml`);
      writeFileSync(
        file,
        `clusterProfiles:\n  hub:\n    url: ${creds.server}\n    tokenFile: ${creds.tokenFile}\n    caFile: ${creds.caFile}\n  namespace: ${fleet}\n  providerFile: ${providers}\n${extra}`,
      );
      return file;
    };
    for (const s of spokes) await putProfile(w, hub, fleet, s.name, status(s));
  });

  /** A loop reading the hub, alpha its target, logging JSON lines. */
  const hubLoop = (...more: string[]) =>
    startLoop(['-c', hubConfig(), '--local', 'alpha', ...args, '--log-format', 'json', ...more]);

  after(async () => {
    await delta?.planes.stop();
    if (delta) rmSync(delta.planes.dir, { recursive: true, force: true });
  });

  it('a run from the hub alone plans exactly what the equivalent static config plans, and applies it', async () => {
    await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.1'])]);
    await putEndpoints('gamma', `app-${id}`, 'web', sourceLabels, [subset(['10.3.0.1', '10.3.0.2'])]);
    const fromHub = hubConfig();
    const fromFile = w.writeConfig().file;
    const plan = async (file: string) => {
      const r = await mefi(['diff', '-c', file, '--local', 'alpha', ...args, '-o', 'json']);
      assert.equal(r.code, 1, r.stderr); // drift: the mirrors are not there yet
      const report = JSON.parse(r.stdout) as { summary: object };
      const { summary: _, ...rest } = report;
      return JSON.stringify(rest);
    };
    assert.equal(await plan(fromHub), await plan(fromFile));

    const issuedBefore = tokens.issued().length;
    const r = await mefi(['sync', '-c', fromHub, '--local', 'alpha', ...args]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (await getEndpoints('alpha', namespace, 'web-gamma'))?.subsets?.[0]?.addresses?.map((a) => a.ip).sort(),
      ['10.3.0.1', '10.3.0.2'],
    );
    // One token per cluster and run, from the plugin (a run is a process: nothing kept between runs).
    assert.deepEqual(
      tokens
        .issued()
        .slice(issuedBefore)
        .map((t) => t.cluster)
        .sort(),
      ['alpha', 'beta', 'gamma'],
    );
    const mark = auditMark('alpha');
    const again = await mefi(['sync', '-c', fromHub, '--local', 'alpha', ...args]);
    assert.equal(again.code, 0, again.stderr);
    const writes = writesSince('alpha', mark, namespace);
    assert.equal(writes.length, 0, `a second run writes nothing: ${JSON.stringify(writes)}\n${again.stderr}`);
  });

  it("MCS mode: a ClusterProfile's cluster.clusterset.k8s.io is its cluster's id in the ServiceImport and the slices", async () => {
    const ns = `mcs-${id}`;
    for (const c of ['alpha', 'beta']) await w.ensureNamespace(c, ns);
    await w.applyObjects(
      'beta',
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'hello', namespace: ns },
        spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
      },
      {
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        metadata: { name: 'hello-1', namespace: ns, labels: { 'kubernetes.io/service-name': 'hello' } },
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.2.5.1'], conditions: { ready: true } }],
        ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
      },
      {
        apiVersion: 'multicluster.x-k8s.io/v1beta1',
        kind: 'ServiceExport',
        metadata: { name: 'hello', namespace: ns },
      },
    );
    const cfg = hubConfig(`  namespaces: [${ns}]\n`);
    const r = await mefi(['sync', '-c', cfg, '--local', 'alpha', '--mode', 'mcs']);
    assert.equal(r.code, 0, r.stderr);
    const imported = await w.getJson<{ status: { clusters: { cluster: string }[] } }>('alpha', [
      '-n',
      ns,
      'get',
      'serviceimports.multicluster.x-k8s.io',
      'hello',
    ]);
    assert.deepEqual(imported.status.clusters, [{ cluster: `beta-${id}` }]);
    const slices = await w.getJson<{ items: { metadata: { name: string; labels: Record<string, string> } }[] }>(
      'alpha',
      ['-n', ns, 'get', 'endpointslices', '-l', 'multicluster.kubernetes.io/source-cluster'],
    );
    assert.equal(slices.items.length, 2, "the import's set and the derived Service's");
    for (const sl of slices.items) {
      assert.equal(sl.metadata.labels['multicluster.kubernetes.io/source-cluster'], `beta-${id}`);
      assert.match(sl.metadata.name, /-beta-0$/, 'named by the cluster, labelled by its id');
    }
  });

  it("the module's own secretreader plugin: a token the cluster manager stored on the hub, read by the plugin", async () => {
    const beta = spokes.find((x) => x.name === 'beta')!;
    const stored = `sr-beta-${id}`;
    const token = await w.kubectl(
      ['-n', plugin.namespace, 'create', 'token', plugin.serviceAccount, '--duration=10m'],
      {
        cluster: 'beta',
      },
    );
    assert.equal(token.code, 0, token.stderr);
    await w.applyObjects(hub, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: stored, namespace: fleet },
      stringData: { token: token.stdout.trim() },
    });
    // The plugin finds the hub by KUBECONFIG, and the Secrets' namespace by its context.
    const kc = JSON.parse(readFileSync(w.kubeconfigOf(hub), 'utf8')) as {
      contexts: { context: Record<string, string> }[];
    };
    kc.contexts[0]!.context.namespace = fleet;
    const hubKc = path.join(work, 'secretreader-hub.kubeconfig');
    writeFileSync(hubKc, JSON.stringify(kc));
    const file = path.join(work, 'secretreader.yaml');
    const secretreader = {
      name: 'secretreader',
      execConfig: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: process.env.MEFI_SECRETREADER_PLUGIN,
        provideClusterInfo: true,
        env: [{ name: 'KUBECONFIG', value: hubKc }],
      },
    };
    writeFileSync(
      file,
      readFileSync(hubConfig(), 'utf8').replace(
        providers,
        providerFile(tokens, [secretreader], 'with-secretreader.json'),
      ),
    );
    const offers = accessProvider(beta, { ...plugin, lifetimeSeconds: 600 }, 'secretreader')!;
    (offers[0]!.cluster!.extensions![0]!.extension as Record<string, unknown>) = { clusterName: stored };
    await putProfile(w, hub, fleet, 'beta', { conditions: healthy(), accessProviders: offers });
    try {
      await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.42'])]);
      const mark = auditMark('beta');
      const r = await mefi(['sync', '-c', file, '--local', 'alpha', ...args]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await getEndpoints('alpha', namespace, 'web-beta'))?.subsets?.[0]?.addresses?.[0]?.ip, '10.2.0.42');
      const jti = (
        JSON.parse(Buffer.from(token.stdout.trim().split('.')[1]!, 'base64url').toString()) as { jti: string }
      ).jti;
      const used = auditSince('beta', mark).filter((e) => e.userAgent?.startsWith('mefi/'));
      assert.ok(used.length > 0);
      for (const e of used)
        assert.deepEqual(e.user.extra?.['authentication.kubernetes.io/credential-id'], [`JTI=${jti}`]);
    } finally {
      await putProfile(w, hub, fleet, 'beta', status(beta));
    }
  });

  it('a kubeconfig user with an exec plugin: the same plugin handling, the cluster and its exec extension handed over', async () => {
    const admin = JSON.parse(readFileSync(w.kubeconfigOf('beta'), 'utf8')) as {
      clusters: { name: string; cluster: Record<string, unknown> }[];
    };
    const kubeconfig = path.join(work, 'beta-exec.kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: 'beta',
            cluster: {
              ...admin.clusters[0]!.cluster,
              extensions: [
                {
                  name: 'client.authentication.k8s.io/exec',
                  extension: { clusterName: 'beta', ...plugin, lifetimeSeconds: 600 },
                },
              ],
            },
          },
        ],
        users: [
          {
            name: 'plugin',
            user: {
              exec: {
                apiVersion: 'client.authentication.k8s.io/v1',
                command: process.env.MEFI_TOKEN_PLUGIN,
                provideClusterInfo: true,
                interactiveMode: 'Never',
                env: [
                  { name: 'MEFI_TOKEN_PLUGIN_KUBECONFIGS', value: tokens.dir },
                  { name: 'MEFI_TOKEN_PLUGIN_LOG', value: tokens.log },
                ],
              },
            },
          },
        ],
        contexts: [{ name: 'beta', context: { cluster: 'beta', user: 'plugin' } }],
        'current-context': 'beta',
      }),
    );
    const cfg = path.join(work, 'exec-user.yaml');
    writeFileSync(
      cfg,
      `clusters:\n  - name: alpha\n    kubeconfig: ${w.kubeconfigOf('alpha')}\n    type: local\n  - name: beta\n    kubeconfig: ${kubeconfig}\n`,
    );
    await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.43'])]);
    const issued = tokens.issued().length;
    const mark = auditMark('beta');
    const r = await mefi(['sync', '-c', cfg, ...args]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await getEndpoints('alpha', namespace, 'web-beta'))?.subsets?.[0]?.addresses?.[0]?.ip, '10.2.0.43');
    const mine = tokens.issued().slice(issued);
    assert.deepEqual(
      mine.map((t) => t.cluster),
      ['beta'],
    );
    const used = auditSince('beta', mark).filter((e) => e.userAgent?.startsWith('mefi/'));
    assert.ok(used.length > 0);
    for (const e of used)
      assert.deepEqual(e.user.extra?.['authentication.kubernetes.io/credential-id'], [`JTI=${mine[0]!.jti}`]);
  });

  it('examples/hub: the hand-written ClusterProfile applies to the real CRD in its two steps, and mefi makes a cluster of it with the example provider file', async () => {
    const ca = JSON.parse(readFileSync(w.kubeconfigOf(hub), 'utf8')).clusters[0].cluster[
      'certificate-authority-data'
    ] as string;
    const example = readFileSync(path.join(repo, 'examples/hub/clusterprofile.yaml'), 'utf8')
      .replace('namespace: fleet', `namespace: ${fleet}`)
      .replace(/<base64 PEM[^>]*>/, ca);
    for (const step of [
      ['apply', '-f', '-'],
      ['apply', '--server-side', '--subresource=status', '-f', '-'],
    ]) {
      const r = await w.kubectl(step, { cluster: hub, input: example });
      assert.equal(r.code, 0, `kubectl ${step.join(' ')}: ${r.stderr}`);
    }
    try {
      const cfg = path.join(work, 'example-hub.yaml');
      writeFileSync(
        cfg,
        readFileSync(hubConfig(), 'utf8').replace(providers, path.join(repo, 'examples/hub/providers.json')),
      );
      const r = await mefi(['diff', '-c', cfg, '--local', 'alpha', ...args]);
      // Its plugin is a placeholder: delta is a cluster, unreadable, its error naming the profile and provider.
      assert.equal(r.code, 2, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `cluster=delta.*exec plugin /plugins/token-plugin of ClusterProfile ${fleet}/delta \\(provider token-service\\): not found`,
        ),
      );
    } finally {
      await deleteProfile(w, hub, fleet, 'delta');
    }
  });

  it('bad input: each a clear error or an unreadable cluster naming the profile, nothing deleted', async () => {
    await putEndpoints('beta', `app-${id}`, 'bad', sourceLabels, [subset(['10.2.1.1'])]);
    const base = hubConfig();
    assert.equal((await mefi(['sync', '-c', base, '--local', 'alpha', ...args])).code, 0);
    const scripts = mkdtempSync(path.join(work, 'plugins-'));
    const script = (name: string, body: string) => {
      const f = path.join(scripts, name);
      writeFileSync(f, `#!/bin/sh\n${body}\n`);
      chmodSync(f, 0o755);
      return f;
    };
    const broken = path.join(scripts, 'providers.json');
    writeFileSync(
      broken,
      JSON.stringify({
        providers: [
          {
            name: 'fails',
            execConfig: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: script('fails', 'echo "no credentials for you" >&2; exit 1'),
            },
          },
          {
            name: 'garbage',
            execConfig: { apiVersion: 'client.authentication.k8s.io/v1', command: script('garbage', 'echo garbage') },
          },
          ...JSON.parse(readFileSync(providers, 'utf8')).providers,
        ],
      }),
    );
    const s = (name: string) => spokes.find((x) => x.name === name)!;
    // beta's provider is a plugin that exits 1, gamma's prints garbage; a profile offers only a provider mefi lacks; one offers none.
    await putProfile(w, hub, fleet, 'beta', {
      conditions: healthy(),
      accessProviders: accessProvider(s('beta'), { ...plugin, lifetimeSeconds: 600 }, 'fails'),
    });
    await putProfile(w, hub, fleet, 'gamma', {
      conditions: healthy(),
      accessProviders: accessProvider(s('gamma'), { ...plugin, lifetimeSeconds: 600 }, 'garbage'),
    });
    await putProfile(w, hub, fleet, 'epsilon', {
      conditions: healthy(),
      accessProviders: accessProvider(s('beta'), { ...plugin, lifetimeSeconds: 600 }, 'elsewhere'),
    });
    await putProfile(w, hub, fleet, 'zeta', { conditions: healthy() });
    try {
      const mark = auditMark('alpha');
      const file = path.join(work, 'broken.yaml');
      writeFileSync(file, readFileSync(base, 'utf8').replace(providers, broken));
      const r = await mefi(['sync', '-c', file, '--local', 'alpha', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
      assert.match(
        r.stderr,
        new RegExp(`ClusterProfile ${fleet}/beta \\(provider fails\\): exited 1: no credentials for you`),
      );
      assert.match(
        r.stderr,
        new RegExp(`ClusterProfile ${fleet}/gamma \\(provider garbage\\): printed no ExecCredential`),
      );
      assert.match(r.stderr, new RegExp(`ClusterProfile ${fleet}/epsilon: it offers access providers elsewhere`));
      assert.match(r.stderr, new RegExp(`ClusterProfile ${fleet}/zeta: its status has no access providers`));
      assert.equal(
        writesSince('alpha', mark, namespace).filter((e) => e.verb === 'delete').length,
        0,
        'nothing deleted',
      );
      assert.ok(await getEndpoints('alpha', namespace, 'bad-beta'), "beta's mirror kept while beta is unreadable");

      // A provider file that is not one: exit 3, its file and line.
      writeFileSync(broken, '{"providers": [{"name": "x", "execConfig": {"apiVersion": "v2", "command": "x"}}]}');
      const bad = await mefi(['sync', '-c', file, '--local', 'alpha', ...args]);
      assert.equal(bad.code, 3, bad.stderr);
      assert.match(
        bad.stderr,
        new RegExp(
          `${broken}:1: providers\\[0\\]\\.execConfig\\.apiVersion: must be one of client\\.authentication\\.k8s\\.io/v1`,
        ),
      );

      // A hub that refuses the list (an identity without the hub Role): exit 2, one line, nothing read or written.
      const strangerName = `stranger-${id}`;
      await w.applyObjects(hub, {
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: strangerName, namespace: 'mefi-system' },
      });
      const stranger = await serviceAccount(w, hub, 'mefi-system', strangerName, work);
      const refused = path.join(work, 'refused.yaml');
      writeFileSync(refused, readFileSync(base, 'utf8').replace(/tokenFile: .*/, `tokenFile: ${stranger.tokenFile}`));
      const m2 = auditMark('alpha');
      const no = await mefi(['sync', '-c', refused, '--local', 'alpha', ...args]);
      assert.equal(no.code, 2, no.stderr);
      assert.equal(no.stderr.trim().split('\n').length, 1, no.stderr);
      assert.match(no.stderr, new RegExp(`^mefi: cluster hub: list clusterprofiles in namespace ${fleet}: Forbidden`));
      assert.equal(writesSince('alpha', m2, namespace).length, 0);
    } finally {
      for (const name of ['epsilon', 'zeta']) await deleteProfile(w, hub, fleet, name);
      for (const name of ['beta', 'gamma']) await putProfile(w, hub, fleet, name, status(s(name)));
    }
  });

  it('the watching loop follows the profiles: one created is mirrored without restart, unhealthy keeps its mirrors, deleted is kept until --prune', async () => {
    // delta: a fourth cluster, its own API server, not in any config.
    const dDir = mkdtempSync(path.join(tmpdir(), 'mefi-delta-'));
    const planes = await startControlPlanes(dDir, ['delta'], { controllers: false });
    const dw = makeWorld(dDir, ['delta']);
    delta = { planes, world: dw };
    const d: Spoke = { name: 'delta', world: dw, cluster: 'delta' };
    await tokenIdentity(dw, 'delta', plugin.namespace, plugin.serviceAccount);
    writeFileSync(path.join(tokens.dir, 'delta.kubeconfig'), readFileSync(dw.kubeconfigOf('delta')));
    await dw.putEndpoints('delta', `app-${id}`, 'web', sourceLabels, [subset(['10.4.0.1'])]);

    const port = 23000 + Math.floor(Math.random() * 20000);
    // A short resync: the hub is listed again every 3 s (a refused list shows within that).
    const loop = hubLoop('--watch', '--resync', '3s', '--metrics-addr', `127.0.0.1:${port}`);
    try {
      // The loop's first run done (a change of beta's propagated), before delta's profile is written.
      await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.7'])]);
      await eventually(
        'beta mirrored',
        async () =>
          (await getEndpoints('alpha', namespace, 'web-beta'))?.subsets?.[0]?.addresses?.[0]?.ip === '10.2.0.7',
      );
      const created = Date.now();
      await putProfile(w, hub, fleet, 'delta', status(d));
      const mirrored = await eventually(
        "delta's source mirrored",
        async () => (await getEndpoints('alpha', namespace, 'web-delta')) && Date.now(),
        30_000,
      );
      process.stderr.write(`# ClusterProfile created → first mirror written: ${mirrored - created} ms\n`);
      assert.match(loop.log(), /clusters from ClusterProfiles changed.*"added":"delta"/);

      // The cluster manager says delta's control plane is not healthy: unreadable, mirrors kept.
      await putProfile(w, hub, fleet, 'delta', { ...status(d), conditions: healthy('False') });
      await eventually('delta reported unreadable, naming its profile', async () =>
        new RegExp(
          `cluster unreadable.*"cluster":"delta".*ClusterProfile ${fleet}/delta: ControlPlaneHealthy is False`,
        ).test(loop.log()),
      );
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(await getEndpoints('alpha', namespace, 'web-delta'), 'kept while unreadable');

      await deleteProfile(w, hub, fleet, 'delta');
      await eventually('delta no longer a cluster', async () => /"removed":"delta"/.test(loop.log()));
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(
        await getEndpoints('alpha', namespace, 'web-delta'),
        'kept after the profile is deleted, until --prune',
      );
      assert.equal(loop.child.exitCode, null, 'the loop is still running');
      // The series MefiHubUnreadable reads (manifests/alerts), as a loop with a hub exports it.
      const metrics = async () => await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      assert.match(await metrics(), /^# TYPE mefi_hub_unreadable gauge$/m);
      assert.match(await metrics(), /^mefi_hub_unreadable 0$/m);
      // The hub refuses the list (its RoleBinding gone): reported at the next resync, the last profiles kept.
      assert.equal(
        (await w.kubectl(['-n', fleet, 'delete', 'rolebinding', 'mefi-clusterprofiles'], { cluster: hub })).code,
        0,
      );
      try {
        await eventually('the hub reported unreadable', async () => /^mefi_hub_unreadable 1$/m.test(await metrics()));
        assert.match(loop.log(), /hub unreadable: the last ClusterProfiles stand.*Forbidden/);
      } finally {
        await w.applyObjects(hub, hubBinding);
      }
      await eventually('the hub readable again', async () => /^mefi_hub_unreadable 0$/m.test(await metrics()));
      assert.match(loop.log(), /hub readable again/);
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
    }
    const pruned = await mefi(['sync', '-c', hubConfig(), '--local', 'alpha', ...args, '--prune']);
    assert.equal(pruned.code, 0, pruned.stderr);
    assert.equal(await getEndpoints('alpha', namespace, 'web-delta'), undefined, '--prune removes it');
  });

  it('tokens that expire every few seconds: a loop across several expiries propagates every change, never unreadable, every token from the plugin', async () => {
    const lifetime = 4;
    for (const s of spokes) await putProfile(w, hub, fleet, s.name, status(s, lifetime));
    const reapers = spokes.map((s) => reaper(w, s.cluster, plugin.namespace));
    const marks = Object.fromEntries(spokes.map((s) => [s.name, auditMark(s.cluster)]));
    const issuedBefore = tokens.issued().length;
    const loop = hubLoop('--interval', '1s');
    try {
      const started = Date.now();
      for (let i = 1; Date.now() - started < 3 * lifetime * 1000; i++) {
        const ip = `10.2.9.${i}`;
        await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset([ip])]);
        await eventually(
          `change ${i} propagated`,
          async () => (await getEndpoints('alpha', namespace, 'web-beta'))?.subsets?.[0]?.addresses?.[0]?.ip === ip,
        );
        await new Promise((r) => setTimeout(r, lifetime * 500));
      }
      // Renewed before each expiry: not one call was refused.
      for (const s of spokes) assert.deepEqual(refusedSince(s.cluster, marks[s.name]!), [], s.name);
      // A token revoked before its time (its Secret deleted): the next call is refused with 401, the plugin runs again, the call is made again.
      // Long-lived tokens again (the profiles changed: the loop takes them, its plugins run anew).
      const seen = tokens.issued().length;
      for (const s of spokes) await putProfile(w, hub, fleet, s.name, status(s));
      await eventually('a long-lived token for alpha', async () =>
        tokens
          .issued()
          .slice(seen)
          .some((t) => t.cluster === 'alpha' && Date.parse(t.expires) > Date.now() + 60_000),
      );
      const revoked = auditMark('alpha');
      await reapers[0]!.revokeAll();
      // The API server caches a token's authentication for 10 s: the refusal comes within that.
      await eventually('the revoked token refused', async () => refusedSince('alpha', revoked).length > 0, 20_000);
      await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.9.250'])]);
      await eventually(
        'the change after a revocation propagated',
        async () =>
          (await getEndpoints('alpha', namespace, 'web-beta'))?.subsets?.[0]?.addresses?.[0]?.ip === '10.2.9.250',
      );
      assert.doesNotMatch(loop.log(), /cluster unreadable|write failed|run failed/, loop.log());

      // The hub refuses the list (its RoleBinding gone): the last profiles stand, changes still propagate.
      assert.equal(
        (await w.kubectl(['-n', fleet, 'delete', 'rolebinding', 'mefi-clusterprofiles'], { cluster: hub })).code,
        0,
      );
      await eventually('the hub reported unreadable', async () =>
        /hub unreadable: the last ClusterProfiles stand.*Forbidden/.test(loop.log()),
      );
      await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.9.251'])]);
      await eventually(
        'a change propagated while the hub is unreadable',
        async () =>
          (await getEndpoints('alpha', namespace, 'web-beta'))?.subsets?.[0]?.addresses?.[0]?.ip === '10.2.9.251',
      );
      await w.applyObjects(hub, hubBinding);
      await eventually('the hub readable again', async () => /hub readable again/.test(loop.log()));
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
      for (const r of reapers) await r.stop();
      for (const s of spokes) await putProfile(w, hub, fleet, s.name, status(s));
    }
    // Every request mefi made with the plugin's identity carried a token the plugin issued (the audit log's credential id).
    const issued = tokens.issued().slice(issuedBefore);
    const jtis = new Set(issued.map((t) => `JTI=${t.jti}`));
    const user = `system:serviceaccount:${plugin.namespace}:${plugin.serviceAccount}`;
    for (const s of spokes) {
      const used = auditSince(s.cluster, marks[s.name]!).filter(
        (e) => e.user.username === user && e.userAgent?.startsWith('mefi/'),
      );
      assert.ok(used.length > 0, s.name);
      const ids = new Set(used.map((e) => e.user.extra?.['authentication.kubernetes.io/credential-id']?.[0]));
      for (const cid of ids) assert.ok(jtis.has(cid!), `${s.name}: ${cid} was issued by the plugin`);
      assert.ok(ids.size >= 3, `${s.name}: ${ids.size} tokens over three lifetimes`);
    }
    process.stderr.write(`# ${issued.length} tokens issued over ${3 * lifetime} s for 3 clusters\n`);
  });
});

/** mefi's calls the API server refused as unauthenticated (401). */
function refusedSince(cluster: string, mark: number): string[] {
  return auditSince(cluster, mark, { components: true })
    .filter((e) => e.userAgent?.startsWith('mefi/') && e.responseStatus?.code === 401)
    .map((e) => `${e.verb} ${e.requestURI}`);
}
