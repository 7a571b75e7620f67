import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, formatIssue, parseConfig, type ClusterConfig } from '../../lib/config/config.ts';
import { clustersOfProfiles, type ClusterProfileObject, type ProfilesConfig } from '../../lib/config/profiles.ts';
import { ExecCredentials, parseExecCredential } from '../../lib/kube/exec.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'mefi-profiles-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function errors(yaml: string, file = path.join(dir, 'mefi.yaml')): string[] {
  try {
    parseConfig(yaml, file);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map(formatIssue);
  }
  assert.fail('expected a ConfigError');
}

const hub = `  hub:\n    url: https://hub.example:6443\n    token: t\n`;
const inline = `  providers:\n    - name: tokens\n      execConfig:\n        apiVersion: client.authentication.k8s.io/v1\n        command: ./plugin\n        provideClusterInfo: true\n`;

describe('clusterProfiles in mefi.yaml', () => {
  it('needs no static clusters, and reads its providers inline or from a provider file (JSON, KEP-5339)', () => {
    const c = parseConfig(`clusterProfiles:\n${hub}  namespace: fleet\n  selector: env=prod\n${inline}`, 'mefi.yaml');
    assert.deepEqual(c.clusters, []);
    assert.equal(c.profiles?.namespace, 'fleet');
    assert.equal(c.profiles?.selector, 'env=prod');
    assert.equal(c.profiles?.hub.connection.kind, 'url');
    assert.deepEqual(c.profiles?.providers, [
      {
        name: 'tokens',
        execConfig: { apiVersion: 'client.authentication.k8s.io/v1', command: './plugin', provideClusterInfo: true },
      },
    ]);

    const sub = mkdtempSync(path.join(dir, 'p-'));
    const file = path.join(sub, 'providers.json');
    writeFileSync(
      file,
      JSON.stringify({
        providers: [
          { name: 'secretreader', execConfig: { apiVersion: 'client.authentication.k8s.io/v1', command: 'x' } },
        ],
      }),
    );
    const f = parseConfig(`clusterProfiles:\n${hub}  namespace: fleet\n  providerFile: ${file}\n`, 'mefi.yaml');
    assert.equal(f.profiles?.providers[0]?.name, 'secretreader');
    assert.equal(f.profiles?.baseDir, sub, 'relative plugin commands resolve from the provider file');
    assert.equal(f.profiles?.providerFile, file);
  });

  it('says what is wrong with the block, each with its line and field', () => {
    assert.deepEqual(
      errors(`clusterProfiles:\n  hub:\n    type: local\n    url: https://h:1\n    token: t\n${inline}`),
      [
        `${path.join(dir, 'mefi.yaml')}:3: clusterProfiles.hub.type: does not go with hub: the hub is where ClusterProfiles are read, not a cluster mefi syncs`,
        `${path.join(dir, 'mefi.yaml')}:2: clusterProfiles: namespace is required: where the ClusterProfiles are`,
      ],
    );
    const both = errors(`clusterProfiles:\n${hub}  namespace: fleet\n  providerFile: p.json\n${inline}`);
    assert.match(
      both.join('\n'),
      /clusterProfiles: give providerFile \(an access provider file, KEP-5339\) or providers, one of them/,
    );
    const bad = errors(
      `clusterProfiles:\n${hub}  namespace: Fleet\n  selector: "a in ("\n  providers:\n    - name: x\n      execConfig:\n        apiVersion: v2\n        command: p\n        interactiveMode: Always\n`,
    );
    assert.match(bad.join('\n'), /:5: clusterProfiles\.namespace: "Fleet" is not a valid namespace name/);
    assert.match(bad.join('\n'), /:6: clusterProfiles\.selector: "a in \(" /);
    assert.match(
      bad.join('\n'),
      /:10: clusterProfiles\.providers\[0\]\.execConfig\.apiVersion: must be one of client\.authentication\.k8s\.io\/v1, client\.authentication\.k8s\.io\/v1beta1, got "v2"/,
    );
    assert.match(
      bad.join('\n'),
      /:12: clusterProfiles\.providers\[0\]\.execConfig\.interactiveMode: Always needs a terminal/,
    );
  });

  it("names the provider file's own line for its errors, and its path when it cannot be read", () => {
    const file = path.join(dir, 'broken-providers.json');
    writeFileSync(
      file,
      '{\n  "providers": [\n    {"name": "a", "execConfig": {"apiVersion": "client.authentication.k8s.io/v1"}},\n    {"name": "a", "execConfig": {"apiVersion": "client.authentication.k8s.io/v1", "command": "b", "env": [{"name": "X"}]}}\n  ]\n}\n',
    );
    assert.deepEqual(errors(`clusterProfiles:\n${hub}  namespace: fleet\n  providerFile: ${file}\n`), [
      `${file}:3: providers[0].execConfig: command is required`,
      `${file}:4: providers[1].name: a is listed twice`,
      `${file}:4: providers[1].execConfig.env: must be a list of {name, value} strings`,
    ]);
    writeFileSync(file, '{"providers": [');
    assert.match(
      errors(`clusterProfiles:\n${hub}  namespace: fleet\n  providerFile: ${file}\n`)[0]!,
      new RegExp(`^${file}:1: not JSON`),
    );
    assert.match(
      errors(`clusterProfiles:\n${hub}  namespace: fleet\n  providerFile: nowhere.json\n`)[0]!,
      /:6: clusterProfiles\.providerFile: cannot read access provider file .*nowhere\.json: ENOENT/,
    );
  });
});

const pc: ProfilesConfig = {
  hub: { name: 'hub', type: 'remote', connection: { kind: 'inCluster' } },
  namespace: 'fleet',
  providers: [
    { name: 'first', execConfig: { apiVersion: 'client.authentication.k8s.io/v1', command: 'one', args: ['-v'] } },
    {
      name: 'second',
      execConfig: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: 'two',
        env: [{ name: 'A', value: 'mine' }],
      },
      profileSourcedCLIArgsPolicy: 'Append',
      profileSourcedEnvVarsPolicy: 'AppendIfNotExists',
    },
  ],
  baseDir: '/etc/mefi',
};
const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');

function profile(name: string, status: ClusterProfileObject['status']): ClusterProfileObject {
  return { metadata: { name, namespace: 'fleet' }, ...(status ? { status } : {}) };
}
const offers = (...names: string[]) =>
  names.map((name) => ({
    name,
    cluster: {
      server: `https://${name}.example:6443/`,
      'certificate-authority-data': ca,
      extensions: [
        { name: 'client.authentication.k8s.io/exec', extension: { clusterName: 'x' } },
        { name: 'clusterprofiles.multicluster.x-k8s.io/exec/additional-args', extension: ['--extra'] },
        { name: 'clusterprofiles.multicluster.x-k8s.io/exec/additional-envs', extension: { A: 'theirs', B: 'b' } },
      ],
    },
  }));
const conn = (c: ClusterConfig | undefined) => c?.connection as Extract<ClusterConfig['connection'], { kind: 'exec' }>;

describe('clusters from ClusterProfiles (pure)', () => {
  it("a profile is a cluster reached through the first of mefi's providers it offers, with its server, CA and plugin config", () => {
    const { clusters, unusable } = clustersOfProfiles(
      [profile('alpha', { accessProviders: offers('second', 'first') })],
      pc,
      new Set(),
      {
        staleAfterMs: 60_000,
      },
    );
    assert.deepEqual(unusable, []);
    const c = conn(clusters[0]);
    assert.equal(clusters[0]?.name, 'alpha');
    assert.equal(clusters[0]?.staleAfterMs, 60_000);
    assert.equal(c.kind, 'exec');
    assert.equal(c.server, 'https://first.example:6443', 'the first provider of the file wins, as pkg/access');
    assert.match(c.caData!, /BEGIN CERTIFICATE/);
    assert.deepEqual(c.pluginConfig, { clusterName: 'x' });
    assert.deepEqual(c.exec.args, ['-v'], "first's policy ignores the profile's args");
    assert.equal(c.owner, 'ClusterProfile fleet/alpha (provider first)');
    assert.equal(c.baseDir, '/etc/mefi');
  });

  it("applies the profile's additional args and envs only as the provider's policies allow", () => {
    const { clusters } = clustersOfProfiles([profile('beta', { accessProviders: offers('second') })], pc, new Set());
    const c = conn(clusters[0]);
    assert.deepEqual(c.exec.args, ['--extra']);
    assert.deepEqual(c.exec.env, [
      { name: 'A', value: 'mine' },
      { name: 'B', value: 'b' },
    ]);
    const replace = { ...pc, providers: [{ ...pc.providers[1]!, profileSourcedEnvVarsPolicy: 'Replace' as const }] };
    assert.deepEqual(
      conn(clustersOfProfiles([profile('beta', { accessProviders: offers('second') })], replace, new Set()).clusters[0])
        .exec.env,
      [
        { name: 'A', value: 'theirs' },
        { name: 'B', value: 'b' },
      ],
    );
    assert.deepEqual(
      pc.providers[1]!.execConfig.env,
      [{ name: 'A', value: 'mine' }],
      "the provider's own config is not changed",
    );
  });

  it("an unhealthy profile, one without access providers, or offering none of mefi's is an unreadable cluster saying why", () => {
    const { clusters, unusable } = clustersOfProfiles(
      [
        profile('sick', {
          accessProviders: offers('first'),
          conditions: [{ type: 'ControlPlaneHealthy', status: 'False', reason: 'Lost', message: 'no agent' }],
        }),
        profile('bare', {}),
        profile('other', { accessProviders: offers('elsewhere') }),
        profile('unknown', {
          accessProviders: offers('first'),
          conditions: [{ type: 'ControlPlaneHealthy', status: 'Unknown' }],
        }),
      ],
      pc,
      new Set(),
    );
    const reason = (n: string) => {
      const c = clusters.find((x) => x.name === n)!.connection;
      return c.kind === 'unavailable' ? c.reason : c.kind;
    };
    assert.equal(reason('sick'), 'ClusterProfile fleet/sick: ControlPlaneHealthy is False (Lost: no agent)');
    assert.equal(reason('bare'), 'ClusterProfile fleet/bare: its status has no access providers');
    assert.equal(
      reason('other'),
      'ClusterProfile fleet/other: it offers access providers elsewhere; mefi is given first, second',
    );
    assert.equal(reason('unknown'), 'exec', 'Unknown is not False: the cluster is tried');
    assert.equal(unusable.length, 3);
  });

  it("takes KEP-2149's cluster.clusterset.k8s.io as the cluster's MCS id; refuses a profile of another ClusterSet, or an id taken or not a label value", () => {
    const props = (id: string | undefined, set: string | undefined) => [
      ...(id !== undefined ? [{ name: 'cluster.clusterset.k8s.io', value: id }] : []),
      ...(set !== undefined ? [{ name: 'clusterset.k8s.io', value: set }] : []),
    ];
    const profiles = [
      profile('a', { accessProviders: offers('first'), properties: props('a.fleet', 'prod') }),
      profile('b', { accessProviders: offers('first'), properties: props('b', 'prod') }),
      profile('c', { accessProviders: offers('first'), properties: props('c.fleet', 'staging') }),
      profile('d', { accessProviders: offers('first'), properties: props('a.fleet', 'prod') }),
      profile('e', { accessProviders: offers('first'), properties: props('x'.repeat(64), undefined) }),
      profile('f', {
        conditions: [{ type: 'ControlPlaneHealthy', status: 'False' }],
        properties: props('f.fleet', 'prod'),
      }),
    ];
    const r = clustersOfProfiles(profiles, pc, new Set());
    const byName = new Map(r.clusters.map((c) => [c.name, c]));
    assert.equal(byName.get('a')?.clusterId, 'a.fleet');
    assert.equal(byName.get('b')?.clusterId, undefined, 'an id equal to the name is the name');
    assert.equal(byName.get('f')?.clusterId, 'f.fleet', 'an unreadable cluster keeps its id: its slices stay found');
    const why = new Map(r.unusable.map((u) => [u.profile, u.why]));
    assert.equal(
      why.get('ClusterProfile fleet/c'),
      'it is in ClusterSet staging (its clusterset.k8s.io property), not prod, which most profiles name: not one ClusterSet',
    );
    assert.equal(
      why.get('ClusterProfile fleet/d'),
      "its cluster.clusterset.k8s.io a.fleet is ClusterProfile fleet/a's too",
    );
    assert.match(why.get('ClusterProfile fleet/e')!, /cannot be a label value/);
    // The ClusterSet the config names wins over the majority.
    const staging = clustersOfProfiles(profiles, { ...pc, clusterSet: 'staging' }, new Set());
    assert.match(
      staging.unusable.find((u) => u.profile === 'ClusterProfile fleet/a')!.why,
      /not staging \(clusterProfiles\.clusterSet\)/,
    );
    assert.equal(staging.clusters.find((c) => c.name === 'c')?.connection.kind, 'exec');
  });

  it('a static cluster of the same name wins; a name that is not a DNS label makes no cluster', () => {
    const r = clustersOfProfiles(
      [
        profile('alpha', { accessProviders: offers('first') }),
        profile('b.example', { accessProviders: offers('first') }),
      ],
      pc,
      new Set(['alpha']),
    );
    assert.deepEqual(r.clusters, []);
    assert.deepEqual(r.shadowed, ['alpha']);
    assert.deepEqual(r.unusable, [
      {
        profile: 'ClusterProfile fleet/b.example',
        why: 'its name is not a DNS-1123 label, which mefi needs of a cluster name',
      },
    ]);
  });
});

describe('exec credential plugins', () => {
  const v1 = 'client.authentication.k8s.io/v1';
  it('takes a token or a client certificate, with an RFC 3339 expiry, of the version asked for', () => {
    const out = (status: object, apiVersion = v1) => JSON.stringify({ apiVersion, kind: 'ExecCredential', status });
    assert.deepEqual(parseExecCredential(out({ token: 't', expirationTimestamp: '2026-12-07T10:00:00Z' }), v1, 'p'), {
      token: 't',
      expiresAt: Date.parse('2026-12-07T10:00:00Z'),
    });
    assert.deepEqual(parseExecCredential(out({ clientCertificateData: 'c', clientKeyData: 'k' }), v1, 'p'), {
      cert: 'c',
      key: 'k',
    });
    assert.throws(
      () => parseExecCredential('garbage', v1, 'p'),
      /^Error: p: printed no ExecCredential \(not JSON: "garbage"\)$/,
    );
    assert.throws(
      () => parseExecCredential(out({ token: 't' }, 'client.authentication.k8s.io/v1beta1'), v1, 'p'),
      /answered in client\.authentication\.k8s\.io\/v1beta1, asked for client\.authentication\.k8s\.io\/v1/,
    );
    assert.throws(() => parseExecCredential(out({}), v1, 'p'), /neither status\.token nor/);
    assert.throws(
      () => parseExecCredential(out({ clientKeyData: 'k', token: 't' }), v1, 'p'),
      /only one of clientCertificateData and clientKeyData/,
    );
    assert.throws(
      () => parseExecCredential(out({ token: 't', expirationTimestamp: 'soon' }), v1, 'p'),
      /"soon" is not an RFC 3339 time/,
    );
  });

  /** A real plugin process: counts its runs in a file, answers a token that expires in `life` seconds. */
  function plugin(life: number | undefined, extra = ''): { dir: string; runs: () => number } {
    const d = mkdtempSync(path.join(dir, 'plugin-'));
    const lines = [
      '#!/bin/sh',
      `echo x >> "${d}/runs"`,
      `printf '%s' "$KUBERNETES_EXEC_INFO" > "${d}/info"`,
      extra,
      `n=$(wc -l < "${d}/runs")`,
      life === undefined
        ? 'exp='
        : `exp=",\\"expirationTimestamp\\":\\"$(date -u -d '+${life} seconds' +%Y-%m-%dT%H:%M:%SZ)\\""`,
      `printf '{"apiVersion":"${v1}","kind":"ExecCredential","status":{"token":"t%s"%s}}\\n' "$n" "$exp"`,
    ];
    writeFileSync(path.join(d, 'plugin'), lines.join('\n') + '\n');
    chmodSync(path.join(d, 'plugin'), 0o755);
    return { dir: d, runs: () => readFileSync(path.join(d, 'runs'), 'utf8').split('\n').filter(Boolean).length };
  }

  it('runs the plugin once for concurrent callers, keeps the credential, and hands the cluster over when asked', async () => {
    const p = plugin(undefined);
    const creds = new ExecCredentials(
      { apiVersion: v1, command: './plugin', provideClusterInfo: true, env: [{ name: 'X', value: '1' }] },
      { server: 'https://a:6443', config: { clusterName: 'a' } },
      'ClusterProfile fleet/a (provider p)',
      p.dir,
    );
    const [a, b] = await Promise.all([creds.get(), creds.get()]);
    assert.equal(a, b);
    assert.equal(a.token, 't1');
    assert.equal((await creds.get()).token, 't1');
    assert.equal(p.runs(), 1);
    assert.deepEqual(JSON.parse(readFileSync(path.join(p.dir, 'info'), 'utf8')), {
      apiVersion: v1,
      kind: 'ExecCredential',
      spec: { interactive: false, cluster: { server: 'https://a:6443', config: { clusterName: 'a' } } },
    });
    // Refused (401): the next call runs the plugin again; a second refusal of the old credential does not run it twice.
    creds.refused(a);
    const c = await creds.get();
    creds.refused(a);
    assert.equal((await creds.get()).token, 't2');
    assert.equal(c.token, 't2');
    assert.equal(p.runs(), 2);
  });

  it('renews a credential before its expirationTimestamp passes', async () => {
    const p = plugin(3);
    const creds = new ExecCredentials(
      { apiVersion: v1, command: path.join(p.dir, 'plugin') },
      { server: 'https://a' },
      'o',
      '/',
    );
    const first = await creds.get();
    assert.equal((await creds.get()).token, first.token, 'fresh: kept');
    // Life ~3 s (the plugin's clock has whole seconds): renewed at least 0.2 s before it ends.
    assert.notEqual((await creds.get(first.expiresAt! - 100)).token, first.token);
    assert.equal(p.runs(), 2);
  });

  it('says which plugin of which profile failed, and how', async () => {
    const fails = plugin(undefined, 'echo "denied by policy" >&2; exit 7');
    const e = new ExecCredentials(
      { apiVersion: v1, command: path.join(fails.dir, 'plugin') },
      { server: 'https://a' },
      'ClusterProfile fleet/a (provider p)',
      '/',
    );
    await assert.rejects(e.get(), {
      message: `exec plugin ${path.join(fails.dir, 'plugin')} of ClusterProfile fleet/a (provider p): exited 7: denied by policy`,
    });
    const missing = new ExecCredentials(
      { apiVersion: v1, command: 'no-such-plugin-here', installHint: 'apt install it\nmore' },
      { server: 'https://a' },
      'o',
      '/',
    );
    await assert.rejects(missing.get(), {
      message: 'exec plugin no-such-plugin-here of o: not found (apt install it)',
    });
  });
});
