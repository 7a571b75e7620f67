// Loop mode follows its input files: a changed config or kubeconfig (a Secret
// volume updated in place) is loaded before the next run; a broken one is
// reported and the last good one kept; the loop never crashes on it.

import assert from 'node:assert/strict';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  ensureNamespace,
  eventually,
  getEndpoints,
  isolation,
  kubeconfigOf,
  putEndpoints,
  skip,
  startLoop,
  subset,
  uid,
  writeConfig,
} from '../support/world.ts';

describe('loop mode reloads its files', { skip }, () => {
  it('a broken config or kubeconfig is reported and the last good one kept; a fixed or extended one is loaded', async () => {
    const id = uid();
    const { namespace, sourceLabels, args } = isolation(id);
    await ensureNamespace('alpha', namespace);
    await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.1'])]);
    await putEndpoints('gamma', `app-${id}`, 'web', sourceLabels, [subset(['10.3.0.1'])]);
    const cfg = writeConfig({ clusters: ['alpha', 'beta'] });
    // beta through a kubeconfig of the config's own, as a mounted Secret would hold it.
    const betaKc = path.join(cfg.dir, 'beta.kubeconfig');
    copyFileSync(kubeconfigOf('beta'), betaKc);
    const v1 = `clusters:\n  - name: alpha\n    kubeconfig: ${kubeconfigOf('alpha')}\n    type: local\n  - name: beta\n    kubeconfig: beta.kubeconfig\n`;
    writeFileSync(cfg.file, v1);
    const loop = startLoop(['-c', cfg.file, ...args, '--interval', '300ms']);
    try {
      await eventually('beta mirrored', async () => await getEndpoints('alpha', namespace, 'web-beta'));

      writeFileSync(cfg.file, 'clusters: [\n');
      await eventually('a broken config is reported', async () =>
        /config not reloaded: keeping the last good one.*invalid YAML/.test(loop.log()),
      );
      await putEndpoints('beta', `app-${id}`, 'web', sourceLabels, [subset(['10.2.0.9'])]);
      await eventually(
        'still syncing with the last good config',
        async () =>
          (await getEndpoints('alpha', namespace, 'web-beta'))?.subsets?.[0]?.addresses?.[0]?.ip === '10.2.0.9',
      );

      writeFileSync(cfg.file, v1);
      writeFileSync(betaKc, '\u0000\u0001garbage');
      await eventually('a broken kubeconfig is reported', async () =>
        /config not reloaded.*beta\.kubeconfig is not a kubeconfig/.test(loop.log()),
      );

      copyFileSync(kubeconfigOf('beta'), betaKc);
      writeFileSync(cfg.file, `${v1}  - name: gamma\n    kubeconfig: ${kubeconfigOf('gamma')}\n`);
      await eventually(
        'gamma, added to the config, is mirrored',
        async () => await getEndpoints('alpha', namespace, 'web-gamma'),
      );
      assert.match(loop.log(), /config reloaded/);
      assert.equal(loop.child.exitCode, null, 'the loop is still running');
    } finally {
      assert.equal(await loop.stop(), 0, loop.log());
    }
  });
});
