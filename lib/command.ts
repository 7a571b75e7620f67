// The commands behind bin/: load and check everything, then one run.

import { loadConfig, selectTargets, type Config } from './config.ts';
import { KubeClient } from './kube/client.ts';
import { connect } from './kube/connect.ts';
import type { Logger } from './log.ts';
import { exitCodeFor, runOnce, type RunResult } from './run.ts';
import type { Settings } from './settings.ts';

export interface Prepared {
  config: Config;
  targets: string[];
  clients: Map<string, KubeClient>;
}

/** Everything that can fail before an API call: a ConfigError here means exit 3, nothing read. */
export function prepare(settings: Settings): Prepared {
  const config = loadConfig(settings.configFile);
  const targets = selectTargets(config, settings.local);
  const connections = connect(config);
  const clients = new Map([...connections].map(([name, c]) => [name, new KubeClient(c, { requestTimeoutMs: settings.requestTimeoutMs })]));
  return { config, targets, clients };
}

export async function execute(command: 'sync' | 'diff', settings: Settings, dryRun: boolean, prepared: Prepared, log: Logger): Promise<{ result: RunResult; exitCode: number }> {
  const { config, targets, clients } = prepared;
  log.debug('run starting', { command, dryRun, targets, clusters: config.clusters.map((c) => c.name) });
  const result = await runOnce(config, clients, {
    remoteFilter: settings.remoteFilter,
    namespace: settings.options.namespace,
    targets,
    concurrency: settings.concurrency,
    pageSize: settings.pageSize,
    options: settings.options,
    dryRun: command === 'diff' || dryRun,
  });
  for (const u of result.plan.unreadable) log.error('cluster unreadable', { cluster: u.cluster, role: u.role, error: u.error });
  for (const o of result.outcomes) if (o.result === 'failed') log.error('write failed', { action: o.action, target: o.change.target, name: o.change.name, error: o.message });
  // Once per run, not per request: the Endpoints deprecation warning would otherwise flood the log.
  for (const w of result.warnings) log.warn('API server warning', { warning: w });
  const exitCode = exitCodeFor(command, result);
  log.info('run finished', { command, creates: result.plan.creates.length, updates: result.plan.updates.length, deletes: result.plan.deletes.length, problems: result.plan.problems.length, exitCode });
  return { result, exitCode };
}
