// Per-cluster exponential backoff for loop mode: a dead cluster is not asked
// every interval, so it costs the others nothing, and it is still tried
// regularly. A skipped cluster is unreadable for that run, with the same
// safety rules (its mirrors are kept).

export class ClusterBackoff {
  private readonly state = new Map<string, { failures: number; nextTry: number; lastError: string }>();
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(baseMs: number, maxMs: number) {
    this.baseMs = baseMs;
    this.maxMs = Math.max(baseMs, maxMs);
  }

  /** Clusters not to ask this run, with the reason to report. */
  skipped(now: number): Map<string, string> {
    const out = new Map<string, string>();
    for (const [cluster, s] of this.state) {
      if (now < s.nextTry) {
        out.set(
          cluster,
          `not asked this run: ${s.failures} failed read(s) in a row, next try in ${Math.ceil((s.nextTry - now) / 1000)}s (last error: ${s.lastError})`,
        );
      }
    }
    return out;
  }

  /** Record what a run found; clusters that were skipped are left as they are. */
  record(results: Map<string, string | undefined>, now: number): void {
    for (const [cluster, error] of results) {
      if (error === undefined) {
        this.state.delete(cluster);
        continue;
      }
      const failures = (this.state.get(cluster)?.failures ?? 0) + 1;
      const delay = Math.min(this.maxMs, this.baseMs * 2 ** (failures - 1));
      this.state.set(cluster, { failures, nextTry: now + delay, lastError: error });
    }
  }
}
