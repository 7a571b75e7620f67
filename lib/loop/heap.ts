// Memory given back when a loop rests. V8 keeps committed the old space a
// run grew, and a loop at rest allocates too little for V8's memory reducer
// ever to run: a watching loop over 3 clusters x 1,000 services held 121 MiB
// for good after its first run, 96 after one compacting collection. Go's
// runtime returns such memory by itself; V8 needs asking. It needs
// --expose-gc (a loop's flags, lib/loop/loop-flags.ts); without it
// this does nothing.

type Collect = (o: { type: 'major'; execution: 'async'; flavor: 'last-resort' }) => Promise<void> | void;

/** A full, compacting collection, run from a task of its own (not inside the caller). */
export function giveMemoryBack(): void {
  const gc = (globalThis as { gc?: Collect }).gc;
  void gc?.({ type: 'major', execution: 'async', flavor: 'last-resort' });
}

/**
 * When to give memory back: after a run that planned everything (it grew the
 * most) as soon as it ends, after other runs once the loop has rested
 * `idleMs`; at most every `everyMs`, and never while a run is in flight (a
 * collection of a large world takes a core for a few hundred milliseconds):
 * an --interval 1s loop collects at the end of every tenth run or so.
 */
export class Resting {
  private timer: NodeJS.Timeout | undefined;
  private last = 0;
  private readonly idleMs: number;
  private readonly everyMs: number;
  private readonly collect: () => void;

  constructor(o: { idleMs?: number; everyMs?: number; collect?: () => void } = {}) {
    this.idleMs = o.idleMs ?? 1000;
    this.everyMs = o.everyMs ?? 10_000;
    this.collect = o.collect ?? giveMemoryBack;
  }

  /** A run starts: nothing is collected while it runs. */
  started(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A run ended. */
  ended(plannedInFull: boolean, now = Date.now()): void {
    this.started();
    const wait = Math.max(plannedInFull ? 0 : this.idleMs, this.last + this.everyMs - now);
    if (wait <= 0) return this.now(now);
    // Judged again when it fires: a timer may fire a millisecond before Date.now() says it is due.
    this.timer = setTimeout(() => this.ended(true, Date.now()), wait).unref();
  }

  private now(now: number): void {
    this.last = now;
    this.collect();
  }
}
