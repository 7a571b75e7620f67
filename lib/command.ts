// The commands behind bin/: load and check everything, then one run or a loop.

import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterBackoff } from './backoff.ts';
import { ConfigError, formatIssue, loadConfig, selectTargets, type Config } from './config.ts';
import { KubeClient } from './kube/client.ts';
import { connect } from './kube/connect.ts';
import type { Logger } from './log.ts';
import type { PlanOptions } from './plan/index.ts';
import { Metrics, serveMetrics } from './metrics.ts';
import { exitCodeFor, runOnce, type RunResult } from './run.ts';
import { fingerprint, inputFiles } from './reload.ts';
import type { Settings } from './settings.ts';
import { version } from './version.ts';

export interface Prepared {
  config: Config;
  targets: string[];
  clients: Map<string, KubeClient>;
  /** The flags' plan options with what the config adds (podCIDRs). */
  options: PlanOptions;
}

/** Everything that can fail before an API call: a ConfigError here means exit 3, nothing read. */
export function prepare(settings: Settings): Prepared {
  const config = loadConfig(settings.configFile);
  const targets = selectTargets(config, settings.local);
  const connections = connect(config);
  const userAgent = `mefi/${version()}`;
  const clients = new Map([...connections].map(([name, c]) => [name, new KubeClient(c, { requestTimeoutMs: settings.requestTimeoutMs, userAgent })]));
  const podCIDRs = Object.fromEntries(config.clusters.filter((c) => c.podCIDRs).map((c) => [c.name, c.podCIDRs!]));
  const staleAfter = Object.fromEntries(config.clusters.filter((c) => c.staleAfterMs !== undefined).map((c) => [c.name, c.staleAfterMs!]));
  const options: PlanOptions = {
    ...settings.options,
    ...(Object.keys(podCIDRs).length ? { podCIDRs } : {}),
    ...(Object.keys(staleAfter).length ? { staleAfter } : {}),
    ...(config.staleAfterMs !== undefined ? { staleAfterDefault: config.staleAfterMs } : {}),
  };
  return { config, targets, clients, options };
}

export interface ExecuteOptions {
  dryRun: boolean;
  /** Clusters not to ask this run (loop backoff). */
  skip?: Map<string, string>;
  /** Log every applied change (loop mode: there is no table). */
  logChanges?: boolean;
}

export async function execute(command: 'sync' | 'diff', settings: Settings, prepared: Prepared, log: Logger, o: ExecuteOptions): Promise<{ result: RunResult; exitCode: number }> {
  const { config, targets, clients } = prepared;
  log.debug('run starting', { command, dryRun: o.dryRun, targets, clusters: config.clusters.map((c) => c.name) });
  const result = await runOnce(config, clients, {
    remoteFilter: settings.remoteFilter,
    namespace: settings.options.namespace,
    targets,
    concurrency: settings.concurrency,
    pageSize: settings.pageSize,
    options: prepared.options,
    source: settings.source,
    target: prepared.options.target ?? 'endpoints',
    ...(prepared.options.staleAfter || prepared.options.staleAfterDefault !== undefined ? { leaseSelector: `${prepared.options.ownerLabel.key}=${prepared.options.ownerLabel.value}` } : {}),
    dryRun: command === 'diff' || o.dryRun,
    ...(o.skip ? { skip: o.skip } : {}),
  });
  for (const u of result.plan.unreadable) log.error('cluster unreadable', { cluster: u.cluster, role: u.role, error: u.error });
  for (const out of result.outcomes) {
    const fields = { action: out.action, target: out.change.target, name: `${out.change.namespace}/${out.change.name}`, result: out.result, ...(out.message ? { message: out.message } : {}) };
    if (out.result === 'failed') log.error('write failed', fields);
    else if (o.logChanges) log.info('change', fields);
  }
  for (const l of result.leaseOutcomes) if (l.result === 'failed') log.error('lease write failed', { target: l.lease.target, name: l.lease.name, error: l.message });
  if (o.logChanges) for (const p of result.plan.problems) log.warn('problem', { ...p });
  // Once per run, not per request: the Endpoints deprecation warning would otherwise flood the log.
  for (const w of result.warnings) log.warn('API server warning', { warning: w });
  const exitCode = exitCodeFor(command, result);
  log.info('run finished', {
    command,
    creates: result.plan.creates.length,
    updates: result.plan.updates.length,
    deletes: result.plan.deletes.length,
    problems: result.plan.problems.length,
    unreadable: result.plan.unreadable.length,
    writes: result.calls.create + result.calls.update + result.calls.delete,
    leases: result.leaseOutcomes.filter((l) => l.result === 'done').length,
    durationMs: Math.round(result.durationMs),
    exitCode,
  });
  return { result, exitCode };
}

export interface LoopSettings {
  intervalMs: number;
  metricsAddr?: { host: string | undefined; port: number };
  /** Unhealthy when no run completed for this many intervals. */
  unhealthyAfter: number;
}

/** Which clusters this run read, and the error of those it could not. */
function readResults(r: RunResult, clusters: string[], skip: Map<string, string>): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const c of clusters) if (!skip.has(c)) out.set(c, undefined);
  for (const u of r.plan.unreadable) if (!skip.has(u.cluster)) out.set(u.cluster, u.error);
  return out;
}

/**
 * sync --interval: a run, a jittered pause, again, until the signal. An
 * in-flight run is finished (bounded by the request timeouts), then it stops.
 */
export async function loop(settings: Settings, ls: LoopSettings, first: Prepared, log: Logger, signal: AbortSignal): Promise<void> {
  let prepared = first;
  let clusters = prepared.config.clusters.map((c) => c.name);
  let files = inputFiles(settings.configFile, prepared.config);
  let seen = fingerprint(files);
  /** A changed config or kubeconfig is loaded before the next run; a bad one is reported once and the last good one kept. */
  const reload = () => {
    const now = fingerprint(files);
    if (now === seen) return;
    seen = now;
    try {
      const next = prepare(settings);
      for (const c of prepared.clients.values()) c.close();
      prepared = next;
      clusters = prepared.config.clusters.map((c) => c.name);
      files = inputFiles(settings.configFile, prepared.config);
      seen = fingerprint(files);
      log.info('config reloaded', { file: settings.configFile, clusters: clusters.join(','), targets: prepared.targets.join(',') });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      log.error('config not reloaded: keeping the last good one', { issues: err.issues.map(formatIssue).join('; ') });
    }
  };
  const backoff = new ClusterBackoff(ls.intervalMs, Math.max(ls.intervalMs, 300_000));
  const metrics = new Metrics();
  const startedAt = Date.now();
  let completedAt: number | undefined;
  const staleMs = ls.unhealthyAfter * ls.intervalMs + settings.requestTimeoutMs;
  const health = {
    ready: () => completedAt !== undefined,
    unhealthy: () => {
      const since = completedAt ?? startedAt;
      const age = Date.now() - since;
      return age > staleMs ? `no run completed for ${Math.round(age / 1000)}s (limit ${Math.round(staleMs / 1000)}s)\n` : undefined;
    },
  };
  let server: Server | undefined;
  if (ls.metricsAddr) {
    const where = `${ls.metricsAddr.host ?? ''}:${ls.metricsAddr.port}`;
    // Before any read: a taken address is a usage error (exit 3), said in one line.
    server = await serveMetrics(ls.metricsAddr, metrics, health).catch((err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'address already in use' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EADDRNOTAVAIL' ? 'address not available on this host' : err.message;
      throw new ConfigError([{ file: 'command line', field: '--metrics-addr', message: `cannot listen on ${where}: ${why}` }]);
    });
    log.info('serving metrics', { addr: `${ls.metricsAddr.host ?? ''}:${ls.metricsAddr.port}`, paths: '/metrics /healthz /readyz' });
  }
  log.info('loop starting', { intervalMs: ls.intervalMs, targets: prepared.targets });
  try {
    while (!signal.aborted) {
      reload();
      const skip = backoff.skipped(Date.now());
      try {
        const { result, exitCode } = await execute('sync', settings, prepared, log, { dryRun: false, skip, logChanges: true });
        metrics.record(result, exitCode, clusters, Date.now());
        backoff.record(readResults(result, clusters, skip), Date.now());
        completedAt = Date.now();
      } catch (err) {
        metrics.recordError();
        log.error('run failed', { error: (err as Error).message });
      }
      // ±10% so that loops started together (a rollout, several clusters) drift apart.
      const pause = ls.intervalMs * (0.9 + Math.random() * 0.2);
      await sleep(pause, undefined, { signal }).catch(() => undefined);
    }
  } finally {
    log.info('loop stopped');
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  }
}
