// node --test --test-global-setup: start real control planes once for the
// whole run; every test file finds them through MEFI_TEST_DIR.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlanes, type ControlPlanes } from './launch.ts';

let planes: ControlPlanes | undefined;

export async function globalSetup(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mefi-test-'));
  const started = Date.now();
  // As root, where make has built them, on real nodes (the network is theirs); otherwise simulated.
  const real = process.getuid?.() === 0 && !!process.env.MEFI_KUBELET;
  planes = await startControlPlanes(dir, ['alpha', 'beta', 'gamma'], { mcs: true, network: real });
  process.env.MEFI_TEST_DIR = dir;
  process.stderr.write(
    `# control planes ${planes.clusters.join(', ')} up in ${Date.now() - started} ms (${planes.ready})\n`,
  );
}

export async function globalTeardown(): Promise<void> {
  await planes?.stop();
  if (planes) rmSync(planes.dir, { recursive: true, force: true });
}
