// The real helm (built from its module by make helm), as a user runs it:
// against one cluster's kubeconfig, with its caches in the test's temporary
// directory, never the user's.

import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { MefiResult } from './world.ts';

export function helm(args: string[], kubeconfig?: string, timeoutMs = 120_000): Promise<MefiResult> {
  return new Promise((resolve) => {
    execFile(
      process.env.MEFI_HELM!,
      [...(kubeconfig ? ['--kubeconfig', kubeconfig] : []), ...args],
      {
        maxBuffer: 16 << 20,
        timeout: timeoutMs,
        env: {
          ...process.env,
          HELM_CACHE_HOME: path.join(tmpdir(), 'mefi-helm-cache'),
          HELM_CONFIG_HOME: path.join(tmpdir(), 'mefi-helm-config'),
          HELM_DATA_HOME: path.join(tmpdir(), 'mefi-helm-data'),
        },
      },
      (err, stdout, stderr) => {
        resolve({
          code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0,
          stdout,
          stderr,
        });
      },
    );
  });
}
