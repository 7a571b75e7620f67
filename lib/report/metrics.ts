// Prometheus metrics and health endpoints for loop mode (--metrics-addr).

import type { Server } from 'node:http';
import { http } from '../builtins.ts';
import { blockingCodes, type ProblemCode } from '../plan/index.ts';
import type { RunResult } from './result.ts';
import { contentType, exposition, Histogram, Series } from './prometheus.ts';

export class Metrics {
  private readonly runs = new Series(
    'mefi_runs_total',
    'Runs, by result: ok, partial (a cluster unreadable or a write failed), error (the run itself failed).',
    'counter',
  );
  private readonly duration = new Histogram(
    'mefi_run_duration_seconds',
    'Wall time of a run: read, plan, apply.',
    [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  );
  private readonly changes = new Series(
    'mefi_changes_total',
    'Objects created, updated and deleted, by action and result (done, skipped, failed).',
    'counter',
  );
  private readonly requests = new Series(
    'mefi_api_requests_total',
    "API requests made, by verb: every run's, and a watching loop's lists and watches.",
    'counter',
  );
  /** The clients' own counts, read at each scrape (a standby's lists and watches too, between runs). */
  private readonly calls: () => Record<string, number>;

  constructor(calls: () => Record<string, number>) {
    this.calls = calls;
  }
  private readonly readErrors = new Series(
    'mefi_cluster_read_errors_total',
    'Runs in which a cluster could not be read, by cluster and role (source, target).',
    'counter',
  );
  private readonly unreadableNow = new Series(
    'mefi_cluster_unreadable',
    'Whether the last run could not read each cluster (1), in any role, or could (0).',
    'gauge',
  );
  private readonly lastRead = new Series(
    'mefi_cluster_last_successful_read_timestamp_seconds',
    'When each cluster was last read completely (Unix time).',
    'gauge',
  );
  private readonly problems = new Series(
    'mefi_problems',
    'Problems found by the last run, by code; blocking="true" for those that keep the run from converging.',
    'gauge',
  );
  private readonly lastRun = new Series(
    'mefi_last_run_timestamp_seconds',
    'When the last run completed (Unix time).',
    'gauge',
  );
  private readonly unreachable = new Series(
    'mefi_unreachable_addresses',
    'With --probe: remote (address, port)s of each source cluster that did not answer a probe from here at the last run, not served.',
    'gauge',
  );
  private readonly probeDuration = new Series(
    'mefi_probe_duration_seconds',
    'With --probe: how long the last run spent probing.',
    'gauge',
  );
  private readonly leader = new Series(
    'mefi_leader',
    'With --leader-elect: 1 while this replica holds the Lease and writes, 0 while it stands by.',
    'gauge',
  );
  private readonly hub = new Series(
    'mefi_hub_unreadable',
    "With clusterProfiles: 1 while the hub's ClusterProfiles cannot be listed (the last ones read stand), 0 when they can.",
    'gauge',
  );
  private readonly problemCodes = new Set<ProblemCode>();

  setLeader(leading: boolean): void {
    this.leader.set({}, leading ? 1 : 0);
  }

  setHubUnreadable(unreadable: boolean): void {
    this.hub.set({}, unreadable ? 1 : 0);
  }

  record(r: RunResult, exitCode: number, clusters: string[], nowMs: number): void {
    this.runs.inc({ result: exitCode === 0 ? 'ok' : 'partial' });
    this.duration.observe(r.durationMs / 1000);
    for (const o of r.outcomes) this.changes.inc({ action: o.action, result: o.result });
    const unreadable = new Set<string>();
    for (const u of r.plan.unreadable) {
      this.readErrors.inc({ cluster: u.cluster, role: u.role });
      unreadable.add(u.cluster);
    }
    for (const c of clusters) {
      if (!unreadable.has(c)) this.lastRead.set({ cluster: c }, nowMs / 1000);
      this.unreadableNow.set({ cluster: c }, unreadable.has(c) ? 1 : 0);
    }
    const counts = new Map<ProblemCode, number>();
    for (const p of r.plan.problems) counts.set(p.code, (counts.get(p.code) ?? 0) + 1);
    for (const code of new Set([...this.problemCodes, ...counts.keys()])) {
      this.problemCodes.add(code);
      this.problems.set({ code, blocking: String(blockingCodes.has(code)) }, counts.get(code) ?? 0);
    }
    if (r.probe) {
      for (const c of clusters)
        if (c !== r.probe.target) this.unreachable.set({ cluster: c }, r.probe.unreachable.get(c) ?? 0);
      this.probeDuration.set({}, r.probe.ms / 1000);
    }
    this.lastRun.set({}, nowMs / 1000);
  }

  recordError(): void {
    this.runs.inc({ result: 'error' });
  }

  /** The text /metrics serves. */
  text(): string {
    for (const [verb, n] of Object.entries(this.calls())) if (n) this.requests.set({ verb }, n);
    return exposition([
      this.runs,
      this.duration,
      this.changes,
      this.requests,
      this.readErrors,
      this.unreadableNow,
      this.lastRead,
      this.problems,
      this.lastRun,
      this.unreachable,
      this.probeDuration,
      this.leader,
      this.hub,
    ]);
  }
}

export interface Health {
  /** Ready once a run has completed (or, with --leader-elect, while standing by). */
  ready(): boolean;
  /** What /readyz says when ready. */
  readyText?(): string;
  /** Unhealthy when no run has completed for too long; the reason then. */
  unhealthy(): string | undefined;
}

/** addr ":9090", "0.0.0.0:9090" or "127.0.0.1:9090". */
export function parseAddr(addr: string): { host: string | undefined; port: number } | undefined {
  const m = /^(?:\[?([^\]]*)\]?)?:(\d{1,5})$/.exec(addr.trim());
  if (!m || Number(m[2]) > 65535) return undefined;
  return { host: m[1] || undefined, port: Number(m[2]) };
}

export function serveMetrics(
  addr: { host: string | undefined; port: number },
  metrics: Metrics,
  health: Health,
): Promise<Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    if (path === '/metrics') {
      reply(200, metrics.text(), contentType);
    } else if (path === '/healthz') {
      const why = health.unhealthy();
      reply(why ? 503 : 200, why ?? 'ok\n');
    } else if (path === '/readyz') {
      reply(
        health.ready() ? 200 : 503,
        health.ready() ? (health.readyText?.() ?? 'ok\n') : 'no run has completed yet\n',
      );
    } else {
      reply(404, 'not found: /metrics, /healthz, /readyz\n');
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => resolve(server));
  });
}
