// The CLI's contract with scripts: exit 3 before any API call on bad input,
// and MEFI_* variables as flags.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, formatIssue, loadConfig } from '../../lib/config/config.ts';
import { KubeClient } from '../../lib/kube/client.ts';
import { connect } from '../../lib/kube/connect.ts';
import { readWorld } from '../../lib/world/read.ts';
import {
  auditSince,
  clusterNames,
  eventually,
  getEndpoints,
  repo,
  ensureNamespace,
  isolation,
  marks,
  mefi,
  putEndpoints,
  skip,
  subset,
  uid,
  writeConfig,
} from '../support/world.ts';

describe('mefi command line', { skip }, () => {
  it('exits 3 on a bad config, a bad flag or an unknown target, with nothing read', async () => {
    const cfg = writeConfig();
    const bad = path.join(cfg.dir, 'bad.yaml');
    writeFileSync(bad, 'clusters:\n  - name: Alpha\n    inCluster: true\n');
    const m = marks();
    const cases: [string[], RegExp][] = [
      [['sync', '-c', bad], /bad\.yaml:2: clusters\[0\]\.name: "Alpha" is not a DNS-1123 label/],
      [['sync', '-c', cfg.file, '--remote-filter', 'a b'], /--remote-filter: "a b" found .b., expected: in, notin/],
      [
        ['diff', '-c', cfg.file, '--local', 'delta'],
        /--local: names no configured cluster: delta \(configured: alpha, beta, gamma\)/,
      ],
      [['sync', '-c', path.join(cfg.dir, 'missing.yaml')], /missing\.yaml: cannot read config: ENOENT/],
      [['sync', '-c', cfg.file, '--output', 'xml'], /Invalid values:[\s\S]*output/],
      [['frobnicate', '-c', cfg.file], /Unknown argument: frobnicate/],
      [['sync', '-c', cfg.file, '--metrics-addr', ':9090'], /--metrics-addr goes with --interval/],
      [['sync', '-c', cfg.file, '--interval', '10s', '--dry-run'], /--interval does not go with --dry-run/],
      [['sync', '-c', cfg.file, '--interval', 'often'], /--interval: "often" is not a duration/],
      [
        ['sync', '-c', cfg.file, '--interval', '1s', '--metrics-addr', '9090'],
        /--metrics-addr: "9090" is not \[host\]:port/,
      ],
      [
        ['sync', '-c', cfg.file, '--log-output', 'stdout', '-o', 'json'],
        /--log-output stdout does not go with --output json/,
      ],
      [
        ['sync', '-c', cfg.file, '--probe', '--local', 'all'],
        /--probe: probes judge reachability from where mefi runs, which is one cluster's pod network; this run has 3 targets \(alpha, beta, gamma\): name one with --local/,
      ],
      [
        ['sync', '-c', cfg.file, '--probe', '--probe-timeout', '0s'],
        /--probe-timeout: "0s" is not a duration from 10ms to 1m/,
      ],
      [['sync', '-c', cfg.file, '--leader-elect'], /--leader-elect goes with --watch or --interval/],
      [
        ['sync', '-c', cfg.file, '--watch', '--leader-elect', '--leader-elect-renew-deadline', '20s'],
        /--leader-elect-retry-period < --leader-elect-renew-deadline < --leader-elect-lease-duration must hold/,
      ],
      [
        ['sync', '-c', cfg.file, '--watch', '--leader-elect', '--leader-elect-lease-duration', 'soon'],
        /--leader-elect-lease-duration: "soon" is not a duration of at least 1s/,
      ],
      [
        ['sync', '-c', cfg.file, '--watch', '--leader-elect', '--leader-elect-lease-name', 'Mefi'],
        /--leader-elect-lease-name: "Mefi" is not a valid object name/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = await mefi(args);
      assert.equal(r.code, 3, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
    // Variables are named as variables, and sync's own options read theirs too.
    const envCases: [Record<string, string>, string[], RegExp][] = [
      [
        { MEFI_CONCURRENCY: 'many' },
        ['sync', '-c', cfg.file],
        /^mefi: invalid configuration: command line: MEFI_CONCURRENCY: must be a whole number/,
      ],
      [{ MEFI_OUTPUT: 'xml' }, ['diff', '-c', cfg.file], /^mefi: MEFI_OUTPUT: "xml" is not one of table, json, yaml/],
      [{ MEFI_INTERVAL: 'often' }, ['sync', '-c', cfg.file], /^mefi: MEFI_INTERVAL: "often" is not a duration/],
      [{ MEFI_DRY_RUN: 'maybe' }, ['sync', '-c', cfg.file], /^mefi: MEFI_DRY_RUN: "maybe" is not true or false/],
      [
        { MEFI_INTERVAL: '10s', MEFI_DRY_RUN: 'true' },
        ['sync', '-c', cfg.file],
        /^mefi: MEFI_INTERVAL does not go with MEFI_DRY_RUN/,
      ],
      [
        { MEFI_CONCURRENCY: 'many' },
        ['sync', '-c', cfg.file, '--concurrency', '0'],
        /command line: --concurrency: must be a whole number/,
      ],
    ];
    for (const [env, args, message] of envCases) {
      const r = await mefi(args, env);
      assert.equal(r.code, 3, `${JSON.stringify(env)}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
    for (const c of clusterNames) assert.deepEqual(auditSince(c, m[c]!), [], `no request reached ${c}`);
  });

  it("a selector the API server refuses (400) is a usage error, in the server's words, not an unreadable cluster", async () => {
    // Past the CLI's own check (it would refuse this first): straight to the read, as a selector mefi misjudged would go.
    const cfg = writeConfig();
    const config = loadConfig(cfg.file);
    const clients = new Map([...connect(config)].map(([n, c]) => [n, new KubeClient(c, { requestTimeoutMs: 10_000 })]));
    await assert.rejects(
      readWorld(config.clusters, clients, {
        remoteFilter: 'a b',
        namespace: 'mefi-system',
        targets: ['alpha'],
        concurrency: 4,
        pageSize: 500,
      }),
      (err: unknown) =>
        err instanceof ConfigError &&
        /--remote-filter: "a b": cluster \w+ refuses it: .*400|BadRequest/.test(formatIssue(err.issues[0]!)),
    );
  });

  it("the original's invocation works: no command, -o stdout, -i, -v trace, flag keys in its config file; it watches until SIGTERM", async () => {
    const id = uid();
    const { namespace, sourceLabels } = isolation(id);
    await ensureNamespace('alpha', namespace);
    await putEndpoints('gamma', `app-${id}`, 'web', sourceLabels, [subset(['10.3.0.1'])]);
    const cfg = writeConfig();
    // As the original's config could: its flag keys beside the clusters.
    writeFileSync(
      cfg.file,
      `${readFileSync(cfg.file, 'utf8')}remote-filter: mefi-test=${id}\nmefi-namespace: ${namespace}\n`,
    );
    const child = spawn(
      process.execPath,
      [path.join(repo, 'bin/mefi'), `--config=${cfg.file}`, '-o', 'stdout', '-i', '900', '-v', 'trace'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      await eventually(
        'mirrored by the watching loop',
        async () => await getEndpoints('alpha', namespace, 'web-gamma'),
      );
      await putEndpoints('gamma', `app-${id}`, 'web', sourceLabels, [subset(['10.3.0.2'])]);
      await eventually(
        'a change follows at once',
        async () =>
          (await getEndpoints('alpha', namespace, 'web-gamma'))?.subsets?.[0]?.addresses?.[0]?.ip === '10.3.0.2',
        5_000,
      );
      assert.match(out, /loop starting mode=watch resyncMs=900000/, 'logs on stdout (-o stdout), the resync from -i');
      assert.match(out, /DEBUG/, '-v trace is debug');
      assert.equal(err, '');
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0, out + err);
    }
  });

  it('MEFI_DRY_RUN writes nothing, as --dry-run', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await ensureNamespace('alpha', namespace);
    await putEndpoints('gamma', `app-${id}`, 'web', sourceLabels, [subset(['10.3.0.1'])]);
    const cfg = writeConfig();
    const m = marks();
    const r = await mefi(['sync', '-c', cfg.file, ...args], { MEFI_DRY_RUN: 'true' });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Plan \(dry run\): 2 to create/);
    assert.deepEqual(
      auditSince('alpha', m.alpha!).filter((e) => e.verb === 'create'),
      [],
    );
  });

  it('takes flags from MEFI_* variables; flags win; unrelated MEFI_* variables are ignored', async () => {
    const id = uid();
    const { namespace, sourceLabels } = isolation(id);
    await ensureNamespace('beta', namespace);
    await putEndpoints('gamma', `app-${id}`, 'web', sourceLabels, [subset(['10.3.0.1'])]);
    const cfg = writeConfig();
    const env = {
      MEFI_CONFIG: cfg.file,
      MEFI_REMOTE_FILTER: `mefi-test=${id}`,
      MEFI_MEFI_NAMESPACE: namespace,
      MEFI_LOCAL: 'beta',
      MEFI_OUTPUT: 'json',
      MEFI_UNRELATED: 'x',
    };
    const r = await mefi(['sync', '--dry-run'], env);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(
      report.changes.map((c: { target: string; name: string }) => `${c.target}/${c.name}`),
      ['beta/web', 'beta/web-gamma'],
    );
    const flagWins = await mefi(['sync', '--dry-run', '-o', 'yaml'], env);
    assert.match(flagWins.stdout, /^apiVersion: mefi\/v1$/m);
  });
});
