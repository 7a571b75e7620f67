// node --test --test-global-setup: start real control planes once for the
// whole run; every test file finds them through MEFI_TEST_DIR.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

let child: ChildProcess | undefined;
let dir: string | undefined;

export const testClusters = ['alpha', 'beta', 'gamma'];

export async function globalSetup(): Promise<void> {
  const bin = process.env.MEFI_CONTROLPLANE;
  if (!bin) throw new Error('MEFI_CONTROLPLANE is not set: run the tests with make test');
  dir = mkdtempSync(path.join(tmpdir(), 'mefi-test-'));
  const started = Date.now();
  child = spawn(bin, ['--dir', dir, '--clusters', testClusters.join(' ')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child!.once('exit', resolve));
  const deadline = Date.now() + 180_000;
  while (!existsSync(path.join(dir, 'ready'))) {
    const code = await Promise.race([exited, new Promise((r) => setTimeout(r, 100, 'waiting'))]);
    if (code !== 'waiting') throw new Error(`control plane exited (${code}) before it was ready:\n${stderr}`);
    if (Date.now() > deadline) throw new Error(`control plane not ready after 180s:\n${stderr}`);
  }
  process.env.MEFI_TEST_DIR = dir;
  process.stderr.write(`# control planes ${testClusters.join(', ')} ready in ${Date.now() - started} ms (${readFileSync(path.join(dir, 'ready'), 'utf8').trim()})\n`);
}

export async function globalTeardown(): Promise<void> {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}
