// Someone writes between mefi's read and its write: the server refuses the
// stale write (resourceVersion), and apply decides again from fresh state.
// lib's own read/plan/apply, against a real API server.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyPlan } from '../../lib/apply/apply.ts';
import { mirrorAnnotations, plan } from '../../lib/plan/index.ts';
import { readWorld } from '../../lib/world/read.ts';
import {
  admin,
  clusterNames,
  deleteEndpoints,
  ensureNamespace,
  getEndpoints,
  isolation,
  putEndpoints,
  skip,
  subset,
  uid,
} from '../support/world.ts';
import { mirrorLabels, options as baseOptions } from '../support/fixtures.ts';

async function stalePlan(id: string) {
  const { namespace } = isolation(id);
  const options = { ...baseOptions, namespace };
  const clients = new Map(clusterNames.map((c) => [c, admin(c)]));
  const clusters = clusterNames.map((name) => ({
    name,
    type: 'remote' as const,
    connection: { kind: 'inCluster' as const },
  }));
  const input = await readWorld(clusters, clients, {
    remoteFilter: `mefi-test=${id}`,
    namespace,
    targets: ['alpha'],
    concurrency: 4,
    pageSize: 100,
  });
  const p = plan(options, input);
  return { p, apply: () => applyPlan(p, clients, { options, concurrency: 4, clusters: clusterNames }) };
}

describe('conflicting writers, on a real API server', { skip }, () => {
  it('an update refused for a stale resourceVersion is retried from fresh state', async () => {
    const id = uid();
    const { namespace, sourceLabels } = isolation(id);
    await ensureNamespace('alpha', namespace);
    await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.1'])]);
    await (await stalePlan(id)).apply();

    await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.2'])]);
    const { p, apply } = await stalePlan(id);
    assert.deepEqual(p.updates.map((u) => u.name).sort(), ['web', 'web-beta']);
    // Another writer changes the mirror after mefi read it.
    await putEndpoints('alpha', namespace, 'web-beta', { ...mirrorLabels('web', 'beta'), touched: 'yes' }, [
      subset(['10.9.9.9']),
    ]);

    const outcomes = await apply();
    const mirror = outcomes.find((o) => o.change.name === 'web-beta')!;
    assert.equal(mirror.result, 'done');
    assert.equal(mirror.retried, true);
    assert.match(mirror.message!, /retried as update from fresh state/);
    const now = (await getEndpoints('alpha', namespace, 'web-beta'))!;
    assert.deepEqual(now.subsets, [subset(['10.2.0.2'])]);
    assert.deepEqual(now.metadata.labels, mirrorLabels('web', 'beta'));
  });

  it('a create that finds the object created meanwhile: equal is skipped, foreign is left alone', async () => {
    const id = uid();
    const { namespace, sourceLabels } = isolation(id);
    await ensureNamespace('alpha', namespace);
    await putEndpoints('gamma', `app-${id}`, 'api', sourceLabels, [subset(['10.3.0.1'])]);
    const { p, apply } = await stalePlan(id);
    assert.deepEqual(
      p.creates.map((c) => c.name),
      ['api', 'api-gamma'],
    );
    // A concurrent mefi run wrote the mirror already; a user took the aggregate's name.
    await putEndpoints('alpha', namespace, 'api-gamma', mirrorLabels('api', 'gamma'), [subset(['10.3.0.1'])], {
      ...mirrorAnnotations,
    });
    await putEndpoints('alpha', namespace, 'api', { mine: 'true' }, [subset(['10.8.8.8'])]);

    const outcomes = await apply();
    const byName = Object.fromEntries(outcomes.map((o) => [o.change.name, o]));
    assert.equal(byName['api-gamma']!.result, 'skipped');
    assert.match(byName['api-gamma']!.message!, /already as wanted/);
    assert.equal(byName.api!.result, 'skipped');
    assert.match(byName.api!.message!, /exists without label isMefiLocal=true/);
    assert.deepEqual(
      (await getEndpoints('alpha', namespace, 'api'))!.metadata.labels,
      { mine: 'true' },
      'the foreign object is untouched',
    );
  });

  it('a delete with a stale precondition is retried; one already gone is done', async () => {
    const id = uid();
    const { namespace, sourceLabels } = isolation(id);
    await ensureNamespace('alpha', namespace);
    await putEndpoints('beta', `app-${id}`, 'db', sourceLabels, [subset(['10.2.5.1'])]);
    await putEndpoints('gamma', `app-${id}`, 'db', sourceLabels, [subset(['10.3.5.1'])]);
    await (await stalePlan(id)).apply();
    await deleteEndpoints('beta', `app-${id}`, 'db');
    await deleteEndpoints('gamma', `app-${id}`, 'db');

    const { p, apply } = await stalePlan(id);
    assert.deepEqual(p.deletes.map((d) => d.name).sort(), ['db', 'db-beta', 'db-gamma']);
    await putEndpoints('alpha', namespace, 'db-beta', mirrorLabels('db', 'beta'), [subset(['10.2.5.2'])]); // changed meanwhile
    await deleteEndpoints('alpha', namespace, 'db-gamma'); // gone meanwhile

    const outcomes = await apply();
    for (const o of outcomes) assert.equal(o.result, 'done', `${o.change.name}: ${o.message}`);
    assert.equal(outcomes.find((o) => o.change.name === 'db-beta')!.retried, true);
    for (const n of ['db', 'db-beta', 'db-gamma'])
      assert.equal(await getEndpoints('alpha', namespace, n), undefined, n);
  });

  it('a delete never removes an object that lost its ownership label meanwhile', async () => {
    const id = uid();
    const { namespace, sourceLabels } = isolation(id);
    await ensureNamespace('alpha', namespace);
    await putEndpoints('beta', `app-${id}`, 'q', sourceLabels, [subset(['10.2.6.1'])]);
    await (await stalePlan(id)).apply();
    await deleteEndpoints('beta', `app-${id}`, 'q');
    const { apply } = await stalePlan(id);
    // A user adopts the mirror after mefi planned to delete it.
    await putEndpoints('alpha', namespace, 'q-beta', { adopted: 'true' }, [subset(['10.2.6.1'])]);
    const outcomes = await apply();
    assert.equal(outcomes.find((o) => o.change.name === 'q-beta')!.result, 'skipped');
    assert.ok(await getEndpoints('alpha', namespace, 'q-beta'), 'still there');
  });
});
