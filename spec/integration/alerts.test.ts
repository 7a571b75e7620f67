// The shipped alerts (manifests/alerts): promtool checks them and runs their
// unit tests (spec/alerts/mefi.test.yaml); every series they read is one a
// real loop exports, with those labels; and a real Prometheus scraping a
// watching loop on API servers of this file's own fires MefiClusterUnreadable
// when a source cluster's API server is killed, and resolves it once back.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startControlPlanes, type ControlPlanes } from '../support/launch.ts';
import { prometheusMissing, ruleFile, startPrometheus } from '../support/prometheus.ts';
import {
  eventually,
  isolation,
  makeWorld,
  repo,
  startLoop,
  subset,
  uid,
  type Loop,
  type World,
} from '../support/world.ts';

const skip = !process.env.MEFI_CONTROLPLANE
  ? 'needs the control plane binary that make test builds'
  : prometheusMissing;

const run = (cmd: string, args: string[], cwd: string) =>
  new Promise<{ code: number; out: string }>((resolve) =>
    execFile(cmd, args, { cwd }, (err, stdout, stderr) => resolve({ code: err ? 1 : 0, out: `${stdout}${stderr}` })),
  );

describe('alerts (manifests/alerts)', { skip, timeout: 300_000 }, () => {
  let planes: ControlPlanes;
  let w: World;
  let work = '';
  let loop: Loop;
  const port = 23000 + Math.floor(Math.random() * 20000);
  const id = uid();
  const { namespace, sourceLabels, args } = isolation(id);

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'mefi-alerts-'));
    planes = await startControlPlanes(path.join(work, 'bed'), ['alpha', 'beta'], { controllers: false });
    w = makeWorld(planes.dir, ['alpha', 'beta']);
    await w.ensureNamespace('alpha', namespace);
    await w.putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.1'])]);
    const config = w.writeConfig({ clusters: ['alpha', 'beta'] }).file;
    loop = startLoop([
      '-c',
      config,
      ...args,
      '--watch',
      '--metrics-addr',
      `127.0.0.1:${port}`,
      '--leader-elect',
      '--leader-elect-identity',
      'alerts',
    ]);
    await eventually('the loop leads and has run', async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`).catch(() => undefined))?.text();
      return text?.includes('mefi_leader 1') && text.includes('mefi_last_run_timestamp_seconds ');
    });
  });

  after(async () => {
    await loop?.stop();
    await planes?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('promtool: the rules are valid, and their unit tests pass (spec/alerts/mefi.test.yaml)', async () => {
    const dir = mkdtempSync(path.join(work, 'promtool-'));
    ruleFile(dir);
    copyFileSync(path.join(repo, 'spec/alerts/mefi.test.yaml'), path.join(dir, 'mefi.test.yaml'));
    const check = await run('promtool', ['check', 'rules', 'rules.yaml'], dir);
    assert.equal(check.code, 0, check.out);
    assert.match(check.out, /SUCCESS: 7 rules found/);
    const test = await run('promtool', ['test', 'rules', 'mefi.test.yaml'], dir);
    assert.equal(test.code, 0, test.out);
  });

  it('every series the rules read is one a loop exports, with the labels they match on', async () => {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const rules = readFileSync(path.join(repo, 'manifests/alerts/prometheusrule.yaml'), 'utf8');
    const used = new Set(rules.match(/mefi_[a-z_]+/g));
    assert.equal(used.size, 6, [...used].join(', '));
    // A loop exports mefi_hub_unreadable only with clusterProfiles: spec/integration/profiles.test.ts reads it from one.
    used.delete('mefi_hub_unreadable');
    for (const name of used)
      assert.match(text, new RegExp(`^# TYPE ${name} gauge$`, 'm'), `${name}: a gauge mefi exports`);
    // The labels the rules use, on real samples.
    assert.match(text, /^mefi_cluster_unreadable\{cluster="beta"\} 0$/m);
    assert.match(text, /^mefi_leader 1$/m);
  });

  it('a real Prometheus scraping the watching loop: a source cluster killed fires MefiClusterUnreadable within its for window, and resolves once it is back', async () => {
    const dir = mkdtempSync(path.join(work, 'prometheus-'));
    // The shipped rule with a 5 s for instead of 5 minutes: its expression, on real series.
    const prometheus = await startPrometheus(
      dir,
      [`127.0.0.1:${port}`],
      ruleFile(dir, { MefiClusterUnreadable: '5s' }),
    );
    const unreadable = async (state: string) =>
      (await prometheus.alerts()).some(
        (a) => a.labels.alertname === 'MefiClusterUnreadable' && a.labels.cluster === 'beta' && a.state === state,
      );
    try {
      await eventually(
        'scraped, nothing firing',
        async () => (await prometheus.alerts()).length === 0 && !(await unreadable('firing')),
      );
      const killed = Date.now();
      await w.kill('beta');
      await eventually('MefiClusterUnreadable firing', () => unreadable('firing'), 60_000);
      const fired = Date.now() - killed;
      await w.release('beta');
      const back = Date.now();
      await eventually('resolved', async () => !(await unreadable('firing')) && !(await unreadable('pending')), 60_000);
      process.stderr.write(
        `# MefiClusterUnreadable (for 5s): firing ${fired} ms after beta was killed, resolved ${Date.now() - back} ms after it was back\n`,
      );
      assert.equal(
        (await prometheus.alerts()).filter((a) => a.state === 'firing').length,
        0,
        `nothing else fired: ${prometheus.log()}`,
      );
    } finally {
      await prometheus.stop();
    }
  });
});
