// mefi sync and diff end to end, as a user runs them, against three real
// clusters: the sources are made by the Endpoints controller from Services
// and Pods. Writes are counted from the servers' audit logs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  auditSince,
  clusterNames,
  deleteEndpoints,
  deleteService,
  endpointsIPs,
  ensureNamespace,
  eventually,
  getEndpoints,
  isolation,
  listEndpoints,
  marks,
  mefi,
  pods,
  putEndpoints,
  putService,
  skip,
  subset,
  uid,
  writeConfig,
  writesSince,
  type AuditEvent,
} from '../support/world.ts';

const byIP = (a: string, b: string) =>
  a
    .split('.')
    .map(Number)
    .reduce((d, x, i) => d || x - Number(b.split('.')[i]), 0);
type Pods = Record<string, { ready: string[]; notReady: string[] }>;

/**
 * web in every cluster, as users have it: a Service labelled for mefi and its
 * pods; the Endpoints controller makes the sources. alpha has a pod that is
 * not ready, gamma serves another port.
 */
async function seedWeb(id: string): Promise<Pods> {
  const { sourceLabels } = isolation(id);
  const ns = `app-${id}`;
  const shape: Record<string, { ready: number; notReady: number }> = {
    alpha: { ready: 2, notReady: 1 },
    beta: { ready: 1, notReady: 0 },
    gamma: { ready: 1, notReady: 0 },
  };
  const out: Pods = {};
  for (const c of clusterNames) {
    const port = c === 'gamma' ? 9090 : 8080;
    await putService(c, ns, 'web', { ...sourceLabels, app: 'web' }, { app: 'web' }, port);
    out[c] = { ready: [], notReady: [] };
    for (let i = 0; i < shape[c]!.ready + shape[c]!.notReady; i++) {
      const ready = i < shape[c]!.ready;
      const { ip } = await pods.add({
        cluster: c,
        namespace: ns,
        name: `web-${i}`,
        labels: { app: 'web' },
        ports: [port],
        ready,
      });
      out[c][ready ? 'ready' : 'notReady'].push(ip);
    }
  }
  for (const c of clusterNames)
    await untilSource(
      c,
      ns,
      'web',
      (e) =>
        e !== undefined && e.ready.length === out[c]!.ready.length && e.notReady.length === out[c]!.notReady.length,
    );
  return out;
}

/** Wait for the Endpoints controller to make a source what the test changed it to. */
function untilSource(
  cluster: string,
  ns: string,
  name: string,
  ok: (e: Awaited<ReturnType<typeof endpointsIPs>>) => boolean,
) {
  return eventually(`${cluster}: Endpoints ${ns}/${name} made by the Endpoints controller`, async () =>
    ok(await endpointsIPs(cluster, ns, name)),
  );
}

async function sync(id: string, cfg: string, ...more: string[]) {
  return mefi(['sync', '-c', cfg, ...isolation(id).args, ...more]);
}

describe('mefi sync against real API servers', { skip }, () => {
  it('creates every mirror and the merged aggregate, then writes nothing on a second run', async () => {
    const id = uid();
    const { namespace } = isolation(id);
    await ensureNamespace('alpha', namespace);
    const seeded = await seedWeb(id);
    const cfg = writeConfig();

    const m1 = marks();
    const first = await sync(id, cfg.file, '-o', 'json');
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout);
    assert.equal(report.summary.create, 4);
    assert.equal(report.summary.done, 4);

    const objs = await listEndpoints('alpha', namespace);
    assert.deepEqual(
      objs.map((o) => o.metadata.name),
      ['web', 'web-alpha', 'web-beta', 'web-gamma'],
    );
    const beta = objs.find((o) => o.metadata.name === 'web-beta')!;
    // Mirrors carry mefi's labels only: the source's labels are not copied.
    assert.deepEqual(beta.metadata.labels, {
      isMefiLocal: 'true',
      isMefiOriginalName: 'web',
      'multicluster.kubernetes.io/source-cluster': 'beta',
    });
    const aggregate = objs.find((o) => o.metadata.name === 'web')!;
    assert.deepEqual(aggregate.metadata.labels, { isMefiLocal: 'true', isMefiOriginalName: 'web' });
    const listed = (ips: string[]) => [...ips].sort(byIP).map((ip) => ({ ip }));
    assert.deepEqual(aggregate.subsets, [
      {
        // alpha's not-ready pod is in its mirror only: the aggregate serves what is ready.
        addresses: listed([...seeded.alpha!.ready, ...seeded.beta!.ready]),
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
      { addresses: listed(seeded.gamma!.ready), ports: [{ name: 'http', port: 9090, protocol: 'TCP' }] },
    ]);
    const writes = writesSince('alpha', m1.alpha!, namespace);
    assert.deepEqual(writes.map((w) => w.verb).sort(), ['create', 'create', 'create', 'create']);
    for (const c of ['beta', 'gamma'])
      assert.equal(writesSince(c, m1[c]!, namespace).length, 0, `nothing written in ${c}`);

    const m2 = marks();
    const second = await sync(id, cfg.file);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /No changes/);
    assert.equal(
      writesSince('alpha', m2.alpha!, namespace).length,
      0,
      'a second run on an unchanged world writes nothing',
    );
  });

  it('converges a changed, a new, a removed and an unlabelled source in one run each', async () => {
    const id = uid();
    const { namespace, sourceLabels } = isolation(id);
    await ensureNamespace('alpha', namespace);
    await seedWeb(id);
    const cfg = writeConfig();
    assert.equal((await sync(id, cfg.file)).code, 0);

    const step = async (what: string, change: () => Promise<void>, expectedWrites: number) => {
      await change();
      const m = marks();
      const r = await sync(id, cfg.file);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.equal(writesSince('alpha', m.alpha!, namespace).length, expectedWrites, `${what}: writes`);
      const d = await mefi(['diff', '-c', cfg.file, ...isolation(id).args]);
      assert.equal(d.code, 0, `${what}: converged in one run, but diff says:\n${d.stdout}`);
    };

    const ns = `app-${id}`;
    let added = '';
    await step(
      'changed source: a pod more in beta',
      async () => {
        added = (
          await pods.add({ cluster: 'beta', namespace: ns, name: 'web-9', labels: { app: 'web' }, ports: [8080] })
        ).ip;
        await untilSource('beta', ns, 'web', (e) => !!e?.ready.includes(added));
      },
      2,
    );
    assert.ok(
      (await getEndpoints('alpha', namespace, 'web'))!.subsets!.some((s) => s.addresses?.some((a) => a.ip === added)),
    );

    await step(
      'new source: a Service api in gamma',
      async () => {
        await putService('gamma', ns, 'api', { ...sourceLabels, app: 'api' }, { app: 'api' });
        await pods.add({ cluster: 'gamma', namespace: ns, name: 'api-0', labels: { app: 'api' }, ports: [8080] });
        await untilSource('gamma', ns, 'api', (e) => e?.ready.length === 1);
      },
      2,
    );
    assert.ok(await getEndpoints('alpha', namespace, 'api-gamma'));
    assert.ok(await getEndpoints('alpha', namespace, 'api'));

    await step(
      "removed source: gamma's Service web deleted",
      async () => {
        await deleteService('gamma', ns, 'web');
        await untilSource('gamma', ns, 'web', (e) => e === undefined);
      },
      2,
    );
    assert.equal(await getEndpoints('alpha', namespace, 'web-gamma'), undefined);
    assert.ok(!(await getEndpoints('alpha', namespace, 'web'))!.subsets!.some((s) => s.ports?.[0]?.port === 9090));

    await step(
      "removed label: beta's Service no longer labelled",
      async () => {
        await putService('beta', ns, 'web', { app: 'web' }, { app: 'web' });
        await untilSource(
          'beta',
          ns,
          'web',
          (e) => e !== undefined && !Object.keys(sourceLabels).some((k) => k in e.labels),
        );
      },
      2,
    );
    assert.equal(await getEndpoints('alpha', namespace, 'web-beta'), undefined);

    // The last source of api goes: its mirror and its aggregate go with it.
    await step(
      'last source of a name removed',
      async () => {
        await deleteService('gamma', ns, 'api');
        await untilSource('gamma', ns, 'api', (e) => e === undefined);
      },
      2,
    );
    assert.equal(await getEndpoints('alpha', namespace, 'api'), undefined);
  });

  it('--dry-run and diff write nothing; diff exits 1 on drift and 0 once synced', async () => {
    const id = uid();
    const { namespace } = isolation(id);
    await ensureNamespace('alpha', namespace);
    const seeded = await seedWeb(id);
    const cfg = writeConfig();

    const m = marks();
    const dry = await sync(id, cfg.file, '--dry-run');
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^create\s+alpha\s+mefi-\S+\/web-beta\s+beta/m);
    assert.match(dry.stdout, /Plan \(dry run\): 4 to create/);

    const diff = await mefi(['diff', '-c', cfg.file, ...isolation(id).args]);
    assert.equal(diff.code, 1, diff.stderr);
    assert.match(diff.stdout, new RegExp(`^\\+\\+\\+ b/alpha/${namespace}/endpoints/web\\b`, 'm'));
    assert.match(diff.stdout, new RegExp(`^\\+\\s+- ip: ${seeded.beta!.ready[0]!.replaceAll('.', '\\.')}$`, 'm'));

    for (const c of clusterNames) {
      const events = auditSince(c, m[c]!);
      assert.deepEqual(
        events.filter((e) => !['list', 'get', 'watch'].includes(e.verb)).map((e) => `${e.verb} ${e.requestURI}`),
        [],
        `no write reached ${c}`,
      );
    }
    assert.equal((await listEndpoints('alpha', namespace)).length, 0);

    assert.equal((await sync(id, cfg.file)).code, 0);
    const clean = await mefi(['diff', '-c', cfg.file, ...isolation(id).args]);
    assert.equal(clean.code, 0, clean.stdout);
  });

  it('reports an unmanaged object on a wanted name, leaves it untouched, and does not call that converged', async () => {
    const id = uid();
    const { namespace } = isolation(id);
    await seedWeb(id);
    // The user's own Endpoints where the aggregate would go.
    const foreign = await putEndpoints('alpha', namespace, 'web', { owner: 'someone-else' }, [subset(['10.9.9.9'])]);
    const cfg = writeConfig();

    const r = await sync(id, cfg.file, '-o', 'json');
    assert.equal(r.code, 2, 'a wanted aggregate is not written: not converged');
    const report = JSON.parse(r.stdout);
    const conflict = report.problems.find((p: { code: string }) => p.code === 'conflict');
    assert.ok(conflict, r.stdout);
    assert.equal(conflict.blocking, true);
    assert.equal(report.summary.blocking, 1);
    assert.equal(
      (await mefi(['diff', '-c', cfg.file, ...isolation(id).args])).code,
      2,
      'diff fails too: CI sees the blocked aggregate',
    );
    assert.equal(conflict.name, 'web');
    assert.match(conflict.message, /without label isMefiLocal=true/);
    const after = (await getEndpoints('alpha', namespace, 'web'))!;
    assert.equal(
      after.metadata.resourceVersion,
      foreign.metadata.resourceVersion,
      'the foreign object was not written',
    );
    assert.ok(await getEndpoints('alpha', namespace, 'web-beta'), 'the mirrors are still written');

    // Once the user removes it, the next run creates the aggregate.
    await deleteEndpoints('alpha', namespace, 'web');
    assert.equal((await sync(id, cfg.file)).code, 0);
    assert.equal((await getEndpoints('alpha', namespace, 'web'))!.metadata.labels!.isMefiLocal, 'true');
  });

  it("a config without a cluster keeps that cluster's mirrors (reported); --prune, shown first by a dry run, removes them", async () => {
    const id = uid();
    const { namespace } = isolation(id);
    await ensureNamespace('alpha', namespace);
    await seedWeb(id);
    assert.equal((await sync(id, writeConfig().file)).code, 0);
    const partial = writeConfig({ clusters: ['alpha', 'beta'] }).file;

    const m = marks();
    const r = await sync(id, partial, '-o', 'json');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(
      report.problems.map((p: { code: string; name: string }) => [p.code, p.name]),
      [['unknown-cluster', 'gamma']],
    );
    assert.equal(
      writesSince('alpha', m.alpha!, namespace).length,
      0,
      "nothing deleted: mefi cannot rebuild gamma's mirror from this config",
    );
    assert.ok(await getEndpoints('alpha', namespace, 'web-gamma'));

    const dry = await sync(id, partial, '--prune', '--dry-run');
    assert.match(dry.stdout, /^delete\s+alpha\s+\S+\/web-gamma\s+gamma/m);
    assert.equal(writesSince('alpha', m.alpha!, namespace).length, 0);
    assert.equal((await sync(id, partial, '--prune')).code, 0);
    const pruned = writesSince('alpha', m.alpha!, namespace) as (AuditEvent & {
      requestReceivedTimestamp: string;
      stageTimestamp: string;
    })[];
    assert.deepEqual(pruned.map((e) => `${e.verb} ${e.objectRef?.name}`).sort(), ['delete web-gamma', 'update web']);
    // Writes before deletes (README): the aggregate's update had its answer before the delete was sent.
    const update = pruned.find((e) => e.verb === 'update')!;
    const del = pruned.find((e) => e.verb === 'delete')!;
    assert.ok(
      Date.parse(update.stageTimestamp) <= Date.parse(del.requestReceivedTimestamp),
      `update done ${update.stageTimestamp}, delete received ${del.requestReceivedTimestamp}`,
    );
  });

  it('--local all converges every cluster, listing each source cluster once', async () => {
    const id = uid();
    const { namespace } = isolation(id);
    for (const c of clusterNames) await ensureNamespace(c, namespace);
    await seedWeb(id);
    const cfg = writeConfig();

    const m = marks();
    const r = await sync(id, cfg.file, '--local', 'all', '-o', 'json');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).summary.create, 12);
    for (const c of clusterNames) {
      const names = (await listEndpoints(c, namespace)).map((o) => o.metadata.name);
      assert.deepEqual(names, ['web', 'web-alpha', 'web-beta', 'web-gamma'], c);
      const sourceLists = auditSince(c, m[c]!).filter(
        (e) => e.verb === 'list' && e.requestURI.startsWith('/api/v1/endpoints'),
      );
      assert.equal(sourceLists.length, 1, `${c}: one source list per run, whatever the number of targets`);
    }

    const m2 = marks();
    assert.equal((await sync(id, cfg.file, '--local', 'all')).code, 0);
    for (const c of clusterNames)
      assert.equal(writesSince(c, m2[c]!, namespace).length, 0, `${c}: second run writes nothing`);
  });
});
