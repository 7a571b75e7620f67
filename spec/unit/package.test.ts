// What npm publishes, and how bin/mefi starts.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { loopEnv, loopFlags } from '../../lib/loop/loop-flags.ts';
import { nodeFlags } from '../support/node-flags.ts';
import { repo } from '../support/world.ts';

const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8'));

/** A config of one cluster, a, whose server is where nothing listens until `at` names another; its directory goes with the test. */
function oneCluster(t: TestContext, prefix: string): { config: string; at(server: string): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const at = (server: string) =>
    writeFileSync(
      path.join(dir, 'kubeconfig'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'a', cluster: { server } }],
        users: [{ name: 'a', user: { token: 'x' } }],
        contexts: [{ name: 'a', context: { cluster: 'a', user: 'a' } }],
        'current-context': 'a',
      }),
    );
  at('https://127.0.0.1:9');
  writeFileSync(path.join(dir, 'mefi.yaml'), 'clusters:\n  - name: a\n    kubeconfig: kubeconfig\n    type: local\n');
  return { config: path.join(dir, 'mefi.yaml'), at };
}

describe('package', () => {
  it('publishes the executable and the compiled code, and no tests or sources', () => {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--dry-run', '--json', '--silent'], { cwd: repo, encoding: 'utf8' }),
    );
    const files: string[] = packed.files.map((f: { path: string }) => f.path);
    for (const f of ['bin/mefi', 'dist/mefi.js', 'README.md', 'LICENSE', 'package.json'])
      assert.ok(files.includes(f), f);
    assert.deepEqual(
      files.filter((f) => /^(spec|lib|examples)\/|\.ts$/.test(f)),
      [],
    );
    assert.equal(pkg.engines.node, '>=22.19');
  });

  it("runs under the Node flags its first line names, as the image's entry point does", () => {
    const flags = nodeFlags();
    assert.ok(flags.includes('--max-semi-space-size=8'), flags.join(' '));
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(readFileSync(path.join(repo, 'Dockerfile'), 'utf8'))![1]!;
    assert.deepEqual(JSON.parse(entrypoint), ['/nodejs/bin/node', ...flags, '/app/bin/mefi']);
    // Run as an executable: env -S passes the flags, and finds the project's Node on PATH.
    const out = execFileSync(path.join(repo, 'bin/mefi'), ['--version'], {
      cwd: '/',
      encoding: 'utf8',
      env: { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH}` },
    });
    assert.equal(out.trim(), pkg.version);
  });

  it("runs a loop again in place under the loop's flags: the same process, a small young generation, collections on request", async (t) => {
    // Nothing listens there: the loop goes on with the cluster unreadable.
    const cluster = oneCluster(t, 'mefi-loop-flags-');
    const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    const started = (args: string[]) => {
      const child = spawn(
        process.execPath,
        [...nodeFlags(), path.join(repo, 'bin/mefi'), ...args, '-c', cluster.config, '--log-level', 'info'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      // Its first log line: it runs (and handles signals).
      const running = new Promise((resolve) => child.stderr.once('data', resolve));
      child.stderr.resume();
      return { child, running, exited: new Promise<number | null>((resolve) => child.once('exit', resolve)) };
    };
    const { child: loop, running, exited } = started(['sync', '--interval', '1s']);
    try {
      await running;
      let args: string[] = [];
      for (let i = 0; i < 100 && !loopFlags.every((f) => args.includes(f)); i++, await sleep(50))
        args = cmdline(loop.pid!);
      for (const f of loopFlags) assert.ok(args.includes(f), `${f} in ${args.join(' ')}`);
      assert.ok(!args.includes('--max-semi-space-size=8'), "the single run's young generation is replaced");
      assert.ok(args.includes('--interval'), 'with its own arguments');
      const environ = readFileSync(`/proc/${loop.pid}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes('MALLOC_ARENA_MAX=1'), 'one malloc arena');
      assert.ok(environ.includes(`PATH=${process.env.PATH}`), 'and the rest of its environment as it was');
      assert.equal(loopEnv({ MALLOC_ARENA_MAX: '4' }).MALLOC_ARENA_MAX, '4', 'an arena count the user set stays');
    } finally {
      loop.kill('SIGTERM');
    }
    assert.equal(await exited, 0, 'the signal reached the loop, which stopped as asked');
    // A single run keeps the flags it was started with: one held up by a server that never answers, asked while it waits.
    const silent = createServer(() => undefined).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    t.after(() => silent.close());
    cluster.at(`https://127.0.0.1:${(silent.address() as AddressInfo).port}`);
    const single = started(['diff']);
    await once(silent, 'connection');
    const args = cmdline(single.child.pid!);
    single.child.kill('SIGKILL');
    await single.exited;
    assert.ok(args.includes('--max-semi-space-size=8') && !args.includes('--expose-gc'), args.join(' '));
  });

  it('a reader that stops reading gets no stack trace: the exit code still says how the run went', async (t) => {
    // Nothing listens there: the cluster is unreadable, the run partial (2), its report printed all the same.
    const { config } = oneCluster(t, 'mefi-epipe-');
    for (const output of ['table', 'json']) {
      const child = spawn(
        process.execPath,
        [...nodeFlags(), path.join(repo, 'bin/mefi'), 'diff', '-c', config, '-o', output, '--log-level', 'error'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout.destroy(); // the reader is gone before anything is written
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const [code] = await once(child, 'exit');
      assert.equal(code, 2, `-o ${output}: ${stderr}`);
      assert.doesNotMatch(stderr, /EPIPE|^\s+at /m, `-o ${output}`);
    }
  });

  it('prints its own version', () => {
    const out = execFileSync(process.execPath, [path.join(repo, 'bin/mefi'), '--version'], {
      cwd: '/',
      encoding: 'utf8',
    });
    assert.equal(out.trim(), pkg.version);
  });
});
