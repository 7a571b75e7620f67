import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, formatIssue, loadConfig, parseConfig, selectTargets } from '../../lib/config/config.ts';
import { connect } from '../../lib/kube/connect.ts';
import { scratch } from '../support/world.ts';

// A real, self-signed certificate (public, no key kept): the loader parses what it is given.
const pem = `-----BEGIN CERTIFICATE-----
MIIBhTCCASugAwIBAgIUIXREG/KgyqBQApS81fAvCzCfMFIwCgYIKoZIzj0EAwIw
FzEVMBMGA1UEAwwMbWVmaS10ZXN0LWNhMCAXDTI2MTEyNDA0MzYzMVoYDzIxMjYx
MDMxMDQzNjMxWjAXMRUwEwYDVQQDDAxtZWZpLXRlc3QtY2EwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAASTsTz8GhSmJhvTrcNZMq8nwILQjHzP10iCbDQfmj6MPas7
Jfc3895NId52RjhP9odchkTEMfPtNjO2h7ZDhFbFo1MwUTAdBgNVHQ4EFgQUfPue
tXMrGhOF+SyyEsVN6JDDsa4wHwYDVR0jBBgwFoAUfPuetXMrGhOF+SyyEsVN6JDD
sa4wDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAFhkXAYmFQpesj
sH241MV6L2R3BX5nHZJVNrMuc+AvxQIhAMmjBSrkc8FWJZ1iubPMNUGy9OZzDDWj
VKDvqEx6EVQ1
-----END CERTIFICATE-----
`;
const ca = Buffer.from(pem).toString('base64');

/** The messages a config produces, as "line: field: message". */
function errors(yaml: string): string[] {
  try {
    parseConfig(yaml, 'mefi.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues.map(formatIssue);
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  it('loads the original mefi format unchanged', () => {
    const c = parseConfig(
      `clusters:\n  - name: k8s1\n    url: https://192.0.2.10:6443\n    token: abc\n    ca: ${ca}\n    type: local\n  - name: k8s2\n    url: https://192.0.2.20:6443\n    token: def\n    ca: ${ca}\n    type: remote\n`,
      'mefi.yaml',
    );
    assert.deepEqual(
      c.clusters.map((x) => [x.name, x.type, x.connection.kind]),
      [
        ['k8s1', 'local', 'url'],
        ['k8s2', 'remote', 'url'],
      ],
    );
    assert.equal((c.clusters[0]!.connection as { caData: string }).caData, pem);
    assert.deepEqual(selectTargets(c, undefined), ['k8s1']);
  });

  it("loads the original's first format too (server, CA; type defaults to remote)", () => {
    const c = parseConfig(
      `clusters:\n- CA: ${ca}\n  server: https://0.0.0.0:49933\n  token: t\n  name: mycluster2\n`,
      'mefi.yaml',
    );
    assert.equal(c.clusters[0]!.type, 'remote');
    assert.equal((c.clusters[0]!.connection as { url: string }).url, 'https://0.0.0.0:49933');
  });

  it('loads kubeconfig, inCluster, tokenFile and caFile, relative to the config file', () => {
    const dir = scratch('mefi-cfg-');
    writeFileSync(path.join(dir, 'token'), 'secret\n');
    writeFileSync(path.join(dir, 'ca.crt'), pem);
    writeFileSync(
      path.join(dir, 'kc'),
      'apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster: {server: "https://127.0.0.1:1"}\ncontexts:\n- name: a\n  context: {cluster: x}\n',
    );
    writeFileSync(
      path.join(dir, 'mefi.yaml'),
      `clusters:\n  - name: a\n    kubeconfig: kc\n    context: a\n    type: local\n  - name: b\n    inCluster: true\n  - name: c\n    url: https://c.example:6443\n    tokenFile: token\n    caFile: ca.crt\n    namespaces: [shop, api]\n`,
    );
    const c = loadConfig(path.join(dir, 'mefi.yaml'));
    assert.deepEqual(c.clusters[0]!.connection, {
      kind: 'kubeconfig',
      path: path.join(dir, 'kc'),
      context: 'a',
      insecureSkipTLSVerify: false,
    });
    assert.deepEqual(c.clusters[1]!.connection, { kind: 'inCluster' });
    assert.deepEqual(c.clusters[2]!.connection, {
      kind: 'url',
      url: 'https://c.example:6443',
      tokenFile: path.join(dir, 'token'),
      caFile: path.join(dir, 'ca.crt'),
      insecureSkipTLSVerify: false,
    });
    assert.deepEqual(c.clusters[2]!.namespaces, ['shop', 'api']);
  });

  it('says where malformed YAML is', () => {
    assert.deepEqual(errors('clusters:\n  - name: a\n   url: x\n'), [
      'mefi.yaml:3: invalid YAML: Sequence item without - indicator',
    ]);
    assert.match(errors('clusters: [\n')[0]!, /^mefi\.yaml:\d+: invalid YAML/);
    assert.match(
      errors('clusters:\n  - name: a\n    name: b\n')[0]!,
      /^mefi\.yaml:3: invalid YAML: Map keys must be unique/,
    );
  });

  it('names the file, line and field of every mistake, all at once', () => {
    const yaml = [
      'clusters:',
      '  - name: K8S_1', // 2
      '    url: http://x:6443', // 3
      '    token: t',
      '    type: target', // 5
      '    color: blue', // 6
      '  - name: b', // 7
      '  - name: c', // 8
      '    kubeconfig: /nonexistent/kc', // 9
      '    url: https://c:6443',
      '  - name: d', // 11
      '    url: https://d:6443',
      '    ca: not-base64!', // 13
      '    token: t',
      '    tokenFile: /nonexistent/token', // 15
      '  - name: e',
      '    inCluster: true',
      '    namespaces: [Shop]', // 18
      '  - name: e', // 19
      '    inCluster: true',
      '    insecureSkipTLSVerify: "yes"', // 21
    ].join('\n');
    assert.deepEqual(errors(yaml), [
      'mefi.yaml:6: clusters[0].color: unknown field; expected one of name, type, url, token, tokenFile, ca, caFile, insecureSkipTLSVerify, kubeconfig, context, inCluster, namespaces, podCIDRs, staleAfter',
      'mefi.yaml:2: clusters[0].name: "K8S_1" is not a DNS-1123 label (lower-case letters, digits and \'-\', at most 63 characters, starting and ending with a letter or digit)',
      'mefi.yaml:5: clusters[0].type: must be local or remote, got "target"',
      'mefi.yaml:3: clusters[0].url: must be an https:// URL, got "http://x:6443"',
      'mefi.yaml:7: clusters[1]: needs one way to connect: url (with token or tokenFile), kubeconfig, or inCluster: true',
      'mefi.yaml:8: clusters[2]: has url and kubeconfig: give only one way to connect',
      'mefi.yaml:15: clusters[3].tokenFile: give token or tokenFile, not both',
      'mefi.yaml:15: clusters[3].tokenFile: cannot read token file /nonexistent/token: ENOENT',
      "mefi.yaml:13: clusters[3].ca: must be a base64-encoded PEM certificate (as in a kubeconfig's certificate-authority-data): it is not base64",
      'mefi.yaml:18: clusters[4].namespaces[0]: "Shop" is not a valid namespace name',
      'mefi.yaml:21: clusters[5].insecureSkipTLSVerify: must be true or false, got "yes"',
      'mefi.yaml:19: clusters[5].name: duplicate cluster name e (first at clusters[4])',
    ]);
  });

  it('rejects a missing name, a url without a token, a missing kubeconfig, and stray fields per style', () => {
    assert.deepEqual(errors('clusters:\n  - url: https://a:6443\n    token: t\n'), [
      'mefi.yaml:2: clusters[0]: name is required',
    ]);
    assert.deepEqual(errors('clusters:\n  - name: a\n    url: https://a:6443\n'), [
      'mefi.yaml:2: clusters[0]: url needs token or tokenFile',
    ]);
    assert.deepEqual(errors('clusters:\n  - name: a\n    kubeconfig: /nope/kc\n    token: t\n'), [
      'mefi.yaml:4: clusters[0].token: does not go with kubeconfig (the kubeconfig carries the credentials)',
      'mefi.yaml:3: clusters[0].kubeconfig: cannot read kubeconfig /nope/kc: ENOENT',
    ]);
    assert.deepEqual(errors('clusters:\n  - name: a\n    inCluster: true\n    context: x\n'), [
      'mefi.yaml:4: clusters[0].context: does not go with inCluster',
      'mefi.yaml:4: clusters[0].context: needs kubeconfig',
    ]);
    assert.deepEqual(errors('clusters:\n  - name: a\n    inCluster: yes\n'), [
      'mefi.yaml:3: clusters[0].inCluster: must be true, got "yes"',
    ]);
    assert.deepEqual(errors('clusters:\n  - name: a\n    server: https://a\n    url: https://a\n    token: t\n'), [
      'mefi.yaml:4: clusters[0].url: given twice (as server and url)',
    ]);
  });

  it('rejects a config that is not a mapping with a clusters list', () => {
    assert.deepEqual(errors(''), ['mefi.yaml: must be a mapping with a clusters list']);
    assert.deepEqual(errors('- a\n'), ['mefi.yaml:1: must be a mapping with a clusters list']);
    assert.deepEqual(errors('clusters: []\n'), [
      'mefi.yaml:1: clusters: must be a non-empty list of clusters (or give clusterProfiles)',
    ]);
    assert.deepEqual(errors('clusters:\n  - just-a-string\nextra: 1\n'), [
      "mefi.yaml:3: extra: unknown field; expected clusters, clusterProfiles, staleAfter, or one of the original's flag keys (remote-filter, local-filter, original-filter, mefi-namespace, log-level, log-output, resync-interval, k8s-rest-config-qps, k8s-rest-config-burst)",
      'mefi.yaml:2: clusters[0]: must be a mapping with at least name and a way to connect',
    ]);
  });

  it('says when the file cannot be read', () => {
    assert.throws(() => loadConfig('/nonexistent/mefi.yaml'), {
      message: '/nonexistent/mefi.yaml: cannot read config: ENOENT',
    });
  });

  it('selects targets: --local names, all, or type: local', () => {
    const c = parseConfig(
      'clusters:\n  - name: a\n    inCluster: true\n  - name: b\n    inCluster: true\n    type: local\n',
      'f.yaml',
    );
    assert.deepEqual(selectTargets(c, undefined), ['b']);
    assert.deepEqual(selectTargets(c, ['all']), ['a', 'b']);
    assert.deepEqual(selectTargets(c, ['b', 'a', 'b']), ['a', 'b']);
    assert.throws(() => selectTargets(c, ['z']), {
      message: 'f.yaml: --local: names no configured cluster: z (configured: a, b)',
    });
    const none = parseConfig('clusters:\n  - name: a\n    inCluster: true\n', 'f.yaml');
    assert.throws(() => selectTargets(none, undefined), /no target: mark a cluster type: local, or pass --local NAME/);
  });

  it('fails before any API call on a kubeconfig without the named context', () => {
    const dir = scratch('mefi-kc-');
    const kc = path.join(dir, 'kc');
    writeFileSync(
      kc,
      'apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster: {server: "https://127.0.0.1:1"}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: one\n  context: {cluster: x, user: u}\ncurrent-context: one\n',
    );
    assert.deepEqual(errors(`clusters:\n  - name: a\n    kubeconfig: ${kc}\n    context: two\n`), [
      `mefi.yaml:4: clusters[0].context: context two is not in ${kc} (it has: one)`,
    ]);
    const ok = connect(parseConfig(`clusters:\n  - name: a\n    kubeconfig: ${kc}\n`, 'f.yaml'));
    assert.equal(ok.get('a')!.server, 'https://127.0.0.1:1');
  });

  it("honours a kubeconfig user's tokenFile (client-go's field), relative to the kubeconfig", () => {
    const dir = scratch('mefi-kc-');
    writeFileSync(path.join(dir, 'token'), 'abc\n');
    const kc = path.join(dir, 'kc');
    writeFileSync(
      kc,
      'apiVersion: v1\nkind: Config\nclusters:\n- name: x\n  cluster: {server: "https://127.0.0.1:1"}\nusers:\n- name: u\n  user: {tokenFile: token}\ncontexts:\n- name: one\n  context: {cluster: x, user: u}\ncurrent-context: one\n',
    );
    const c = connect(parseConfig(`clusters:\n  - name: a\n    kubeconfig: ${kc}\n`, 'f.yaml'));
    assert.equal(c.get('a')!.tokenFile, path.join(dir, 'token'));
  });

  it('validates podCIDRs', () => {
    const c = parseConfig(
      'clusters:\n  - name: a\n    inCluster: true\n    podCIDRs: [10.244.0.0/16, "fd00:10:244::/56"]\n',
      'f.yaml',
    );
    assert.deepEqual(c.clusters[0]!.podCIDRs, ['10.244.0.0/16', 'fd00:10:244::/56']);
    assert.deepEqual(errors('clusters:\n  - name: a\n    inCluster: true\n    podCIDRs: [10.244.0.0, 10.0.0.0/8]\n'), [
      'mefi.yaml:4: clusters[0].podCIDRs[0]: "10.244.0.0" is not a CIDR such as 10.244.0.0/16',
    ]);
    assert.deepEqual(errors('clusters:\n  - name: a\n    inCluster: true\n    podCIDRs: []\n'), [
      'mefi.yaml:4: clusters[0].podCIDRs: must be a non-empty list of CIDRs, such as [10.244.0.0/16, fd00:10:244::/56]',
    ]);
  });
});

describe('config: hostile and malformed input', () => {
  it('refuses a YAML alias bomb with a clear error, before expanding it', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
      ),
      'clusters: *i',
    ].join('\n');
    const got = errors(bomb);
    assert.equal(got.length, 1);
    assert.match(got[0]!, /^mefi\.yaml: invalid YAML: .*alias.*at most 100 times/i);
  });

  it('honours YAML merge keys', () => {
    const c = parseConfig(
      'clusters:\n  - &beta {name: beta, inCluster: true, namespaces: [shop]}\n  - <<: *beta\n    name: alpha\n    type: local\n',
      'mefi.yaml',
    );
    assert.deepEqual(
      c.clusters.map((x) => [x.name, x.type, x.namespaces]),
      [
        ['beta', 'remote', ['shop']],
        ['alpha', 'local', ['shop']],
      ],
    );
    assert.deepEqual(errors('clusters:\n  - <<: {colour: red}\n    name: a\n    inCluster: true\n'), [
      'mefi.yaml:2: clusters[0].colour: unknown field; expected one of name, type, url, token, tokenFile, ca, caFile, insecureSkipTLSVerify, kubeconfig, context, inCluster, namespaces, podCIDRs, staleAfter',
    ]);
  });

  it('names the line of a kubeconfig that is garbage, and never prints its bytes', () => {
    const dir = scratch('mefi-kc-');
    const kc = path.join(dir, 'kc');
    writeFileSync(kc, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x00, 0x3a, 0xff, 0xfe, 0x0a, 0x5b]));
    const got = errors(`clusters:\n  - name: a\n    kubeconfig: ${kc}\n`);
    assert.equal(got.length, 1);
    assert.match(got[0]!, new RegExp(`^mefi\\.yaml:3: clusters\\[0\\]\\.kubeconfig: ${kc} is not a kubeconfig`));
    assert.match(got[0]!, /^[\x20-\x7e]+$/, 'printable text only');
  });

  it('checks that ca and caFile hold certificates that parse, and that url is a URL', () => {
    const fake = Buffer.from(
      '-----BEGIN CERTIFICATE-----\nMIIBdzCCAR2gAwIBAgIBADAK\n-----END CERTIFICATE-----\n',
    ).toString('base64');
    assert.match(
      errors(`clusters:\n  - name: a\n    url: https://a:6443\n    token: t\n    ca: ${fake}\n`)[0]!,
      /^mefi\.yaml:5: clusters\[0\]\.ca: .*certificate that does not parse/,
    );
    assert.deepEqual(errors('clusters:\n  - name: a\n    url: https://1.2.3.4:6443 garbage\n    token: t\n'), [
      'mefi.yaml:3: clusters[0].url: must be an https:// URL, got "https://1.2.3.4:6443 garbage"',
    ]);
    assert.deepEqual(errors('clusters:\n  - name: a\n    url: https://1.2.3.4:6443/?x=1\n    token: t\n'), [
      'mefi.yaml:3: clusters[0].url: must be an https:// URL with a host and at most a path, got "https://1.2.3.4:6443/?x=1"',
    ]);
    const ok = parseConfig(
      'clusters:\n  - name: a\n    url: https://rancher.example/k8s/clusters/c-1\n    token: t\n',
      'mefi.yaml',
    );
    assert.equal(ok.clusters.length, 1, "a proxy's path prefix is fine");
  });
});
