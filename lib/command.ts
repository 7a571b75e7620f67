// The commands behind bin/: load and check everything, then one run or a loop.

import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClusterBackoff } from './loop/backoff.ts';
import { ConfigError, formatIssue, loadConfig, selectTargets, type Config } from './config/config.ts';
import { KubeClient } from './kube/client.ts';
import { connect, connectOne, type Connection } from './kube/connect.ts';
import equal from 'fast-deep-equal';
import { HubUnreadable, Inventory, type Resolved } from './world/inventory.ts';
import type { Logger } from './report/log.ts';
import type { PlanInput, PlanOptions } from './plan/index.ts';
import type { ReadSettings } from './world/read.ts';
import { Metrics, serveMetrics } from './report/metrics.ts';
import { exitCodeFor, type RunResult } from './report/result.ts';
import { runOnce, type RunSettings } from './run.ts';
import { Prober } from './world/probe.ts';
import { fingerprint, inputFiles } from './loop/reload.ts';
import { Trigger } from './loop/trigger.ts';
import { LeaderElection, type LeaderSettings } from './loop/leader.ts';
import { Resting } from './loop/heap.ts';
import { WatchedWorld } from './world/watch.ts';
import type { Settings } from './config/settings.ts';
import { version } from './config/version.ts';

export interface Prepared {
  config: Config;
  targets: string[];
  clients: Map<string, KubeClient>;
  /** The flags' plan options with what the config adds (podCIDRs). */
  options: PlanOptions;
  /** clusterProfiles: the hub, and what its profiles made of the config. */
  inventory?: Inventory;
  resolved?: Resolved;
}

/**
 * Everything that can fail before an API call: a ConfigError here means exit
 * 3, nothing read. `reuse`: the clients of clusters whose entry is unchanged
 * are kept (their pools, and an exec plugin's credential).
 */
export function prepare(settings: Settings, loaded?: Config, reuse?: Prepared): Prepared {
  const config = loaded ?? loadConfig(settings.configFile);
  const targets = selectTargets(config, settings.local);
  // A probe says what is reachable from where mefi runs: one cluster's pod network, one target.
  if (settings.probe && targets.length !== 1)
    throw new ConfigError([
      {
        file: 'command line',
        field: '--probe',
        message: `probes judge reachability from where mefi runs, which is one cluster's pod network; this run has ${targets.length} targets (${targets.join(', ')}): name one with --local`,
      },
    ]);
  const before = new Map(reuse?.config.clusters.map((c) => [c.name, c]));
  const kept = new Map(
    config.clusters.filter((c) => equal(c, before.get(c.name))).map((c) => [c.name, reuse!.clients.get(c.name)!]),
  );
  const connections = connect({ ...config, clusters: config.clusters.filter((c) => !kept.has(c.name)) });
  const clients = new Map(
    config.clusters.map((c) => [c.name, kept.get(c.name) ?? clientOf(settings, connections.get(c.name)!)]),
  );
  const podCIDRs = Object.fromEntries(config.clusters.filter((c) => c.podCIDRs).map((c) => [c.name, c.podCIDRs!]));
  const clusterIds = Object.fromEntries(
    config.clusters.filter((c) => c.clusterId !== undefined).map((c) => [c.name, c.clusterId!]),
  );
  const staleAfter = Object.fromEntries(
    config.clusters.filter((c) => c.staleAfterMs !== undefined).map((c) => [c.name, c.staleAfterMs!]),
  );
  const options: PlanOptions = {
    ...settings.options,
    ...(Object.keys(podCIDRs).length ? { podCIDRs } : {}),
    ...(Object.keys(clusterIds).length ? { clusterIds } : {}),
    ...(Object.keys(staleAfter).length ? { staleAfter } : {}),
    ...(config.staleAfterMs !== undefined ? { staleAfterDefault: config.staleAfterMs } : {}),
  };
  return { config, targets, clients, options };
}

function clientOf(settings: Settings, c: Connection): KubeClient {
  return new KubeClient(c, { requestTimeoutMs: settings.requestTimeoutMs, userAgent: `mefi/${version()}` });
}

/**
 * prepare, for a config with clusterProfiles: the hub read first (one list),
 * its profiles' clusters joined to the static ones. Throws HubUnreadable when
 * the hub cannot be read: no run then, since which clusters exist is unknown.
 */
export async function prepareWithHub(settings: Settings, loaded?: Config, reuse?: Prepared): Promise<Prepared> {
  const config = loaded ?? loadConfig(settings.configFile);
  if (!config.profiles) return prepare(settings, config, reuse);
  const inventory =
    reuse?.inventory && equal(reuse.inventory.loaded, config)
      ? reuse.inventory
      : new Inventory(config, clientOf(settings, connectOne(config, config.profiles.hub, 'clusterProfiles.hub')));
  const resolved = await inventory.read(settings.pageSize);
  return { ...prepare(settings, resolved.config, reuse), inventory, resolved };
}

/**
 * A loop's first prepare: a hub that cannot be read yet is asked again (1 s,
 * doubling to a minute), each new error logged, until it answers: a loop
 * outlives a hub's restart instead of exiting on it.
 */
export async function firstPrepared(settings: Settings, config: Config, log: Logger): Promise<Prepared> {
  let said: string | undefined;
  for (let wait = 1000; ; wait = Math.min(60_000, wait * 2)) {
    try {
      return await prepareWithHub(settings, config);
    } catch (err) {
      if (!(err instanceof HubUnreadable)) throw err;
      if (said !== err.message)
        log.error('hub unreadable: waiting for it before the first run', { error: err.message });
      said = err.message;
      await sleep(wait);
    }
  }
}

export interface ExecuteOptions {
  dryRun: boolean;
  /** Clusters not to ask this run (loop backoff). */
  skip?: Map<string, string>;
  /** Loop mode: log every applied change (there is no table), and say what changed, not what stands. */
  quiet?: QuietLog;
  /** The watching loop: the input from its caches instead of a read, and its plan of what changed. */
  input?: () => PlanInput;
  planner?: RunSettings['planner'];
  /** The watching loop: told of each write as the server stores it. */
  onStored?: RunSettings['onStored'];
  /** A loop's probe results, kept between runs (a single run starts with none), and how long they count as fresh. */
  probe?: { prober: Prober; maxAgeMs: number };
}

/**
 * What a loop has already said: a standing problem, an unreadable cluster or
 * a server warning is logged when it appears and when it clears, not on
 * every run (metrics keep the standing counts).
 */
export class QuietLog {
  readonly problems = new Set<string>();
  readonly unreadable = new Map<string, string>();
  readonly warnings = new Set<string>();
}

/** The read settings of a run, from the flags and what the config adds. */
export function readSettings(settings: Settings, prepared: Prepared): ReadSettings {
  return {
    remoteFilter: settings.remoteFilter,
    namespace: settings.options.namespace,
    targets: prepared.targets,
    concurrency: settings.concurrency,
    pageSize: settings.pageSize,
    source: settings.source,
    target: prepared.options.target ?? 'endpoints',
    ...(prepared.options.mode === 'mcs' ? { mode: 'mcs' as const } : {}),
    ...(prepared.options.staleAfter || prepared.options.staleAfterDefault !== undefined
      ? { leaseSelector: `${prepared.options.ownerLabel.key}=${prepared.options.ownerLabel.value}` }
      : {}),
  };
}

export async function execute(
  command: 'sync' | 'diff',
  settings: Settings,
  prepared: Prepared,
  log: Logger,
  o: ExecuteOptions,
): Promise<{ result: RunResult; exitCode: number }> {
  const { config, targets, clients } = prepared;
  log.debug('run starting', { command, dryRun: o.dryRun, targets, clusters: config.clusters.map((c) => c.name) });
  const input = o.input;
  const probe = settings.probe
    ? { prober: o.probe?.prober ?? new Prober(settings.probe), target: targets[0]!, maxAgeMs: o.probe?.maxAgeMs ?? 0 }
    : undefined;
  const result = await runOnce(
    config,
    clients,
    {
      ...readSettings(settings, prepared),
      options: prepared.options,
      dryRun: command === 'diff' || o.dryRun,
      ...(o.skip ? { skip: o.skip } : {}),
      ...(o.onStored ? { onStored: o.onStored } : {}),
      ...(o.planner ? { planner: o.planner } : {}),
      ...(probe ? { probe } : {}),
    },
    input ? async () => input() : undefined,
  );
  const pr = result.probe;
  if (pr) {
    const fields = {
      target: pr.target,
      candidates: pr.candidates,
      probed: pr.probed,
      unreachable: [...pr.unreachable.values()].reduce((a, b) => a + b, 0),
      ms: pr.ms,
    };
    if (pr.unprobed > 0)
      log.warn(
        'probe budget spent before every address was probed: those are served as their sources say (raise --probe-concurrency)',
        { ...fields, unprobed: pr.unprobed },
      );
    else log.debug('probed', fields);
  }
  const q = o.quiet;
  const unreadableNow = new Map(result.plan.unreadable.map((u) => [`${u.cluster} (${u.role})`, u.error]));
  for (const u of result.plan.unreadable)
    if (!q || q.unreadable.get(`${u.cluster} (${u.role})`) !== u.error)
      log.error('cluster unreadable', { cluster: u.cluster, role: u.role, error: u.error });
  for (const out of result.outcomes) {
    const fields = {
      action: out.action,
      target: out.change.target,
      ...(out.change.kind && out.change.kind !== 'Endpoints' ? { kind: out.change.kind } : {}),
      name: `${out.change.namespace}/${out.change.name}`,
      result: out.result,
      ...(out.message ? { message: out.message } : {}),
    };
    if (out.result === 'failed') log.error('write failed', fields);
    else if (q) log.info('change', fields);
  }
  for (const l of result.leaseOutcomes)
    if (l.result === 'failed')
      log.error('lease write failed', { target: l.lease.target, name: l.lease.name, error: l.message });
  // Once per run without a loop; once per process in one (the Endpoints deprecation warning would flood the log).
  for (const w of result.warnings) if (!q?.warnings.has(w)) log.warn('API server warning', { warning: w });
  if (q) {
    const now = new Set(result.plan.problems.map((p) => JSON.stringify(p)));
    for (const p of result.plan.problems) if (!q.problems.has(JSON.stringify(p))) log.warn('problem', { ...p });
    for (const p of q.problems) if (!now.has(p)) log.info('problem cleared', JSON.parse(p) as Record<string, unknown>);
    for (const [k] of q.unreadable) if (!unreadableNow.has(k)) log.info('cluster readable again', { cluster: k });
    q.problems.clear();
    for (const p of now) q.problems.add(p);
    q.unreadable.clear();
    for (const [k, v] of unreadableNow) q.unreadable.set(k, v);
    for (const w of result.warnings) q.warnings.add(w);
  }
  const exitCode = exitCodeFor(command, result);
  const writes = result.calls.create + result.calls.update + result.calls.delete;
  const summary = {
    command,
    creates: result.plan.creates.length,
    updates: result.plan.updates.length,
    deletes: result.plan.deletes.length,
    problems: result.plan.problems.length,
    unreadable: result.plan.unreadable.length,
    writes,
    planned: result.planned,
    leases: result.leaseOutcomes.filter((l) => l.result === 'done').length,
    durationMs: Math.round(result.durationMs),
    exitCode,
  };
  // A loop's run that wrote nothing is news to no one.
  if (q && writes === 0 && summary.leases === 0) log.debug('run finished', summary);
  else log.info('run finished', summary);
  return { result, exitCode };
}

export interface LoopSettings {
  /** --interval: the pause between runs. With watch: the resync period. */
  intervalMs: number;
  /** --watch: runs start on changes (at once; changes during a run make one run after it) and at every resync, on a world kept by watches. */
  watch?: boolean;
  metricsAddr?: { host: string | undefined; port: number };
  /** Unhealthy when no run completed for this many intervals. */
  unhealthyAfter: number;
  /** --leader-elect: only the replica holding the Lease (in mefi-system of the first target) runs. */
  leader?: Omit<LeaderSettings, 'namespace'>;
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
export async function loop(
  settings: Settings,
  ls: LoopSettings,
  first: Prepared,
  log: Logger,
  signal: AbortSignal,
): Promise<void> {
  let prepared = first;
  let clusters = prepared.config.clusters.map((c) => c.name);
  let files = inputFiles(settings.configFile, prepared.config);
  let seen = fingerprint(files);
  /** The next prepared in place of the last: the clients it did not keep are closed, what they made is counted on. */
  const swap = (next: Prepared) => {
    const retire = (c: KubeClient) => {
      for (const [verb, n] of Object.entries(c.calls)) madeBefore[verb] = (madeBefore[verb] ?? 0) + n;
      c.close();
    };
    for (const [name, c] of prepared.clients) if (next.clients.get(name) !== c) retire(c);
    if (next.inventory !== prepared.inventory) {
      if (prepared.inventory) retire(prepared.inventory.client);
      watchInventory(next);
    }
    prepared = next;
    clusters = prepared.config.clusters.map((c) => c.name);
    files = inputFiles(settings.configFile, prepared.config);
    seen = fingerprint(files);
  };
  /** A changed config or kubeconfig is loaded before the next run; a bad one is reported once and the last good one kept. */
  const reload = async () => {
    const now = fingerprint(files);
    if (now === seen) return;
    seen = now;
    try {
      swap(await prepareWithHub(settings, undefined, prepared));
      log.info('config reloaded', {
        file: settings.configFile,
        clusters: clusters.join(','),
        targets: prepared.targets.join(','),
      });
    } catch (err) {
      if (err instanceof HubUnreadable) {
        seen = ''; // tried again before the next run
        log.error('config not reloaded: its hub cannot be read; keeping the last good one', { error: err.message });
        return;
      }
      if (!(err instanceof ConfigError)) throw err;
      log.error('config not reloaded: keeping the last good one', { issues: err.issues.map(formatIssue).join('; ') });
    }
  };
  /** clusterProfiles: what the hub's profiles make now (an --interval loop lists them; a watching loop has them). */
  let hubError: string | undefined;
  const followProfiles = async () => {
    const inventory = prepared.inventory;
    if (!inventory) return;
    let resolved: Resolved;
    try {
      resolved = ls.watch ? inventory.current() : await inventory.read(settings.pageSize);
      if (hubError !== undefined) log.info('hub readable again', {});
      hubError = undefined;
      metrics.setHubUnreadable(false);
    } catch (err) {
      if (!(err instanceof HubUnreadable)) throw err;
      // The last profiles stand: the hub's outage is not every cluster's.
      if (hubError !== err.message) log.error('hub unreadable: the last ClusterProfiles stand', { error: err.message });
      hubError = err.message;
      metrics.setHubUnreadable(true);
      return;
    }
    if (resolved === prepared.resolved) return;
    try {
      const before = new Map(prepared.config.clusters.map((c) => [c.name, c]));
      swap({ ...prepare(settings, resolved.config, prepared), inventory, resolved });
      const after = new Map(prepared.config.clusters.map((c) => [c.name, c]));
      log.info('clusters from ClusterProfiles changed', {
        added: [...after.keys()].filter((n) => !before.has(n)).join(','),
        removed: [...before.keys()].filter((n) => !after.has(n)).join(','),
        changed: [...after.keys()].filter((n) => before.has(n) && !equal(before.get(n), after.get(n))).join(','),
        profiles: resolved.profiles,
      });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      log.error('clusters from ClusterProfiles not taken: keeping the last', {
        issues: err.issues.map(formatIssue).join('; '),
      });
    }
  };
  const backoff = new ClusterBackoff(ls.intervalMs, Math.max(ls.intervalMs, 300_000));
  // Counted by the clients, which a reloaded config replaces: what the replaced ones made is kept.
  const madeBefore: Record<string, number> = {};
  const metrics = new Metrics(() => {
    const total = { ...madeBefore };
    for (const c of [...prepared.clients.values(), ...(prepared.inventory ? [prepared.inventory.client] : [])])
      for (const [verb, n] of Object.entries(c.calls)) total[verb] = (total[verb] ?? 0) + n;
    return total;
  });
  const quiet = new QuietLog();
  const startedAt = Date.now();
  let completedAt: number | undefined;
  const staleMs = ls.unhealthyAfter * ls.intervalMs + settings.requestTimeoutMs;

  // --leader-elect: the Lease in the first target; a standby keeps its watches warm and runs once it leads.
  const trigger = new Trigger();
  const leaseTarget = [...prepared.targets].sort()[0]!;
  let leadingSince = startedAt;
  const leader = ls.leader
    ? new LeaderElection(
        () => prepared.clients.get(leaseTarget)!,
        { ...ls.leader, namespace: settings.options.namespace },
        (leading, why) => {
          log.info(leading ? 'leading: this replica writes' : 'standing by', {
            why,
            lease: `${leaseTarget}/${settings.options.namespace}/${ls.leader!.name}`,
            identity: ls.leader!.identity,
          });
          metrics.setLeader(leading);
          if (leading) {
            leadingSince = Date.now();
            trigger.fire();
          }
        },
      )
    : undefined;
  if (leader) metrics.setLeader(false);
  const standingBy = () => leader !== undefined && !leader.leading;
  const health = {
    ready: () => completedAt !== undefined || (standingBy() && leader!.healthy()),
    readyText: () => (standingBy() ? 'standby\n' : 'ok\n'),
    unhealthy: () => {
      if (standingBy())
        return leader!.healthy() ? undefined : 'standing by, and the Lease could not be read for a lease duration\n';
      const since = Math.max(completedAt ?? startedAt, leadingSince);
      const age = Date.now() - since;
      return age > staleMs
        ? `no run completed for ${Math.round(age / 1000)}s (limit ${Math.round(staleMs / 1000)}s)\n`
        : undefined;
    },
  };
  let server: Server | undefined;
  if (ls.metricsAddr) {
    const where = `${ls.metricsAddr.host ?? ''}:${ls.metricsAddr.port}`;
    // Before any read: a taken address is a usage error (exit 3), said in one line.
    server = await serveMetrics(ls.metricsAddr, metrics, health).catch((err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'EADDRINUSE'
          ? 'address already in use'
          : err.code === 'EACCES'
            ? 'permission denied'
            : err.code === 'EADDRNOTAVAIL'
              ? 'address not available on this host'
              : err.message;
      throw new ConfigError([
        { file: 'command line', field: '--metrics-addr', message: `cannot listen on ${where}: ${why}` },
      ]);
    });
    log.info('serving metrics', { addr: where, paths: '/metrics /healthz /readyz' });
  }

  // --watch: the world kept by watches; a change fires the trigger.
  let world: { w: WatchedWorld; stop: AbortController } | undefined;
  const startWorld = () => {
    world?.stop.abort();
    const stop = new AbortController();
    const w = new WatchedWorld(prepared.config.clusters, prepared.clients, readSettings(settings, prepared), {
      changed: () => trigger.fire(),
      // A cluster's lists failing or back: a run says so (logs, metrics) now, not at the next resync.
      report: () => trigger.fire(),
      relisting: (cluster, role, why) => log.debug('watch ended, listing again', { cluster, role, why }),
      options: prepared.options,
      backoffMs: 1000,
      maxBackoffMs: 300_000,
    });
    void w.run(stop.signal);
    world = { w, stop };
  };
  if (ls.watch) startWorld();
  signal.addEventListener('abort', () => world?.stop.abort(), { once: true });
  // A watching loop follows the hub's ClusterProfiles by a watch: a change starts a run, which takes it.
  let inventoryWatch: AbortController | undefined;
  function watchInventory(p: Prepared) {
    inventoryWatch?.abort();
    inventoryWatch = undefined;
    if (!ls.watch || !p.inventory) return;
    const stop = (inventoryWatch = new AbortController());
    signal.addEventListener('abort', () => stop.abort(), { once: true });
    p.inventory.watch(
      stop.signal,
      () => trigger.fire(),
      () => trigger.fire(),
    );
  }
  watchInventory(prepared);

  // --probe: results kept between runs and reused for --probe-interval, so a
  // fast loop does not probe every address every second. A watching loop also
  // probes again in the background: an address that stops (or starts)
  // answering starts a run, as a watch event would.
  const prober = settings.probe ? new Prober(settings.probe) : undefined;
  const probe = prober ? { prober, maxAgeMs: settings.probe!.intervalMs } : undefined;
  if (prober && ls.watch) void prober.refreshEvery(settings.probe!.intervalMs, () => trigger.fire(), signal);

  log.info('loop starting', {
    mode: ls.watch ? 'watch' : 'interval',
    [ls.watch ? 'resyncMs' : 'intervalMs']: ls.intervalMs,
    targets: prepared.targets,
    ...(leader ? { leaderElect: true } : {}),
  });
  const elected = leader?.run(signal);
  let nextResync = Date.now() + ls.intervalMs;
  const resting = new Resting();
  try {
    while (!signal.aborted) {
      if (ls.watch) {
        // A run on a change, or at the resync (a full list of everything first, then one run).
        const due = await trigger.due(nextResync, signal);
        if (signal.aborted) break;
        if (!due) {
          nextResync = Date.now() + ls.intervalMs;
          // Before the relist: were the plans of what changed the full plans? (A difference is a bug: said, and repaired by the full plan.)
          if (world!.w.settled()) {
            const differ = world!.w.verify();
            if (differ.length)
              log.warn('the plan of what changed differed from the full plan: the full plan is used', {
                names: differ.slice(0, 20).join(','),
                count: differ.length,
              });
          }
          world!.w.resync();
          void prepared.inventory?.resync();
          continue; // the relists, once all are in, fire the trigger
        }
        if (!world!.w.settled()) continue; // the first lists are not all in yet
      }
      if (standingBy()) {
        // Leading fires the trigger (watch); an interval loop looks again each retry period.
        if (!ls.watch) await sleep(ls.leader!.retryPeriodMs, undefined, { signal }).catch(() => undefined);
        continue;
      }
      const before = prepared;
      await reload();
      await followProfiles();
      if (ls.watch && prepared !== before) {
        startWorld();
        continue;
      }
      const skip = ls.watch ? undefined : backoff.skipped(Date.now());
      try {
        const w = world?.w;
        w?.runStarted();
        resting.started();
        const { result, exitCode } = await execute('sync', settings, prepared, log, {
          dryRun: false,
          quiet,
          ...(skip ? { skip } : {}),
          ...(probe ? { probe } : {}),
          ...(w
            ? {
                input: () => w.input(),
                planner: (input) => w.plan(input),
                onStored: (c, stored) => w.stored(c, stored),
              }
            : {}),
        });
        metrics.record(result, exitCode, clusters, Date.now());
        // What the run grew, given back while the loop waits.
        resting.ended(!w || w.plannedInFull);
        if (skip) backoff.record(readResults(result, clusters, skip), Date.now());
        completedAt = Date.now();
      } catch (err) {
        metrics.recordError();
        log.error('run failed', { error: (err as Error).message });
      } finally {
        world?.w.runEnded();
      }
      if (!ls.watch) {
        // ±10% so that loops started together (a rollout, several clusters) drift apart.
        const pause = ls.intervalMs * (0.9 + Math.random() * 0.2);
        await sleep(pause, undefined, { signal }).catch(() => undefined);
      }
    }
  } finally {
    // SIGTERM: the Lease handed over (released) before the process goes.
    await elected;
    log.info('loop stopped');
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  }
}
