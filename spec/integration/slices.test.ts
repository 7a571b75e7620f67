// EndpointSlice mode end to end, on real API servers: a service above the
// 1,000-address cap, dual stack, slice sources, mixed modes, stable chunking.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { SliceObject } from '../../lib/plan/index.ts';
import {
  admin,
  deleteEndpoints,
  ensureNamespace,
  getEndpoints,
  isolation,
  marks,
  mefi,
  putEndpoints,
  skip,
  subset,
  uid,
  writeConfig,
  writesSince,
} from '../support/world.ts';

async function listSlices(cluster: string, ns: string): Promise<SliceObject[]> {
  const list = await admin(cluster).request<{ items: SliceObject[] }>({
    verb: 'list',
    resource: 'endpointslices',
    namespace: ns,
    path: `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
  });
  return list.items.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

async function putSlice(cluster: string, ns: string, slice: SliceObject): Promise<void> {
  await ensureNamespace(cluster, ns);
  await admin(cluster).request({
    verb: 'create',
    resource: 'endpointslices',
    namespace: ns,
    path: `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`,
    body: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', ...slice },
  });
}

const addressesOf = (slices: SliceObject[]) => slices.flatMap((s) => (s.endpoints ?? []).map((e) => e.addresses[0]!));
const ipsIn = (net: string, n: number) => Array.from({ length: n }, (_, i) => `${net}.${i >> 8}.${i & 255}`);

describe('EndpointSlice mode against real API servers', { skip }, () => {
  it('a 2,500-endpoint service across three clusters: Endpoints mode merges all into one object, slice mode loses none', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await ensureNamespace('alpha', namespace);
    const per = { alpha: ipsIn('10.61', 1000), beta: ipsIn('10.62', 1000), gamma: ipsIn('10.63', 500) } as Record<
      string,
      string[]
    >;
    for (const [c, list] of Object.entries(per))
      await putEndpoints(c, `app-${id}`, 'big', sourceLabels, [subset(list)]);
    const cfg = writeConfig();

    const e = await mefi(['sync', '-c', cfg.file, ...args]);
    assert.equal(e.code, 0, e.stderr);
    const aggregate = (await getEndpoints('alpha', namespace, 'big'))!;
    assert.equal(
      aggregate.subsets![0]!.addresses!.length,
      2500,
      'one Endpoints object of 2,500 addresses: the mirroring controller would copy 1,000 of them',
    );

    const m = marks();
    const s = await mefi(['sync', '-c', cfg.file, ...args, '--target', 'endpointslices', '-o', 'json']);
    assert.equal(s.code, 0, s.stderr);
    const slices = (await listSlices('alpha', namespace)).filter(
      (x) => x.metadata.labels?.['kubernetes.io/service-name'] === 'big',
    );
    assert.equal(slices.length, 25, '10 + 10 + 5 slices of 100');
    assert.ok(slices.every((x) => (x.endpoints ?? []).length <= 100));
    assert.deepEqual(new Set(addressesOf(slices)).size, 2500, 'every endpoint arrives');
    assert.equal(
      writesSince('alpha', m.alpha!, namespace).filter((w) => w.objectRef?.resource === 'endpointslices').length,
      25,
    );
    assert.deepEqual(slices[0]!.metadata.labels, {
      isMefiLocal: 'true',
      isMefiOriginalName: 'big',
      'multicluster.kubernetes.io/source-cluster': 'alpha',
      'kubernetes.io/service-name': 'big',
      'endpointslice.kubernetes.io/managed-by': 'mefi',
    });

    // Stable chunking under churn: one address changes in beta, one slice is rewritten.
    const changed = [...per.beta!];
    changed[555] = '10.62.99.99';
    await putEndpoints('beta', `app-${id}`, 'big', sourceLabels, [subset(changed)]);
    const m2 = marks();
    const churn = await mefi(['sync', '-c', cfg.file, ...args, '--target', 'endpointslices']);
    assert.equal(churn.code, 0, churn.stderr);
    assert.deepEqual(
      writesSince('alpha', m2.alpha!, namespace).map((w) => `${w.verb} ${w.objectRef?.resource}`),
      ['update endpointslices'],
    );

    const m3 = marks();
    assert.equal((await mefi(['sync', '-c', cfg.file, ...args, '--target', 'endpointslices'])).code, 0);
    assert.deepEqual(writesSince('alpha', m3.alpha!, namespace), [], 'steady: no write');
  });

  it('reads dual-stack slices of labelled Services and writes one address family per slice', async () => {
    const id = uid();
    const { namespace, args } = isolation(id);
    await ensureNamespace('alpha', namespace);
    const slice = (name: string, addressType: string, addresses: string[], ready = true): SliceObject => ({
      metadata: {
        name,
        labels: {
          'kubernetes.io/service-name': 'web',
          'mefi-test': id,
          'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
        },
      },
      addressType,
      endpoints: addresses.map((a) => ({ addresses: [a], conditions: { ready, serving: ready, terminating: false } })),
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    });
    await putSlice('beta', `app-${id}`, slice('web-v4', 'IPv4', ['10.2.0.1', '10.2.0.2']));
    await putSlice('beta', `app-${id}`, slice('web-v6', 'IPv6', ['fd00:2::1']));
    await putSlice('gamma', `app-${id}`, slice('web-v4', 'IPv4', ['10.3.0.1'], false));
    const cfg = writeConfig();

    const r = await mefi(['sync', '-c', cfg.file, ...args, '--source', 'endpointslices', '--target', 'endpointslices']);
    assert.equal(r.code, 0, r.stderr);
    const slices = await listSlices('alpha', namespace);
    assert.deepEqual(
      slices.map((x) => [x.metadata.name, x.addressType, addressesOf([x])]),
      [
        ['web-beta-0', 'IPv4', ['10.2.0.1', '10.2.0.2']],
        ['web-beta-1', 'IPv6', ['fd00:2::1']],
        ['web-gamma-0', 'IPv4', ['10.3.0.1']],
      ],
    );
    assert.equal(slices[2]!.endpoints![0]!.conditions!.ready, false, 'readiness is carried');

    // Mixed modes: the same slice sources into Endpoints.
    const e = await mefi(['sync', '-c', cfg.file, ...args, '--source', 'endpointslices']);
    assert.equal(e.code, 0, e.stderr);
    const agg = (await getEndpoints('alpha', namespace, 'web'))!;
    assert.deepEqual(agg.subsets, [
      {
        addresses: [{ ip: '10.2.0.1' }, { ip: '10.2.0.2' }, { ip: 'fd00:2::1' }],
        ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      },
    ]);
    assert.deepEqual(
      (await getEndpoints('alpha', namespace, 'web-gamma'))!.subsets![0]!.notReadyAddresses,
      [{ ip: '10.3.0.1' }],
      'the mirror keeps what its source says',
    );
  });

  it('slice mode converges a changed, a new, a removed and an unlabelled source in one run each; dry-run and diff write nothing', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await ensureNamespace('alpha', namespace);
    for (const [c, net] of [
      ['alpha', '10.1'],
      ['beta', '10.2'],
      ['gamma', '10.3'],
    ] as const)
      await putEndpoints(c, `app-${id}`, 'web', sourceLabels, [subset([`${net}.0.1`, `${net}.0.2`])]);
    const cfg = writeConfig();
    const slice = [...args, '--target', 'endpointslices'];

    const m0 = marks();
    const dry = await mefi(['sync', '-c', cfg.file, ...slice, '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^create\s+alpha\s+mefi-\S+\/web-beta-0 \(slice\)\s+beta/m);
    const diff = await mefi(['diff', '-c', cfg.file, ...slice]);
    assert.equal(diff.code, 1);
    assert.match(diff.stdout, new RegExp(`^\\+\\+\\+ b/alpha/${namespace}/endpointslices/web-gamma-0`, 'm'));
    assert.deepEqual(writesSince('alpha', m0.alpha!, namespace), []);

    const first = await mefi(['sync', '-c', cfg.file, ...slice]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(
      (first.stderr.match(/v1 Endpoints is deprecated/g) ?? []).length,
      1,
      'the deprecation warning is logged once per run, not once per request',
    );

    const step = async (what: string, change: () => Promise<unknown>, expected: string[]) => {
      await change();
      const m = marks();
      const r = await mefi(['sync', '-c', cfg.file, ...slice]);
      assert.equal(r.code, 0, `${what}: ${r.stderr}`);
      assert.deepEqual(
        writesSince('alpha', m.alpha!, namespace)
          .map((w) => `${w.verb} ${w.objectRef?.name}`)
          .sort(),
        expected,
        what,
      );
      assert.equal((await mefi(['diff', '-c', cfg.file, ...slice])).code, 0, `${what}: converged in one run`);
    };
    await step(
      'changed source',
      () => putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.1', '10.2.0.9'])]),
      ['update web-beta-0'],
    );
    await step('new source', () => putEndpoints('gamma', `app-${id}`, 'api', sourceLabels, [subset(['10.3.1.1'])]), [
      'create api-gamma-0',
    ]);
    await step('removed source', () => deleteEndpoints('gamma', `app-${id}`, 'web'), ['delete web-gamma-0']);
    await step('removed label', () => putEndpoints('beta', `app-${id}`, 'web', {}, [subset(['10.2.0.1'])]), [
      'delete web-beta-0',
    ]);
    assert.deepEqual(
      (await listSlices('alpha', namespace)).map((x) => x.metadata.name),
      ['api-gamma-0', 'web-alpha-0'],
    );
  });
});
