// Remembering pure results by the identity of their inputs, for the watching
// loop, which plans the same unchanged objects again on every change: an
// informer replaces an object that changed, so an unchanged input is the very
// same object. Weak: an entry goes with its inputs. Results are shared, never
// mutated by the planner.

const end = {};

/** f(parts), remembered for this exact sequence of objects. */
export function memoBy<P extends object, R>(cache: WeakMap<object, unknown>, parts: readonly P[], f: () => R): R {
  let node = cache;
  for (const p of parts) {
    let next = node.get(p) as WeakMap<object, unknown> | undefined;
    if (!next) node.set(p, (next = new WeakMap()));
    node = next;
  }
  if (node.has(end)) return node.get(end) as R;
  const r = f();
  node.set(end, r);
  return r;
}
