// The upgrade from the original mefi, as the README's "Upgrading" section
// tells it: objects as the original wrote them (mirrors without the
// source-cluster label, non-canonical IPv6; aggregates without any label, one
// subset with the first mirror's ports), the original's command line, then
// the documented adoption commands.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  eventually,
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

describe('upgrading from the original mefi', { skip }, () => {
  it('adopts its mirrors at once and its aggregates only through --adopt (shown first by a dry run); then they follow their sources', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.1'])]);
    await putEndpoints('gamma', `app-${id}`, 'web', sourceLabels, [
      { addresses: [{ ip: 'fd00:0::1' }], ports: [{ name: 'http', port: 8080 }] },
    ]);
    // What the original left in alpha.
    const legacy = { isMefiLocal: 'true', isMefiOriginalName: 'web' };
    await putEndpoints('alpha', namespace, 'web-beta', legacy, [
      { addresses: [{ ip: '10.2.0.1', nodeName: 'beta-node-1' }], ports: [{ name: 'http', port: 8080 }] },
    ]);
    await putEndpoints('alpha', namespace, 'web-gamma', legacy, [
      { addresses: [{ ip: 'fd00::1' }], ports: [{ name: 'http', port: 8080 }] },
    ]);
    await putEndpoints('alpha', namespace, 'web', {}, [
      { addresses: [{ ip: '10.2.0.1' }, { ip: 'fd00::1' }], ports: [{ name: 'http', port: 8080 }] },
    ]);
    const cfg = writeConfig({ clusters: ['alpha', 'beta', 'gamma'] });

    const before = await mefi(['sync', '-c', cfg.file, ...args, '-o', 'json']);
    assert.equal(before.code, 2, 'the unlabelled aggregate blocks convergence until adopted');
    const report = JSON.parse(before.stdout);
    assert.match(report.problems.find((p: { code: string }) => p.code === 'conflict').message, /--adopt takes it over/);
    assert.deepEqual(
      (await getEndpoints('alpha', namespace, 'web'))!.metadata.labels ?? {},
      {},
      'not taken over silently',
    );
    assert.equal(
      (await getEndpoints('alpha', namespace, 'web-beta'))!.metadata.labels![
        'multicluster.kubernetes.io/source-cluster'
      ],
      'beta',
      'the mirrors are adopted at once',
    );

    const m = marks();
    const dry = await mefi(['sync', '-c', cfg.file, ...args, '--adopt', '--dry-run']);
    assert.match(dry.stdout, /^adopt\s+alpha\s+\S+\/web\s+\(aggregate\)/m);
    assert.deepEqual(writesSince('alpha', m.alpha!, namespace), [], 'a dry run writes nothing');

    assert.equal((await mefi(['sync', '-c', cfg.file, ...args, '--adopt'])).code, 0);
    assert.equal((await getEndpoints('alpha', namespace, 'web'))!.metadata.labels!.isMefiLocal, 'true');
    const m2 = marks();
    assert.equal((await mefi(['sync', '-c', cfg.file, ...args])).code, 0);
    assert.deepEqual(writesSince('alpha', m2.alpha!, namespace), [], 'a second run writes nothing');

    // A later change in beta reaches the aggregate (the original's was stuck as a conflict before).
    await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.9'])]);
    assert.equal((await mefi(['sync', '-c', cfg.file, ...args])).code, 0);
    await eventually('the aggregate follows beta', async () =>
      JSON.stringify((await getEndpoints('alpha', namespace, 'web'))!.subsets).includes('10.2.0.9'),
    );
  });
});
