// Incremental planning (lib/plan/incremental.ts) against its definition, the
// full plan: over random worlds and random sequences of changes to sources
// and targets (mefi's own writes among them), each incremental plan equals
// the full plan of the same world, byte for byte.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  plan,
  type EndpointsObject,
  type Plan,
  type PlanInput,
  type PlanOptions,
  type SliceObject,
} from '../../lib/plan/index.ts';
import { Replanner } from '../../lib/plan/incremental.ts';
import { rememberResults } from '../../lib/plan/memo.ts';
import { touchedBySource, touchedByTarget } from '../../lib/plan/scope.ts';
import { sliceWorld, sourceObject, targetObject, targetSlice, world } from '../support/arbitraries.ts';
import { applyToTarget, options } from '../support/fixtures.ts';
import { indexOf } from '../support/world-index.ts';

// As in the watching loop, which this models: results remembered by their objects.
rememberResults(true);

const runs = { numRuns: Number(process.env.MEFI_PROPERTY_RUNS ?? 300) };
/** How many steps were planned incrementally (not all can be): the tests must exercise that path, not only the fallback. */
const counted = { steps: 0, incremental: 0 };

type Step =
  | { kind: 'source'; at: number; object: EndpointsObject; remove: boolean }
  | { kind: 'target'; at: number; object: EndpointsObject | SliceObject; remove: boolean }
  | { kind: 'applied' };

const steps = (slices: boolean) =>
  fc.array(
    fc.oneof(
      fc.record({ kind: fc.constant('source' as const), at: fc.nat(), object: sourceObject, remove: fc.boolean() }),
      fc.record({
        kind: fc.constant('target' as const),
        at: fc.nat(),
        object: slices ? (targetSlice as fc.Arbitrary<EndpointsObject | SliceObject>) : targetObject,
        remove: fc.boolean(),
      }),
      fc.constant({ kind: 'applied' as const }),
    ),
    { minLength: 1, maxLength: 8 },
  );

/** One step on the world: the world after it, and the source names it touched (as the watching loop derives them from events). */
function step(
  o: PlanOptions,
  input: PlanInput,
  s: Step,
  last: Plan,
): { input: PlanInput; touched: Set<string>; world?: boolean } {
  const slices = o.target === 'endpointslices';
  const clusters = Object.keys(input.sources);
  const touched = new Set<string>();
  let world = false;
  const ofTarget = (obj: { metadata: { name: string; labels?: Record<string, string> | null } }) => {
    const names = touchedByTarget(o, obj, clusters);
    if (!names) world = true;
    for (const g of names ?? []) touched.add(g);
  };
  if (s.kind === 'applied') {
    // mefi's writes: each target as the server stores them; they touch the names written.
    const targets = { ...input.targets };
    for (const [t, out] of Object.entries(input.targets)) {
      if (!out.ok || slices) continue;
      const before = new Map(out.items.map((x) => [x.metadata.name, x]));
      const after = applyToTarget(out.items, last, t);
      for (const x of after) if (before.get(x.metadata.name) !== x) ofTarget(x);
      for (const x of out.items) if (!after.some((y) => y.metadata.name === x.metadata.name)) ofTarget(x);
      targets[t] = { ...out, items: after };
    }
    return { input: { ...input, targets }, touched, world };
  }
  const pool = s.kind === 'source' ? input.sources : input.targets;
  const readable = Object.keys(pool).filter((c) => pool[c]!.ok);
  if (!readable.length) return { input, touched };
  const c = readable[s.at % readable.length]!;
  const out = pool[c] as Extract<PlanInput['sources'][string], { ok: true }>;
  const key = (x: { metadata: { name: string; namespace?: string } }) => `${x.metadata.namespace}/${x.metadata.name}`;
  const replace = <
    T extends { metadata: { name: string; namespace?: string; labels?: Record<string, string> | null } },
  >(
    items: T[],
    obj: T,
    remove: boolean,
    touch: (x: T) => void,
  ): T[] => {
    const old = items.find((x) => key(x) === key(obj));
    if (old) touch(old);
    touch(obj);
    const rest = items.filter((x) => key(x) !== key(obj));
    return remove ? rest : [...rest, obj];
  };
  if (s.kind === 'source') {
    const items = replace(out.items, s.object, s.remove, (x) => touched.add(touchedBySource(x, false)!));
    return { input: { ...input, sources: { ...input.sources, [c]: { ...out, items } } }, touched };
  }
  if (slices) {
    const sl = replace(out.slices ?? [], s.object as SliceObject, s.remove, ofTarget);
    return { input: { ...input, targets: { ...input.targets, [c]: { ...out, slices: sl } } }, touched, world };
  }
  const items = replace(out.items, s.object as EndpointsObject, s.remove, ofTarget);
  return { input: { ...input, targets: { ...input.targets, [c]: { ...out, items } } }, touched, world };
}

function check(o: PlanOptions, start: PlanInput, seq: Step[]): void {
  const r = new Replanner(o);
  let input = start;
  let last = r.full(input).plan;
  let incremental = 0;
  for (const s of seq) {
    const next = step(o, input, s, last);
    input = next.input;
    const got = (next.world ? undefined : r.update(input, next.touched, indexOf(o, input))) ?? r.full(input);
    if (!got.full) incremental++;
    assert.equal(
      JSON.stringify(got.plan),
      JSON.stringify(plan(o, input)),
      `after ${JSON.stringify(s)} (touched ${[...next.touched].join(', ')}; ${got.full ? 'full' : 'incremental'})`,
    );
    last = got.plan;
  }
  counted.steps += seq.length;
  counted.incremental += incremental;
}

describe('incremental planning (property tests)', () => {
  it('Endpoints mode: after any sequence of changes, the incremental plan is the full plan of the same world', () => {
    Object.assign(counted, { steps: 0, incremental: 0 });
    fc.assert(
      fc.property(
        world,
        steps(false),
        fc.constantFrom<PlanOptions['affinity']>('none', 'local'),
        (input, seq, affinity) => check({ ...options, affinity, affinityLabel: 'mefi.affinity' }, input, seq),
      ),
      runs,
    );
    assert.ok(
      counted.incremental > counted.steps / 3,
      `${counted.incremental} of ${counted.steps} steps planned incrementally`,
    );
  });

  it('slice mode (with cluster services): after any sequence of changes, the incremental plan is the full plan of the same world', () => {
    Object.assign(counted, { steps: 0, incremental: 0 });
    fc.assert(
      fc.property(sliceWorld, steps(true), fc.boolean(), (input, seq, clusterServices) =>
        check({ ...options, target: 'endpointslices', clusterServices }, input, seq),
      ),
      runs,
    );
    assert.ok(
      counted.incremental > counted.steps / 3,
      `${counted.incremental} of ${counted.steps} steps planned incrementally`,
    );
  });

  it("plans incrementally where it can: a change to one source in a clean world plans that source's objects only", () => {
    const o = options;
    const src = (name: string, ip: string): EndpointsObject => ({
      metadata: { name, namespace: 'n1', labels: { isMefiRemote: 'true' } },
      subsets: [{ addresses: [{ ip }], ports: [{ name: 'http', port: 80 }] }],
    });
    const names = Array.from({ length: 200 }, (_, i) => `svc-${i}`);
    let input: PlanInput = {
      sources: {
        a: { ok: true, items: names.map((n, i) => src(n, `10.0.${i >> 8}.${i & 255}`)) },
        b: { ok: true, items: names.map((n, i) => src(n, `10.1.${i >> 8}.${i & 255}`)) },
      },
      targets: { a: { ok: true, items: [] } },
    };
    const r = new Replanner(o);
    input = { ...input, targets: { a: { ok: true, items: applyToTarget([], r.full(input).plan, 'a') } } };
    assert.equal(r.full(input).plan.creates.length, 0);
    const changed = src('svc-7', '10.9.9.9');
    input = {
      ...input,
      sources: {
        ...input.sources,
        b: {
          ok: true,
          items: [
            ...(input.sources.b as { items: EndpointsObject[] }).items.filter((x) => x.metadata.name !== 'svc-7'),
            changed,
          ],
        },
      },
    };
    const got = r.update(input, new Set(['svc-7']), indexOf(o, input))!;
    assert.ok(got && !got.full, 'planned incrementally');
    // svc-7 in a and b, its two mirrors and its aggregate in the target: 5 of the world's 1,000 objects.
    assert.equal(got.planned, 5);
    assert.deepEqual(got.plan.updates.map((u) => u.name).sort(), ['svc-7', 'svc-7-b']);
    assert.equal(JSON.stringify(got.plan), JSON.stringify(plan(o, input)));
  });
});
