// A long pure computation written as a generator that yields between its
// parts: an edge can run it in slices while it waits for I/O (lib/world/turns.ts),
// and anything else runs it through at once. Yielding changes nothing of
// what it computes.

export type Steps<T> = Generator<void, T, void>;

/** The result, computed all at once. */
export function done<T>(steps: Steps<T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** How many objects a part holds between two yields: small enough to keep an event loop's turn to a millisecond or two. */
export const stepSize = 128;
