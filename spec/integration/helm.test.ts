// The Helm chart (manifests/helm/mefi) with the real helm, built from its Go
// module: it lints, renders what the kustomize manifests render (the same
// objects, roles and command lines), installs and upgrades on real API
// servers, and mefi converges with exactly the identities it creates.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { startControlPlanes, type ControlPlanes } from '../support/launch.ts';
import { makeWorld, mefi, repo, subset, uid, type MefiResult, type World } from '../support/world.ts';

const skip = !process.env.MEFI_CONTROLPLANE ? 'needs the control plane binary that make test builds' : !process.env.MEFI_HELM ? 'needs the helm binary that make test builds' : false;
const chart = path.join(repo, 'manifests/helm/mefi');

function helm(args: string[], kubeconfig?: string): Promise<MefiResult> {
  return new Promise((resolve) => {
    execFile(process.env.MEFI_HELM!, [...(kubeconfig ? ['--kubeconfig', kubeconfig] : []), ...args], { maxBuffer: 16 << 20, timeout: 120_000, env: { ...process.env, HELM_CACHE_HOME: path.join(tmpdir(), 'mefi-helm-cache'), HELM_CONFIG_HOME: path.join(tmpdir(), 'mefi-helm-config'), HELM_DATA_HOME: path.join(tmpdir(), 'mefi-helm-data') } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0, stdout, stderr });
    });
  });
}

type Obj = { kind: string; metadata: { name: string }; rules?: unknown; spec?: Record<string, unknown> } & Record<string, unknown>;
const docs = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj).filter(Boolean);
/** The container of a Deployment or a CronJob. */
const container = (o: Obj) => {
  const spec = o.kind === 'CronJob' ? (o.spec as { jobTemplate: { spec: { template: { spec: Record<string, unknown> } } } }).jobTemplate.spec.template.spec : (o.spec as { template: { spec: Record<string, unknown> } }).template.spec;
  return (spec.containers as Record<string, unknown>[])[0]!;
};

describe('the Helm chart, with the real helm', { skip, timeout: 300_000 }, () => {
  let planes: ControlPlanes;
  let w: World;
  let work = '';
  const values = () => {
    const file = path.join(work, 'values.yaml');
    writeFileSync(file, 'config:\n  clusters:\n    - {name: alpha, inCluster: true, type: local}\n    - {name: beta, kubeconfig: /etc/mefi/remotes/beta.kubeconfig}\n');
    return file;
  };

  before(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'mefi-helm-'));
    planes = await startControlPlanes(path.join(work, 'clusters'), ['alpha', 'beta']);
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

    for (const [mode, dir] of [['cronjob', 'manifests/cronjob'], ['watch', 'manifests/loop']] as const) {
      const rendered = await helm(['template', 'mefi', chart, '-n', 'mefi-system', '-f', values(), '--set', `mode=${mode}`]);
      assert.equal(rendered.code, 0, rendered.stderr);
      const kustomized = await w.kubectl(['kustomize', dir]);
      assert.equal(kustomized.code, 0, kustomized.stderr);
      const h = docs(rendered.stdout);
      const k = docs(kustomized.stdout);
      // The kustomize base also makes the Namespace (helm: --create-namespace) and keeps the config in a ConfigMap (the chart: a Secret, it holds tokens).
      const names = (os: Obj[]) => os.filter((o) => o.kind !== 'Namespace').map((o) => `${o.kind === 'ConfigMap' ? 'Secret' : o.kind}/${o.metadata.name}`).sort();
      assert.deepEqual(names(h), names(k).map((n) => n.replace('Secret/mefi-config', 'Secret/mefi-config')), mode);
      for (const kind of ['ClusterRole', 'Role']) {
        assert.deepEqual(h.find((o) => o.kind === kind)!.rules, k.find((o) => o.kind === kind)!.rules, `${mode}: ${kind} rules`);
      }
      const workload = mode === 'cronjob' ? 'CronJob' : 'Deployment';
      const hc = container(h.find((o) => o.kind === workload)!);
      const kc = container(k.find((o) => o.kind === workload)!);
      assert.deepEqual(hc.args, kc.args, `${mode}: args`);
      assert.deepEqual(hc.securityContext, kc.securityContext, `${mode}: securityContext`);
      assert.deepEqual(hc.resources, kc.resources, `${mode}: resources`);
    }
  });

  const originalValues = path.join(repo, 'spec/fixtures/original-values.yaml');
  /** The pod template's spec and its container, of the rendered Deployment. */
  const podOf = (os: Obj[]) => {
    const d = os.find((o) => o.kind === 'Deployment')!;
    const t = (d.spec as { template: { metadata: { labels: Record<string, string>; annotations?: Record<string, string> }; spec: Record<string, unknown> } }).template;
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
    assert.deepEqual((pod.initContainers as { name: string }[]).map((x) => x.name), ['wait'], 'initContainer');
    assert.ok((pod.volumes as { name: string }[]).some((v) => v.name === 'remote-ca'), 'extraVolumes');
    assert.ok((c.volumeMounts as { name: string; mountPath: string }[]).some((m) => m.name === 'remote-ca' && m.mountPath === '/etc/remote-ca'), 'extraVolumeMounts');
    assert.deepEqual(c.envFrom, [{ secretRef: { name: 'mefi-env' } }]);
    assert.deepEqual(c.env, [{ name: 'MEFI_LOG_LEVEL', value: 'debug' }]);
    assert.ok((c.args as string[]).includes('--remote-filter=isMefiRemote=true'), 'extraArgs');
    assert.equal(t.metadata.labels.team, 'platform', 'podLabels');
    assert.equal(t.metadata.annotations?.['prometheus.io/scrape'], 'true', 'podAnnotations');
    const meta = d.metadata as unknown as { labels: Record<string, string>; annotations?: Record<string, string>; namespace: string };
    assert.equal(meta.labels.tier, 'infra', 'labels');
    assert.equal(meta.annotations?.owner, 'platform', 'annotations');
    assert.equal(meta.namespace, 'mefi-system', 'namespaceOverride');
    for (const o of os) assert.equal((o.metadata as unknown as { labels: Record<string, string> }).labels['cost-center'], '42', `extraLabels on ${o.kind}/${o.metadata.name}`);
    const spec = d.spec as Record<string, unknown>;
    assert.equal(spec.replicas, 1);
    assert.equal(spec.revisionHistoryLimit, 3);
    assert.equal((spec.strategy as { type: string }).type, 'RollingUpdate', 'deploymentStrategy');
    assert.deepEqual((c.livenessProbe as { periodSeconds: number }).periodSeconds, 20);
    assert.deepEqual((c.readinessProbe as { periodSeconds: number }).periodSeconds, 7);
    assert.deepEqual((c.ports as { name: string; containerPort: number }[]).map((x) => [x.name, x.containerPort]), [['metrics', 8081]], 'serverPort');
    assert.ok((c.args as string[]).includes('--metrics-addr=:8081'));
    const role = os.find((o) => o.kind === 'ClusterRole')!;
    assert.deepEqual((role.rules as unknown[]).at(-1), { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }, 'rbac.extraClusterRoleRules');
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

  it('refuses what it cannot honour, naming the key and what to do; an unknown key fails with the schema\'s message', async () => {
    const refused = async (set: string, pattern: RegExp) => {
      const r = await helm(['template', 'mefi', chart, '-n', 'mefi-system', '-f', originalValues, '--set', set]);
      assert.notEqual(r.code, 0, set);
      assert.match(r.stderr, pattern, set);
    };
    await refused('replicas=2', /replicas: 2: mefi is one loop per target cluster.*set replicas: 1 or remove the key/);
    await refused('podSecurityContext.runAsUser=0', /podSecurityContext\.runAsUser: 0: .*remove the key/);
    await refused('podSecurityContext.runAsGroup=0', /podSecurityContext\.runAsGroup: 0: /);
    await refused('imagePullSecret[0].name=x', /additional properties 'imagePullSecret' not allowed/);
    await refused('image.registy=x', /additional properties 'registy' not allowed/);
    const lint = await helm(['lint', chart, '-f', originalValues, '--set', 'extraLabel.a=b']);
    assert.notEqual(lint.code, 0);
    assert.match(lint.stdout + lint.stderr, /additional properties 'extraLabel' not allowed/);
  });

  it('helm upgrade from a release of the original chart with the user\'s values file: every value in the pod spec, the original\'s objects replaced, mefi converging under the new roles', async () => {
    const kc = w.kubeconfigOf('beta');
    const original = path.join(repo, 'spec/fixtures/original-chart');
    const install = await helm(['install', 'mefi', original, '-n', 'mefi-system', '--create-namespace', '-f', originalValues], kc);
    assert.equal(install.code, 0, install.stdout + install.stderr);
    try {
      const up = await helm(['upgrade', 'mefi', chart, '-n', 'mefi-system', '-f', originalValues, '--set', 'image.tag=0.2.0'], kc);
      assert.equal(up.code, 0, up.stdout + up.stderr);
      // The server's word: every object of the release, read back, carries every value; the Deployment kept its name and selector.
      const names = (await helm(['get', 'manifest', 'mefi', '-n', 'mefi-system'], kc)).stdout;
      const live: Obj[] = [];
      for (const o of docs(names)) {
        const got = await w.kubectl(['get', o.kind, o.metadata.name, ...(['ClusterRole', 'ClusterRoleBinding'].includes(o.kind) ? [] : ['-n', 'mefi-system']), '-o', 'json'], { cluster: 'beta' });
        assert.equal(got.code, 0, `${o.kind}/${o.metadata.name}: ${got.stderr}`);
        live.push(JSON.parse(got.stdout) as Obj);
      }
      carriesOriginalValues(live, '0.2.0');
      assert.equal(podOf(live).pod.serviceAccountName, 'mefi');
      // The original's identities and their wider roles are gone with its objects.
      for (const [kind, name] of [['serviceaccount', 'mefi-local'], ['serviceaccount', 'mefi-remote'], ['clusterrole', 'mefi-local-clusterrole'], ['clusterrole', 'mefi-remote-clusterrole']] as const)
        assert.notEqual((await w.kubectl(['-n', 'mefi-system', 'get', kind, name], { cluster: 'beta' })).code, 0, `${kind}/${name} removed`);
      // mefi converges with the identity the upgrade made (its ServiceAccount, Role and ClusterRole).
      const token = await w.kubectl(['-n', 'mefi-system', 'create', 'token', 'mefi'], { cluster: 'beta' });
      assert.equal(token.code, 0, token.stderr);
      const admin = JSON.parse(readFileSync(kc, 'utf8'));
      const cfg = path.join(work, 'upgraded.yaml');
      writeFileSync(cfg, `clusters:\n  - name: beta\n    url: ${admin.clusters[0].cluster.server}\n    token: ${token.stdout.trim()}\n    ca: ${admin.clusters[0].cluster['certificate-authority-data']}\n    type: local\n`);
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
      const r = await helm(['install', 'mefi', chart, '-n', 'mefi-system', '--create-namespace', '-f', v], w.kubeconfigOf(c));
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

    const up = await helm(['upgrade', 'mefi', chart, '-n', 'mefi-system', '-f', v, '--set', 'mode=cronjob'], w.kubeconfigOf('alpha'));
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const cron = await w.kubectl(['-n', 'mefi-system', 'get', 'cronjob', 'mefi', '-o', 'name'], { cluster: 'alpha' });
    assert.equal(cron.stdout.trim(), 'cronjob.batch/mefi');
    const deploy = await w.kubectl(['-n', 'mefi-system', 'get', 'deployment', 'mefi'], { cluster: 'alpha' });
    assert.notEqual(deploy.code, 0, 'the watching Deployment went with the upgrade');
  });
});
