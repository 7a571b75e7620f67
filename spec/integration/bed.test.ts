// The mission, end to end, on real small clusters: kube-controller-manager
// makes the sources from Services and Pods and mirrors mefi's aggregate into
// EndpointSlices, kube-proxy in alpha's node balances the selector-less
// Service over them, and pods on a routed network answer. Traffic is the
// proof: requests from a pod in alpha, counted by the cluster that answered.
// These tests start control planes of their own (they kill API servers and
// controller-managers) and need root for the network namespaces.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { client, clusters, deployWeb, portOf } from '../support/app.ts';
import { startControlPlanes, type ControlPlanes } from '../support/launch.ts';
import { byCluster, makePods, type Pods, type Traffic } from '../support/pods.ts';
import { eventually, makeWorld, mefi, repo, startLoop, type World } from '../support/world.ts';

/** A command's stdout (it must succeed). */
function run(via: string[], argv: string[]): Promise<string> {
  const [cmd, ...rest] = [...via, ...argv];
  return new Promise((resolve, reject) =>
    execFile(cmd!, rest, (err, stdout, stderr) =>
      err ? reject(new Error(`${argv.join(' ')}: ${stderr}`)) : resolve(stdout),
    ),
  );
}

const skip = !process.env.MEFI_CONTROLPLANE
  ? 'needs the control plane binary that make test builds'
  : process.getuid?.() !== 0
    ? 'needs root: the routed pod network is made of network namespaces, veths and nftables (CI runs as root)'
    : false;

describe('the real bed: controllers, kube-proxy and pods on a routed network', { skip, timeout: 600_000 }, () => {
  let planes: ControlPlanes;
  let w: World;
  let pods: Pods;
  let serviceURL = '';
  let config = '';
  let staleConfig = '';

  const apply = async (cluster: string, ...objects: object[]) => {
    const r = await w.kubectl(['apply', '-f', '-'], {
      cluster,
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
    });
    assert.equal(r.code, 0, r.stderr);
  };
  const send = (count = 60): Promise<Traffic> => pods.fetch(client, serviceURL, count);
  /** Send until what answers settles as wanted (kube-proxy applies changes within about a second). */
  const trafficUntil = (what: string, ok: (t: Traffic) => boolean, timeoutMs = 20_000) =>
    eventually(
      what,
      async () => {
        const t = await send();
        return ok(t) ? t : undefined;
      },
      timeoutMs,
    ).catch(async (err) => {
      throw new Error(`${(err as Error).message}; last: ${JSON.stringify(await send())}`);
    });
  const answersFrom = (t: Traffic, wanted: string[]) =>
    t.errors === 0 && JSON.stringify(Object.keys(byCluster(t)).sort()) === JSON.stringify([...wanted].sort());
  const sync = (...args: string[]) => mefi(['sync', '-c', config, ...args]);
  const syncStale = () => mefi(['sync', '-c', staleConfig]);

  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mefi-bed-'));
    const started = Date.now();
    planes = await startControlPlanes(dir, clusters, { network: true });
    w = makeWorld(dir);
    pods = makePods(dir);
    await deployWeb(w, pods);
    // What the user puts in the target: the selector-less Service the ingress (here kube-proxy) balances over.
    await apply(
      'alpha',
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'mefi-system' } },
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'web', namespace: 'mefi-system' },
        spec: { ports: [{ name: 'http', port: 80 }] },
      },
    );
    const svc = JSON.parse(
      (await w.kubectl(['-n', 'mefi-system', 'get', 'service', 'web', '-o', 'json'], { cluster: 'alpha' })).stdout,
    ) as { spec: { clusterIP: string } };
    serviceURL = `http://${svc.spec.clusterIP}/`;
    config = w.writeConfig().file;
    staleConfig = w.writeConfig({ top: { staleAfter: '10s' } }).file;
    process.stderr.write(`# bed: 3 clusters with controllers, kube-proxy and 7 pods in ${Date.now() - started} ms\n`);
  });

  after(async () => {
    await planes?.stop();
    if (planes) rmSync(planes.dir, { recursive: true, force: true });
  });

  it("Endpoints mode: requests to alpha's Service are answered by the pods of all three clusters, gamma on its own port", async () => {
    const r = await sync();
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const t = await trafficUntil('answers from alpha, beta and gamma', (t) => answersFrom(t, clusters));
    const counts = byCluster(t);
    for (const c of clusters)
      assert.ok(counts[c]! >= 5, `${c} answered ${counts[c]} of 60: ${JSON.stringify(t.answers)}`);
    // Through the mirroring controller: the aggregate reached kube-proxy as EndpointSlices it made.
    const slices = JSON.parse(
      (
        await w.kubectl(
          ['-n', 'mefi-system', 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=web', '-o', 'json'],
          { cluster: 'alpha' },
        )
      ).stdout,
    ) as {
      items: { metadata: { labels: Record<string, string> } }[];
    };
    assert.deepEqual(
      [...new Set(slices.items.map((s) => s.metadata.labels['endpointslice.kubernetes.io/managed-by']))],
      ['endpointslicemirroring-controller.k8s.io'],
    );
  });

  it('a pod removed in gamma gets no request after the next run', async () => {
    await pods.remove({ cluster: 'gamma', namespace: 'app', name: 'web-2' });
    await eventually(
      "gamma's Endpoints without web-2",
      async () => ((await w.getEndpoints('gamma', 'app', 'web'))?.subsets?.[0]?.addresses?.length ?? 0) === 1,
    );
    assert.equal((await sync()).code, 0);
    const t = await trafficUntil(
      'no request to gamma web-2, none failing',
      (t) => answersFrom(t, clusters) && !t.answers['gamma web-2'],
    );
    assert.ok(t.answers['gamma web-1']! > 0);
  });

  it("kube-controller-manager restarted while gamma's API server is down: gamma's pods stay in the aggregate and keep answering", async () => {
    // A canary the Endpoints controller's start-up sweep deletes (no Service): when it is gone, the sweep has run.
    await w.putEndpoints('alpha', 'canary', 'canary', {}, [
      { addresses: [{ ip: '10.244.1.250' }], ports: [{ port: 1 }] },
    ]);
    const mark = w.auditMark('alpha');
    await w.kill('gamma');
    try {
      const pid = Number(readFileSync(path.join(planes.dir, 'alpha', 'controllers.pid'), 'utf8'));
      process.kill(pid, 'SIGKILL');
      // The new controller-manager takes over once the old one's leader lease expires (15 s by default).
      await eventually(
        "the new controller-manager's start-up sweep",
        async () => !(await w.getEndpoints('alpha', 'canary', 'canary')),
        60_000,
      );
      const deletes = w
        .auditSince('alpha', mark, { components: true })
        .filter(
          (e) =>
            e.verb === 'delete' &&
            e.objectRef?.resource === 'endpoints' &&
            e.user.username.startsWith('system:serviceaccount:kube-system:'),
        );
      assert.deepEqual(
        [...new Set(deletes.map((e) => `${e.objectRef!.namespace}/${e.objectRef!.name}`))],
        ['canary/canary'],
        'the controller-manager deleted no mirror',
      );

      const r = await sync();
      assert.equal(r.code, 2, 'gamma is unreadable: not converged');
      assert.match(r.stdout, /gamma/);
      const t = await trafficUntil('gamma still answers from its last known addresses', (t) =>
        answersFrom(t, clusters),
      );
      assert.ok(byCluster(t).gamma! > 0);
    } finally {
      await w.release('gamma');
    }
    assert.equal((await sync()).code, 0);
    for (const c of clusters) assert.ok(await w.getEndpoints('alpha', 'mefi-system', `web-${c}`), `mirror web-${c}`);
  });

  it("gamma's API server down: its pods keep answering (last known) until staleAfter expires, and are served again when it is back", async () => {
    assert.equal((await syncStale()).code, 0); // the Leases record this read
    const readAt = Date.now();
    await w.kill('gamma');
    try {
      assert.equal((await syncStale()).code, 2);
      await trafficUntil('gamma answers while it is not yet stale', (t) => answersFrom(t, clusters));
      await sleep(Math.max(0, readAt + 10_500 - Date.now()));
      const r = await syncStale();
      assert.equal(r.code, 2);
      assert.match(r.stdout, /stale-cluster/);
      await trafficUntil('no request to gamma once it is stale, none failing', (t) =>
        answersFrom(t, ['alpha', 'beta']),
      );
    } finally {
      await w.release('gamma');
    }
    assert.equal((await syncStale()).code, 0);
    await trafficUntil('gamma served again', (t) => answersFrom(t, clusters));
  });

  it('upgrading from the original mefi as the README says: its objects and command line, then --adopt; alpha and beta answer throughout, gamma (on its own port, which the original got wrong) once adopted', async () => {
    // What the original left in a namespace of its own here: mirrors without the cluster label (other clusters' nodeName kept),
    // and an aggregate with no labels, every address in one subset with the first mirror's ports.
    const ns = 'legacy';
    await w.ensureNamespace('alpha', ns);
    const mirrors = [];
    for (const c of clusters) {
      const src = (await w.getEndpoints(c, 'app', 'web'))!;
      mirrors.push(src);
      await w.putEndpoints('alpha', ns, `web-${c}`, { isMefiLocal: 'true', isMefiOriginalName: 'web' }, src.subsets!);
    }
    await w.putEndpoints('alpha', ns, 'web', {}, [
      {
        addresses: mirrors.flatMap((m) => m.subsets!.flatMap((x) => x.addresses ?? [])),
        ports: mirrors[0]!.subsets![0]!.ports!,
      },
    ]);
    await apply('alpha', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: ns },
      spec: { ports: [{ name: 'http', port: 80 }] },
    });
    const svc = JSON.parse(
      (await w.kubectl(['-n', ns, 'get', 'service', 'web', '-o', 'json'], { cluster: 'alpha' })).stdout,
    ) as { spec: { clusterIP: string } };
    const legacyURL = `http://${svc.spec.clusterIP}/`;
    const answering = async (what: string, wanted: string[], errorsOk: boolean) =>
      eventually(
        what,
        async () => {
          const t = await pods.fetch(client, legacyURL, 60);
          const got = Object.keys(byCluster(t)).sort();
          return JSON.stringify(got) === JSON.stringify([...wanted].sort()) && (errorsOk || t.errors === 0)
            ? t
            : undefined;
        },
        20_000,
      );
    await answering(
      "the original's aggregate: alpha and beta answer, gamma gets the wrong port",
      ['alpha', 'beta'],
      true,
    );

    // The new image with the original's command line: the watching loop. The aggregate is not taken over silently.
    const original = spawn(
      process.execPath,
      [path.join(repo, 'bin/mefi'), `--config=${config}`, `--mefi-namespace=${ns}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    original.stdout.on('data', (d) => (log += d));
    original.stderr.on('data', (d) => (log += d));
    const exited = new Promise<number | null>((resolve) => original.once('exit', resolve));
    try {
      await eventually("the loop reports the original's aggregate", async () => /--adopt takes it over/.test(log));
      await answering('still alpha and beta, untouched', ['alpha', 'beta'], true);
      const dry = await mefi(['sync', '-c', config, '-n', ns, '--adopt', '--dry-run']);
      assert.match(dry.stdout, /^adopt\s+alpha\s+legacy\/web\s+\(aggregate\)/m);
      assert.equal((await mefi(['sync', '-c', config, '-n', ns, '--adopt'])).code, 0);
      await answering('adopted: all three clusters, gamma on its own port, no error', clusters, false);
      const mark = w.auditMark('alpha');
      await sleep(1500);
      assert.deepEqual(w.writesSince('alpha', mark, ns), [], 'the loop writes nothing more');
    } finally {
      original.kill('SIGTERM');
      assert.equal(await exited, 0, log);
    }
  });

  it("affinity local with the watching loop: alpha's pods alone while ready, beta and gamma the moment they are not, home again after", async () => {
    const loop = startLoop(['-c', config, '--watch', '--resync', '5m', '--affinity', 'local']);
    const alphaPods = ['web-1', 'web-2'].map((name) => ({ cluster: 'alpha', namespace: 'app', name }));
    try {
      await trafficUntil('only alpha answers', (t) => answersFrom(t, ['alpha']));
      const t0 = Date.now();
      for (const p of alphaPods) await pods.setReady(p, false);
      // Spill-over: from the pods going not ready to every request answered elsewhere (controllers, mefi, the mirroring controller, kube-proxy).
      await eventually(
        'beta and gamma take over',
        async () => answersFrom(await pods.fetch(client, serviceURL, 20), ['beta', 'gamma']),
        20_000,
      );
      const spill = Date.now() - t0;
      const t1 = Date.now();
      for (const p of alphaPods) await pods.setReady(p, true);
      await eventually(
        'traffic returns home',
        async () => answersFrom(await pods.fetch(client, serviceURL, 20), ['alpha']),
        20_000,
      );
      process.stderr.write(
        `# affinity local: spill-over ${spill} ms, return ${Date.now() - t1} ms (pod readiness to traffic, through the real controllers and kube-proxy)\n`,
      );
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
    }
    // Back to every cluster alike for what follows.
    assert.equal((await sync()).code, 0);
  });

  it("--probe from alpha's pod network: gamma's pods, ready by its API server but unreachable from alpha, get no request after the next run, and are served again once reachable", async () => {
    const onAlpha = pods.onNode('alpha');
    const probeSync = (...args: string[]) =>
      mefi(['sync', '-c', config, '--probe', '--probe-timeout', '500ms', '-o', 'json', ...args], {}, onAlpha);
    const gammaIPs = (await w.endpointsIPs('gamma', 'app', 'web'))!.ready;
    const aggregate = async () => (await w.endpointsIPs('alpha', 'mefi-system', 'web'))!;
    const first = await probeSync();
    assert.equal(first.code, 0);
    assert.deepEqual((await aggregate()).notReady, [], `everything answers: nothing gated: ${first.stdout}`);

    await pods.route('gamma', 'blackhole');
    try {
      const direct = await pods.fetch(client, `http://${gammaIPs[0]}:${portOf('gamma')}/`, 1);
      assert.equal(direct.errors, 1, "the blackhole drops alpha's traffic to gamma's pods");
      const started = Date.now();
      const r = await probeSync();
      const wall = Date.now() - started;
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const report = JSON.parse(r.stdout) as { problems: { code: string; name: string; blocking: boolean }[] };
      assert.deepEqual(
        report.problems.filter((p) => p.code === 'unreachable').map((p) => [p.name, p.blocking]),
        [['web-gamma', false]],
      );
      // The server's word: gamma's addresses out of the aggregate (never written as not ready: Traefik would serve them), its mirror as gamma says.
      const agg = await aggregate();
      assert.deepEqual(agg.notReady, []);
      assert.equal(agg.ready.filter((ip) => gammaIPs.includes(ip)).length, 0);
      assert.deepEqual((await w.endpointsIPs('alpha', 'mefi-system', 'web-gamma'))!.ready, gammaIPs);
      await trafficUntil('no request to gamma, none failing', (t) => answersFrom(t, ['alpha', 'beta']));
      process.stderr.write(`# probe: a run with gamma blackholed (timeout 500ms) took ${wall} ms\n`);
    } finally {
      await pods.route('gamma', 'restore');
    }
    assert.equal((await probeSync()).code, 0);
    assert.deepEqual((await aggregate()).notReady, []);
    await trafficUntil('gamma served again', (t) => answersFrom(t, clusters));
  });

  it('--probe with the watching loop: a route lost and back changes what is served with no API change (the background probe starts the run)', async () => {
    const loop = startLoop(
      [
        '-c',
        config,
        '--watch',
        '--resync',
        '5m',
        '--probe',
        '--probe-timeout',
        '300ms',
        '--probe-interval',
        '1s',
        '--metrics-addr',
        '127.0.0.1:19090',
      ],
      {},
      pods.onNode('alpha'),
    );
    // The loop's metrics, read from inside alpha's node namespace, where it listens.
    const unreachableMetric = async () => {
      const r = await run(pods.onNode('alpha'), [
        process.execPath,
        '-e',
        'fetch("http://127.0.0.1:19090/metrics").then((r) => r.text()).then((t) => process.stdout.write(t))',
      ]);
      return /^mefi_unreachable_addresses\{cluster="gamma"\} (\d+)$/m.exec(r)?.[1];
    };
    try {
      await trafficUntil('all three answer', (t) => answersFrom(t, clusters));
      const t0 = Date.now();
      await pods.route('gamma', 'blackhole');
      try {
        await eventually(
          'no request to gamma, none failing',
          async () => answersFrom(await pods.fetch(client, serviceURL, 20), ['alpha', 'beta']),
          20_000,
        );
        const lost = Date.now() - t0;
        assert.equal(
          await unreachableMetric(),
          String((await w.endpointsIPs('gamma', 'app', 'web'))!.ready.length),
          "each of gamma's pods, on its one port",
        );
        const t1 = Date.now();
        await pods.route('gamma', 'restore');
        await eventually(
          'gamma served again',
          async () => answersFrom(await pods.fetch(client, serviceURL, 30), clusters),
          20_000,
        );
        await eventually('the metric back at 0', async () => (await unreachableMetric()) === '0');
        process.stderr.write(
          `# probe (interval 1s, timeout 300ms): gamma out of the traffic ${lost} ms after its route was lost, back ${Date.now() - t1} ms after it returned\n`,
        );
      } finally {
        await pods.route('gamma', 'restore');
      }
      assert.match(loop.log(), /problem.*unreachable/);
      assert.match(loop.log(), /problem cleared.*unreachable/);
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
    }
  });

  it('--probe: a thousand unreachable (address, port)s do not stretch a run past twice the probe timeout (concurrency 1000, the default)', async () => {
    // 250 addresses of gamma's pod range, 4 ports each; hand-written (a selector-less Service keeps the Endpoints controller away).
    await w.ensureNamespace('gamma', 'bulk');
    await apply('gamma', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'wide', namespace: 'bulk', labels: { isMefiRemote: 'true' } },
      spec: { ports: [1, 2, 3, 4].map((i) => ({ name: `p${i}`, port: 8000 + i })) },
    });
    const addresses = Array.from({ length: 250 }, (_, i) => ({ ip: `10.244.3.${i + 3}` }));
    await w.putEndpoints('gamma', 'bulk', 'wide', { isMefiRemote: 'true' }, [
      { addresses, ports: [1, 2, 3, 4].map((i) => ({ name: `p${i}`, port: 8000 + i })) },
    ]);
    await pods.route('gamma', 'blackhole');
    try {
      const started = Date.now();
      const r = await mefi(
        ['sync', '-c', config, '--probe', '--probe-timeout', '1s', '-o', 'json'],
        {},
        pods.onNode('alpha'),
      );
      const wall = Date.now() - started;
      assert.equal(r.code, 0, r.stderr);
      const report = JSON.parse(r.stdout) as {
        summary: { phases: { probeMs: number } };
        probe: { unreachable: Record<string, number> };
      };
      const agg = (await w.getEndpoints('alpha', 'mefi-system', 'wide'))!;
      assert.equal(
        (agg.subsets ?? []).flatMap((s) => [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])]).length,
        0,
        'every address gated: the aggregate stands, empty',
      );
      assert.equal(
        (await w.getEndpoints('alpha', 'mefi-system', 'wide-gamma'))!.subsets!.flatMap((s) => s.addresses ?? []).length,
        250,
        'the mirror as gamma says',
      );
      assert.ok(report.summary.phases.probeMs <= 2_300, `probing took ${report.summary.phases.probeMs} ms`);
      assert.equal(report.probe.unreachable.gamma, 1000, 'the report counts each silent (address, port)');
      process.stderr.write(
        `# probe: 1,000 unreachable (address, port)s, timeout 1s, concurrency 1000: probing ${report.summary.phases.probeMs} ms, the whole run ${wall} ms\n`,
      );
      // Too few slots for the silent ones: still within the bound, and said.
      const few = await mefi(
        ['sync', '-c', config, '--probe', '--probe-timeout', '1s', '--probe-concurrency', '100', '-o', 'json'],
        {},
        pods.onNode('alpha'),
      );
      assert.equal(few.code, 0, few.stderr);
      const fewMs = (JSON.parse(few.stdout) as { summary: { phases: { probeMs: number } } }).summary.phases.probeMs;
      assert.ok(fewMs <= 2_300, `probing took ${fewMs} ms`);
      assert.match(few.stderr, /probe budget spent before every address was probed.* unprobed=[1-9]\d*/);
    } finally {
      await pods.route('gamma', 'restore');
      await w.deleteEndpoints('gamma', 'bulk', 'wide');
      await w.deleteService('gamma', 'bulk', 'wide');
    }
    assert.equal((await sync()).code, 0);
    assert.equal(await w.getEndpoints('alpha', 'mefi-system', 'wide'), undefined);
  });

  it('switching to EndpointSlice mode as the README says: no drift at any step, every cluster answering throughout, no controller slice deleted by mefi', async () => {
    const mark = w.auditMark('alpha');
    const noDrift = async (step: string) => {
      const d = await mefi(['diff', '-c', config, '--target', 'endpointslices']);
      assert.equal(d.code, 0, `${step}: mefi diff --target endpointslices: ${d.stdout}${d.stderr}`);
      await trafficUntil(`${step}: all three clusters answer`, (t) => answersFrom(t, clusters));
    };
    // Step 1: slices beside the Endpoints (kube-proxy sees the mirroring controller's slices and mefi's).
    assert.equal((await sync('--target', 'endpointslices')).code, 0);
    await noDrift('slices written');
    // Step 2: the Endpoints mefi wrote are removed; the mirroring controller removes its slices.
    const del = await w.kubectl(['-n', 'mefi-system', 'delete', 'endpoints', '-l', 'isMefiLocal=true'], {
      cluster: 'alpha',
    });
    assert.equal(del.code, 0, del.stderr);
    await noDrift('Endpoints removed');
    assert.equal((await sync('--target', 'endpointslices')).code, 0);
    await noDrift('a second run');
    const mefiSliceDeletes = w
      .auditSince('alpha', mark)
      .filter(
        (e) => e.verb === 'delete' && e.objectRef?.resource === 'endpointslices' && e.userAgent?.startsWith('mefi/'),
      );
    assert.deepEqual(
      mefiSliceDeletes.map((e) => e.objectRef!.name),
      [],
    );
  });

  it('an Endpoints-mode aggregate over 1,000 addresses in a subset is reported, as the mirroring controller truncates it', async () => {
    const many = Array.from({ length: 1100 }, (_, i) => ({ ip: `10.244.${100 + (i >> 8)}.${i & 255}` }));
    // Hand-written: no controller makes an Endpoints this size from the bed's pods. Its selector-less Service keeps the Endpoints controller away.
    await w.ensureNamespace('beta', 'bulk');
    await apply('beta', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'big', namespace: 'bulk', labels: { isMefiRemote: 'true' } },
      spec: { ports: [{ name: 'http', port: 80 }] },
    });
    await w.putEndpoints('beta', 'bulk', 'big', { isMefiRemote: 'true' }, [
      { addresses: many, ports: [{ name: 'http', port: 80 }] },
    ]);
    await apply('alpha', {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'big', namespace: 'mefi-system' },
      spec: { ports: [{ name: 'http', port: 80 }] },
    });
    const r = await mefi(['sync', '-c', config, '-o', 'json']);
    const report = JSON.parse(r.stdout) as { problems: { code: string; name: string; message: string }[] };
    assert.deepEqual(
      report.problems.filter((p) => p.code === 'too-many-addresses').map((p) => p.name),
      ['big'],
    );
    // What the real controller made of it: 1,000 endpoints in slices, and its warning event.
    await eventually("the mirroring controller's slices of big", async () => {
      const out = JSON.parse(
        (
          await w.kubectl(
            ['-n', 'mefi-system', 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=big', '-o', 'json'],
            { cluster: 'alpha' },
          )
        ).stdout,
      ) as { items: { endpoints?: unknown[] }[] };
      return out.items.reduce((n, s) => n + (s.endpoints?.length ?? 0), 0) === 1000;
    });
    const events = (
      await w.kubectl(
        ['-n', 'mefi-system', 'get', 'events', '--field-selector', 'reason=TooManyAddressesToMirror', '-o', 'name'],
        { cluster: 'alpha' },
      )
    ).stdout;
    assert.match(events, /event/);
  });
});
