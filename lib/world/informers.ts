// The informers of a watching world, together: started together, listed
// again together at the periodic resync (the changes that come meanwhile,
// the lists' own and any other, make one run when the last list is in, not
// one per list), and settled once each has listed.

import type { Informer, Named } from './informer.ts';

type Member = Pick<Informer<Named>, 'run' | 'resync' | 'error'>;

export class Informers {
  private readonly members: Member[] = [];
  private holding = false;
  private held = false;
  private readonly fire: () => void;

  /** fire: a run is wanted (a change, or the resync's lists all in). */
  constructor(fire: () => void) {
    this.fire = fire;
  }

  add<T extends Member>(informer: T): T {
    this.members.push(informer);
    return informer;
  }

  /** Start every informer; resolves when the signal aborts. */
  run(signal: AbortSignal): Promise<void> {
    return Promise.all(this.members.map((i) => i.run(signal))).then(() => undefined);
  }

  /** A full list by each now; a resync already under way is the same resync. */
  resync(): void {
    if (this.holding) return;
    this.holding = true;
    void Promise.all(this.members.map((i) => i.resync())).then(() => {
      this.holding = false;
      if (this.held) {
        this.held = false;
        this.fire();
      }
    });
  }

  /** Something changed: a run now, or once the resync's lists are in. */
  changed(): void {
    if (this.holding) this.held = true;
    else this.fire();
  }

  /** Every informer has listed once (or failed to). */
  settled(): boolean {
    return this.members.every((i) => i.error !== 'not listed yet');
  }
}
