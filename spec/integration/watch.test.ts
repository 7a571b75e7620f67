// sync --watch on real API servers: a change arrives in well under a second
// with the resync minutes away, the servers see watches and no polling, a
// burst is coalesced into a handful of runs, a killed API server is watched
// again and nothing changed meanwhile is missed, two watching loops converge.
// These tests start control planes of their own (they kill one).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlanes, type ControlPlanes } from '../support/launch.ts';
import { eventually, isolation, makeWorld, mefi, startLoop, subset, uid, type World } from '../support/world.ts';

const skip = process.env.MEFI_CONTROLPLANE ? false : 'needs the control plane binary that make test builds';

describe('sync --watch', { skip, timeout: 300_000 }, () => {
  let planes: ControlPlanes;
  let w: World;

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mefi-watch-'));
    // Bare API servers: hand-written sources, and an API server killed for real.
    planes = await startControlPlanes(dir, ['alpha', 'beta', 'gamma'], { controllers: false });
    w = makeWorld(dir);
  });

  after(async () => {
    await planes?.stop();
    if (planes) rmSync(planes.dir, { recursive: true, force: true });
  });

  const ipOf = async (ns: string, name: string) =>
    (await w.getEndpoints('alpha', ns, name))?.subsets?.[0]?.addresses?.map((a) => a.ip).join(',');

  it('propagates a change in well under a second with the resync minutes away; at rest the servers see only the open watches', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await w.ensureNamespace('alpha', namespace);
    await w.putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.1'])]);
    const cfg = w.writeConfig();
    const loop = startLoop(['-c', cfg.file, ...args, '--watch', '--resync', '5m']);
    try {
      await eventually('first run', async () => (await ipOf(namespace, 'web-beta')) === '10.2.0.1');
      const mark = w.marks();
      const delays: number[] = [];
      for (let i = 2; i <= 6; i++) {
        await w.putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset([`10.2.0.${i}`])]);
        const t = Date.now();
        await eventually(`change ${i}`, async () => (await ipOf(namespace, 'web-beta')) === `10.2.0.${i}`, 5_000);
        delays.push(Date.now() - t);
      }
      assert.ok(Math.max(...delays) < 1000, `propagation ${delays.join(', ')} ms`);
      await sleep(1500); // at rest
      for (const c of ['alpha', 'beta', 'gamma']) {
        const lists = w.auditSince(c, mark[c]!).filter((e) => e.verb === 'list' && e.userAgent?.startsWith('mefi/'));
        assert.deepEqual(
          lists.map((e) => e.requestURI),
          [],
          `${c}: no list while watching (the resync is minutes away)`,
        );
      }
      const watches = w.auditSince('beta', 0).filter((e) => e.verb === 'watch' && e.userAgent?.startsWith('mefi/'));
      assert.ok(watches.length >= 1, 'beta is watched');
      assert.match(watches[0]!.requestURI, /allowWatchBookmarks=true/);
      assert.doesNotMatch(loop.log(), /INFO  run finished.*writes=0/, 'a run that wrote nothing is not logged at info');
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
    }
  });

  it('under a burst of 100 changes in a second, runs back to back: changes that came during a run make one run after it, at most one write per object', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await w.ensureNamespace('alpha', namespace);
    await w.putEndpoints('gamma', `app-${id}`, 'web', sourceLabels, [subset(['10.3.0.0'])]);
    const cfg = w.writeConfig();
    const loop = startLoop(['-c', cfg.file, ...args, '--watch', '--resync', '5m', '-v', 'debug']);
    try {
      await eventually('first run', async () => (await ipOf(namespace, 'web-gamma')) === '10.3.0.0');
      // Its write shows before its log line: the count starts after that line.
      await eventually('the first run logged', async () => /run finished/.test(loop.log()));
      const logBefore = loop.log().length;
      const mark = w.auditMark('alpha');
      // 100 changes in about a second: unconditional PUTs, 10 ms apart.
      const ns = `app-${id}`;
      const started = Date.now();
      const puts: Promise<unknown>[] = [];
      for (let i = 1; i <= 100; i++) {
        const body = {
          apiVersion: 'v1',
          kind: 'Endpoints',
          metadata: { name: 'web', namespace: ns, labels: sourceLabels },
          subsets: [subset([`10.3.0.${i}`])],
        };
        puts.push(
          w.admin('gamma').request({
            verb: 'update',
            resource: 'endpoints',
            namespace: ns,
            name: 'web',
            path: `/api/v1/namespaces/${ns}/endpoints/web`,
            body,
          }),
        );
        await sleep(10);
      }
      await Promise.all(puts);
      const burstMs = Date.now() - started;
      await eventually(
        'the last change arrived',
        async () => (await ipOf(namespace, 'web-gamma')) === '10.3.0.100',
        5_000,
      );
      await sleep(500);
      const log = loop.log().slice(logBefore);
      const runs = (log.match(/run finished/g) ?? []).length;
      const writingRuns = (log.match(/run finished.* writes=[1-9]/g) ?? []).length;
      const writes = w.writesSince('alpha', mark, namespace).length;
      // No waiting for a quiet moment: a run starts as soon as the one in flight
      // ends, with every change that came meanwhile. So never more runs than
      // changes (mefi's own writes coming back start none, give or take one
      // whose answer came after its event), and at most two writes per run:
      // the mirror and the aggregate.
      assert.ok(writingRuns >= 1 && writingRuns <= 100, `${writingRuns} writing runs for 100 changes in ${burstMs} ms`);
      assert.ok(
        runs <= writingRuns + 10,
        `${runs} runs in all for ${writingRuns} writing runs: mefi's own writes coming back start runs`,
      );
      assert.ok(writes >= writingRuns && writes <= 2 * writingRuns, `${writes} writes in ${writingRuns} writing runs`);
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
    }
  });

  it('plans what a change touches: the same number of objects whether the world holds a few or a thousand', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await w.ensureNamespace('alpha', namespace);
    const ns = `app-${id}`;
    const put = (name: string, ip: string) => w.putEndpoints('gamma', ns, name, sourceLabels, [subset([ip])]);
    await put('web', '10.3.0.1');
    const cfg = w.writeConfig();
    const loop = startLoop(['-c', cfg.file, ...args, '--watch', '--resync', '5m', '-v', 'debug']);
    /** A change of web's source, and the number of objects the run that wrote it planned (from its log line). */
    const change = async (ip: string) => {
      const before = loop.log().length;
      await put('web', ip);
      await eventually(`web-gamma holds ${ip}`, async () => (await ipOf(namespace, 'web-gamma')) === ip);
      return eventually(
        'the run that wrote it',
        async () =>
          Number(/run finished.* writes=[1-9]\d* planned=(\d+)/.exec(loop.log().slice(before))?.[1] ?? NaN) ||
          undefined,
      );
    };
    try {
      await eventually('first run', async () => (await ipOf(namespace, 'web-gamma')) === '10.3.0.1');
      // Each run also plans again the names the run before wrote: a first change leaves the same behind in both worlds.
      await change('10.3.0.2');
      const small = await change('10.3.0.3');
      // 300 more services: 300 sources, 600 objects written in the target.
      const names = Array.from({ length: 300 }, (_, i) => `svc-${i}`);
      for (let i = 0; i < names.length; i += 25)
        await Promise.all(names.slice(i, i + 25).map((n, j) => put(n, `10.3.1.${(i + j) % 250}`)));
      await eventually(
        'the bigger world written',
        async () => ((await w.listEndpoints('alpha', namespace)).length >= 2 + 600 ? true : undefined),
        60_000,
      );
      await change('10.3.0.4');
      const big = await change('10.3.0.5');
      assert.ok(small > 0 && small <= 10, `${small} objects planned for one change in a world of 3`);
      assert.equal(big, small, `a world of ${3 + 900} objects: ${big} planned, against ${small} in a world of 3`);
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
    }
  });

  it('watches a killed API server again when it is back: what changed meanwhile arrives', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await w.ensureNamespace('alpha', namespace);
    await w.putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.1.1'])]);
    const cfg = w.writeConfig();
    const loop = startLoop(['-c', cfg.file, ...args, '--watch', '--resync', '5m', '--request-timeout', '2s']);
    try {
      await eventually('first run', async () => (await ipOf(namespace, 'web-beta')) === '10.2.1.1');
      await w.kill('beta');
      // While beta is down, alpha changes (and is propagated), and then beta's change waits for beta.
      await w.putEndpoints('alpha', `app-${id}`, 'web', sourceLabels, [subset(['10.1.1.1'])]);
      await eventually(
        'alpha still propagates',
        async () => (await ipOf(namespace, 'web-alpha')) === '10.1.1.1',
        5_000,
      );
      await w.release('beta');
      await w.putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.1.2'])]);
      await eventually(
        "beta's change after its return",
        async () => (await ipOf(namespace, 'web-beta')) === '10.2.1.2',
        20_000,
      );
      assert.equal(await ipOf(namespace, 'web-beta'), '10.2.1.2');
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
    }
  });

  it('two watching loops on one target converge, and a one-shot run then writes nothing', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await w.ensureNamespace('alpha', namespace);
    const cfg = w.writeConfig();
    const loops = [0, 1].map(() => startLoop(['-c', cfg.file, ...args, '--watch', '--resync', '5m']));
    try {
      for (let i = 1; i <= 20; i++) {
        await w.putEndpoints(i % 2 ? 'beta' : 'gamma', `app-${id}`, 'web', sourceLabels, [
          subset([`10.${i % 2 ? 2 : 3}.2.${i}`]),
        ]);
        await sleep(30);
      }
      await eventually('converged', async () => (await mefi(['diff', '-c', cfg.file, ...args])).code === 0, 10_000);
      const quiet = w.auditMark('alpha');
      await sleep(1500);
      assert.deepEqual(
        w.writesSince('alpha', quiet, namespace).map((e) => `${e.verb} ${e.objectRef?.name}`),
        [],
        'no flapping once sources are still',
      );
    } finally {
      for (const l of loops) assert.equal(await l.stop(), 0, l.log());
    }
  });
});
