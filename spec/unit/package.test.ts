// What npm publishes, and how bin/mefi starts.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { nodeFlags } from '../support/node-flags.ts';
import { repo } from '../support/world.ts';

const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8'));

describe('package', () => {
  it('publishes the executable and the compiled code, and no tests or sources', () => {
    const [packed] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--silent'], { cwd: repo, encoding: 'utf8' }));
    const files: string[] = packed.files.map((f: { path: string }) => f.path);
    for (const f of ['bin/mefi', 'dist/mefi.js', 'README.md', 'LICENSE', 'package.json']) assert.ok(files.includes(f), f);
    assert.deepEqual(files.filter((f) => /^(spec|lib|examples)\/|\.ts$/.test(f)), []);
    assert.equal(pkg.engines.node, '>=22.19');
  });

  it('runs under the Node flags its first line names, as the image\'s entry point does', () => {
    const flags = nodeFlags();
    assert.ok(flags.includes('--max-semi-space-size=1'), flags.join(' '));
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(readFileSync(path.join(repo, 'Dockerfile'), 'utf8'))![1]!;
    assert.deepEqual(JSON.parse(entrypoint), ['/nodejs/bin/node', ...flags, '/app/bin/mefi']);
    // Run as an executable: env -S passes the flags, and finds the project's Node on PATH.
    const out = execFileSync(path.join(repo, 'bin/mefi'), ['--version'], { cwd: '/', encoding: 'utf8', env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` } });
    assert.equal(out.trim(), pkg.version);
  });

  it('prints its own version', () => {
    const out = execFileSync(process.execPath, [path.join(repo, 'bin/mefi'), '--version'], { cwd: '/', encoding: 'utf8' });
    assert.equal(out.trim(), pkg.version);
  });

  it('refuses Node older than 22.19 with a clear message and exit 3', { skip: !existsSync('/usr/bin/node') && 'no system Node here' }, (t) => {
    const system = spawnSync('/usr/bin/node', ['--version'], { encoding: 'utf8' }).stdout.trim();
    const [major, minor] = system.slice(1).split('.').map(Number) as [number, number];
    if (major > 22 || (major === 22 && minor >= 19)) return t.skip(`the system Node (${system}) is new enough: nothing to refuse`);
    const r = spawnSync('/usr/bin/node', [path.join(repo, 'bin/mefi'), '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 3);
    assert.match(r.stderr, /needs Node\.js 22\.19 or newer/);
  });
});
