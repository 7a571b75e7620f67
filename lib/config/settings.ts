// Flags (and MEFI_* variables) → validated run settings. Every error names
// the flag, so `mefi` exits 3 before any API call.

import { ConfigError, type ConfigIssue } from './config.ts';
import { isDNS1123Label, isLabelKey, isLabelValue } from '../plan/names.ts';
import type { PlanOptions } from '../plan/index.ts';
import { selectorError } from './selector.ts';
import { isAffinity } from '../plan/affinity.ts';
import { parseDuration } from './duration.ts';

export interface Flags {
  config: string;
  remoteFilter: string;
  localFilter: string;
  originalFilter: string;
  mefiNamespace: string;
  sourceClusterLabel: string;
  local?: string[];
  concurrency: number;
  requestTimeout: string;
  pageSize: number;
  policy: string;
  source?: string;
  target?: string;
  maxEndpointsPerSlice?: number;
  clusterServices?: boolean;
  prune?: boolean;
  adopt?: boolean;
  affinity?: string;
  affinityLabel?: string;
  probe?: boolean;
  probeTimeout?: string;
  probeConcurrency?: number;
  probeInterval?: string;
  mode?: string;
}

export interface Settings {
  configFile: string;
  local?: string[];
  remoteFilter: string;
  options: PlanOptions;
  concurrency: number;
  requestTimeoutMs: number;
  pageSize: number;
  source: 'endpoints' | 'endpointslices';
  /** --probe: TCP-probe from here what the target would serve from other clusters. */
  probe?: { timeoutMs: number; concurrency: number; intervalMs: number };
}

/** nameOf says how to call an option in an error: --flag, or MEFI_FLAG when the environment set it. */
export function resolveSettings(f: Flags, nameOf: (option: string) => string = (o) => `--${o}`): Settings {
  const issues: ConfigIssue[] = [];
  const bad = (option: string, message: string) =>
    issues.push({ file: 'command line', field: nameOf(option), message });

  const selector = selectorError(f.remoteFilter);
  if (selector) bad('remote-filter', `${JSON.stringify(f.remoteFilter)} ${selector}`);

  // The original took a label key and wrote it with value "true"; key=value is accepted too.
  const [ownerKey, ownerValue = 'true', ...more] = f.localFilter.split('=');
  if (more.length || !isLabelKey(ownerKey!) || !isLabelValue(ownerValue))
    bad('local-filter', `${JSON.stringify(f.localFilter)} is not a label key or key=value`);
  if (!isLabelKey(f.originalFilter))
    bad('original-filter', `${JSON.stringify(f.originalFilter)} is not a valid label key`);
  if (!isLabelKey(f.sourceClusterLabel))
    bad('source-cluster-label', `${JSON.stringify(f.sourceClusterLabel)} is not a valid label key`);
  if (!isDNS1123Label(f.mefiNamespace))
    bad('mefi-namespace', `${JSON.stringify(f.mefiNamespace)} is not a valid namespace name`);
  if (new Set([ownerKey, f.originalFilter, f.sourceClusterLabel]).size !== 3)
    bad('local-filter', 'the owner, original-name and source-cluster labels must be three different keys');
  if (!Number.isInteger(f.concurrency) || f.concurrency < 1 || f.concurrency > 256)
    bad('concurrency', `must be a whole number from 1 to 256, got ${f.concurrency}`);
  if (!Number.isInteger(f.pageSize) || f.pageSize < 0)
    bad('page-size', `must be a whole number, 0 for unpaginated lists, got ${f.pageSize}`);
  const timeout = parseDuration(f.requestTimeout);
  if (timeout === undefined || timeout <= 0)
    bad('request-timeout', `${JSON.stringify(f.requestTimeout)} is not a duration such as 30s or 1m`);
  if (f.policy !== 'sync' && f.policy !== 'upsert-only')
    bad('policy', `must be sync or upsert-only, got ${JSON.stringify(f.policy)}`);
  const affinity = f.affinity ?? 'none';
  if (!isAffinity(affinity)) bad('affinity', `must be none, local or remote, got ${JSON.stringify(affinity)}`);
  const affinityLabel = f.affinityLabel ?? 'isMefiAffinity';
  if (!isLabelKey(affinityLabel)) bad('affinity-label', `${JSON.stringify(affinityLabel)} is not a valid label key`);
  const kinds = ['endpoints', 'endpointslices'];
  const source = f.source ?? 'endpoints';
  const target = f.target ?? 'endpoints';
  if (!kinds.includes(source)) bad('source', `must be endpoints or endpointslices, got ${JSON.stringify(source)}`);
  if (!kinds.includes(target)) bad('target', `must be endpoints or endpointslices, got ${JSON.stringify(target)}`);
  const perSlice = f.maxEndpointsPerSlice ?? 100;
  if (!Number.isInteger(perSlice) || perSlice < 1 || perSlice > 1000)
    bad('max-endpoints-per-slice', `must be a whole number from 1 to 1000 (the API's limit), got ${perSlice}`);
  const mode = f.mode ?? 'endpoints';
  if (mode !== 'endpoints' && mode !== 'mcs') bad('mode', `must be endpoints or mcs, got ${JSON.stringify(mode)}`);
  if (mode === 'mcs') {
    // MCS mode has its own sources (ServiceExports) and outputs (ServiceImports, derived Services, slices).
    const clash = [
      source !== 'endpoints' && '--source',
      target !== 'endpoints' && '--target',
      f.clusterServices && '--cluster-services',
      f.adopt && '--adopt',
    ].filter(Boolean);
    if (clash.length)
      bad(
        'mode',
        `mcs reads ServiceExports and writes ServiceImports with their EndpointSlices: ${clash.join(', ')} ${clash.length > 1 ? 'are' : 'is'} for the labelled-Endpoints mode`,
      );
  }
  if (f.clusterServices && target !== 'endpointslices')
    bad(
      'cluster-services',
      "needs --target endpointslices: a cluster's own Service is a set of EndpointSlices (the mirroring controller skips mefi's mirrors)",
    );
  const probeTimeout = parseDuration(f.probeTimeout ?? '1s');
  if (probeTimeout === undefined || probeTimeout < 10 || probeTimeout > 60_000)
    bad('probe-timeout', `${JSON.stringify(f.probeTimeout)} is not a duration from 10ms to 1m, such as 1s`);
  const probeConcurrency = f.probeConcurrency ?? 1000;
  if (!Number.isInteger(probeConcurrency) || probeConcurrency < 1 || probeConcurrency > 10_000)
    bad('probe-concurrency', `must be a whole number from 1 to 10000, got ${probeConcurrency}`);
  const probeInterval = parseDuration(f.probeInterval ?? '10s');
  if (probeInterval === undefined || probeInterval < 1000)
    bad('probe-interval', `${JSON.stringify(f.probeInterval)} is not a duration of at least 1s, such as 10s`);
  if (issues.length) throw new ConfigError(issues);

  return {
    configFile: f.config,
    ...(f.local?.length
      ? {
          local: f.local
            .flatMap((l) => l.split(','))
            .map((l) => l.trim())
            .filter(Boolean),
        }
      : {}),
    remoteFilter: f.remoteFilter,
    options: {
      namespace: f.mefiNamespace,
      ownerLabel: { key: ownerKey!, value: ownerValue },
      originalNameLabel: f.originalFilter,
      sourceClusterLabel: f.sourceClusterLabel,
      policy: f.policy as PlanOptions['policy'],
      ...(f.prune ? { prune: true } : {}),
      ...(f.adopt ? { adopt: true } : {}),
      affinity: isAffinity(affinity) ? affinity : 'none',
      affinityLabel,
      ...(mode === 'mcs' ? { mode: 'mcs' as const, maxEndpointsPerSlice: perSlice } : {}),
      ...(target === 'endpointslices' && mode !== 'mcs'
        ? {
            target: 'endpointslices' as const,
            maxEndpointsPerSlice: perSlice,
            ...(f.clusterServices ? { clusterServices: true } : {}),
          }
        : {}),
    },
    source: source as Settings['source'],
    concurrency: f.concurrency,
    requestTimeoutMs: timeout!,
    pageSize: f.pageSize,
    ...(f.probe
      ? { probe: { timeoutMs: probeTimeout!, concurrency: probeConcurrency, intervalMs: probeInterval! } }
      : {}),
  };
}
