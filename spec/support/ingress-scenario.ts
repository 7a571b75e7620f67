// One scenario for every ingress controller (DESIGN.md §8): each reads the
// Service's EndpointSlices itself, with its own rules, and what counts is
// where the requests land, counted at the pods. The controller runs in
// alpha's node namespace over resources from examples/target exactly as a
// user applies them; the scenario walks every check in Endpoints mode and in
// slice mode, and runs continuous load across the watching loop restarted,
// alpha's controller-manager restarted, gamma's API server down and back, and
// the README's switch to slice mode: not one failed request. Needs root (the
// routed pod network).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { client, clusters, deployWeb, portOf } from './app.ts';
import { startControlPlanes, type ControlPlanes } from './launch.ts';
import { byCluster, makePods, type Pods, type PodRef, type Traffic } from './pods.ts';
import { eventually, makeWorld, mefi, repo, startLoop, type Loop, type World } from './world.ts';

/** A running ingress controller, as the scenario drives it. */
export interface Ingress {
  /** http://<node IP>:<listener>/, as a client pod reaches it. */
  url: string;
  /** Each resource kind under test and the virtual host it routes. */
  hosts: Record<string, string>;
  /** A route over the cluster services (--cluster-services) that weights clusters, in percent. */
  weighted?: { host: string; weights: Record<string, number> };
  log(): string;
  stop(): Promise<void>;
}

/** What a controller's module gives the scenario: its start, once the bed stands (the user's resources are its to apply). */
export type StartIngress = (bed: { w: World; pods: Pods; work: string; client: PodRef }) => Promise<Ingress>;

/** A controller's own manifests (CRDs, roles), server-side as they are large, and its CRDs established before anything uses them. */
export async function installManifests(w: World, cluster: string, files: string[], crds: string[]): Promise<void> {
  for (const f of files) {
    const r = await w.kubectl(['apply', '--server-side', '-f', f], { cluster });
    if (r.code !== 0) throw new Error(`${path.basename(f)}: ${r.stderr}`);
  }
  const r = await w.kubectl(['wait', '--for=condition=Established', ...crds.map((c) => `crd/${c}`)], { cluster });
  if (r.code !== 0) throw new Error(`CRDs ${crds.join(', ')}: ${r.stderr}`);
}

/** What a controller's chart would have made (its classes), then the repository's examples/target files, as a user applies them. */
export async function applyExamples(w: World, cluster: string, files: string[], made: object[] = []): Promise<void> {
  if (made.length) {
    const r = await w.kubectl(['apply', '-f', '-'], {
      cluster,
      input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: made }),
    });
    if (r.code !== 0) throw new Error(`${made.map((o) => (o as { kind: string }).kind).join(', ')}: ${r.stderr}`);
  }
  for (const f of files) {
    const r = await w.kubectl(['apply', '-f', path.join(repo, 'examples/target', f)], { cluster });
    if (r.code !== 0) throw new Error(`examples/target/${f}: ${r.stderr}`);
  }
}

/** A started controller is ready when every host answers through it; if one never does, it is stopped and its log said. */
export async function answering(what: string, pods: Pods, client: PodRef, running: Ingress): Promise<Ingress> {
  for (const host of Object.values(running.hosts))
    await eventually(
      `${what} answers ${host}`,
      async () => (await pods.fetch(client, running.url, 1, { host })).errors === 0,
      60_000,
    ).catch(async (e: Error) => {
      const logs = running.log();
      await running.stop();
      throw new Error(`${e.message}\n${logs}`);
    });
  return running;
}

function skipFor(missing: string | false): string | false {
  if (!process.env.MEFI_CONTROLPLANE) return 'needs the control plane binary that make test builds';
  if (process.getuid?.() !== 0)
    return 'needs root: the routed pod network is made of network namespaces, veths and nftables (CI runs as root)';
  return missing;
}

type Mode = 'endpoints' | 'endpointslices';

/** The scenario's bed, for a controller's own checks after the shared ones. */
export interface IngressBed {
  w: World;
  pods: Pods;
  ingress: Ingress;
  planes: ControlPlanes;
  /** The scenario's mefi.yaml: alpha the target, every cluster a source. */
  config: string;
  through: (url: string, host: string, count?: number) => Promise<Traffic>;
}

export interface IngressOptions {
  /** The bed serves the Multi-Cluster Services API (its CRDs in every cluster before the controller starts). */
  mcs?: boolean;
  /** The controller's own tests, run after the shared ones, on the same bed. */
  more?: (bed: () => IngressBed) => void;
}

export function describeIngress(
  name: string,
  missing: string | false,
  start: StartIngress,
  options: IngressOptions = {},
): void {
  describe(
    `through ${name}: every cluster answers, and nothing mefi does not serve gets a request`,
    { skip: skipFor(missing), timeout: 900_000 },
    () => {
      let planes: ControlPlanes;
      let w: World;
      let pods: Pods;
      let ingress: Ingress;
      let hosts: Record<string, string> = {};
      let config = '';
      let work = '';

      const through = (host: string, count = 30): Promise<Traffic> => pods.fetch(client, ingress.url, count, { host });
      const answersFrom = (t: Traffic, wanted: string[]) =>
        t.errors === 0 && JSON.stringify(Object.keys(byCluster(t)).sort()) === JSON.stringify([...wanted].sort());
      /** Through both resources, until what answers settles as wanted. */
      const until = async (what: string, ok: (t: Traffic) => boolean, timeoutMs = 20_000) => {
        for (const [kind, host] of Object.entries(hosts)) {
          await eventually(
            `${kind}: ${what}`,
            async () => {
              const t = await through(host);
              return ok(t) ? t : undefined;
            },
            timeoutMs,
          ).catch(async (err) => {
            throw new Error(
              `${(err as Error).message}; last: ${JSON.stringify(await through(host))}\n${ingress.log().slice(-3000)}`,
            );
          });
        }
      };
      const sync = (mode: Mode, ...args: string[]) => mefi(['sync', '-c', config, '--target', mode, ...args]);
      const synced = async (mode: Mode, ...args: string[]) => {
        const r = await sync(mode, ...args);
        assert.equal(r.code, 0, r.stdout + r.stderr);
      };

      before(async () => {
        work = mkdtempSync(path.join(tmpdir(), 'mefi-ingress-'));
        planes = await startControlPlanes(path.join(work, 'bed'), clusters, { network: true, mcs: options.mcs });
        w = makeWorld(planes.dir);
        pods = makePods(planes.dir);
        await deployWeb(w, pods);
        await w.ensureNamespace('alpha', 'mefi-system');
        config = w.writeConfig().file;
        await synced('endpoints');
        const started = Date.now();
        ingress = await start({ w, pods, work, client });
        hosts = ingress.hosts;
        process.stderr.write(`# ${name} answering in ${Date.now() - started} ms\n`);
      });

      after(async () => {
        await ingress?.stop();
        await planes?.stop();
        if (work) rmSync(work, { recursive: true, force: true });
      });

      /** Every check in turn, in one mode; the world is as it started when it returns. */
      async function walk(mode: Mode) {
        await synced(mode);
        await until('alpha, beta and gamma answer (gamma on its own port)', (t) => answersFrom(t, clusters));

        // A pod that is not ready gets no request.
        const beta2 = { cluster: 'beta', namespace: 'app', name: 'web-2' };
        await pods.setReady(beta2, false);
        await eventually(
          'beta web-2 not ready in its Endpoints',
          async () => ((await w.endpointsIPs('beta', 'app', 'web'))?.notReady.length ?? 0) === 1,
        );
        await synced(mode);
        await until('beta web-2, not ready, gets nothing', (t) => answersFrom(t, clusters) && !t.answers['beta web-2']);
        await pods.setReady(beta2, true);
        await eventually(
          'beta web-2 ready again',
          async () => ((await w.endpointsIPs('beta', 'app', 'web'))?.ready.length ?? 0) === 2,
        );
        await synced(mode);
        await until('beta web-2 served again', (t) => answersFrom(t, clusters) && (t.answers['beta web-2'] ?? 0) > 0);

        // A deleted pod gets none after the next run.
        const gamma3 = { cluster: 'gamma', namespace: 'app', name: `web-${mode}` };
        await pods.add({ ...gamma3, labels: { app: 'web' }, ports: [portOf('gamma')] });
        await eventually(
          'gamma has three pods',
          async () => ((await w.endpointsIPs('gamma', 'app', 'web'))?.ready.length ?? 0) === 3,
        );
        await synced(mode);
        await until('the new gamma pod answers', (t) => (t.answers[`gamma web-${mode}`] ?? 0) > 0 && t.errors === 0);
        await pods.remove(gamma3);
        await eventually(
          'gamma back to two pods',
          async () => ((await w.endpointsIPs('gamma', 'app', 'web'))?.ready.length ?? 0) === 2,
        );
        await synced(mode);
        await until('the deleted pod gets nothing', (t) => answersFrom(t, clusters) && !t.answers[`gamma web-${mode}`]);

        // affinity local: alpha alone while ready, beta and gamma when not, home again.
        const alphaPods = ['web-1', 'web-2'].map((name) => ({ cluster: 'alpha', namespace: 'app', name }));
        await synced(mode, '--affinity', 'local');
        await until('affinity local: only alpha answers', (t) => answersFrom(t, ['alpha']));
        for (const p of alphaPods) await pods.setReady(p, false);
        await eventually(
          "alpha's pods not ready",
          async () => ((await w.endpointsIPs('alpha', 'app', 'web'))?.ready.length ?? -1) === 0,
        );
        await synced(mode, '--affinity', 'local');
        await until('affinity local, alpha not ready: beta and gamma answer', (t) => answersFrom(t, ['beta', 'gamma']));
        for (const p of alphaPods) await pods.setReady(p, true);
        await eventually(
          "alpha's pods ready",
          async () => ((await w.endpointsIPs('alpha', 'app', 'web'))?.ready.length ?? 0) === 2,
        );
        await synced(mode, '--affinity', 'local');
        await until('affinity local: home again', (t) => answersFrom(t, ['alpha']));

        // --probe from alpha's pod network: gamma blackholed, then back.
        const probe = (...args: string[]) =>
          mefi(
            ['sync', '-c', config, '--target', mode, '--probe', '--probe-timeout', '500ms', ...args],
            {},
            pods.onNode('alpha'),
          );
        assert.equal((await probe()).code, 0);
        await until('probed: all three answer', (t) => answersFrom(t, clusters));
        await pods.route('gamma', 'blackhole');
        try {
          assert.equal((await probe()).code, 0);
          await until('gamma blackholed: no request to gamma, none failing', (t) => answersFrom(t, ['alpha', 'beta']));
        } finally {
          await pods.route('gamma', 'restore');
        }
        assert.equal((await probe()).code, 0);
        await until('gamma served again', (t) => answersFrom(t, clusters));
      }

      it('Endpoints mode (the aggregate, through the mirroring controller): every resource kind', async () => {
        await walk('endpoints');
      });

      it("measured with the watching loop (--probe): from a pod going not ready, and from a cluster's route lost, to no request reaching it", async () => {
        // make test runs 2 trials (each a correctness check too); make test-ingress runs the README's 20.
        const trials = Number(process.env.MEFI_INGRESS_TRIALS ?? 2);
        const [kind, host] = Object.entries(hosts)[0]!;
        const loop = startLoop(
          ['-c', config, '--watch', '--resync', '5m', '--probe', '--probe-timeout', '300ms', '--probe-interval', '1s'],
          {},
          pods.onNode('alpha'),
        );
        const batch = () => pods.fetch(client, ingress.url, 12, { host, timeout: '250ms', trace: true });
        /** Until `ok` holds for a batch. */
        const since = async (ok: (t: Traffic) => boolean, what: string) => {
          for (const deadline = Date.now() + 20_000; Date.now() < deadline;) if (ok(await batch())) return;
          throw new Error(`${what}: not within 20 s\n${loop.log().slice(-2000)}`);
        };
        /**
         * ms from a change to the last request that `hit` (reached the pod, or
         * was lost in the blackhole), by its send time. Requests flow before and
         * across the change (every 10 ms, each traced), so the figure does not
         * depend on when a batch starts; one that fails is known at its 250 ms
         * timeout and counted at when it was sent. The pod must have been hit
         * before the change, or the figure would mean nothing.
         */
        const lastHit = async (
          change: () => Promise<unknown>,
          hit: (e: NonNullable<Traffic['trace']>[number]) => boolean,
          what: string,
        ) => {
          const across = pods.fetch(client, ingress.url, 200, {
            host,
            timeout: '250ms',
            interval: '10ms',
            trace: true,
          });
          // The client starts in its pod by exec (through the API server and the kubelet: 0.1-0.5 s): a second leaves it time to hit the pod.
          await new Promise((r) => setTimeout(r, 1000));
          const t0 = Date.now();
          await change();
          const first = (await across).trace ?? [];
          assert.ok(
            first.some((e) => e.at < t0 && hit(e)),
            `${what}: it was reached before the change`,
          );
          let last = t0;
          const take = (trace: NonNullable<Traffic['trace']>) => {
            const hits = trace.filter((e) => e.at >= t0 && hit(e));
            for (const e of hits) last = Math.max(last, e.at);
            return hits.length;
          };
          take(first);
          for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
            // Settled: a second without a hit, while every batch reaches each served pod more than once.
            if (take((await batch()).trace ?? []) === 0 && Date.now() - last > 1000) return last - t0;
          }
          throw new Error(`${what}: not within 30 s\n${loop.log().slice(-2000)}`);
        };
        const beta2 = { cluster: 'beta', namespace: 'app', name: 'web-2' };
        const notReady: number[] = [];
        const blackholed: number[] = [];
        try {
          await since((t) => answersFrom(t, clusters), 'all three answer');
          for (let i = 0; i < trials; i++) {
            notReady.push(
              await lastHit(
                () => pods.setReady(beta2, false),
                (e) => e.answer === 'beta web-2',
                'beta web-2 gets no request',
              ),
            );
            await pods.setReady(beta2, true);
            await since((t) => (t.answers['beta web-2'] ?? 0) > 0, 'beta web-2 served again');
          }
          for (let i = 0; i < trials; i++) {
            try {
              blackholed.push(
                await lastHit(
                  () => pods.route('gamma', 'blackhole'),
                  (e) => !!e.failed || !!e.answer?.startsWith('gamma '),
                  'no request to gamma',
                ),
              );
            } finally {
              await pods.route('gamma', 'restore');
            }
            await since((t) => answersFrom(t, clusters), 'gamma served again');
          }
        } finally {
          await pods.setReady(beta2, true);
          await pods.route('gamma', 'restore');
          assert.equal(await loop.stop(), 0, loop.log());
        }
        const pct = (xs: number[], p: number) =>
          [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];
        process.stderr.write(
          `# ${name} (${kind}, watching loop, --probe-interval 1s, ${trials} trials): not ready → no request p50 ${pct(notReady, 50)} / p99 ${pct(notReady, 99)} ms; route lost → no request p50 ${pct(blackholed, 50)} / p99 ${pct(blackholed, 99)} ms\n`,
        );
        assert.equal(notReady.length, trials);
        assert.equal(blackholed.length, trials);
      });

      it("under continuous load, not one failed request: the watching loop restarted, alpha's controller-manager restarted, gamma's API server down and back, the switch to slice mode", async () => {
        const steps: { step: string; answers: Record<string, number>; errors: number; lastError?: string }[] = [];
        let step = 'start';
        let running = true;
        // 20 requests a second through each resource, for the whole test.
        const load = Promise.all(
          Object.values(hosts).map(async (host) => {
            while (running) {
              const t = await pods.fetch(client, ingress.url, 10, { host, interval: '50ms' });
              let s = steps.find((x) => x.step === step);
              if (!s) steps.push((s = { step, answers: {}, errors: 0 }));
              for (const [c, n] of Object.entries(byCluster(t))) s.answers[c] = (s.answers[c] ?? 0) + n;
              s.errors += t.errors;
              if (t.lastError) s.lastError = t.lastError;
            }
          }),
        );
        const settle = () => new Promise((r) => setTimeout(r, 3000));
        let loop: Loop | undefined = startLoop(['-c', config, '--watch', '--resync', '5m']);
        try {
          await settle();
          step = 'loop restarted';
          assert.equal(await loop.stop(), 0, loop.log());
          await settle();
          loop = startLoop(['-c', config, '--watch', '--resync', '5m']);
          await settle();

          step = 'controller-manager restarted';
          process.kill(Number(readFileSync(path.join(planes.dir, 'alpha', 'controllers.pid'), 'utf8')), 'SIGKILL');
          // The new one leads once the old one's lease expires (15 s), then resyncs every slice it mirrors.
          await new Promise((r) => setTimeout(r, 20_000));

          step = 'gamma down';
          await w.kill('gamma');
          await settle();
          await w.release('gamma');
          step = 'gamma back';
          await settle();

          step = 'switch to slice mode';
          assert.equal(await loop.stop(), 0, loop.log());
          loop = startLoop(['-c', config, '--watch', '--resync', '5m', '--target', 'endpointslices']);
          await eventually(
            "mefi's slices written",
            async () => (await mefi(['diff', '-c', config, '--target', 'endpointslices'])).code === 0,
          );
          const del = await w.kubectl(['-n', 'mefi-system', 'delete', 'endpoints', '-l', 'isMefiLocal=true'], {
            cluster: 'alpha',
          });
          assert.equal(del.code, 0, del.stderr);
          await settle();
          step = 'slice mode';
          await settle();
        } finally {
          running = false;
          await load;
          if (loop) assert.equal(await loop.stop(), 0, loop.log());
        }
        process.stderr.write(`# ${name} under load: ${JSON.stringify(steps)}\n`);
        for (const s of steps) {
          assert.equal(s.errors, 0, `${s.step}: ${s.errors} failed (${s.lastError})`);
          assert.deepEqual(Object.keys(s.answers).sort(), clusters, `${s.step}: every cluster answers`);
        }
        assert.ok(steps.length >= 7, `every step saw traffic: ${steps.map((s) => s.step).join(', ')}`);
      });

      it("slice mode (mefi's slices, serving written): every resource kind", async () => {
        await walk('endpointslices');
      });

      it('a weighted split between clusters over their own Services (--cluster-services), within 12 points of the weights', async (t) => {
        const split = ingress.weighted;
        if (!split) return t.skip("this controller's example has no weighted route");
        await synced('endpointslices', '--cluster-services');
        const weighted = Object.keys(split.weights).sort();
        await eventually('both weighted clusters answer', async () => {
          const t = await pods.fetch(client, ingress.url, 30, { host: split.host });
          return answersFrom(t, weighted) ? t : undefined;
        });
        const n = 200;
        const t1 = await pods.fetch(client, ingress.url, n, { host: split.host });
        const counts = byCluster(t1);
        process.stderr.write(
          `# ${name}: weighted split ${JSON.stringify(split.weights)} over ${n} requests: ${JSON.stringify(counts)}\n`,
        );
        assert.equal(t1.errors, 0, t1.lastError);
        assert.deepEqual(Object.keys(counts).sort(), weighted, 'only the weighted clusters answer');
        // Per-request random choice (Envoy) is binomial: 12 points is over 4 standard deviations at 200 requests.
        for (const [c, w] of Object.entries(split.weights))
          assert.ok(Math.abs((100 * counts[c]!) / n - w) <= 12, `${c}: ${counts[c]} of ${n}, weight ${w}`);
        // Turned off: the cluster services' slices go, and nothing else is written.
        const m = w.auditMark('alpha');
        await synced('endpointslices');
        // (The controller writes its routes' status meanwhile: only mefi's kinds are counted.)
        const writes = w
          .writesSince('alpha', m, 'mefi-system')
          .filter((x) => x.objectRef?.resource === 'endpointslices' || x.objectRef?.resource === 'endpoints');
        assert.ok(
          writes.length > 0 && writes.every((x) => x.verb === 'delete' && /-only-\d+$/.test(x.objectRef?.name ?? '')),
          JSON.stringify(writes.map((x) => `${x.verb} ${x.objectRef?.name}`)),
        );
      });

      options.more?.(() => ({
        w,
        pods,
        ingress,
        planes,
        config,
        through: (url, host, count = 30) => pods.fetch(client, url, count, { host }),
      }));
    },
  );
}
