// The image users deploy: built by make image's recipe (spec/support/image.ts,
// cached by its inputs), then run by podman exactly as the Deployment and the
// CronJob in manifests/ run it, taken from the API server that stores them:
// the same user and groups, read-only root file system, no capabilities, no
// privilege escalation, the config and the remotes Secret mounted read-only
// where the manifests mount them, the mefi ServiceAccount's token where
// Kubernetes mounts it, and nothing writable. Against three real API servers
// with the shipped RBAC, every outcome is read back from them.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import {
  buildImage,
  contents,
  mb,
  missingTools,
  parts,
  podman,
  reference,
  skopeo,
  version,
  type Built,
  type Contents,
} from '../support/image.ts';
import { bytes, kubeletRun, podOf, written, type Node, type PodSpec } from '../support/kubelet.ts';
import { startControlPlanes, type ControlPlanes } from '../support/launch.ts';
import { nodeFlags } from '../support/node-flags.ts';
import { serviceAccount } from '../support/serviceaccount.ts';
import { eventually, makeWorld, repo, subset, uid, type World } from '../support/world.ts';

const skip =
  process.getuid?.() !== 0
    ? "needs root: the image is built with mmdebstrap and buildah, and run by podman with runc, in root's storage under .cache (CI runs as root)"
    : !process.env.MEFI_CONTROLPLANE || !process.env.MEFI_KUBECTL
      ? 'needs the control plane and kubectl that make test builds'
      : missingTools().length
        ? `needs ${missingTools().join(', ')} (make image-deps installs them)`
        : false;

const ns = 'mefi-system';
const clusters = ['alpha', 'beta', 'gamma'];
/** Sources as a user labels them (examples/app/web.yaml): the manifests' command lines run unchanged. */
const labels = { isMefiRemote: 'true' };
const ips: Record<string, string[]> = {
  alpha: ['10.244.1.5', '10.244.1.6'],
  beta: ['10.244.2.5'],
  gamma: ['10.244.3.5', '10.244.3.6'],
};
/** What the image may weigh (the README gives the figures: 51 MB compressed, 153 MB unpacked). */
const budget = { compressed: 60e6, unpacked: 175e6 };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once('error', reject);
  });
}

type Workload = { kind: string; metadata: { name: string }; spec: unknown };

describe('the image, run as the manifests run it', { skip, timeout: 900_000 }, () => {
  let planes: ControlPlanes;
  let w: World;
  let work = '';
  let built: Built;
  let image: Contents;
  let node: Node;
  let cronJob: PodSpec;
  let deployment: PodSpec;
  /** The manifests' image reference, run as the archive's image (its ID). */
  let images: Record<string, string> = {};
  const id = uid('i');
  const app = `shop-${id}`;
  const names: string[] = [];
  const name = (what: string) => {
    names.push(`mefi-image-test-${id}-${what}`);
    return names.at(-1)!;
  };
  const kubectl = async (cluster: string, args: string[], cwd?: string) => {
    const r = await w.kubectl(args, { cluster, ...(cwd ? { cwd } : {}) });
    assert.equal(r.code, 0, `${cluster}: kubectl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'mefi-image-'));
    built = await buildImage();
    image = await contents(built.archive);
    // Containers a killed run of this test left behind (the engines' storage is this repository's own).
    const left = await podman(['ps', '--all', '--format', '{{.Names}}']);
    for (const n of left.stdout.split('\n').filter((n) => n.startsWith('mefi-image-test-')))
      await podman(['rm', '--force', '--time=0', n]);
    // The archive is what runs: loaded, then started by its config's digest (the image ID).
    const load = await podman(['load', '--input', built.archive]);
    assert.equal(load.code, 0, load.stderr);
    images = { [reference]: image.id };

    planes = await startControlPlanes(path.join(work, 'clusters'), clusters, { controllers: false });
    w = makeWorld(planes.dir, clusters);
    for (const c of clusters) {
      await kubectl(c, ['apply', '-k', 'manifests/']);
      await w.putEndpoints(c, app, 'web', labels, [subset(ips[c]!)]);
    }
    // README, "Cross-cluster kubeconfigs": each other cluster's mefi-reader, in the Secret mefi-remotes (README step 5).
    for (const c of ['beta', 'gamma']) {
      const reader = await serviceAccount(w, c, ns, 'mefi-reader', work);
      const kubeconfig = {
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          {
            name: c,
            cluster: {
              server: reader.server,
              'certificate-authority-data': readFileSync(reader.caFile).toString('base64'),
            },
          },
        ],
        users: [{ name: 'mefi-reader', user: { token: readFileSync(reader.tokenFile, 'utf8') } }],
        contexts: [{ name: c, context: { cluster: c, user: 'mefi-reader' } }],
        'current-context': c,
      };
      writeFileSync(path.join(work, `${c}.kubeconfig`), JSON.stringify(kubeconfig));
    }
    await kubectl(
      'alpha',
      [
        '-n',
        ns,
        'create',
        'secret',
        'generic',
        'mefi-remotes',
        '--from-file=beta.kubeconfig',
        '--from-file=gamma.kubeconfig',
      ],
      work,
    );

    // What a kubelet of alpha gives the pod: its volumes' objects, and a token of the pod's ServiceAccount (mefi) bound by the API server.
    const self = await serviceAccount(w, 'alpha', ns, 'mefi', work);
    const server = new URL(self.server);
    node = {
      dir: path.join(work, 'pods'),
      data: async (kind, objectName) => {
        const r = await w.kubectl(['-n', ns, 'get', kind.toLowerCase(), objectName, '-o', 'json'], {
          cluster: 'alpha',
        });
        if (r.code !== 0 && /NotFound/.test(r.stderr)) return undefined;
        assert.equal(r.code, 0, r.stderr);
        const o = JSON.parse(r.stdout) as { data?: Record<string, string> };
        return Object.fromEntries(
          Object.entries(o.data ?? {}).map(([k, v]) => [k, Buffer.from(v, kind === 'Secret' ? 'base64' : 'utf8')]),
        );
      },
      serviceAccount: {
        token: readFileSync(self.tokenFile, 'utf8'),
        ca: readFileSync(self.caFile),
        namespace: ns,
        host: server.hostname,
        port: server.port,
      },
    };
    // The workloads as the API server stores them (defaults applied): the CronJob applied, the loop's Deployment by a server-side dry run.
    cronJob = podOf(JSON.parse(await kubectl('alpha', ['-n', ns, 'get', 'cronjob', 'mefi', '-o', 'json'])) as Workload);
    const loop = JSON.parse(
      await kubectl('alpha', ['apply', '-k', 'manifests/loop', '--dry-run=server', '-o', 'json']),
    ) as { items: Workload[] };
    deployment = podOf(loop.items.find((o) => o.kind === 'Deployment')!);
  });

  after(async () => {
    for (const n of names) await podman(['rm', '--force', '--time=0', n]);
    await planes?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('is the archive make image writes: skopeo reads it, non-root, no shell or package manager, production dependencies only, small', async (t) => {
    t.diagnostic(
      `${path.basename(built.archive)}: ${built.built ? 'built' : 'unchanged, not rebuilt'} in ${(built.ms / 1000).toFixed(1)} s; ${mb(image.compressed)} compressed, ${mb(image.unpacked)} unpacked; ${parts(
        image,
      )
        .slice(0, 5)
        .map((p) => `${p.part} ${mb(p.bytes)}`)
        .join(', ')}`,
    );
    const inspect = await skopeo(['inspect', '--config', `oci-archive:${built.archive}`]);
    assert.equal(inspect.code, 0, inspect.stderr);
    const config = JSON.parse(inspect.stdout) as Contents['config'];
    assert.deepEqual(config, image.config, 'skopeo reads the config this test reads');
    assert.equal(config.architecture, 'amd64');
    assert.equal(config.config.User, '65532:65532');
    assert.deepEqual(config.config.Entrypoint, ['/nodejs/bin/node', ...nodeFlags(), '/app/bin/mefi']);
    assert.equal(config.config.Labels?.['org.opencontainers.image.version'], version);
    assert.equal(image.refName, reference);

    // One image reference, the archive's: the kustomize workloads' and the chart's default (repository:appVersion).
    for (const dir of ['manifests/cronjob', 'manifests/loop']) {
      const rendered = await kubectl('alpha', ['kustomize', dir]);
      assert.deepEqual(
        [...rendered.matchAll(/^\s+image: (\S+)$/gm)].map((m) => m[1]),
        [reference],
        dir,
      );
    }
    const chart = parse(readFileSync(path.join(repo, 'manifests/helm/mefi/Chart.yaml'), 'utf8')) as {
      appVersion: string;
    };
    const values = parse(readFileSync(path.join(repo, 'manifests/helm/mefi/values.yaml'), 'utf8')) as {
      image: { repository: string; tag: string };
    };
    assert.equal(
      `${values.image.repository}:${values.image.tag || chart.appVersion}`,
      reference,
      "the chart's default image",
    );

    const files = [...image.files.keys()];
    assert.ok(image.files.get('nodejs/bin/node')! > 50e6, 'node is there');
    assert.deepEqual(
      files.filter(
        (f) =>
          /^(usr\/)?(local\/)?s?bin\/(sh|bash|dash|ash|busybox|env|apt|apt-get|dpkg|npm|npx|corepack|yarn)$/.test(f) ||
          /(^|\/)node_modules\/(npm|corepack)\//.test(f),
      ),
      [],
      'no shell, no package manager',
    );
    assert.deepEqual(
      files.filter((f) => /\.(d\.[mc]?ts|map)$/.test(f)),
      [],
      'no type declarations or source maps',
    );
    // Exactly the lockfile's production packages.
    const lock = JSON.parse(readFileSync(path.join(repo, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    for (const [p, entry] of Object.entries(lock.packages)) {
      if (!p) continue;
      const there = image.files.has(`app/${p}/package.json`);
      if (entry.dev) assert.ok(!there, `${p} is a development dependency`);
      else if (!entry.optional) assert.ok(there, `${p} is a production dependency`);
    }
    assert.ok(image.compressed < budget.compressed, `compressed ${mb(image.compressed)}`);
    assert.ok(image.unpacked < budget.unpacked, `unpacked ${mb(image.unpacked)}`);
  });

  it("prints package.json's version, run as the CronJob runs it", async () => {
    const run = await kubeletRun(cronJob, node, { name: name('version'), images, args: ['--version'] });
    const r = await podman(['run', ...run.args]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
  });

  it('a sync converges, as the CronJob runs it: alpha holds the mirrors and the aggregate, written by the mefi ServiceAccount', async () => {
    const m = w.marks();
    const run = await kubeletRun(cronJob, node, { name: name('sync'), images });
    assert.deepEqual(
      run.args.slice(run.args.indexOf(image.id) + 1),
      ['sync', '--config=/etc/mefi/config/mefi.yaml', '--log-format=json', '--request-timeout=10s'],
      "the CronJob's command line, unchanged",
    );
    const r = await podman(['run', ...run.args], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const c of clusters)
      assert.deepEqual((await w.endpointsIPs('alpha', ns, `web-${c}`))?.ready, ips[c], `mirror web-${c}`);
    assert.deepEqual(
      (await w.endpointsIPs('alpha', ns, 'web'))?.ready,
      Object.values(ips).flat().sort(),
      'the aggregate',
    );
    const creates = w
      .auditSince('alpha', m.alpha!)
      .filter((e) => e.verb === 'create' && e.objectRef?.resource === 'endpoints');
    assert.deepEqual(
      creates.map((e) => e.user.username),
      Array(4).fill('system:serviceaccount:mefi-system:mefi'),
      'written with the in-cluster token',
    );
    for (const c of ['beta', 'gamma']) {
      const lists = w.auditSince(c, m[c]!).filter((e) => e.verb === 'list' && e.objectRef?.resource === 'endpoints');
      assert.ok(
        lists.length > 0 && lists.every((e) => e.user.username === 'system:serviceaccount:mefi-system:mefi-reader'),
        `${c} read with its reader's kubeconfig from mefi-remotes`,
      );
    }
  });

  it('the watching loop, as the Deployment runs it: its probes answer, it follows a change, SIGTERM ends it cleanly within the grace period, and it wrote nothing', async (t) => {
    const c = deployment.containers[0]!;
    // The host's network is shared (no bridge is made on the host): a free port instead of 9090, as the chart's metrics.port sets it.
    const port = await freePort();
    assert.ok(c.args!.includes('--metrics-addr=:9090'), 'the Deployment serves metrics on :9090');
    const args = c.args!.map((a) => (a === '--metrics-addr=:9090' ? `--metrics-addr=:${port}` : a));
    // What the sync before wrote goes: the loop writes it again.
    await kubectl('alpha', ['-n', ns, 'delete', 'endpoints', '-l', 'isMefiLocal=true']);
    const container = name('loop');
    const run = await kubeletRun(deployment, node, { name: container, images, args, detach: true });
    assert.deepEqual(run.writable, [], 'the Deployment mounts nothing writable');
    const started = await podman(['run', ...run.args]);
    assert.equal(started.code, 0, started.stderr);
    const logs = async () => (await podman(['logs', container])).stderr;
    try {
      // The process as the kernel sees it.
      const pid = (await podman(['inspect', '--format', '{{.State.Pid}}', container])).stdout.trim();
      const status = Object.fromEntries(
        readFileSync(`/proc/${pid}/status`, 'utf8')
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(/:\s*/, 2) as [string, string]),
      );
      assert.equal(status.Uid, '65532\t65532\t65532\t65532');
      assert.equal(status.Gid, '65532\t65532\t65532\t65532');
      assert.equal(status.Groups?.trim(), '65532', 'fsGroup');
      for (const set of ['CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) assert.equal(status[set], '0000000000000000', set);
      assert.equal(status.NoNewPrivs, '1');
      assert.equal(status.Seccomp, '2', 'a seccomp filter (RuntimeDefault)');
      const root = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
        .split('\n')
        .find((l) => l.split(' ')[4] === '/')!;
      assert.match(root.split(' ')[5]!, /^ro(,|$)/, `read-only root: ${root}`);
      const memoryCgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
        .split('\n')
        .find((l) => /^\d+:memory:/.test(l))!
        .split(':')[2]!;
      assert.equal(
        readFileSync(`/sys/fs/cgroup/memory${memoryCgroup}/memory.limit_in_bytes`, 'utf8').trim(),
        String(bytes(c.resources!.limits!.memory!)),
        'the memory limit',
      );

      // The probes a kubelet would send, from the Deployment.
      const probes = [c.readinessProbe!.httpGet!, c.livenessProbe!.httpGet!];
      assert.deepEqual(
        probes.map((p) => [p.path, p.port]),
        [
          ['/readyz', 'metrics'],
          ['/healthz', 'metrics'],
        ],
      );
      for (const p of probes)
        await eventually(
          `GET ${p.path}`,
          async () => (await fetch(`http://127.0.0.1:${port}${p.path}`).catch(() => undefined))?.status === 200,
          30_000,
        ).catch(async (err) => assert.fail(`${err}\n${await logs()}`));
      await eventually('a run counted in /metrics', async () =>
        /^mefi_runs_total\{result="ok"\} [1-9]/m.test(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()),
      );
      for (const cl of clusters)
        assert.deepEqual((await w.endpointsIPs('alpha', ns, `web-${cl}`))?.ready, ips[cl], `mirror web-${cl}`);
      assert.deepEqual(
        (await w.endpointsIPs('alpha', ns, 'web'))?.ready,
        Object.values(ips).flat().sort(),
        'the aggregate',
      );

      // A change in gamma reaches alpha's aggregate through the loop's watches.
      await w.putEndpoints('gamma', app, 'web', labels, [subset([...ips.gamma!, '10.244.3.7'])]);
      await eventually(
        'the new address in the aggregate',
        async () => (await w.endpointsIPs('alpha', ns, 'web'))?.ready.includes('10.244.3.7'),
        30_000,
      );

      // SIGTERM with the pod's grace period, as a kubelet stops it: mefi promises exit 0 after the run in flight.
      const t0 = Date.now();
      const stop = await podman(['stop', `--time=${run.graceSeconds}`, container], {
        timeoutMs: (run.graceSeconds + 30) * 1000,
      });
      const took = Date.now() - t0;
      assert.equal(stop.code, 0, stop.stderr);
      t.diagnostic(`stopped by SIGTERM in ${took} ms (grace period ${run.graceSeconds} s)`);
      assert.ok(took < run.graceSeconds * 1000, `stopped in ${took} ms, not within ${run.graceSeconds} s`);
      const state = JSON.parse((await podman(['inspect', '--format', '{{json .State}}', container])).stdout) as {
        ExitCode: number;
        OOMKilled: boolean;
      };
      assert.equal(state.ExitCode, 0, await logs());
      assert.equal(state.OOMKilled, false);
      assert.deepEqual(await written(container, run), [], 'written outside its writable volumes');
    } finally {
      await podman(['rm', '--force', '--time=0', container]);
    }
  });
});
