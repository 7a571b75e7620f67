// Coalesces change notifications into runs: a run starts once changes have
// been quiet for `quietMs`, or `maxMs` after the first of them, whichever is
// sooner, so a burst of events costs a handful of runs, not one each.

import { setTimeout as sleep } from 'node:timers/promises';

export class Trigger {
  private pending = false;
  private firstAt = 0;
  private lastAt = 0;
  private wake?: () => void;

  /** A change happened. */
  fire(now = Date.now()): void {
    if (!this.pending) this.firstAt = now;
    this.pending = true;
    this.lastAt = now;
    this.wake?.();
  }

  /** Resolves when a run is due (true), or with false when `untilMs` passes or the signal aborts first. */
  async due(quietMs: number, maxMs: number, untilMs: number, signal: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal.aborted) return false;
      const now = Date.now();
      if (this.pending && (now - this.lastAt >= quietMs || now - this.firstAt >= maxMs)) {
        this.pending = false;
        return true;
      }
      if (now >= untilMs) return false;
      const next = this.pending ? Math.min(this.lastAt + quietMs, this.firstAt + maxMs) : untilMs;
      const woken = new Promise<void>((resolve) => (this.wake = resolve));
      await Promise.race([woken, sleep(Math.max(1, Math.min(next, untilMs) - now), undefined, { signal }).catch(() => undefined)]);
      this.wake = undefined;
    }
  }
}
