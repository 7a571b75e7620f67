// mefi: parse flags, call lib, print, exit. No logic lives here.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { execute, firstPrepared, loop, prepareWithHub } from '../lib/command.ts';
import { HubUnreadable } from '../lib/world/inventory.ts';
import { ConfigError, formatIssue, loadConfig, type Config } from '../lib/config/config.ts';
import { createLogger, parseLevel } from '../lib/report/log.ts';
import { parseAddr } from '../lib/report/metrics.ts';
import { render } from '../lib/report/report.ts';
import { ExitCode } from '../lib/report/result.ts';
import { parseDuration } from '../lib/config/duration.ts';
import { resolveSettings } from '../lib/config/settings.ts';
import { version } from '../lib/config/version.ts';
import { fromOriginalArgs, fromOriginalConfig, isOriginalInvocation } from '../lib/config/original.ts';
import { becomeLoopProcess } from '../lib/loop/loop-flags.ts';
import { isDNS1123Subdomain } from '../lib/plan/names.ts';

// A reader that stopped reading (`mefi diff | head -1`): what it did not take
// is dropped, and the exit code still says how the run went.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
}

function configError(err: ConfigError): never {
  const lines = err.issues.map(formatIssue);
  process.stderr.write(
    lines.length === 1
      ? `mefi: invalid configuration: ${lines[0]}\n`
      : `mefi: invalid configuration:\n${lines.map((l) => `  ${l}`).join('\n')}\n`,
  );
  process.exit(ExitCode.usage);
}

function usageError(message: string): never {
  process.stderr.write(`mefi: ${message}\nRun mefi --help for usage.\n`);
  process.exit(ExitCode.usage);
}

// MEFI_<OPTION> sets an option, as in the original; flags win. Only known
// options are read, so an unrelated MEFI_* variable is not an error.
const variable = (key: string) => `MEFI_${key.toUpperCase().replace(/-/g, '_')}`;
const fromEnv = new Set<string>();

function fromEnvironment(
  defs: Record<string, { type?: string; choices?: readonly string[] }>,
): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const [key, def] of Object.entries(defs)) {
    const value = process.env[variable(key)];
    if (value === undefined) continue;
    // Checked here, so the error names the variable rather than a flag nobody typed.
    if (def.type === 'boolean') {
      if (!/^(true|false|1|0)$/i.test(value))
        usageError(`${variable(key)}: ${JSON.stringify(value)} is not true or false`);
      out[key] = /^(true|1)$/i.test(value);
    } else {
      if (def.choices && !def.choices.includes(value))
        usageError(`${variable(key)}: ${JSON.stringify(value)} is not one of ${def.choices.join(', ')}`);
      out[key] = value;
    }
    fromEnv.add(key);
  }
  return out;
}

function typed(key: string): boolean {
  const alias = (options as Record<string, { alias?: string }>)[key]?.alias;
  return args.some(
    (t) =>
      t === `--${key}` ||
      t.startsWith(`--${key}=`) ||
      (alias !== undefined && (t === `-${alias}` || t.startsWith(`-${alias}=`))),
  );
}

/** How to name an option in an error: the variable it came from, unless a flag gave it. */
function nameOf(key: string): string {
  if (fromFile.has(key)) return `${fromFile.get(key)}: ${key}`;
  return fromEnv.has(key) && !typed(key) ? variable(key) : `--${key}`;
}

/** Options the config file set (the original's flag keys), with the file that set them. */
const fromFile = new Map<string, string>();

/**
 * Flush, then exit: a request abandoned at its timeout can leave a socket
 * connecting (the OS's own connect timeout, minutes), which must not keep a
 * finished run alive.
 */
async function exit(code: number, report = ''): Promise<never> {
  await new Promise<void>((resolve) => process.stdout.write(report, () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}

const options = {
  config: {
    alias: 'c',
    type: 'string',
    default: '/etc/gce/mefi.yaml',
    describe: "config file (the original mefi's default path)",
  },
  local: {
    type: 'string',
    array: true,
    describe: 'target cluster(s) to write into, or all; default: clusters with type: local',
  },
  'remote-filter': { type: 'string', default: 'isMefiRemote=true', describe: 'label selector of source Endpoints' },
  'local-filter': {
    type: 'string',
    default: 'isMefiLocal',
    describe: 'ownership label key (value true) or key=value on what mefi writes',
  },
  'original-filter': { type: 'string', default: 'isMefiOriginalName', describe: 'label key carrying the source name' },
  'source-cluster-label': {
    type: 'string',
    default: 'multicluster.kubernetes.io/source-cluster',
    describe: "label key carrying a mirror's source cluster",
  },
  'mefi-namespace': {
    alias: 'n',
    type: 'string',
    default: 'mefi-system',
    describe: 'namespace mefi writes into in each target',
  },
  output: {
    alias: 'o',
    choices: ['table', 'json', 'yaml'] as const,
    default: 'table' as const,
    describe: 'report format on stdout',
  },
  concurrency: { type: 'number', default: 8, describe: 'requests in flight at once, per target for writes' },
  'request-timeout': { type: 'string', default: '30s', describe: 'timeout of each API request' },
  'page-size': { type: 'number', default: 500, describe: 'items per list page (0: unpaginated)' },
  policy: { choices: ['sync', 'upsert-only'], default: 'sync', describe: 'upsert-only never deletes' },
  affinity: {
    choices: ['none', 'local', 'remote'],
    default: 'none',
    describe:
      "balancing where a source's label does not say: every cluster alike, or the target cluster's own pods (local) or the others (remote) first, spilling over when they have none ready",
  },
  'affinity-label': {
    type: 'string',
    default: 'isMefiAffinity',
    describe: 'the source label (put it on the Service) that sets its affinity: none, local or remote',
  },
  probe: {
    type: 'boolean',
    default: false,
    describe:
      "TCP-probe, from where mefi runs (the target cluster's pod network), each remote address the target would serve; one that does not answer is not served until it does. One target only",
  },
  'probe-timeout': {
    type: 'string',
    default: '1s',
    describe: 'with --probe: no answer within this is unreachable; a run spends less than twice this probing',
  },
  'probe-concurrency': {
    type: 'number',
    default: 1000,
    describe:
      'with --probe: connects in flight at once; at least the number of remote addresses that may go silent at once, so each is probed every run',
  },
  'probe-interval': {
    type: 'string',
    default: '10s',
    describe:
      'with --probe in a loop: a run reuses results younger than this; a watching loop probes again this often between runs',
  },
  adopt: {
    type: 'boolean',
    default: false,
    describe:
      "take over the original mefi's aggregates (unlabelled, its mirrors beside them); see them first with --dry-run or diff",
  },
  prune: {
    type: 'boolean',
    default: false,
    describe:
      'remove the mirrors of clusters that are no longer in the config (kept and reported otherwise); see it first with --dry-run or diff',
  },
  mode: {
    choices: ['endpoints', 'mcs'],
    default: 'endpoints',
    describe:
      "what chooses and publishes what is shared: labelled Endpoints, mirrored into --mefi-namespace; or the Multi-Cluster Services API (ServiceExports in; ServiceImports, their ClusterSet IP Services and EndpointSlices out, in the export's namespace)",
  },
  source: {
    choices: ['endpoints', 'endpointslices'],
    default: 'endpoints',
    describe: 'read sources from Endpoints, or from the EndpointSlices of labelled Services',
  },
  target: {
    choices: ['endpoints', 'endpointslices'],
    default: 'endpoints',
    describe: 'write Endpoints mirrors and aggregates, or EndpointSlices per mirror',
  },
  'max-endpoints-per-slice': {
    type: 'number',
    default: 100,
    describe: 'with --target endpointslices: endpoints per slice (at most 1000)',
  },
  'cluster-services': {
    type: 'boolean',
    default: false,
    describe:
      'with --target endpointslices: also the slices of a Service <name>-<cluster> per source cluster, serving that cluster alone (to weight clusters in an HTTPProxy or HTTPRoute)',
  },
  'log-level': { alias: 'v', type: 'string', default: 'info', describe: 'debug, info, warn or error' },
  'log-format': { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'log lines on stderr' },
  'log-output': { choices: ['stderr', 'stdout'], default: 'stderr', describe: "where logs go (the original's flag)" },
  'k8s-rest-config-qps': {
    alias: 'q',
    type: 'number',
    hidden: true,
    describe: 'accepted for compatibility; concurrency bounds load now',
  },
  'k8s-rest-config-burst': { alias: 'b', type: 'number', hidden: true, describe: 'accepted for compatibility' },
} as const;

const syncOptions = {
  'dry-run': { type: 'boolean', default: false, describe: 'print the plan, write nothing' },
  interval: {
    type: 'string',
    describe: 'run forever, this long between runs (e.g. 10s); SIGTERM stops after the run in flight',
  },
  watch: {
    type: 'boolean',
    default: false,
    describe:
      'run forever, a run on every change (watches on every cluster; changes during a run make one run after it) and at every --resync',
  },
  resync: {
    type: 'string',
    default: '5m',
    describe: 'with --watch: relist everything and run this often (a level-based safety net)',
  },
  'metrics-addr': {
    type: 'string',
    describe: 'with --interval: serve /metrics, /healthz and /readyz here (e.g. :9090)',
  },
  'unhealthy-after': {
    type: 'number',
    default: 5,
    describe: 'with --interval: /healthz fails when no run completed for this many intervals',
  },
  'leader-elect': {
    type: 'boolean',
    default: false,
    describe:
      'with --watch or --interval: one of several replicas; only the one holding the Lease (in --mefi-namespace of the target) writes, the others stand by with their watches warm',
  },
  'leader-elect-lease-name': { type: 'string', default: 'mefi-leader', describe: 'with --leader-elect: the Lease' },
  'leader-elect-identity': {
    type: 'string',
    describe:
      "with --leader-elect: this replica, in the Lease (default: the host's name, i.e. the pod's, and a random suffix)",
  },
  'leader-elect-lease-duration': {
    type: 'string',
    default: '15s',
    describe: 'with --leader-elect: how long a standby waits on a Lease that is not renewed before taking it',
  },
  'leader-elect-renew-deadline': {
    type: 'string',
    default: '10s',
    describe: 'with --leader-elect: how long the leader tries to renew before it stops writing',
  },
  'leader-elect-retry-period': {
    type: 'string',
    default: '2s',
    describe: 'with --leader-elect: how often the leader renews and a standby tries',
  },
} as const;

// The original's invocation (no command, its own flags) becomes `sync --watch` with the same meanings.
const given = hideBin(process.argv);
const args = isOriginalInvocation(given) ? fromOriginalArgs(given) : given;

const cli = yargs(args)
  .scriptName('mefi')
  .usage(
    '$0 <command> [options]\n\nShare the endpoints of services across clusters, in one of three ways: labelled Endpoints mirrored into the target cluster, one mirror per cluster and one merged aggregate per name (the default); the same as EndpointSlices (--target endpointslices); or the Multi-Cluster Services API: ServiceExports in, ServiceImports with their Services and EndpointSlices out (--mode mcs).',
  )
  .options(options)
  .command('sync', 'plan and apply: create, update and delete mirrors and aggregates', (y) =>
    y.options(syncOptions).config(fromEnvironment(syncOptions)),
  )
  .command('diff', 'print the drift as a unified diff; exit 1 if there is any (for CI)')
  .demandCommand(1, 'Name a command: sync or diff.')
  .epilog(
    'Every option can also be set as MEFI_<OPTION>, for example MEFI_REMOTE_FILTER or MEFI_LOCAL=alpha,beta; flags win.\nExit codes: 0 ok, 1 drift (diff), 2 partial (a cluster unreadable or a write failed), 3 bad config or usage.',
  )
  .strict()
  .exitProcess(false)
  .fail((msg, err) => usageError(msg ?? err?.message ?? 'invalid usage'))
  .help()
  .version(version());
cli.config(fromEnvironment(options));

const argv = await cli.parseAsync();
if (argv.help || argv.version) process.exit(ExitCode.ok);
const command = String(argv._[0]) as 'sync' | 'diff';

// The original's config files may hold its flag keys; flags and MEFI_* win over them, as viper had it.
let config: Config;
try {
  config = loadConfig(String(argv.config));
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  configError(err);
}
for (const [key, value] of Object.entries(fromOriginalConfig(config.flags ?? {}))) {
  if (typed(key) || fromEnv.has(key)) continue;
  (argv as Record<string, unknown>)[key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())] = value;
  fromFile.set(key, config.file);
}

const level = parseLevel(argv.logLevel);
if (!level) usageError(`${nameOf('log-level')}: ${JSON.stringify(argv.logLevel)} is not debug, info, warn or error`);
// A json or yaml report is a document: log lines on stdout would break it.
if (argv.logOutput === 'stdout' && argv.output !== 'table')
  usageError(
    `${nameOf('log-output')} stdout does not go with ${nameOf('output')} ${argv.output}: the report on stdout is one document; keep logs on stderr`,
  );
const logStream = argv.logOutput === 'stdout' ? process.stdout : process.stderr;
const log = createLogger(level, argv.logFormat, (line) => logStream.write(line));

// Loop flags, checked before anything is read.
// They are sync's own (its builder adds them), which the type of argv leaves out: strings as yargs parsed them.
const loopFlags = argv as typeof argv & { interval?: string; resync?: string; metricsAddr?: string };
const intervalMs = loopFlags.interval === undefined ? undefined : parseDuration(loopFlags.interval);
if (loopFlags.interval !== undefined && (intervalMs === undefined || intervalMs < 100))
  usageError(
    `${nameOf('interval')}: ${JSON.stringify(loopFlags.interval)} is not a duration of at least 100ms, such as 10s`,
  );
const watch = Boolean(argv.watch);
const resyncMs = loopFlags.resync === 'off' ? 2 ** 31 - 1 : parseDuration(loopFlags.resync ?? '5m');
if (watch && (resyncMs === undefined || resyncMs < 1000))
  usageError(`${nameOf('resync')}: ${JSON.stringify(loopFlags.resync)} is not a duration of at least 1s, such as 5m`);
if (watch && intervalMs !== undefined)
  usageError(
    `${nameOf('interval')} does not go with ${nameOf('watch')} (${nameOf('resync')} sets how often a watching loop relists everything)`,
  );
const looping = watch || intervalMs !== undefined;
const metricsAddr = loopFlags.metricsAddr === undefined ? undefined : parseAddr(loopFlags.metricsAddr);
if (loopFlags.metricsAddr !== undefined && !metricsAddr)
  usageError(`${nameOf('metrics-addr')}: ${JSON.stringify(loopFlags.metricsAddr)} is not [host]:port, such as :9090`);
if (loopFlags.metricsAddr !== undefined && !looping)
  usageError(
    `${nameOf('metrics-addr')} goes with ${nameOf('interval')} or ${nameOf('watch')} (a single run has no one to serve)`,
  );
if (looping && argv.dryRun) usageError(`${nameOf(watch ? 'watch' : 'interval')} does not go with ${nameOf('dry-run')}`);
const leaderFlags = argv as typeof argv & {
  leaderElect?: boolean;
  leaderElectLeaseName?: string;
  leaderElectIdentity?: string;
  leaderElectLeaseDuration?: string;
  leaderElectRenewDeadline?: string;
  leaderElectRetryPeriod?: string;
};
const leaderDuration = (flag: string, value: string | undefined, fallback: string) => {
  const ms = parseDuration(value ?? fallback);
  if (ms === undefined || ms < 1000)
    usageError(`${nameOf(flag)}: ${JSON.stringify(value)} is not a duration of at least 1s, such as ${fallback}`);
  return ms;
};
const leader = leaderFlags.leaderElect
  ? {
      name: leaderFlags.leaderElectLeaseName ?? 'mefi-leader',
      identity: leaderFlags.leaderElectIdentity ?? `${hostname()}_${randomBytes(4).toString('hex')}`,
      leaseDurationMs: leaderDuration('leader-elect-lease-duration', leaderFlags.leaderElectLeaseDuration, '15s'),
      renewDeadlineMs: leaderDuration('leader-elect-renew-deadline', leaderFlags.leaderElectRenewDeadline, '10s'),
      retryPeriodMs: leaderDuration('leader-elect-retry-period', leaderFlags.leaderElectRetryPeriod, '2s'),
    }
  : undefined;
if (leader && !looping)
  usageError(
    `${nameOf('leader-elect')} goes with ${nameOf('watch')} or ${nameOf('interval')} (a single run has no one to hand over to)`,
  );
if (leader && !(leader.retryPeriodMs < leader.renewDeadlineMs && leader.renewDeadlineMs < leader.leaseDurationMs))
  usageError(
    `${nameOf('leader-elect-retry-period')} < ${nameOf('leader-elect-renew-deadline')} < ${nameOf('leader-elect-lease-duration')} must hold, or two replicas could both write`,
  );
if (leader && !isDNS1123Subdomain(leader.name))
  usageError(`${nameOf('leader-elect-lease-name')}: ${JSON.stringify(leader.name)} is not a valid object name`);
const unhealthyAfter = Number(argv.unhealthyAfter ?? 5);
if (!Number.isInteger(unhealthyAfter) || unhealthyAfter < 1)
  usageError(`${nameOf('unhealthy-after')}: must be a whole number of intervals, at least 1`);
if (looping) becomeLoopProcess();

try {
  const settings = resolveSettings(argv, nameOf);
  const prepared = looping ? await firstPrepared(settings, config, log) : await prepareWithHub(settings, config);
  if (looping) {
    // First SIGTERM or SIGINT: stop after the run in flight. A second: stop now;
    // that is safe too, every write is a single conditional call.
    const stop = new AbortController();
    const onSignal = (sig: string) => {
      if (stop.signal.aborted) process.exit(0);
      log.info('stopping after the run in flight', { signal: sig });
      stop.abort();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    const mode = watch ? { intervalMs: resyncMs!, watch: true } : { intervalMs: intervalMs! };
    await loop(
      settings,
      { ...mode, ...(metricsAddr ? { metricsAddr } : {}), unhealthyAfter, ...(leader ? { leader } : {}) },
      prepared,
      log,
      stop.signal,
    );
    await exit(ExitCode.ok);
  } else {
    const { result, exitCode } = await execute(command, settings, prepared, log, { dryRun: Boolean(argv.dryRun) });
    await exit(exitCode, render(argv.output, command, result, exitCode));
  }
} catch (err) {
  if (err instanceof ConfigError) configError(err);
  if (err instanceof HubUnreadable) {
    // Which clusters exist is the hub's to say: nothing was planned or written.
    process.stderr.write(`mefi: ${err.message}\n`);
    await exit(ExitCode.partial);
  }
  log.error('run failed', { error: (err as Error).stack ?? String(err) });
  await exit(ExitCode.partial);
}
