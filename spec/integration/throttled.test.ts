// An API server that says "come back later": its API Priority and Fairness
// (the real one) gives mefi's identity one seat and rejects what does not fit
// with 429 and Retry-After. mefi waits as asked and sends again, as client-go
// does, so a run that was throttled still converges; the audit log shows the
// 429s it was given.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { applyObjects, auditMark, auditSince, kubeconfigOf, kubectl, mefi, skip, uid } from '../support/world.ts';

const id = uid('thr');
const namespaces = Array.from({ length: 30 }, (_, i) => `${id}-${i}`);
const user = `system:serviceaccount:${namespaces[0]}:mefi`;

describe('throttled by API Priority and Fairness', { skip, timeout: 120_000 }, () => {
  let config = '';

  before(async () => {
    await applyObjects(
      'alpha',
      ...namespaces.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
    );
    await applyObjects(
      'alpha',
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'mefi', namespace: namespaces[0] } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: id },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ kind: 'ServiceAccount', name: 'mefi', namespace: namespaces[0] }],
      },
      // One seat, no queue: what does not fit at once is rejected with 429.
      {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'PriorityLevelConfiguration',
        metadata: { name: id },
        spec: {
          type: 'Limited',
          limited: { nominalConcurrencyShares: 1, lendablePercent: 0, limitResponse: { type: 'Reject' } },
        },
      },
      {
        apiVersion: 'flowcontrol.apiserver.k8s.io/v1',
        kind: 'FlowSchema',
        metadata: { name: id },
        spec: {
          priorityLevelConfiguration: { name: id },
          matchingPrecedence: 100,
          rules: [
            {
              subjects: [{ kind: 'ServiceAccount', serviceAccount: { name: 'mefi', namespace: namespaces[0]! } }],
              resourceRules: [
                { verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*'], clusterScope: true },
              ],
            },
          ],
        },
      },
    );
    const token = await kubectl(['-n', namespaces[0]!, 'create', 'token', 'mefi'], { cluster: 'alpha' });
    assert.equal(token.code, 0, token.stderr);
    const kc = JSON.parse(readFileSync(kubeconfigOf('alpha'), 'utf8'));
    const dir = path.dirname(kubeconfigOf('alpha'));
    const ca = path.join(dir, `${id}-ca.crt`);
    writeFileSync(ca, Buffer.from(kc.clusters[0].cluster['certificate-authority-data'], 'base64'));
    config = path.join(dir, `${id}.yaml`);
    // Every namespace a list of its own, 32 at once: far more than one seat.
    writeFileSync(
      config,
      [
        'clusters:',
        '  - name: alpha',
        `    url: ${kc.clusters[0].cluster.server}`,
        `    token: ${token.stdout.trim()}`,
        `    caFile: ${ca}`,
        '    type: local',
        `    namespaces: [${namespaces.join(', ')}]`,
      ].join('\n') + '\n',
    );
  });

  after(async () => {
    await kubectl(['delete', 'flowschema,prioritylevelconfiguration', id, '--ignore-not-found'], { cluster: 'alpha' });
    await kubectl(['delete', 'clusterrolebinding', id, '--ignore-not-found'], { cluster: 'alpha' });
    for (const ns of namespaces)
      await kubectl(['delete', 'namespace', ns, '--wait=false', '--ignore-not-found'], { cluster: 'alpha' });
  });

  it('a run given 429s waits as asked, sends again, and converges', async () => {
    const mark = auditMark('alpha');
    const r = await mefi([
      'sync',
      '--dry-run',
      '-c',
      config,
      '--mefi-namespace',
      namespaces[0]!,
      '--concurrency',
      '32',
      '--mode',
      'mcs',
    ]);
    const mine = auditSince('alpha', mark).filter((e) => e.user.username === user);
    const throttled = mine.filter((e) => e.responseStatus?.code === 429);
    assert.ok(
      throttled.length > 0,
      `the server throttled the run (${mine.length} requests, none refused): the test proves nothing`,
    );
    assert.equal(r.code, 0, `converged despite ${throttled.length} 429s:\n${r.stdout}\n${r.stderr}`);
    // Every refused list was sent again and answered.
    const answered = new Set(mine.filter((e) => e.responseStatus?.code === 200).map((e) => e.requestURI));
    for (const e of throttled) assert.ok(answered.has(e.requestURI), `${e.requestURI}: sent again after its 429`);
    process.stderr.write(
      `# throttled: ${throttled.length} of ${mine.length} requests answered 429, each sent again; exit 0\n`,
    );
  });

  it('--concurrency 1 is one request at a time, a source scoped to many namespaces too: one connection, and the one seat never exceeded', async (t) => {
    // A relay in front of the API server counts connections: a keep-alive client opens a second one only for a second request in flight.
    const server = new URL(JSON.parse(readFileSync(kubeconfigOf('alpha'), 'utf8')).clusters[0].cluster.server);
    let connections = 0;
    const relay = createServer((down) => {
      connections++;
      const up = connect(Number(server.port), server.hostname);
      down.pipe(up).pipe(down);
      // Either end closing takes the other with it.
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
    }).listen(0, '127.0.0.1');
    await once(relay, 'listening');
    t.after(() => relay.close());
    const relayed = config.replace('.yaml', '-relayed.yaml');
    writeFileSync(
      relayed,
      readFileSync(config, 'utf8').replace(
        `url: ${server.origin}`,
        `url: https://127.0.0.1:${(relay.address() as AddressInfo).port}`,
      ),
    );
    for (const concurrency of [1, 4]) {
      connections = 0;
      const mark = auditMark('alpha');
      const r = await mefi([
        'sync',
        '--dry-run',
        '-c',
        relayed,
        '--mefi-namespace',
        namespaces[0]!,
        '--concurrency',
        String(concurrency),
      ]);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const mine = auditSince('alpha', mark).filter((e) => e.user.username === user);
      // Each namespace's source list, and the target's.
      assert.ok(mine.filter((e) => e.verb === 'list').length >= namespaces.length + 1, `${mine.length} requests`);
      assert.ok(
        connections >= 1 && connections <= concurrency,
        `--concurrency ${concurrency}: ${connections} connections for ${mine.length} requests`,
      );
      if (concurrency === 1)
        assert.deepEqual(
          mine.filter((e) => e.responseStatus?.code === 429).map((e) => e.requestURI),
          [],
          'no request found the seat taken',
        );
    }
  });
});
