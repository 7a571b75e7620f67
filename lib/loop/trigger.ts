// Turns change notifications into runs, without waiting. A change while the
// loop is idle starts a run at once (after the rest of the events of the same
// turn of the event loop: one chunk of a watch stream can carry many). Changes
// that arrive while a run is in flight are coalesced into the one run that
// follows it. So a single change never waits, and a burst waits no longer
// than the run in flight.

import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';

export class Trigger {
  private pending = false;
  private wake?: () => void;

  /** A change happened. */
  fire(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Resolves when a run is due (true), or with false when `untilMs` passes or the signal aborts first. */
  async due(untilMs: number, signal: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal.aborted) return false;
      if (this.pending) {
        await nextTurn();
        this.pending = false;
        return true;
      }
      const now = Date.now();
      if (now >= untilMs) return false;
      // The timer goes when a change comes first: one is left behind per run otherwise.
      const timer = new AbortController();
      const woken = new Promise<void>((resolve) => (this.wake = resolve));
      await Promise.race([
        woken,
        sleep(untilMs - now, undefined, { signal: AbortSignal.any([signal, timer.signal]) }).catch(() => undefined),
      ]);
      timer.abort();
      this.wake = undefined;
    }
  }
}
