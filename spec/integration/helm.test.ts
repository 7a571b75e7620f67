// The Helm chart (manifests/helm/mefi) with the real helm, built from its Go
// module: it lints, renders what the kustomize manifests render (the same
// objects, roles and command lines), installs and upgrades on real API
// servers, and mefi converges with exactly the identities it creates.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { helm } from '../support/helm.ts';
import { serviceAccount } from '../support/serviceaccount.ts';
import { startControlPlanes, type ControlPlanes } from '../support/launch.ts';
import { KubeClient } from '../../lib/kube/client.ts';
import { connect } from '../../lib/kube/connect.ts';
import { makeWorld, mefi, repo, subset, uid, type AuditEvent, type World } from '../support/world.ts';

const skip = !process.env.MEFI_CONTROLPLANE
  ? 'needs the control plane binary that make test builds'
  : !process.env.MEFI_HELM
    ? 'needs the helm binary that make test builds'
    : false;
const chart = path.join(repo, 'manifests/helm/mefi');

type Obj = { kind: string; metadata: { name: string }; rules?: unknown; spec?: Record<string, unknown> } & Record<
  string,
  unknown
>;
const docs = (text: string): Obj[] =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
/** The container of a Deployment or a CronJob. */
const container = (o: Obj) => {
  const spec =
    o.kind === 'CronJob'
      ? (o.spec as { jobTemplate: { spec: { template: { spec: Record<string, unknown> } } } }).jobTemplate.spec.template
          .spec
      : (o.spec as { template: { spec: Record<string, unknown> } }).template.spec;
  return (spec.containers as Record<string, unknown>[])[0]!;
};

describe('the Helm chart, with the real helm', { skip, timeout: 300_000 }, () => {
  let planes: ControlPlanes;
  let w: World;
  let work = '';
  const values = () => {
    const file = path.join(work, 'values.yaml');
    writeFileSync(
      file,
      'config:\n  clusters:\n    - {name: alpha, inCluster: true, type: local}\n    - {name: beta, kubeconfig: /etc/mefi/remotes/beta.kubeconfig}\n',
    );
    return file;
  };

  /** helm template of the chart with the test's values and these --set's. */
  const render = (...sets: string[]) =>
    helm(['template', 'mefi', chart, '-n', 'mefi-system', '-f', values(), ...sets.flatMap((x) => ['--set', x])]);

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'mefi-helm-'));
    // With the MCS API's CRDs: mcs.enabled is installed and run here too.
    planes = await startControlPlanes(path.join(work, 'clusters'), ['alpha', 'beta'], { mcs: true });
    w = makeWorld(planes.dir, ['alpha', 'beta']);
  });

  after(async () => {
    await planes?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('lints, and renders what the kustomize manifests render: the same objects, roles, command lines and security', async () => {
    const lint = await helm(['lint', chart, '-f', values()]);
    assert.equal(lint.code, 0, lint.stdout + lint.stderr);
    const missing = await helm(['template', 'mefi', chart]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /config\.clusters is empty/);

    const variants = [
      ['cronjob', 'manifests/cronjob', false],
      ['watch', 'manifests/loop', false],
      // MCS mode: mcs.enabled as the component manifests/mcs (its roles, --mode=mcs).
      ['cronjob', 'manifests/mcs-cronjob', true],
      ['watch', 'manifests/mcs-loop', true],
    ] as const;
    for (const [workloadMode, dir, mcs] of variants) {
      const mode = `${workloadMode}${mcs ? ' (mcs)' : ''}`;
      const rendered = await render(`mode=${workloadMode}`, `mcs.enabled=${mcs}`);
      assert.equal(rendered.code, 0, rendered.stderr);
      const kustomized = await w.kubectl(['kustomize', dir]);
      assert.equal(kustomized.code, 0, kustomized.stderr);
      const h = docs(rendered.stdout);
      const k = docs(kustomized.stdout);
      // The kustomize base also makes the Namespace (helm: --create-namespace) and keeps the config in a ConfigMap (the chart: a Secret, it holds tokens).
      const names = (os: Obj[]) =>
        os
          .filter((o) => o.kind !== 'Namespace')
          .map((o) => `${o.kind === 'ConfigMap' ? 'Secret' : o.kind}/${o.metadata.name}`)
          .sort();
      assert.deepEqual(
        names(h),
        names(k).map((n) => n.replace('Secret/mefi-config', 'Secret/mefi-config')),
        mode,
      );
      // Every role and binding, by name: the same rules, the same subjects and role.
      for (const o of k.filter((x) => ['ClusterRole', 'Role', 'ClusterRoleBinding', 'RoleBinding'].includes(x.kind))) {
        const same = h.find((x) => x.kind === o.kind && x.metadata.name === o.metadata.name)!;
        for (const field of ['rules', 'roleRef', 'subjects'])
          assert.deepEqual(same[field], o[field], `${mode}: ${o.kind}/${o.metadata.name} ${field}`);
      }
      assert.equal(h.filter((o) => o.kind === 'ClusterRole').length, mcs ? 3 : 1, mode);
      const workload = workloadMode === 'cronjob' ? 'CronJob' : 'Deployment';
      const hc = container(h.find((o) => o.kind === workload)!);
      const kc = container(k.find((o) => o.kind === workload)!);
      assert.deepEqual(hc.args, kc.args, `${mode}: args`);
      assert.deepEqual(hc.securityContext, kc.securityContext, `${mode}: securityContext`);
      assert.deepEqual(hc.resources, kc.resources, `${mode}: resources`);
      if (workload === 'Deployment') {
        // Two replicas, one writing: the same count, rollout, spread and disruption budget.
        const spec = (os: Obj[]) => os.find((o) => o.kind === 'Deployment')!.spec as Record<string, unknown>;
        const pod = (os: Obj[]) => (spec(os).template as { spec: Record<string, unknown> }).spec;
        assert.equal(spec(h).replicas, 2, mode);
        assert.deepEqual(
          [spec(h).replicas, spec(h).strategy],
          [spec(k).replicas, spec(k).strategy],
          `${mode}: rollout`,
        );
        // Each selects its own Deployment's pods (the chart's selector has the release too): the rest is the same.
        const own = (os: Obj[], selector: { matchLabels: unknown }) =>
          assert.deepEqual(selector.matchLabels, (spec(os).selector as { matchLabels: unknown }).matchLabels, mode);
        const spread = (os: Obj[]) => {
          const a = structuredClone(pod(os).affinity) as {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: {
                podAffinityTerm: { labelSelector?: { matchLabels: unknown } };
              }[];
            };
          };
          const term = a.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]!.podAffinityTerm;
          own(os, term.labelSelector!);
          delete term.labelSelector;
          return a;
        };
        assert.deepEqual(spread(h), spread(k), `${mode}: affinity`);
        const pdb = (os: Obj[]) => {
          const b = structuredClone(os.find((o) => o.kind === 'PodDisruptionBudget')!.spec) as {
            selector?: { matchLabels: unknown };
          };
          own(os, b.selector!);
          delete b.selector;
          return b;
        };
        assert.deepEqual(pdb(h), pdb(k), `${mode}: PodDisruptionBudget`);
      }
    }
  });

  it("renders the hub's Role as manifests/hub does, and a config from clusterProfiles alone", async () => {
    const rendered = await render(
      'hub.namespace=fleet',
      'config.clusters=null',
      'config.clusterProfiles.namespace=fleet',
      'config.clusterProfiles.hub.inCluster=true',
    );
    assert.equal(rendered.code, 0, rendered.stderr);
    const kustomized = await w.kubectl(['kustomize', path.join(repo, 'manifests/hub')]);
    assert.equal(kustomized.code, 0, kustomized.stderr);
    const h = docs(rendered.stdout);
    const k = docs(kustomized.stdout);
    assert.deepEqual(k.map((o) => o.kind).sort(), ['Role', 'RoleBinding']);
    for (const o of k) {
      const same = h.find((x) => x.kind === o.kind && x.metadata.name === 'mefi-clusterprofiles')!;
      assert.equal((same.metadata as { namespace?: string }).namespace, 'fleet', o.kind);
      for (const field of ['rules', 'roleRef', 'subjects'])
        assert.deepEqual(same[field], o[field], `${o.kind} ${field}`);
    }
    const config = h.find((o) => o.kind === 'Secret' && o.metadata.name === 'mefi-config') as unknown as {
      stringData: Record<string, string>;
    };
    assert.match(
      config.stringData['mefi.yaml']!,
      /clusterProfiles:\n {2}hub:\n {4}inCluster: true\n {2}namespace: fleet/,
    );
    // Without the value, no hub role.
    assert.equal(docs((await render()).stdout).filter((o) => o.metadata?.name === 'mefi-clusterprofiles').length, 0);
  });
  it("renders manifests/alerts when asked (metrics.prometheusRule, metrics.serviceMonitor): the same rules, the loop's Service scraped", async () => {
    const rendered = await render('metrics.prometheusRule.enabled=true,metrics.serviceMonitor.enabled=true');
    assert.equal(rendered.code, 0, rendered.stderr);
    const kustomized = await w.kubectl(['kustomize', path.join(repo, 'manifests/alerts')]);
    const h = docs(rendered.stdout);
    const k = docs(kustomized.stdout);
    const of = (os: Obj[], kind: string) => os.find((o) => o.kind === kind)!;
    assert.deepEqual(of(h, 'PrometheusRule').spec, of(k, 'PrometheusRule').spec, 'the same alerts');
    const monitor = of(h, 'ServiceMonitor').spec as { selector: unknown; endpoints: unknown };
    const service = of(h, 'Service').spec as { selector: Record<string, string> };
    assert.deepEqual(monitor.selector, { matchLabels: service.selector }, "the metrics Service's pods");
    assert.deepEqual(monitor.endpoints, (of(k, 'ServiceMonitor').spec as { endpoints: unknown }).endpoints);
    const none = await render();
    assert.ok(
      !docs(none.stdout).some((o) => o.kind === 'PrometheusRule' || o.kind === 'ServiceMonitor'),
      'off by default',
    );
  });

  const originalValues = path.join(repo, 'spec/fixtures/original-values.yaml');
  /** The pod template's spec and its container, of the rendered Deployment. */
  const podOf = (os: Obj[]) => {
    const d = os.find((o) => o.kind === 'Deployment')!;
    const t = (
      d.spec as {
        template: {
          metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
          spec: Record<string, unknown>;
        };
      }
    ).template;
    return { d, t, pod: t.spec, c: (t.spec.containers as Record<string, unknown>[])[0]! };
  };

  /** Every value of spec/fixtures/original-values.yaml where the original chart put it, in these objects (rendered, or read back from the server). */
  const carriesOriginalValues = (os: Obj[], tag: string) => {
    const { d, t, pod, c } = podOf(os);
    assert.equal(c.image, `registry.example.com/platform/mefi:${tag}`, 'image.registry and image.tag');
    assert.equal(c.imagePullPolicy, 'Always');
    assert.deepEqual(pod.imagePullSecrets, [{ name: 'regcred' }]);
    assert.deepEqual(pod.hostAliases, [{ ip: '192.0.2.20', hostnames: ['k8s2.example.com'] }]);
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.deepEqual(
      (pod.initContainers as { name: string }[]).map((x) => x.name),
      ['wait'],
      'initContainer',
    );
    assert.ok(
      (pod.volumes as { name: string }[]).some((v) => v.name === 'remote-ca'),
      'extraVolumes',
    );
    assert.ok(
      (c.volumeMounts as { name: string; mountPath: string }[]).some(
        (m) => m.name === 'remote-ca' && m.mountPath === '/etc/remote-ca',
      ),
      'extraVolumeMounts',
    );
    assert.deepEqual(c.envFrom, [{ secretRef: { name: 'mefi-env' } }]);
    // The user's extraEnv, after the pod's name for the Lease (leaderElect).
    assert.deepEqual(
      (c.env as { name: string }[]).map((e) => e.name),
      ['MEFI_LEADER_ELECT_IDENTITY', 'MEFI_LOG_LEVEL'],
    );
    assert.deepEqual((c.env as unknown[])[1], { name: 'MEFI_LOG_LEVEL', value: 'debug' });
    assert.ok((c.args as string[]).includes('--remote-filter=isMefiRemote=true'), 'extraArgs');
    assert.equal(t.metadata.labels.team, 'platform', 'podLabels');
    assert.equal(t.metadata.annotations?.['prometheus.io/scrape'], 'true', 'podAnnotations');
    const meta = d.metadata as unknown as {
      labels: Record<string, string>;
      annotations?: Record<string, string>;
      namespace: string;
    };
    assert.equal(meta.labels.tier, 'infra', 'labels');
    assert.equal(meta.annotations?.owner, 'platform', 'annotations');
    assert.equal(meta.namespace, 'mefi-system', 'namespaceOverride');
    for (const o of os)
      assert.equal(
        (o.metadata as unknown as { labels: Record<string, string> }).labels['cost-center'],
        '42',
        `extraLabels on ${o.kind}/${o.metadata.name}`,
      );
    const spec = d.spec as Record<string, unknown>;
    assert.equal(spec.replicas, 1);
    assert.equal(spec.revisionHistoryLimit, 3);
    assert.equal((spec.strategy as { type: string }).type, 'RollingUpdate', 'deploymentStrategy');
    assert.deepEqual((c.livenessProbe as { periodSeconds: number }).periodSeconds, 20);
    assert.deepEqual((c.readinessProbe as { periodSeconds: number }).periodSeconds, 7);
    assert.deepEqual(
      (c.ports as { name: string; containerPort: number }[]).map((x) => [x.name, x.containerPort]),
      [['metrics', 8081]],
      'serverPort',
    );
    assert.ok((c.args as string[]).includes('--metrics-addr=:8081'));
    const role = os.find((o) => o.kind === 'ClusterRole')!;
    assert.deepEqual(
      (role.rules as unknown[]).at(-1),
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
      'rbac.extraClusterRoleRules',
    );
    for (const sa of os.filter((o) => o.kind === 'ServiceAccount')) {
      const m = sa.metadata as unknown as { labels: Record<string, string>; annotations: Record<string, string> };
      assert.equal(m.annotations.iam, 'role-1', `serviceAccount.annotations on ${sa.metadata.name}`);
      assert.equal(m.labels.sa, 'yes-label', `serviceAccount.labels on ${sa.metadata.name}`);
    }
    assert.deepEqual((pod as { nodeSelector: unknown }).nodeSelector, { 'kubernetes.io/os': 'linux' });
    assert.deepEqual(pod.tolerations, [{ key: 'dedicated', operator: 'Exists' }]);
    assert.ok(pod.affinity);
    assert.deepEqual(c.resources, { limits: { memory: '512Mi' }, requests: { cpu: '10m', memory: '64Mi' } });
  };

  it('takes every value of the original chart the way it did', async () => {
    const r = await helm(['template', 'mefi', chart, '-n', 'mefi-system', '-f', originalValues]);
    assert.equal(r.code, 0, r.stderr);
    carriesOriginalValues(docs(r.stdout), '0.1.0');
  });

  it("refuses what it cannot honour, naming the key and what to do; an unknown key fails with the schema's message", async () => {
    const refused = async (set: string, pattern: RegExp) => {
      const r = await helm(['template', 'mefi', chart, '-n', 'mefi-system', '-f', originalValues, '--set', set]);
      assert.notEqual(r.code, 0, set);
      assert.match(r.stderr, pattern, set);
    };
    await refused('replicas=2,leaderElect=false', /replicas: 2: more than one loop writes only with leaderElect/);
    await refused(
      'replicas=2,mode=cronjob',
      /replicas: 2: more than one loop writes only with leaderElect \(in watch or interval mode\)/,
    );
    await refused('podSecurityContext.runAsUser=0', /podSecurityContext\.runAsUser: 0: .*remove the key/);
    await refused('podSecurityContext.runAsGroup=0', /podSecurityContext\.runAsGroup: 0: /);
    await refused('imagePullSecret[0].name=x', /additional properties 'imagePullSecret' not allowed/);
    await refused('image.registy=x', /additional properties 'registy' not allowed/);
    const lint = await helm(['lint', chart, '-f', originalValues, '--set', 'extraLabel.a=b']);
    assert.notEqual(lint.code, 0);
    assert.match(lint.stdout + lint.stderr, /additional properties 'extraLabel' not allowed/);
  });

  it("helm upgrade from a release of the original chart with the user's values file: every value in the pod spec, the original's objects replaced, mefi converging under the new roles", async () => {
    const kc = w.kubeconfigOf('beta');
    const original = path.join(repo, 'spec/fixtures/original-chart');
    const install = await helm(
      ['install', 'mefi', original, '-n', 'mefi-system', '--create-namespace', '-f', originalValues],
      kc,
    );
    assert.equal(install.code, 0, install.stdout + install.stderr);
    try {
      const up = await helm(
        ['upgrade', 'mefi', chart, '-n', 'mefi-system', '-f', originalValues, '--set', 'image.tag=0.2.0'],
        kc,
      );
      assert.equal(up.code, 0, up.stdout + up.stderr);
      // The server's word: every object of the release, read back, carries every value; the Deployment kept its name and selector.
      const names = (await helm(['get', 'manifest', 'mefi', '-n', 'mefi-system'], kc)).stdout;
      const live: Obj[] = [];
      for (const o of docs(names)) {
        const got = await w.kubectl(
          [
            'get',
            o.kind,
            o.metadata.name,
            ...(['ClusterRole', 'ClusterRoleBinding'].includes(o.kind) ? [] : ['-n', 'mefi-system']),
            '-o',
            'json',
          ],
          { cluster: 'beta' },
        );
        assert.equal(got.code, 0, `${o.kind}/${o.metadata.name}: ${got.stderr}`);
        live.push(JSON.parse(got.stdout) as Obj);
      }
      carriesOriginalValues(live, '0.2.0');
      assert.equal(podOf(live).pod.serviceAccountName, 'mefi');
      // The original's identities and their wider roles are gone with its objects.
      for (const [kind, name] of [
        ['serviceaccount', 'mefi-local'],
        ['serviceaccount', 'mefi-remote'],
        ['clusterrole', 'mefi-local-clusterrole'],
        ['clusterrole', 'mefi-remote-clusterrole'],
      ] as const)
        assert.notEqual(
          (await w.kubectl(['-n', 'mefi-system', 'get', kind, name], { cluster: 'beta' })).code,
          0,
          `${kind}/${name} removed`,
        );
      // mefi converges with the identity the upgrade made (its ServiceAccount, Role and ClusterRole).
      const token = await w.kubectl(['-n', 'mefi-system', 'create', 'token', 'mefi'], { cluster: 'beta' });
      assert.equal(token.code, 0, token.stderr);
      const admin = JSON.parse(readFileSync(kc, 'utf8'));
      const cfg = path.join(work, 'upgraded.yaml');
      writeFileSync(
        cfg,
        `clusters:\n  - name: beta\n    url: ${admin.clusters[0].cluster.server}\n    token: ${token.stdout.trim()}\n    ca: ${admin.clusters[0].cluster['certificate-authority-data']}\n    type: local\n`,
      );
      const id = uid();
      await w.putEndpoints('beta', `app-${id}`, 'web', { 'mefi-test': id }, [subset(['10.2.0.7'])]);
      const r = await mefi(['sync', '-c', cfg, '--remote-filter', `mefi-test=${id}`]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(await w.getEndpoints('beta', 'mefi-system', 'web-beta'));
    } finally {
      const un = await helm(['uninstall', 'mefi', '-n', 'mefi-system', '--wait'], kc);
      assert.equal(un.code, 0, un.stdout + un.stderr);
    }
  });

  it('installs and upgrades on real API servers; mefi converges with exactly the identities it creates', async () => {
    const v = values();
    for (const c of ['alpha', 'beta']) {
      const r = await helm(
        ['install', 'mefi', chart, '-n', 'mefi-system', '--create-namespace', '-f', v],
        w.kubeconfigOf(c),
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
    }
    // The chart's identities, as the README's cross-cluster steps make them: mefi in alpha, mefi-reader in beta.
    const token = async (cluster: string, sa: string) => {
      const r = await w.kubectl(['-n', 'mefi-system', 'create', 'token', sa], { cluster });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const entry = async (cluster: string, sa: string) => {
      const kc = JSON.parse(readFileSync(w.kubeconfigOf(cluster), 'utf8'));
      return `  - name: ${cluster}\n    url: ${kc.clusters[0].cluster.server}\n    token: ${await token(cluster, sa)}\n    ca: ${kc.clusters[0].cluster['certificate-authority-data']}\n    type: ${cluster === 'alpha' ? 'local' : 'remote'}\n`;
    };
    const cfg = path.join(work, 'mefi.yaml');
    writeFileSync(cfg, `clusters:\n${await entry('alpha', 'mefi')}${await entry('beta', 'mefi-reader')}`);
    const id = uid();
    await w.putEndpoints('beta', `app-${id}`, 'web', { 'mefi-test': id }, [subset(['10.2.0.1'])]);
    const first = await mefi(['sync', '-c', cfg, '--remote-filter', `mefi-test=${id}`]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.ok(await w.getEndpoints('alpha', 'mefi-system', 'web-beta'));
    const mark = w.auditMark('alpha');
    assert.equal((await mefi(['sync', '-c', cfg, '--remote-filter', `mefi-test=${id}`])).code, 0);
    assert.deepEqual(w.writesSince('alpha', mark, 'mefi-system'), [], 'a second run writes nothing');
    // The reader cannot write: the same config with beta as target fails on beta's side only.
    const readerWrites = await mefi(['sync', '-c', cfg, '--remote-filter', `mefi-test=${id}`, '--local', 'beta']);
    assert.equal(readerWrites.code, 2);
    assert.match(readerWrites.stdout + readerWrites.stderr, /forbidden|Forbidden/);

    const up = await helm(
      ['upgrade', 'mefi', chart, '-n', 'mefi-system', '-f', v, '--set', 'mode=cronjob'],
      w.kubeconfigOf('alpha'),
    );
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const cron = await w.kubectl(['-n', 'mefi-system', 'get', 'cronjob', 'mefi', '-o', 'name'], { cluster: 'alpha' });
    assert.equal(cron.stdout.trim(), 'cronjob.batch/mefi');
    const deploy = await w.kubectl(['-n', 'mefi-system', 'get', 'deployment', 'mefi'], { cluster: 'alpha' });
    assert.notEqual(deploy.code, 0, 'the watching Deployment went with the upgrade');
  });
  it('with mcs.enabled, on real API servers: MCS mode converges with exactly the identities the chart creates, which can do no more', async () => {
    const v = values();
    const ns = `mcs-${uid()}`;
    for (const c of ['alpha', 'beta']) {
      // upgrade --install: over the release the test above left, or anew.
      const r = await helm(
        [
          'upgrade',
          '--install',
          'mefi',
          chart,
          '-n',
          'mefi-system',
          '--create-namespace',
          '-f',
          v,
          '--set',
          'mcs.enabled=true',
        ],
        w.kubeconfigOf(c),
      );
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const d = JSON.parse(
        (await w.kubectl(['-n', 'mefi-system', 'get', 'deployment', 'mefi', '-o', 'json'], { cluster: c })).stdout,
      ) as Obj;
      assert.ok((container(d).args as string[]).includes('--mode=mcs'), `${c}: the installed loop runs --mode=mcs`);
    }
    const kc = (cluster: string) =>
      JSON.parse(readFileSync(w.kubeconfigOf(cluster), 'utf8')) as { clusters: { cluster: Record<string, string> }[] };
    const token = async (cluster: string, sa: string) => {
      const r = await w.kubectl(['-n', 'mefi-system', 'create', 'token', sa], { cluster });
      assert.equal(r.code, 0, r.stderr);
      return r.stdout.trim();
    };
    const tokens = { alpha: await token('alpha', 'mefi'), beta: await token('beta', 'mefi-reader') };
    const server = (cluster: string) => kc(cluster).clusters[0]!.cluster.server!;
    const ca = (cluster: string) => kc(cluster).clusters[0]!.cluster['certificate-authority-data']!;
    const cfg = path.join(work, 'mefi-mcs.yaml');
    // Scoped to the test's namespace, as a user may scope theirs.
    writeFileSync(
      cfg,
      `clusters:\n${(['alpha', 'beta'] as const).map((c) => `  - name: ${c}\n    url: ${server(c)}\n    token: ${tokens[c]}\n    ca: ${ca(c)}\n    type: ${c === 'alpha' ? 'local' : 'remote'}\n    namespaces: [${ns}]\n`).join('')}`,
    );

    const apply = (cluster: string, items: object[]) => w.applyObjects(cluster, ...items);
    const exportFrom = (cluster: string, ips: string[]) =>
      apply(cluster, [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } },
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web', namespace: ns },
          spec: { ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
        },
        {
          apiVersion: 'discovery.k8s.io/v1',
          kind: 'EndpointSlice',
          metadata: { name: 'web-1', namespace: ns, labels: { 'kubernetes.io/service-name': 'web' } },
          addressType: 'IPv4',
          endpoints: ips.map((ip) => ({ addresses: [ip], conditions: { ready: true } })),
          ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
        },
        {
          apiVersion: 'multicluster.x-k8s.io/v1beta1',
          kind: 'ServiceExport',
          metadata: { name: 'web', namespace: ns },
        },
      ]);
    const getJSON = w.getJson;
    await exportFrom('alpha', ['10.1.9.1']);
    await exportFrom('beta', ['10.2.9.1', '10.2.9.2']);

    const users = ['system:serviceaccount:mefi-system:mefi', 'system:serviceaccount:mefi-system:mefi-reader'];
    const ours = (e: AuditEvent) => users.includes(e.user.username);
    const marks = { alpha: w.auditMark('alpha'), beta: w.auditMark('beta') };
    const first = await mefi(['sync', '--mode', 'mcs', '-c', cfg]);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    const imp = await getJSON<{
      metadata: { annotations: Record<string, string> };
      spec: { type: string; ips?: string[] };
      status?: { clusters?: { cluster: string }[] };
    }>('alpha', ['-n', ns, 'get', 'serviceimports.multicluster.x-k8s.io', 'web']);
    assert.equal(imp.spec.type, 'ClusterSetIP');
    assert.deepEqual((imp.status?.clusters ?? []).map((c) => c.cluster).sort(), ['alpha', 'beta']);
    const derived = await getJSON<{ spec: { clusterIPs: string[] } }>('alpha', [
      '-n',
      ns,
      'get',
      'service',
      imp.metadata.annotations['multicluster.kubernetes.io/derived-service']!,
    ]);
    assert.deepEqual(imp.spec.ips, derived.spec.clusterIPs);
    const slices = (
      await getJSON<{
        items: { metadata: { labels: Record<string, string> }; endpoints?: { addresses: string[] }[] }[];
      }>('alpha', ['-n', ns, 'get', 'endpointslices', '-l', 'multicluster.kubernetes.io/service-name=web'])
    ).items;
    const bySource = Object.fromEntries(
      slices.map((x) => [
        x.metadata.labels['multicluster.kubernetes.io/source-cluster'],
        (x.endpoints ?? []).flatMap((e) => e.addresses).sort(),
      ]),
    );
    assert.deepEqual(bySource, { alpha: ['10.1.9.1'], beta: ['10.2.9.1', '10.2.9.2'] });
    const conditions = async (cluster: string) =>
      Object.fromEntries(
        (
          (
            await getJSON<{ status?: { conditions?: { type: string; status: string }[] } }>(cluster, [
              '-n',
              ns,
              'get',
              'serviceexports.multicluster.x-k8s.io',
              'web',
            ])
          ).status?.conditions ?? []
        ).map((c) => [c.type, c.status]),
      );
    assert.deepEqual(await conditions('alpha'), { Valid: 'True', Ready: 'True', Conflict: 'False' });
    assert.deepEqual(await conditions('beta'), {}, "beta's export is its own mefi's to write");
    for (const c of ['alpha', 'beta'] as const)
      assert.deepEqual(
        w.auditSince(c, marks[c]).filter((e) => ours(e) && (e.verb === 'get' || (e.responseStatus?.code ?? 0) >= 400)),
        [],
        `${c}: no get, nothing refused`,
      );
    assert.deepEqual(
      w.auditSince('beta', marks.beta).filter((e) => ours(e) && (e.user.username !== users[1] || e.verb !== 'list')),
      [],
      'beta: the reader lists, nothing else',
    );

    // The chart's admission policy, installed as the cluster serves it (1.30 and later): manifests/policy's rules, mefi held to them.
    type Policy = { spec: Record<string, unknown> };
    const installed = await getJSON<Policy>('alpha', ['get', 'validatingadmissionpolicy', 'mefi-writes-only-its-own']);
    const shipped = docs((await w.kubectl(['kustomize', path.join(repo, 'manifests/policy')])).stdout).find(
      (o) => o.kind === 'ValidatingAdmissionPolicy',
    ) as unknown as Policy;
    for (const field of ['matchConditions', 'variables', 'validations'])
      assert.deepEqual(installed.spec[field], shipped.spec[field], `the policy's ${field}`);
    const mefiSA = await serviceAccount(w, 'alpha', 'mefi-system', 'mefi', work);
    const del = await w.kubectl([
      '--kubeconfig',
      mefiSA.kubeconfig,
      '-n',
      ns,
      'delete',
      '--dry-run=server',
      'service',
      'web',
    ]);
    assert.match(del.stderr, /ValidatingAdmissionPolicy 'mefi-writes-only-its-own'.*denied request/s, del.stderr);

    const again = { alpha: w.auditMark('alpha'), beta: w.auditMark('beta') };
    const second = await mefi(['sync', '--mode', 'mcs', '-c', cfg]);
    assert.equal(second.code, 0, second.stdout + second.stderr);
    for (const c of ['alpha', 'beta'] as const)
      assert.deepEqual(
        w.auditSince(c, again[c]).filter((e) => ours(e) && !['list', 'watch'].includes(e.verb)),
        [],
        `${c}: a second run writes nothing`,
      );

    // The identities, asked directly.
    const client = (cluster: 'alpha' | 'beta') => {
      const c = connect({
        file: 'test',
        clusters: [
          {
            name: cluster,
            type: 'remote',
            connection: {
              kind: 'url',
              url: server(cluster),
              token: tokens[cluster],
              caData: Buffer.from(ca(cluster), 'base64').toString(),
              insecureSkipTLSVerify: false,
            },
          },
        ],
      });
      return new KubeClient(c.get(cluster)!, { requestTimeoutMs: 10_000 });
    };
    const status = async (
      k: KubeClient,
      verb: 'list' | 'get' | 'create' | 'update' | 'delete',
      resource: string,
      p: string,
      body?: unknown,
    ) => {
      try {
        await k.request({ verb, resource, path: p, ...(body ? { body } : {}) });
        return 200;
      } catch (err) {
        return (err as { status: number }).status;
      }
    };
    const api = '/apis/multicluster.x-k8s.io/v1beta1';
    const self = client('alpha');
    assert.equal(await status(self, 'list', 'secrets', '/api/v1/secrets'), 403);
    assert.equal(await status(self, 'get', 'secrets', '/api/v1/namespaces/mefi-system/secrets/mefi-reader-token'), 403);
    assert.equal(
      await status(self, 'get', 'serviceimports', `${api}/namespaces/${ns}/serviceimports/web`),
      403,
      'list, not get',
    );
    assert.equal(
      await status(self, 'delete', 'serviceexports', `${api}/namespaces/${ns}/serviceexports/web`),
      403,
      "exports are the users'",
    );
    const reader = client('beta');
    const exported = await getJSON<{ metadata: { resourceVersion: string } }>('beta', [
      '-n',
      ns,
      'get',
      'serviceexports.multicluster.x-k8s.io',
      'web',
    ]);
    assert.equal(await status(reader, 'list', 'serviceexports', `${api}/serviceexports`), 200, 'sanity: it can list');
    assert.equal(
      await status(reader, 'create', 'serviceimports', `${api}/namespaces/${ns}/serviceimports`, {
        apiVersion: 'multicluster.x-k8s.io/v1beta1',
        kind: 'ServiceImport',
        metadata: { name: 'x', namespace: ns },
        spec: { type: 'ClusterSetIP', ports: [{ port: 80, protocol: 'TCP' }] },
      }),
      403,
    );
    assert.equal(
      await status(reader, 'update', 'serviceexports', `${api}/namespaces/${ns}/serviceexports/web/status`, {
        apiVersion: 'multicluster.x-k8s.io/v1beta1',
        kind: 'ServiceExport',
        metadata: { name: 'web', namespace: ns, resourceVersion: exported.metadata.resourceVersion },
        status: { conditions: [] },
      }),
      403,
    );
    assert.equal(await status(reader, 'list', 'secrets', '/api/v1/secrets'), 403);
    // The same config with beta as the target: the reader cannot read (or write) a target's kinds.
    const asTarget = await mefi(['sync', '--mode', 'mcs', '-c', cfg, '--local', 'beta']);
    assert.equal(asTarget.code, 2, asTarget.stdout + asTarget.stderr);
    assert.match(asTarget.stdout + asTarget.stderr, /mefi-reader" cannot list resource "serviceimports"/);

    // mcs.enabled=false again: its roles go with the upgrade.
    const off = await helm(['upgrade', 'mefi', chart, '-n', 'mefi-system', '-f', v], w.kubeconfigOf('alpha'));
    assert.equal(off.code, 0, off.stdout + off.stderr);
    for (const name of ['mefi-mcs-source', 'mefi-mcs-target'])
      assert.notEqual((await w.kubectl(['get', 'clusterrole', name], { cluster: 'alpha' })).code, 0, `${name} removed`);
  });
});
