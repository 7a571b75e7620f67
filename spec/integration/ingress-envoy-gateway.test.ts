// Envoy Gateway (v1.9, from its module, installed by its Helm chart) over
// examples/target/envoy-gateway: the shared scenario through an HTTPRoute to
// mefi's Service, then MCS mode through HTTPRoutes to the ServiceImport
// (GEP-1748), which Envoy Gateway resolves from the slices labelled with the
// import's name: every exporting cluster answers, one unexporting gets
// nothing, and one whose API server is down keeps answering until staleAfter.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { clusters } from '../support/app.ts';
import { envoyGatewayMissing, importExample, importHosts, startEnvoyGateway } from '../support/envoy-gateway.ts';
import { applyExamples, describeIngress, type IngressBed } from '../support/ingress-scenario.ts';
import { byCluster, type Traffic } from '../support/pods.ts';
import { eventually, mefi } from '../support/world.ts';

const serviceExport = {
  apiVersion: 'multicluster.x-k8s.io/v1beta1',
  kind: 'ServiceExport',
  metadata: { name: 'web', namespace: 'app' },
};
const staleAfterMs = 6_000;

function importTests(bed: () => IngressBed): void {
  let config = '';
  const sync = async (code = 0) => {
    const r = await mefi(['sync', '--mode', 'mcs', '-c', config]);
    assert.equal(r.code, code, r.stdout + r.stderr);
  };
  const answering = (t: Traffic) => Object.keys(byCluster(t)).sort();
  /** Through both routes to the import, until the answering clusters are `wanted`, with no request failing. */
  const until = async (what: string, wanted: string[]) => {
    const { ingress, through } = bed();
    for (const [kind, host] of Object.entries(importHosts))
      await eventually(
        `${kind}: ${what}`,
        async () => {
          const t = await through(ingress.url, host);
          return t.errors === 0 && JSON.stringify(answering(t)) === JSON.stringify(wanted) ? t : undefined;
        },
        30_000,
      ).catch(async (err: Error) => {
        throw new Error(
          `${err.message}; last: ${JSON.stringify(await through(ingress.url, host))}\n${ingress.log().slice(-4000)}`,
        );
      });
  };

  it('MCS mode: an HTTPRoute to the ServiceImport (GEP-1748), in its namespace and granted from another, is answered by the pods of every exporting cluster', async () => {
    const { w } = bed();
    config = w.writeConfig({ top: { staleAfter: `${staleAfterMs / 1000}s` } }).file;
    for (const c of clusters) await w.applyObjects(c, serviceExport);
    await sync();
    await applyExamples(w, 'alpha', [importExample]);
    await until('alpha, beta and gamma answer', clusters);
  });

  it('MCS mode: a cluster unexporting gets no request after the next run, and is served again once it exports', async () => {
    const { w } = bed();
    const r = await w.kubectl(['-n', 'app', 'delete', 'serviceexports.multicluster.x-k8s.io', 'web'], {
      cluster: 'beta',
    });
    assert.equal(r.code, 0, r.stderr);
    await sync();
    await until('beta unexported: alpha and gamma answer', ['alpha', 'gamma']);
    await w.applyObjects('beta', serviceExport);
    await sync();
    await until('beta exporting again', clusters);
  });

  it("MCS mode: an exporting cluster's API server down: its pods keep answering until staleAfter, then get nothing; back, they are served again", async () => {
    const { w, ingress, through } = bed();
    await sync();
    // gamma's last read: staleAfter counts from here.
    const lastRead = Date.now();
    await w.kill('gamma');
    try {
      await sync(2);
      // Kept as last read: gamma's pods (their API server gone) still answer, and nothing fails.
      for (const host of Object.values(importHosts)) {
        const t = await through(ingress.url, host);
        assert.equal(t.errors, 0, t.lastError);
        assert.deepEqual(answering(t), clusters, `${host}: gamma kept until staleAfter`);
      }
      await sleep(Math.max(0, lastRead + staleAfterMs + 500 - Date.now()));
      await sync(2);
      await until('gamma stale: alpha and beta answer', ['alpha', 'beta']);
    } finally {
      await w.release('gamma');
    }
    await sync();
    await until('gamma back', clusters);
  });
}

describeIngress('Envoy Gateway', envoyGatewayMissing, startEnvoyGateway, { mcs: true, more: importTests });
