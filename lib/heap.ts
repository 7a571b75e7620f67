// Memory given back after a run that planned the whole world. V8 keeps the
// old space such a run grew committed, and a loop at rest allocates too
// little for V8's memory reducer ever to run: a watching loop over 3 clusters
// x 1,000 services held 121 MiB for good after its first run, 96 after this
// collection. Go's runtime returns such memory by itself; V8 needs asking.
// It needs --expose-gc (bin/mefi's first line, the image's entry point);
// without it this does nothing.

type Collect = (o: { type: 'major'; execution: 'async'; flavor: 'last-resort' }) => Promise<void> | void;

/** A full, compacting collection, run from a task of its own (not inside the caller). */
export function giveMemoryBack(): void {
  const gc = (globalThis as { gc?: Collect }).gc;
  void gc?.({ type: 'major', execution: 'async', flavor: 'last-resort' });
}
