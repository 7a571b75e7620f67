// Objects that something else deletes each time mefi writes them back.
//
// kube-controller-manager's Endpoints controller, for each Endpoints delete
// it sees, deletes the Endpoints of that name if no Service has it
// (syncService in pkg/controller/endpoint; its start-up sweep spares mirrors,
// this path does not). Its own delete queues the name again. A mirror the
// watching loop writes back before the controller comes back to it is
// deleted again: with a long queue (a namespace emptied by hand, the
// controller at its 20 calls a second) the two would trade a delete and a
// create per name for good. So a name deleted again after mefi wrote it back
// is held off for 1.5 times the time between its last two deletes (the time
// the controller took to come back to it), growing while the deletes go on;
// a first delete (a person, a restart's sweep) is written back at once.

export interface HoldoffOptions {
  minMs: number;
  maxMs: number;
}

interface Seen {
  deletedAt: number;
  /** mefi wrote it back since. */
  written: boolean;
}

export class Holdoff {
  private readonly seen = new Map<string, Seen>();
  /** key → until: the creates held off. */
  private readonly holding = new Map<string, number>();
  private readonly o: HoldoffOptions;
  private pruned = 0;

  constructor(o: HoldoffOptions = { minMs: 1000, maxMs: 600_000 }) {
    this.o = o;
  }

  /** Something else deleted `key` at `now`: the time its create is held off until, if it is. */
  deleted(key: string, now: number): number | undefined {
    this.forgetOld(now);
    const last = this.seen.get(key);
    this.seen.set(key, { deletedAt: now, written: false });
    if (last?.written !== true) return undefined;
    const until = now + Math.min(this.o.maxMs, Math.max(this.o.minMs, 1.5 * (now - last.deletedAt)));
    this.holding.set(key, until);
    return until;
  }

  /** mefi wrote `key` (back). */
  written(key: string): void {
    const s = this.seen.get(key);
    if (s) s.written = true;
  }

  /** The creates held off now: key → until. */
  held(now: number): ReadonlyMap<string, number> {
    for (const [k, until] of this.holding) if (until <= now) this.holding.delete(k);
    return this.holding;
  }

  /** A delete long after the last is a first one again (looked for once a minute). */
  private forgetOld(now: number): void {
    if (now - this.pruned < 60_000) return;
    this.pruned = now;
    for (const [k, s] of this.seen)
      if (now - s.deletedAt > 2 * this.o.maxMs && !this.holding.has(k)) this.seen.delete(k);
  }
}
