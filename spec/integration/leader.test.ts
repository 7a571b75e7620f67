// --leader-elect on real API servers: two watching loops, as a Deployment of
// two replicas runs them, each its own identity. Exactly one writes; the
// other stands by (its /readyz and mefi_leader say so) with its watches warm;
// the leader SIGKILLed, the standby takes over within a lease duration and
// propagates the next change; SIGTERM hands over at once; the target's API
// server down and back never makes two writers. Bare API servers of this
// file's own (one is killed).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { startControlPlanes, type ControlPlanes } from '../support/launch.ts';
import { eventually, isolation, makeWorld, startLoop, subset, uid, type Loop, type World } from '../support/world.ts';

const skip = process.env.MEFI_CONTROLPLANE ? false : 'needs the control plane binary that make test builds';
/** Short for a test; the defaults are client-go's (15 s, 10 s, 2 s). */
const leaseMs = 6_000;
const election = ['--leader-elect-lease-duration', '6s', '--leader-elect-renew-deadline', '4s'];
const retryMs = 1_000;

interface Replica {
  name: string;
  loop: Loop;
  port: number;
}

describe('sync --watch --leader-elect: two replicas, one writer', { skip, timeout: 300_000 }, () => {
  let planes: ControlPlanes;
  let w: World;
  const id = uid();
  const { namespace, sourceLabels, args } = isolation(id);
  let config = '';

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mefi-leader-'));
    planes = await startControlPlanes(dir, ['alpha', 'beta', 'gamma'], { controllers: false });
    w = makeWorld(dir);
    await w.ensureNamespace('alpha', namespace);
    config = w.writeConfig().file;
  });

  after(async () => {
    await planes?.stop();
    if (planes) rmSync(planes.dir, { recursive: true, force: true });
  });

  /** A replica with the test's short durations, or (durations []) the shipped ones. */
  const replica = (
    name: string,
    durations = [...election, '--leader-elect-retry-period', `${retryMs / 1000}s`],
  ): Replica => {
    const port = 21000 + Math.floor(Math.random() * 20000);
    const loop = startLoop([
      '-c',
      config,
      ...args,
      '--watch',
      '--log-format',
      'json',
      '--metrics-addr',
      `127.0.0.1:${port}`,
      '--leader-elect',
      '--leader-elect-identity',
      name,
      ...durations,
    ]);
    return { name, loop, port };
  };
  const http = async (r: Replica, p: string) => {
    const res = await fetch(`http://127.0.0.1:${r.port}${p}`).catch(() => undefined);
    return res ? { status: res.status, body: await res.text() } : undefined;
  };
  const leaderGauge = async (r: Replica) => /^mefi_leader (\d)$/m.exec((await http(r, '/metrics'))?.body ?? '')?.[1];
  /** The Lease's holder, as the API server has it. */
  /** The Lease's holder, or undefined before anyone made it. */
  const holder = async () =>
    (
      await w
        .getJson<{ spec: { holderIdentity?: string } }>('alpha', ['-n', namespace, 'get', 'lease', 'mefi-leader'])
        .catch(() => undefined)
    )?.spec.holderIdentity;
  /** The changes a replica applied, from its log: every write it made, with when. */
  const changes = (r: Replica) =>
    r.loop
      .log()
      .split('\n')
      .filter((l) => l.includes('"msg":"change"'))
      .map((l) => JSON.parse(l) as { time: string; name: string; result: string });
  const served = async () => (await w.getEndpoints('alpha', namespace, 'web-beta'))?.subsets?.[0]?.addresses?.[0]?.ip;
  const change = async (ip: string) => {
    await w.putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset([ip])]);
  };

  it('exactly one writes; the other stands by, ready, with mefi_leader 0; the leader SIGKILLed, the standby takes over within a lease duration and propagates the next change; SIGTERM hands over at once', async () => {
    await change('10.2.0.1');
    const a = replica('replica-a');
    await eventually(
      'a leads and writes',
      async () => (await served()) === '10.2.0.1' && (await holder()) === 'replica-a',
    );
    const b = replica('replica-b');
    try {
      await eventually('b stands by, ready', async () => {
        const ready = await http(b, '/readyz');
        return ready?.status === 200 && ready.body === 'standby\n' && (await leaderGauge(b)) === '0';
      });
      assert.equal(await leaderGauge(a), '1');
      assert.equal((await http(a, '/readyz'))?.body, 'ok\n');

      // A change: written by the leader alone.
      await change('10.2.0.2');
      await eventually('the change', async () => (await served()) === '10.2.0.2', 5_000);
      await sleep(500);
      assert.ok(changes(a).length > 0, 'the leader wrote');
      assert.deepEqual(changes(b), [], 'the standby wrote nothing');

      // The leader killed: no release, the standby waits out the lease.
      const killedAt = Date.now();
      a.loop.child.kill('SIGKILL');
      await eventually('b takes over', async () => (await holder()) === 'replica-b', leaseMs + 5_000);
      const tookOver = Date.now() - killedAt;
      await change('10.2.0.3');
      const t = Date.now();
      await eventually('b writes the next change', async () => (await served()) === '10.2.0.3', 5_000);
      const propagated = Date.now() - t;
      assert.ok(tookOver <= leaseMs + 2 * retryMs + 500, `took over after ${tookOver} ms (lease ${leaseMs} ms)`);
      assert.equal(await leaderGauge(b), '1');

      // SIGTERM: the Lease handed over at once to a third replica.
      const c = replica('replica-c');
      try {
        await eventually('c stands by', async () => (await http(c, '/readyz'))?.body === 'standby\n');
        const termAt = Date.now();
        assert.equal(await b.loop.stop(), 0, b.loop.log());
        await eventually('c takes over', async () => (await holder()) === 'replica-c', 5_000);
        const handedOver = Date.now() - termAt;
        assert.ok(handedOver <= 2 * retryMs + 500, `handed over in ${handedOver} ms`);
        await change('10.2.0.4');
        await eventually('c writes', async () => (await served()) === '10.2.0.4', 5_000);
        process.stderr.write(
          `# leader SIGKILL -> the standby leads after ${tookOver} ms (lease ${leaseMs} ms, retry ${retryMs} ms), next change written ${propagated} ms after it; SIGTERM -> handed over in ${handedOver} ms\n`,
        );
      } finally {
        await c.loop.stop();
      }
    } finally {
      a.loop.child.kill('SIGKILL');
      await b.loop.stop();
    }
  });

  it('measured with the shipped durations (15 s, 10 s, 2 s): failover after SIGKILL and handover after SIGTERM, to the next change written; the standby at rest lists no more than the leader', async () => {
    // Some 20 s a trial: make test checks the standby at rest only; MEFI_LEADER_TRIALS=20 gives the README's figures.
    const trials = Number(process.env.MEFI_LEADER_TRIALS ?? 0);
    const shipped = (name: string) => replica(name, []);
    const requests = async (r: Replica, verb: string) =>
      Number(
        new RegExp(`^mefi_api_requests_total\\{verb="${verb}"\\} (\\d+)$`, 'm').exec(
          (await http(r, '/metrics'))?.body ?? '',
        )?.[1] ?? 0,
      );
    const rssKiB = (r: Replica) =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${r.loop.child.pid}/status`, 'utf8'))?.[1] ?? 0);
    let ip = 100;
    /** A change at the source, and how long until the target has it. */
    const written = async () => {
      const want = `10.2.1.${ip++}`;
      await change(want);
      await eventually(`${want} written`, async () => (await served()) === want, 30_000);
    };
    const killed: number[] = [];
    const handed: number[] = [];
    let leader = shipped('m-0');
    await eventually('m-0 leads', async () => (await holder()) === 'm-0', 30_000);
    let standby = shipped('m-1');
    try {
      await eventually('m-1 stands by', async () => (await http(standby, '/readyz'))?.body === 'standby\n', 30_000);
      // At rest, after both have settled: what each lists and holds.
      await sleep(3_000);
      const lists = { leader: await requests(leader, 'list'), standby: await requests(standby, 'list') };
      await sleep(5_000);
      const after5s = { leader: await requests(leader, 'list'), standby: await requests(standby, 'list') };
      const rss = { leader: rssKiB(leader), standby: rssKiB(standby) };
      assert.ok(lists.leader > 0, 'the leader listed what it watches');
      assert.ok(lists.standby <= lists.leader, `the standby listed ${lists.standby}, the leader ${lists.leader}`);
      assert.deepEqual(after5s, lists, 'at rest neither lists: they watch');
      for (let i = 0; i < trials; i++) {
        const t0 = Date.now();
        leader.loop.child.kill('SIGKILL');
        await written();
        killed.push(Date.now() - t0);
        leader = standby;
        standby = shipped(`m-${2 * i + 2}`);
        await eventually('a new standby', async () => (await http(standby, '/readyz'))?.body === 'standby\n', 30_000);
        const t1 = Date.now();
        const stopped = leader.loop.stop();
        await written();
        handed.push(Date.now() - t1);
        assert.equal(await stopped, 0);
        leader = standby;
        standby = shipped(`m-${2 * i + 3}`);
        await eventually('a new standby', async () => (await http(standby, '/readyz'))?.body === 'standby\n', 30_000);
      }
      const pct = (xs: number[], p: number) =>
        [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
      const failover = trials
        ? `SIGKILL p50 ${pct(killed, 50)} / p99 ${pct(killed, 99)} ms; SIGTERM p50 ${pct(handed, 50)} / p99 ${pct(handed, 99)} ms; `
        : '';
      process.stderr.write(
        `# leader election (15 s / 10 s / 2 s, ${trials} trials), to the next change written: ${failover}at rest the leader listed ${lists.leader} times and holds ${Math.round(rss.leader / 1024)} MiB, the standby ${lists.standby} and ${Math.round(rss.standby / 1024)} MiB\n`,
      );
      for (const ms of killed) assert.ok(ms <= 15_000 + 2 * 2_000 + 3_000, `SIGKILL: ${ms} ms`);
      for (const ms of handed) assert.ok(ms <= 2 * 2_000 + 2_000, `SIGTERM: ${ms} ms`);
    } finally {
      leader.loop.child.kill('SIGKILL');
      standby.loop.child.kill('SIGKILL');
    }
  });

  it("the target's API server down and back: never two writers at once, nothing lost", async () => {
    const a = replica('replica-d');
    const b = replica('replica-e');
    try {
      await eventually('one leads', async () => ['replica-d', 'replica-e'].includes((await holder()) ?? ''));
      await w.kill('alpha');
      await change('10.2.0.5');
      // Longer than the renew deadline: the leader stops leading; no one can take the Lease while alpha is down.
      await sleep(leaseMs + 2_000);
      await w.release('alpha');
      const back = Date.now();
      await eventually('the change once alpha is back', async () => (await served()) === '10.2.0.5', leaseMs + 20_000);
      await change('10.2.0.6');
      await eventually('and the next', async () => (await served()) === '10.2.0.6', 10_000);
      // Every write since alpha came back is one replica's: the Lease's holder.
      const since = (r: Replica, who: string) =>
        changes(r)
          .filter((c) => Date.parse(c.time) >= back)
          .map(() => who);
      const writers = new Set([...since(a, 'replica-d'), ...since(b, 'replica-e')]);
      assert.deepEqual([...writers], [await holder()], `writers since alpha came back: ${[...writers].join(', ')}`);
      const gauges = [await leaderGauge(a), await leaderGauge(b)].sort();
      assert.deepEqual(gauges, ['0', '1'], 'one leader, one standby');
    } finally {
      await a.loop.stop();
      await b.loop.stop();
    }
  });
});
