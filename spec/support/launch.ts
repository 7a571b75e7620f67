// Start the loopback control planes (spec/support/controlplane) and wait for
// them; shared by the test suite's global setup, the demo and the benchmark.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface ControlPlanes {
  dir: string;
  clusters: string[];
  /** "3 clusters ready in 2.9s", as the control plane wrote it. */
  ready: string;
  /** The supervisor's process. */
  pid: number;
  stop(): Promise<void>;
}

export interface BedOptions {
  /** kube-controller-manager per cluster (default true). */
  controllers?: boolean;
  /**
   * The routed pod network with kube-proxy (root only); its nodes are real
   * (a kubelet with its own containerd, CoreDNS as the cluster's DNS) where
   * make has built their parts (MEFI_KUBELET, MEFI_NODE_IMAGES), otherwise
   * simulated by the supervisor.
   */
  network?: boolean;
  /** The Multi-Cluster Services API's CRDs (ServiceExport, ServiceImport) in every cluster (default false). */
  mcs?: boolean;
  timeoutMs?: number;
}

export async function startControlPlanes(
  dir: string,
  clusters: string[],
  opts: BedOptions = {},
): Promise<ControlPlanes> {
  const bin = process.env.MEFI_CONTROLPLANE;
  if (!bin) throw new Error('MEFI_CONTROLPLANE is not set: run this through make');
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const args = [
    '--dir',
    dir,
    '--clusters',
    clusters.join(' '),
    `--controllers=${opts.controllers ?? true}`,
    `--network=${opts.network ?? false}`,
    `--mcs=${opts.mcs ?? false}`,
  ];
  const { MEFI_KUBELET: kubelet, MEFI_NODE_IMAGES: images } = process.env;
  if (opts.network && kubelet && images) args.push('--nodes=real', `--kubelet=${kubelet}`, `--images=${images}`);
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(path.join(dir, 'ready'))) {
    const code = await Promise.race([exited, new Promise<'waiting'>((r) => setTimeout(r, 100, 'waiting'))]);
    if (code !== 'waiting') throw new Error(`control plane exited (${code}) before it was ready:\n${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`control plane not ready after ${timeoutMs / 1000}s:\n${stderr}`);
    }
  }
  const stop = async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    // unref: a test file's process need not wait out this timer once the planes are gone.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 30_000).unref())]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  return { dir, clusters, ready: readFileSync(path.join(dir, 'ready'), 'utf8').trim(), pid: child.pid!, stop };
}

/** For describe(..., { skip }): why a test of real nodes (a kubelet and containerd per cluster) cannot run here, or false. */
export function withoutRealNodes(): string | false {
  if (!process.env.MEFI_CONTROLPLANE) return 'needs the control plane binary that make test builds';
  if (process.getuid?.() !== 0) return 'needs root for the routed pod network and the real nodes (CI runs as root)';
  if (!process.env.MEFI_KUBELET)
    return "needs the real nodes' parts that make test builds (MEFI_KUBELET, MEFI_NODE_IMAGES)";
  return false;
}
