// What a newcomer sees first: `mefi --help`, and on too old a Node the
// launcher's one line (bin/mefi).

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { repo } from '../support/world.ts';

const mefi = path.join(repo, 'bin/mefi');

describe('mefi --help', () => {
  it('names the three ways of publishing, and the flags that choose them, before the commands', () => {
    const out = execFileSync(process.execPath, [mefi, '--help'], { cwd: '/', encoding: 'utf8' });
    const intro = out.slice(0, out.indexOf('Commands:')).replace(/\s+/g, ' ');
    assert.match(intro, /three ways/);
    assert.match(intro, /Endpoints mirrored .*aggregate/);
    assert.match(intro, /EndpointSlices \(--target endpointslices\)/);
    assert.match(intro, /Multi-Cluster Services API.*\(--mode mcs\)/);
  });

  it(
    'on a Node older than 22.19 says so in one line, once, and exits 3',
    { skip: !existsSync('/usr/bin/node') && 'no system Node here' },
    (t) => {
      const system = spawnSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }).stdout.trim();
      const [major, minor] = system.slice(1).split('.').map(Number) as [number, number];
      if (major > 22 || (major === 22 && minor >= 19))
        return t.skip(`the system Node (${system}) is new enough: nothing to refuse`);
      const r = spawnSync('/usr/bin/node', [mefi, '--help'], { encoding: 'utf8' });
      assert.equal(r.status, 3);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `mefi: needs Node.js 22.19 or newer; this is ${system}.\n`);
      assert.equal(r.stderr.match(/needs/g)?.length, 1, 'the requirement is said once');
    },
  );
});
