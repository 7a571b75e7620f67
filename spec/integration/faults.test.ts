// DESIGN.md §3's failure rules with real processes: API servers killed,
// restarted and frozen under mefi. These tests start control planes of their
// own, so killing them disturbs no other test.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeClient, type RequestSpec } from '../../lib/kube/client.ts';
import { connect } from '../../lib/kube/connect.ts';
import { endpoints } from '../../lib/kube/kinds.ts';
import { startControlPlanes, type ControlPlanes } from '../support/launch.ts';
import { makePods } from '../support/pods.ts';
import { eventually, isolation, makeWorld, mefi, startLoop, subset, uid, type World } from '../support/world.ts';

const skip = process.env.MEFI_CONTROLPLANE ? false : 'needs the control plane binary that make test builds';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe('failure rules, with API servers killed and frozen for real', { skip, timeout: 300_000 }, () => {
  let planes: ControlPlanes;
  let w: World;

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mefi-faults-'));
    // Bare API servers: the sources here are hand-written Endpoints without a
    // Service, which a controller-manager deletes whenever it restarts (and it
    // does restart when its API server is gone past its leader lease). The
    // controller-manager under faults is bed.test.ts's subject.
    planes = await startControlPlanes(dir, ['alpha', 'beta', 'gamma'], { controllers: false });
    w = makeWorld(dir);
  });

  after(async () => {
    await planes?.stop();
    if (planes) rmSync(planes.dir, { recursive: true, force: true });
  });

  const ips = async (ns: string, name: string) =>
    new Set(
      ((await w.getEndpoints('alpha', ns, name))?.subsets ?? []).flatMap((s) =>
        [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])].map((a) => a.ip),
      ),
    );

  it('a killed source keeps its mirror and its aggregate addresses; when it is back, one run converges', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await w.ensureNamespace('alpha', namespace);
    await w.putEndpoints('alpha', `app-${id}`, 'web', sourceLabels, [subset(['10.1.0.1'])]);
    await w.putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.1', '10.2.0.2'])]);
    await w.putEndpoints('gamma', `app-${id}`, 'web', sourceLabels, [subset(['10.3.0.1'])]);
    const cfg = w.writeConfig();
    assert.equal((await mefi(['sync', '-c', cfg.file, ...args])).code, 0);
    const mirrorBefore = (await w.getEndpoints('alpha', namespace, 'web-beta'))!;

    const loop = startLoop(['-c', cfg.file, ...args, '--interval', '300ms', '--request-timeout', '2s']);
    try {
      await w.kill('beta');
      await w.putEndpoints('alpha', `app-${id}`, 'web', sourceLabels, [subset(['10.1.0.9'])]);

      const once = await mefi(['sync', '-c', cfg.file, ...args, '--request-timeout', '2s']);
      assert.equal(once.code, 2, once.stderr);
      assert.match(
        once.stdout,
        /UNREADABLE beta \(source\): cluster beta: list endpoints in all namespaces: ECONNREFUSED/,
      );

      await eventually("the aggregate takes alpha's change", async () => (await ips(namespace, 'web')).has('10.1.0.9'));
      const during = await ips(namespace, 'web');
      assert.ok(during.has('10.2.0.1') && during.has('10.2.0.2'), `beta's addresses stay: ${[...during].join(', ')}`);
      assert.equal(
        (await w.getEndpoints('alpha', namespace, 'web-beta'))!.metadata.resourceVersion,
        mirrorBefore.metadata.resourceVersion,
      );
      assert.equal(loop.child.exitCode, null, 'the loop keeps looping');
      // After two failed reads the backoff (300ms, then 600ms) outlasts the interval: beta is not asked.
      await eventually('the loop backs off beta', async () =>
        /not asked this run: \d+ failed read\(s\) in a row/.test(loop.log()),
      );

      await w.release('beta');
      await w.putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.3'])]);
      await eventually('converged after beta is back', async () => {
        const now = await ips(namespace, 'web');
        return now.size === 3 && now.has('10.1.0.9') && now.has('10.2.0.3') && now.has('10.3.0.1');
      });
      assert.deepEqual(
        (await w.listEndpoints('alpha', namespace)).map((o) => o.metadata.name),
        ['web', 'web-alpha', 'web-beta', 'web-gamma'],
        'no duplicate, no lost object',
      );
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
    }
    assert.match(loop.log(), /cluster unreadable cluster=beta role=source/);
    assert.doesNotMatch(loop.log(), /run failed/);
  });

  it('the target killed in the middle of a large plan: no crash; after the restart the plan completes', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await w.ensureNamespace('alpha', namespace);
    const names = Array.from({ length: 250 }, (_, i) => `s${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(
        names
          .slice(i, i + 25)
          .map((n, j) =>
            w.putEndpoints('beta', `app-${id}`, n, sourceLabels, [subset([`10.2.${(i + j) >> 8}.${(i + j) & 255}`])]),
          ),
      );
    }
    const cfg = w.writeConfig();
    const mark = w.auditMark('alpha');
    const loop = startLoop([
      '-c',
      cfg.file,
      ...args,
      '--interval',
      '500ms',
      '--request-timeout',
      '2s',
      '--concurrency',
      '2',
    ]);
    try {
      await eventually('some creates landed', async () => w.writesSince('alpha', mark, namespace).length >= 40, 60_000);
      await w.kill('alpha');
      const landed = w.writesSince('alpha', mark, namespace).filter((e) => e.responseStatus?.code === 201).length;
      assert.ok(landed > 0 && landed < 500, `killed in the middle: ${landed} of 500 creates had landed`);
      await sleep(1000);
      await w.release('alpha');
      await eventually(
        'all 500 objects',
        async () => (await w.listEndpoints('alpha', namespace)).length === 500,
        60_000,
      );
      assert.equal(loop.child.exitCode, null, 'still looping, not crashed');
      const quiet = w.auditMark('alpha');
      await sleep(1500);
      assert.deepEqual(w.writesSince('alpha', quiet, namespace), [], 'converged: no more writes');
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
    }
    assert.match(loop.log(), /write failed|cluster unreadable cluster=alpha/);
    assert.doesNotMatch(loop.log(), /run failed/);
  });

  it('a server that accepts TCP but never answers TLS costs --request-timeout, said as such; a taken --metrics-addr is one line, exit 3', async () => {
    // A listener that accepts and stays silent: the TLS handshake never completes.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const cfg = w.writeConfig({ clusters: ['alpha'] });
      const hung = path.join(cfg.dir, 'hung.yaml');
      writeFileSync(
        hung,
        `clusters:\n  - name: a\n    url: https://127.0.0.1:${port}\n    token: t\n    insecureSkipTLSVerify: true\n    type: local\n`,
      );
      const started = Date.now();
      const r = await mefi(['sync', '-c', hung, '--request-timeout', '12s']);
      const took = Date.now() - started;
      assert.equal(r.code, 2);
      assert.match(
        r.stdout,
        /no answer within 12s \(--request-timeout\)/,
        "the request timeout, not undici's own 10 s connect timeout",
      );
      assert.ok(took >= 12_000 && took < 16_000, `took ${took} ms`);

      const taken = await mefi(['sync', '-c', cfg.file, '--interval', '1s', '--metrics-addr', `127.0.0.1:${port}`]);
      assert.equal(taken.code, 3);
      assert.equal(
        taken.stderr.trim(),
        `mefi: invalid configuration: command line: --metrics-addr: cannot listen on 127.0.0.1:${port}: address already in use`,
      );
    } finally {
      silent.close();
    }
  });

  it('a list whose continue token expired (410: etcd compacted, the API server restarted between two pages) starts over and returns every object', async () => {
    // In 1.34 a continue token is served from the watch cache's snapshots; it
    // expires for real when the server restarts (a rollout) and etcd has been
    // compacted past it meanwhile.
    const ns = `list-${uid()}`;
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const n of names) await w.putEndpoints('beta', ns, n, { listed: 'yes' }, [subset(['10.2.0.1'])]);
    const bed = makePods(planes.dir);
    class CompactingAfterFirstPage extends KubeClient {
      done = false;
      override async request<T>(spec: RequestSpec): Promise<T> {
        const page = await super.request<T>(spec);
        if (spec.verb === 'list' && !this.done) {
          this.done = true;
          await w.putEndpoints('beta', ns, 'bump', {}, [subset(['10.2.9.9'])]);
          await bed.compact('beta');
          await w.kill('beta');
          await w.release('beta');
        }
        return page;
      }
    }
    const conns = connect({
      file: 'test',
      clusters: [
        {
          name: 'beta',
          type: 'remote',
          connection: { kind: 'kubeconfig', path: w.kubeconfigOf('beta'), insecureSkipTLSVerify: false },
        },
      ],
    });
    const client = new CompactingAfterFirstPage(conns.get('beta')!, {
      requestTimeoutMs: 10_000,
      userAgent: 'mefi-list-test',
    });
    const mark = w.auditMark('beta');
    const items = await endpoints.list(client, { namespace: ns, labelSelector: 'listed=yes', pageSize: 2 });
    assert.deepEqual(items.map((i) => i.metadata.name).sort(), names);
    const lists = w.auditSince('beta', mark).filter((e) => e.verb === 'list' && e.userAgent === 'mefi-list-test');
    assert.ok(
      lists.some((e) => e.responseStatus?.code === 410),
      `the server answered 410 to the expired token: ${lists.map((e) => e.responseStatus?.code).join(',')}`,
    );
    assert.equal(lists.filter((e) => !/continue=/.test(e.requestURI)).length, 2, 'the list started over once');
  });

  it('a frozen API server times out by --request-timeout; the run and the loop stay responsive', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await w.ensureNamespace('alpha', namespace);
    await w.putEndpoints('gamma', `app-${id}`, 'web', sourceLabels, [subset(['10.3.0.1'])]);
    const cfg = w.writeConfig();
    assert.equal((await mefi(['sync', '-c', cfg.file, ...args])).code, 0);
    const port = await freePort();
    const loop = startLoop([
      '-c',
      cfg.file,
      ...args,
      '--interval',
      '300ms',
      '--request-timeout',
      '1s',
      '--metrics-addr',
      `127.0.0.1:${port}`,
    ]);
    await eventually(
      'loop ready',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok,
    );
    w.pause('gamma');
    try {
      const started = Date.now();
      const once = await mefi(['sync', '-c', cfg.file, ...args, '--request-timeout', '1s']);
      const took = Date.now() - started;
      assert.equal(once.code, 2, once.stderr);
      assert.match(
        once.stdout,
        /UNREADABLE gamma \(source\): cluster gamma: list endpoints in all namespaces: no answer within 1s \(--request-timeout\)/,
      );
      assert.ok(took < 6000, `a one-shot run took ${took} ms with a 1s timeout`);
      assert.ok(await w.getEndpoints('alpha', namespace, 'web-gamma'), "gamma's mirror is kept");

      await eventually('the loop saw gamma time out', async () =>
        /mefi_cluster_read_errors_total\{cluster="gamma",role="source"\} [1-9]/.test(
          await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
        ),
      );
      const t = Date.now();
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      assert.equal(health.status, 200);
      assert.ok(Date.now() - t < 500, 'health answers at once while a cluster hangs');
    } finally {
      w.resume('gamma');
      assert.equal(await loop.stop(), 0, loop.log());
    }
  });

  it('two loops on one target with sources changing: no lost change, no flapping, same end state as one run', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await w.ensureNamespace('alpha', namespace);
    const clusters = ['alpha', 'beta', 'gamma'];
    const apps = ['web', 'api', 'db'];
    const seed = async (c: string, app: string, n: number) =>
      w.putEndpoints(c, `app-${id}`, app, sourceLabels, [
        subset(Array.from({ length: n }, (_, i) => `10.${clusters.indexOf(c) + 1}.${apps.indexOf(app)}.${i + 1}`)),
      ]);
    for (const c of clusters) for (const app of apps) await seed(c, app, 2);
    const cfg = w.writeConfig();
    const loopArgs = ['-c', cfg.file, ...args, '--interval', '200ms', '--request-timeout', '5s'];
    const loops = [startLoop(loopArgs), startLoop(loopArgs)];
    try {
      // About 8 s of churn, deterministic: sizes change, a source goes and comes back.
      let x = 12345;
      const rand = (n: number) => (x = (x * 1103515245 + 12345) >>> 0) % n;
      for (let step = 0; step < 80; step++) {
        const c = clusters[rand(3)]!;
        const app = apps[rand(3)]!;
        if (rand(10) === 0) await w.deleteEndpoints(c, `app-${id}`, app).catch(() => undefined);
        else await seed(c, app, 1 + rand(5));
        await sleep(100);
      }
      await eventually('converged', async () => (await mefi(['diff', '-c', cfg.file, ...args])).code === 0, 30_000);
      const quiet = w.auditMark('alpha');
      await sleep(2000);
      assert.deepEqual(
        w.writesSince('alpha', quiet, namespace).map((e) => `${e.verb} ${e.objectRef?.name}`),
        [],
        'no flapping once sources are still',
      );
    } finally {
      for (const l of loops) assert.equal(await l.stop(), 0, l.log());
    }
    const before = w.auditMark('alpha');
    const single = await mefi(['sync', '-c', cfg.file, ...args]);
    assert.equal(single.code, 0);
    assert.deepEqual(
      w.writesSince('alpha', before, namespace),
      [],
      'the loops left what a single run wants: it wrote nothing',
    );
    for (const l of loops) {
      assert.doesNotMatch(l.log(), /run failed/);
      assert.match(l.log(), /run finished/);
    }
  });

  it("staleAfter: a dead cluster's mirrors go once its lease is older than staleAfter, and come back with it", async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await w.ensureNamespace('alpha', namespace);
    await w.putEndpoints('alpha', `app-${id}`, 'web', sourceLabels, [subset(['10.1.0.1'])]);
    await w.putEndpoints('gamma', `app-${id}`, 'web', sourceLabels, [subset(['10.3.0.1'])]);
    // 12s: a lease is renewed after 3s, comfortably more than two back-to-back runs take on a loaded machine.
    const cfg = w.writeConfig({ top: { staleAfter: '12s' } });
    const leases = async () =>
      (
        await w.admin('alpha').request<{ items: { metadata: { name: string }; spec: { renewTime: string } }[] }>({
          verb: 'list',
          resource: 'leases',
          path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
        })
      ).items;

    assert.equal((await mefi(['sync', '-c', cfg.file, ...args])).code, 0);
    assert.deepEqual((await leases()).map((l) => l.metadata.name).sort(), [
      'mefi-source-alpha',
      'mefi-source-beta',
      'mefi-source-gamma',
    ]);
    const m = w.auditMark('alpha');
    assert.equal((await mefi(['sync', '-c', cfg.file, ...args])).code, 0);
    assert.deepEqual(
      w.auditSince('alpha', m).filter((e) => e.verb === 'update' || e.verb === 'create'),
      [],
      'a fresh lease is not renewed: the steady run writes nothing',
    );

    await w.kill('gamma');
    try {
      const young = await mefi(['sync', '-c', cfg.file, ...args, '--request-timeout', '2s']);
      assert.equal(young.code, 2);
      assert.ok(await w.getEndpoints('alpha', namespace, 'web-gamma'), 'kept while the lease is young');
      const renewed = Date.parse((await leases()).find((l) => l.metadata.name === 'mefi-source-gamma')!.spec.renewTime);
      await sleep(Math.max(0, renewed + 12_000 - Date.now()) + 300);
      const old = await mefi(['sync', '-c', cfg.file, ...args, '--request-timeout', '2s', '-o', 'json']);
      assert.equal(old.code, 2);
      const report = JSON.parse(old.stdout);
      assert.ok(
        report.problems.some((p: { code: string; name: string }) => p.code === 'stale-cluster' && p.name === 'gamma'),
        old.stdout,
      );
      assert.equal(await w.getEndpoints('alpha', namespace, 'web-gamma'), undefined, 'removed once stale');
      assert.deepEqual(
        [...(await ips(namespace, 'web'))],
        ['10.1.0.1'],
        'the aggregate no longer sends traffic to gamma',
      );
    } finally {
      await w.release('gamma');
    }
    assert.equal((await mefi(['sync', '-c', cfg.file, ...args])).code, 0);
    assert.ok(await w.getEndpoints('alpha', namespace, 'web-gamma'), 'back with its cluster');
  });
});
