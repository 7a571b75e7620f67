// Pure work done in the event loop's spare time: a computation in parts
// (lib/plan/steps.ts) runs a slice of about sliceMs at a time, with I/O
// handled between slices (an immediate runs after the loop's I/O callbacks),
// so a response that arrives meanwhile waits at most one slice. Whoever needs
// the result before it is done finishes it there and then.

import type { Steps } from '../plan/steps.ts';

export interface InTurns<T> {
  /** The result: what is left is computed now. A throw of the computation is thrown here. */
  result(): T;
}

export function inTurns<T>(steps: Steps<T>, sliceMs = 2): InTurns<T> {
  let end: { value: T } | { error: unknown } | undefined;
  const run = (until: number): void => {
    try {
      for (;;) {
        const r = steps.next();
        if (r.done) return void (end = { value: r.value });
        if (performance.now() >= until) return;
      }
    } catch (error) {
      end = { error };
    }
  };
  const turn = (): void => {
    if (end) return;
    run(performance.now() + sliceMs);
    if (!end) setImmediate(turn);
  };
  setImmediate(turn);
  return {
    result() {
      if (!end) run(Infinity);
      if ('error' in end!) throw end.error;
      return end!.value;
    },
  };
}
