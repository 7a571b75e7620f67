// One run: read → plan → apply (unless dry) → a result to report.

import { applyLeases, applyPlan, type ApplySettings } from './apply/apply.ts';
import type { Config } from './config/config.ts';
import type { KubeClient, Verb } from './kube/client.ts';
import type { RunResult } from './report/result.ts';
import { objectsIn, plan as makePlan, type Plan, type PlanInput, type PlanOptions } from './plan/index.ts';
import { probeWorld, type Prober } from './world/probe.ts';
import { readWorld, type ReadSettings } from './world/read.ts';

export interface RunSettings extends ReadSettings {
  options: PlanOptions;
  dryRun: boolean;
  /** Told of each write the server stored, as it happens. */
  onStored?: ApplySettings['onStored'];
  /** How the plan is made (the watching loop: incremental where it can); by default in full. */
  planner?: (input: PlanInput) => { plan: Plan; planned: number };
  /** --probe: probe from here what the one target would serve from other clusters; results younger than maxAgeMs are reused. */
  probe?: { prober: Prober; target: string; maxAgeMs: number };
}

function snapshot(clients: Map<string, KubeClient>): { calls: Record<Verb, number>; warnings: Set<string> } {
  const calls: Record<Verb, number> = { list: 0, get: 0, create: 0, update: 0, delete: 0, watch: 0 };
  const warnings = new Set<string>();
  for (const c of clients.values()) {
    for (const v of Object.keys(calls) as Verb[]) calls[v] += c.calls[v];
    for (const w of c.warnings) warnings.add(w);
  }
  return { calls, warnings };
}

/** Where a run's input comes from: a fresh read (default), or the watching loop's caches. */
export type InputSource = (config: Config, clients: Map<string, KubeClient>, s: ReadSettings) => Promise<PlanInput>;

export async function runOnce(
  config: Config,
  clients: Map<string, KubeClient>,
  s: RunSettings,
  inputOf: InputSource = (c, cl, rs) => readWorld(c.clusters, cl, rs),
): Promise<RunResult> {
  const started = performance.now();
  for (const c of clients.values()) c.warnings.clear();
  const before = snapshot(clients).calls;

  // The planner has no clock: the time the read started is what a Lease records.
  const now = Date.now();
  const world = await inputOf(config, clients, s);
  const read = performance.now();
  // --probe: what the target would serve from other clusters, probed from here, joins the input.
  const probed = s.probe
    ? await probeWorld(s.options, world, s.probe.target, s.probe.prober, s.probe.maxAgeMs)
    : undefined;
  const input = probed?.input ?? world;
  const reached = performance.now();
  const made = (s.planner ?? fullPlan(s.options))({ ...input, now });
  const plan = made.plan;
  const planned = performance.now();
  const outcomes = s.dryRun
    ? []
    : await applyPlan(plan, clients, {
        options: s.options,
        concurrency: s.concurrency,
        clusters: config.clusters.map((c) => c.name),
        ...(s.onStored ? { onStored: s.onStored } : {}),
      });
  const leaseOutcomes = s.dryRun ? [] : await applyLeases(plan, clients);
  const phases = {
    readMs: Math.round(read - started),
    ...(probed ? { probeMs: Math.round(reached - read) } : {}),
    planMs: Math.round(planned - reached),
    applyMs: Math.round(performance.now() - planned),
  };

  const after = snapshot(clients);
  const calls = Object.fromEntries(
    (Object.keys(before) as Verb[]).map((v) => [v, after.calls[v] - before[v]]),
  ) as Record<Verb, number>;
  return {
    plan,
    outcomes,
    leaseOutcomes,
    applied: !s.dryRun,
    durationMs: performance.now() - started,
    phases,
    planned: made.planned,
    calls,
    warnings: [...after.warnings].sort(),
    ...(probed ? { probe: probed.report } : {}),
  };
}

/** The plan of everything read. */
function fullPlan(options: PlanOptions): NonNullable<RunSettings['planner']> {
  return (input) => ({ plan: makePlan(options, input), planned: objectsIn(input) });
}
