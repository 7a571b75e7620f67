// Planning ahead (lib/plan/ahead.ts): what a run plans from the sources while
// the targets are still being read is taken up by plan() only where it was
// made from the very same sources, and never changes the plan.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { plan, planAhead, probeKey, toProbe, type PlanInput, type PlanOptions } from '../../lib/plan/index.ts';
import { done } from '../../lib/plan/steps.ts';
import { sliceWorld, world } from '../support/arbitraries.ts';
import { options } from '../support/fixtures.ts';

const runs = { numRuns: Number(process.env.MEFI_PROPERTY_RUNS ?? 400) };

const ahead = (o: PlanOptions, input: PlanInput) => done(planAhead(o, input.sources, Object.keys(input.targets)));

/** Options a view or a target's wanted objects depend on. */
const variants = fc.record({
  cidrs: fc.boolean(),
  affinity: fc.constantFrom<PlanOptions['affinity']>('none', 'local'),
  unreachable: fc.boolean(),
  prune: fc.boolean(),
});

function optionsOf(
  v: { cidrs: boolean; affinity: PlanOptions['affinity']; prune: boolean },
  base: PlanOptions = options,
): PlanOptions {
  return {
    ...base,
    affinity: v.affinity,
    affinityLabel: 'mefi.affinity',
    prune: v.prune,
    ...(v.cidrs ? { podCIDRs: { a: ['10.0.0.0/31'], b: ['fd00::/16', '10.0.0.3/32'] } } : {}),
  };
}

/** Every other remote address a target would serve did not answer a probe (--probe): its aggregates are not those made ahead. */
function withUnreachable(o: PlanOptions, input: PlanInput, on: boolean): PlanInput {
  if (!on) return input;
  const unreachable = Object.fromEntries(
    Object.keys(input.targets).map((t) => [
      t,
      new Set(
        toProbe(o, input, t)
          .filter((_, i) => i % 2 === 0)
          .map((a) => probeKey(a.ip, a.port)),
      ),
    ]),
  );
  return { ...input, unreachable };
}

describe('planning ahead (property tests)', () => {
  it('gives the plan of the whole world, byte for byte, in Endpoints mode', () => {
    fc.assert(
      fc.property(world, variants, (w, v) => {
        const o = optionsOf(v);
        const input = withUnreachable(o, w, v.unreachable);
        assert.equal(JSON.stringify(plan(o, input, ahead(o, input))), JSON.stringify(plan(o, input)));
      }),
      runs,
    );
  });

  it('gives --probe the same addresses to probe', () => {
    fc.assert(
      fc.property(world, variants, (input, v) => {
        const o = optionsOf(v);
        const made = ahead(o, input);
        for (const t of Object.keys(input.targets)) assert.deepEqual(toProbe(o, input, t, made), toProbe(o, input, t));
      }),
      runs,
    );
  });

  it('gives the plan of the whole world in slice mode', () => {
    fc.assert(
      fc.property(sliceWorld, variants, (w, v) => {
        const o = optionsOf(v, { ...options, target: 'endpointslices' });
        const input = withUnreachable(o, w, v.unreachable);
        assert.equal(JSON.stringify(plan(o, input, ahead(o, input))), JSON.stringify(plan(o, input)));
      }),
      runs,
    );
  });

  it('is not taken up for other sources or other options: the plan stays that of the world given', () => {
    fc.assert(
      fc.property(world, world, variants, (w, other, v) => {
        const o = optionsOf(v);
        // The same objects in a new record (a new read), other sources, other options.
        for (const stale of [
          ahead(o, { ...w, sources: { ...w.sources } }),
          ahead(o, other),
          ahead({ ...o, podCIDRs: { a: ['10.0.0.0/32'] }, affinity: o.affinity === 'local' ? 'none' : 'local' }, w),
        ])
          assert.equal(JSON.stringify(plan(o, w, stale)), JSON.stringify(plan(o, w)));
      }),
      runs,
    );
  });
});

describe('planning ahead', () => {
  it('is taken up: a target read empty is given the very subsets made ahead', () => {
    const input: PlanInput = {
      sources: {
        a: {
          ok: true,
          items: [
            {
              metadata: { name: 'web', namespace: 'n', labels: { isMefiRemote: 'true' } },
              subsets: [{ addresses: [{ ip: '10.0.0.1' }], ports: [{ port: 80 }] }],
            },
          ],
        },
        b: {
          ok: true,
          items: [
            {
              metadata: { name: 'web', namespace: 'n', labels: { isMefiRemote: 'true' } },
              subsets: [{ addresses: [{ ip: '10.0.1.1' }], ports: [{ port: 80 }] }],
            },
          ],
        },
      },
      targets: { a: { ok: true, items: [] } },
    };
    const made = ahead(options, input)!;
    const p = plan(options, input, made);
    const wanted = made.targets.get('a')!.wanted;
    assert.deepEqual(
      p.creates.map((c) => c.name),
      ['web', 'web-a', 'web-b'],
    );
    for (const c of p.creates)
      assert.ok(
        wanted.some((w) => w.name === c.name && w.subsets === c.after),
        `${c.name}: made ahead`,
      );
    // Made for another record of the same objects: planned afresh.
    const again = plan(options, { ...input, sources: { ...input.sources } }, made);
    assert.ok(
      again.creates.every((c) => !wanted.some((w) => w.subsets === c.after && w.role === 'aggregate')),
      'aggregates merged afresh',
    );
  });
});
