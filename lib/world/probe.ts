// Reachability probes (--probe), the I/O half: a TCP connect from where mefi
// runs (the target cluster's pod network) to each remote address and port the
// target would serve. What did not answer is handed to the planner as input
// (PlanInput.unreachable); the planner stays pure.
//
// Bounded: a run spends less than twice the probe timeout probing, whatever
// the number of addresses. Connects start only during the first timeout, and
// each gets its full timeout, so "did not answer" always means a full timeout
// (or a network error), never a probe cut short. Answers come in
// milliseconds, so only silent addresses hold a slot that long: with
// --probe-concurrency at least the number of silent ones, every address is
// probed every run. One the budget left unprobed keeps its last result, or is
// served as its source says when it has none: a probe never takes away an
// address it has not seen fail.

import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pLimit from 'p-limit';
import { toProbe, type PlanInput, type PlanOptions, type ProbeAddress } from '../plan/index.ts';

export interface ProbeSettings {
  /** Per connect: no answer within this is unreachable. */
  timeoutMs: number;
  /** Connects in flight at once. */
  concurrency: number;
}

export interface ProbeReport {
  target: string;
  /** Remote (address, port)s the target would serve. */
  candidates: number;
  /** Probed this run (the others had a result young enough, or the budget ran out). */
  probed: number;
  /** Not probed this run for want of time, and with no result yet: served as their sources say. */
  unprobed: number;
  /** Per source cluster: (address, port)s that did not answer (the last result of each). */
  unreachable: Map<string, number>;
  ms: number;
}

interface Result {
  ok: boolean;
  at: number;
}

/**
 * One TCP connect. Connected, or refused (something at that address sent a
 * reset: the path is there), is an answer; a timeout or a network error
 * (no route, host unreachable) is not.
 */
export function probeOnce(ip: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: ip, port, noDelay: true });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
  });
}

/** Probe results kept between the runs of a loop; a single run starts with none. */
export class Prober {
  private readonly results = new Map<string, Result>();
  private last: { keys: string; set: ReadonlySet<string> } = { keys: '', set: new Set() };
  /** What the last check was given: a watching loop probes these again between runs. */
  private candidates: ProbeAddress[] = [];

  readonly settings: ProbeSettings;

  constructor(settings: ProbeSettings) {
    this.settings = settings;
  }

  /**
   * Probe every candidate without a result younger than maxAgeMs (those with
   * none first, then the oldest), within the budget. Returns the keys that did
   * not answer, as the same Set object while they are the same keys (the
   * planner remembers results by identity).
   */
  async check(
    candidates: ProbeAddress[],
    maxAgeMs: number,
  ): Promise<{ unreachable: ReadonlySet<string>; probed: number; unprobed: number }> {
    this.candidates = candidates;
    const started = Date.now();
    const keys = candidates.map((c) => c.key);
    const wanted = new Set(keys);
    for (const k of this.results.keys()) if (!wanted.has(k)) this.results.delete(k);
    const due = candidates
      .map((c, i) => ({ c, key: keys[i]!, at: this.results.get(keys[i]!)?.at ?? -1 }))
      .filter((d) => d.at < 0 || started - d.at >= maxAgeMs)
      .sort((a, b) => a.at - b.at);
    const { timeoutMs, concurrency } = this.settings;
    const lastStart = started + timeoutMs;
    const limit = pLimit(concurrency);
    let probed = 0;
    await Promise.all(
      due.map((d) =>
        limit(async () => {
          if (Date.now() >= lastStart) return;
          const ok = await probeOnce(d.c.ip, d.c.port, timeoutMs);
          this.results.set(d.key, { ok, at: Date.now() });
          probed++;
        }),
      ),
    );
    const failed = [...new Set(keys.filter((k) => this.results.get(k)?.ok === false))].sort();
    const unprobed = keys.filter((k) => !this.results.has(k)).length;
    const joined = failed.join(' ');
    if (joined !== this.last.keys) this.last = { keys: joined, set: new Set(failed) };
    return { unreachable: this.last.set, probed, unprobed };
  }

  /**
   * The watching loop's background probe: every intervalMs, probe again what
   * the last run was about to serve; when what answers changes, flipped() (a
   * run starts, as for a watch event). Resolves when the signal aborts.
   */
  async refreshEvery(intervalMs: number, flipped: () => void, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
      if (signal.aborted || this.candidates.length === 0) continue;
      const before = this.last.set;
      await this.check(this.candidates, 0);
      if (this.last.set !== before) flipped();
    }
  }
}

/**
 * The probe step of a run: what the one target would serve from other
 * clusters, probed from here; the input gains the target's unreachable set.
 */
export async function probeWorld(
  options: PlanOptions,
  input: PlanInput,
  target: string,
  prober: Prober,
  maxAgeMs: number,
): Promise<{ input: PlanInput; report: ProbeReport }> {
  const started = performance.now();
  const candidates = toProbe(options, input, target);
  const { unreachable, probed, unprobed } = await prober.check(candidates, maxAgeMs);
  const byCluster = new Map<string, number>();
  for (const c of candidates) if (unreachable.has(c.key)) byCluster.set(c.cluster, (byCluster.get(c.cluster) ?? 0) + 1);
  return {
    input: { ...input, unreachable: { ...input.unreachable, [target]: unreachable } },
    report: {
      target,
      candidates: candidates.length,
      probed,
      unprobed,
      unreachable: byCluster,
      ms: Math.round(performance.now() - started),
    },
  };
}
