// DESIGN.md §3, each invariant a property over generated worlds.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import equal from 'fast-deep-equal';
import fc from 'fast-check';
import {
  isEmpty,
  mirrorAnnotations,
  normalizeSubsets,
  plan,
  probeKey,
  toProbe,
  toRawSubsets,
  type EndpointsObject,
  type PlanInput,
  type SliceObject,
} from '../../lib/plan/index.ts';
import { compactSource, withoutManagedFields } from '../../lib/world/compact.ts';
import { equalsRaw, mergeNormalized } from '../../lib/plan/normalize.ts';
import { clusterOf, isOwned } from '../../lib/plan/object.ts';
import { isMefiSlice } from '../../lib/plan/slices.ts';
import { shuffled, sliceWorld, subsets as subsetsArb, world } from '../support/arbitraries.ts';
import { applyToTarget, options, unreadableSources } from '../support/fixtures.ts';
import { consumers, mirroredSlices } from '../support/consumers.ts';

const runs = { numRuns: Number(process.env.MEFI_PROPERTY_RUNS ?? 400) };

function itemsOf(input: PlanInput, target: string): EndpointsObject[] {
  const o = input.targets[target]!;
  return o.ok ? o.items : [];
}

/** The world after the plan was applied to every readable target. */
function applied(input: PlanInput, p: ReturnType<typeof plan>): PlanInput {
  const targets = Object.fromEntries(
    Object.entries(input.targets).map(([t, o]) => [
      t,
      o.ok ? { ok: true as const, items: applyToTarget(o.items, p, t) } : o,
    ]),
  );
  return { sources: input.sources, targets };
}

/** The target's own source (or its own mirror, kept) has the address ready: its readiness says it, it is never probed. */
function isLocal(input: PlanInput, target: string, ip: string): boolean {
  const readyIn = (o: EndpointsObject) =>
    normalizeSubsets(o.subsets).subsets.some((s) => s.addresses.some((a) => a.ip === ip));
  const own = input.sources[target];
  const kept = itemsOf(input, target).filter(
    (o) => isOwned(o, options) && clusterOf(o, options, Object.keys(input.sources)) === target,
  );
  return (!!own?.ok && own.items.some((o) => !isOwned(o, options) && readyIn(o))) || kept.some(readyIn);
}

const ips = (obj: EndpointsObject | undefined) =>
  new Set(
    normalizeSubsets(obj?.subsets).subsets.flatMap((s) => [...s.addresses, ...s.notReadyAddresses].map((a) => a.ip)),
  );
/** "ip:port/protocol" of every ready address of these subsets. */
const targetsOf = (subsets: { addresses: { ip: string }[]; ports: { port: number; protocol?: string }[] }[]) =>
  new Set(
    subsets.flatMap((s) => s.addresses.flatMap((a) => s.ports.map((p) => `${a.ip}:${p.port}/${p.protocol ?? 'TCP'}`))),
  );
const readyIPs = (obj: EndpointsObject | undefined) =>
  new Set(normalizeSubsets(obj?.subsets).subsets.flatMap((s) => s.addresses.map((a) => a.ip)));

describe('planner invariants (property tests)', () => {
  it('finds stored subsets equal field by field only when normalizing them gives the same', () => {
    fc.assert(
      fc.property(subsetsArb, subsetsArb, (raw, other) => {
        const want = normalizeSubsets(other).subsets;
        if (equalsRaw(raw, want)) assert.deepEqual(normalizeSubsets(raw).subsets, want);
        assert.ok(equalsRaw(toRawSubsets(want), want), 'what mefi writes compares equal as stored');
        assert.ok(equalsRaw(JSON.parse(JSON.stringify(toRawSubsets(want))), want));
      }),
      runs,
    );
  });

  it('merges normalized subsets exactly as normalizing them all again would', () => {
    const parts = fc
      .array(subsetsArb, { maxLength: 4 })
      .map((xs) => xs.map((raw) => normalizeSubsets(raw).subsets).flat());
    fc.assert(
      fc.property(parts, (normalized) => {
        assert.deepEqual(mergeNormalized(normalized), normalizeSubsets(toRawSubsets(normalized)).subsets);
      }),
      runs,
    );
  });

  it('is deterministic: the same inputs in any order give the same plan, byte for byte', () => {
    fc.assert(
      fc.property(world, fc.integer(), fc.boolean(), (input, seed, cidrs) => {
        const o = cidrs ? { ...options, podCIDRs: { a: ['10.0.0.0/31'], b: ['fd00::/16', '10.0.0.3/32'] } } : options;
        assert.equal(JSON.stringify(plan(o, shuffled(input, seed))), JSON.stringify(plan(o, input)));
      }),
      runs,
    );
  });

  it('plans the same from what mefi keeps of what it reads (lib/world/compact.ts) as from the objects the API returns', () => {
    const managedFields = [
      {
        manager: 'kube-controller-manager',
        operation: 'Update',
        apiVersion: 'v1',
        fieldsType: 'FieldsV1',
        fieldsV1: { 'f:subsets': {} },
      },
    ];
    // What the API adds that the planner never reads.
    const asServed = (input: PlanInput): PlanInput => ({
      ...input,
      sources: Object.fromEntries(
        Object.entries(input.sources).map(([c, o]) => [
          c,
          o.ok
            ? {
                ...o,
                items: o.items.map((e) => ({
                  apiVersion: 'v1',
                  kind: 'Endpoints',
                  metadata: {
                    ...e.metadata,
                    uid: `uid-${e.metadata.name}`,
                    managedFields,
                    annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': '2026-12-01T00:00:00Z' },
                  },
                  subsets: e.subsets?.map((sub) => ({
                    ...sub,
                    addresses: sub.addresses?.map((a) => ({
                      ...a,
                      nodeName: 'node-9',
                      targetRef: { kind: 'Pod', name: 'p' },
                    })),
                  })),
                })),
              }
            : o,
        ]),
      ),
      targets: Object.fromEntries(
        Object.entries(input.targets).map(([c, o]) => [
          c,
          o.ok ? { ...o, items: o.items.map((e) => ({ ...e, metadata: { ...e.metadata, managedFields } })) } : o,
        ]),
      ),
    });
    const kept = (input: PlanInput): PlanInput => ({
      ...input,
      sources: Object.fromEntries(
        Object.entries(input.sources).map(([c, o]) => [c, o.ok ? { ...o, items: o.items.map(compactSource) } : o]),
      ),
      targets: Object.fromEntries(
        Object.entries(input.targets).map(([c, o]) => [
          c,
          o.ok ? { ...o, items: o.items.map(withoutManagedFields) } : o,
        ]),
      ),
    });
    fc.assert(
      fc.property(world, (input) => {
        const served = asServed(input);
        const p = plan(options, kept(served));
        assert.equal(JSON.stringify(p), JSON.stringify(plan(options, served)));
        for (const u of p.updates)
          assert.equal(u.object!.metadata.managedFields, undefined, 'a PUT never carries managedFields');
      }),
      runs,
    );
  });

  it('reaches a fixed point: after applying the plan, the next plan is empty', () => {
    fc.assert(
      fc.property(world, fc.boolean(), (input, cidrs) => {
        const o = cidrs ? { ...options, podCIDRs: { a: ['10.0.0.0/31'], b: ['fd00::/16'] } } : options;
        const again = plan(o, applied(input, plan(o, input)));
        assert.ok(
          isEmpty(again),
          JSON.stringify({
            creates: again.creates.map((c) => c.name),
            updates: again.updates.map((c) => c.name),
            deletes: again.deletes.map((c) => c.name),
          }),
        );
      }),
      runs,
    );
  });

  it('is minimal: every update changes something, and no create targets a taken name', () => {
    fc.assert(
      fc.property(world, (input) => {
        const p = plan(options, input);
        for (const u of p.updates) {
          const current = itemsOf(input, u.target).find((o) => o.metadata.name === u.name);
          const sameMetadata =
            equal(u.beforeLabels, u.object!.metadata.labels) &&
            equal(current?.metadata.annotations ?? {}, u.object!.metadata.annotations ?? {});
          assert.ok(!(equal(u.before, u.after) && sameMetadata), `no-op update of ${u.name}`);
        }
        for (const c of p.creates)
          assert.ok(
            !itemsOf(input, c.target).some((o) => o.metadata.name === c.name),
            `create over existing ${c.name}`,
          );
      }),
      runs,
    );
  });

  it("keeps what cannot be rebuilt out of the controller-manager's reach: every mirror written carries the annotation it spares, no aggregate does", () => {
    fc.assert(
      fc.property(world, (input) => {
        const p = plan(options, input);
        for (const c of [...p.creates, ...p.updates]) {
          const held = Object.entries(mirrorAnnotations).every(([k, v]) => c.object!.metadata.annotations?.[k] === v);
          assert.equal(held, c.role === 'mirror', `${c.role} ${c.name}`);
        }
      }),
      runs,
    );
  });

  it('with affinity, an aggregate serves a ready address whenever any of its mirrors has one, and writes only what it would write anyway', () => {
    fc.assert(
      fc.property(world, fc.constantFrom<'local' | 'remote'>('local', 'remote'), (input, affinity) => {
        const p = plan({ ...options, affinity }, input);
        const plain = plan(options, input);
        const names = (q: typeof p) =>
          [...q.creates, ...q.updates, ...q.deletes].map((c) => `${c.target}/${c.name}`).sort();
        // Affinity changes readiness only: the same objects are created and deleted, an aggregate may at most also be updated.
        assert.deepEqual(p.creates.map((c) => c.name).sort(), plain.creates.map((c) => c.name).sort());
        assert.deepEqual(p.deletes.map((c) => c.name).sort(), plain.deletes.map((c) => c.name).sort());
        for (const n of names(p))
          assert.ok(
            names(plain).includes(n) || p.updates.some((u) => `${u.target}/${u.name}` === n && u.role === 'aggregate'),
            n,
          );
        for (const c of [...p.creates, ...p.updates].filter((x) => x.role === 'aggregate')) {
          const twin = [...plain.creates, ...plain.updates].find((x) => x.target === c.target && x.name === c.name);
          const anyReady = (twin?.after ?? []).some((s) => s.addresses.length > 0);
          if (anyReady)
            assert.ok(
              c.after!.some((s) => s.addresses.length > 0),
              `${c.name}: nothing served with ${affinity}`,
            );
        }
      }),
      runs,
    );
  });

  it('probe results never make the plan touch an object it would not touch anyway, and never gate an address of the target itself', () => {
    fc.assert(
      fc.property(world, fc.double({ min: 0, max: 1, noNaN: true }), fc.context(), (input, share, ctx) => {
        // Some of the addresses each target would probe did not answer.
        const unreachable = Object.fromEntries(
          Object.keys(input.targets).map((t) => {
            const all = toProbe(options, input, t).map((a) => probeKey(a.ip, a.port));
            return [t, new Set(all.filter((_, i) => (i * 7919) % 100 < share * 100))];
          }),
        );
        ctx.log(JSON.stringify(Object.fromEntries(Object.entries(unreachable).map(([t, s]) => [t, [...s]]))));
        const p = plan(options, { ...input, unreachable });
        const plain = plan(options, input);
        const names = (q: typeof p) =>
          [...q.creates, ...q.updates, ...q.deletes].map((c) => `${c.target}/${c.name}`).sort();
        // Gating changes readiness only: the same objects are created and deleted, an aggregate may at most also be updated.
        assert.deepEqual(
          p.creates.map((c) => `${c.target}/${c.name}`).sort(),
          plain.creates.map((c) => `${c.target}/${c.name}`).sort(),
        );
        assert.deepEqual(
          p.deletes.map((c) => `${c.target}/${c.name}`).sort(),
          plain.deletes.map((c) => `${c.target}/${c.name}`).sort(),
        );
        for (const n of names(p))
          assert.ok(
            names(plain).includes(n) || p.updates.some((u) => `${u.target}/${u.name}` === n && u.role === 'aggregate'),
            n,
          );
        for (const c of [...p.creates, ...p.updates]) {
          const twin = [...plain.creates, ...plain.updates].find((x) => x.target === c.target && x.name === c.name)!;
          const all = (subsets: typeof c.after) =>
            (subsets ?? []).flatMap((s) => [...s.addresses, ...s.notReadyAddresses].map((a) => a.ip)).sort();
          // Mirrors stay as their sources say; an aggregate only loses addresses.
          if (c.role === 'mirror') assert.deepEqual(c.after, twin.after, c.name);
          else
            for (const ip of all(c.after))
              assert.ok(all(twin.after).includes(ip), `${c.name}: ${ip} appears only when gated`);
          // An aggregate serves no unreachable remote address as ready.
          if (c.role === 'aggregate')
            for (const s of c.after ?? [])
              for (const a of s.addresses)
                for (const port of s.ports)
                  if (port.protocol === 'TCP')
                    assert.ok(
                      !unreachable[c.target]!.has(probeKey(a.ip, port.port)) || isLocal(input, c.target, a.ip),
                      `${c.name}: ${a.ip} served ready though unreachable`,
                    );
        }
      }),
      runs,
    );
  });

  it('serves means served, for every consumer: in both modes each one sends requests to exactly the ready addresses, never a not-ready, held-back or unreachable one', () => {
    const sliceOptions = { ...options, target: 'endpointslices' as const };
    const affinity = fc.constantFrom<'none' | 'local' | 'remote'>('none', 'local', 'remote');
    fc.assert(
      fc.property(world, affinity, fc.double({ min: 0, max: 1, noNaN: true }), (w, aff, share) => {
        // A fresh target: every target starts empty, so what is served comes from the sources alone.
        const input: PlanInput = {
          sources: w.sources,
          targets: Object.fromEntries(
            Object.keys(w.targets).map((t) => [t, { ok: true as const, items: [], slices: [] }]),
          ),
        };
        const unreachable = Object.fromEntries(
          Object.keys(input.targets).map((t) => {
            const all = toProbe(options, input, t).map((a) => probeKey(a.ip, a.port));
            return [t, new Set(all.filter((_, i) => (i * 7919) % 100 < share * 100))];
          }),
        );
        const eps = plan({ ...options, affinity: aff }, { ...input, unreachable });
        const sls = plan({ ...sliceOptions, affinity: aff }, { ...input, unreachable });
        const slc = plan({ ...sliceOptions, affinity: aff, clusterServices: true }, { ...input, unreachable });
        const readyAnywhere = new Set(
          Object.values(input.sources).flatMap((o) =>
            o.ok ? o.items.filter((x) => !isOwned(x, options)).flatMap((x) => [...readyIPs(x)]) : [],
          ),
        );
        for (const target of Object.keys(input.targets)) {
          const seen: Record<string, Record<string, string[]>> = { endpoints: {}, slices: {} };
          for (const c of eps.creates.filter((x) => x.target === target && x.role === 'aggregate')) {
            const slices = mirroredSlices(c.object as EndpointsObject);
            const wanted = [...targetsOf(c.after ?? [])].sort();
            for (const [who, read] of Object.entries(consumers))
              assert.deepEqual(
                [...read(slices)].sort(),
                wanted,
                `${who} reads aggregate ${c.name} in ${target} as mefi serves it`,
              );
            seen.endpoints![c.name] = wanted;
          }
          /** The slices a plan creates in this target, by Service. */
          const byServiceOf = (q: typeof sls) => {
            const out = new Map<string, SliceObject[]>();
            for (const c of q.creates.filter((x) => x.target === target)) {
              const sl = c.object as unknown as SliceObject;
              const service = sl.metadata.labels!['kubernetes.io/service-name']!;
              out.set(service, [...(out.get(service) ?? []), sl]);
            }
            return out;
          };
          /** What every consumer reads of one Service's slices: the same for all, and only ready, reachable addresses. */
          const agreed = (slices: SliceObject[], what: string) => {
            const wanted = [...consumers['kube-proxy']!(slices)].sort();
            for (const [who, read] of Object.entries(consumers))
              assert.deepEqual(
                [...read(slices)].sort(),
                wanted,
                `${who} reads ${what} in ${target} as kube-proxy does`,
              );
            return wanted;
          };
          const byService = byServiceOf(sls);
          for (const [service, slices] of byService) {
            const wanted = agreed(slices, `the slices of ${service}`);
            if (wanted.length) seen.slices![service] = wanted;
          }
          // Cluster services (--cluster-services): read alike by every consumer, and the Services of the sources served exactly as without them.
          for (const [service, slices] of byServiceOf(slc)) {
            const wanted = agreed(slices, `cluster service ${service}`);
            if (byService.has(service))
              assert.deepEqual(
                wanted,
                agreed(byService.get(service)!, service),
                `${service} serves the same with cluster services`,
              );
            else seen[`cluster ${service}`] = { [service]: wanted };
          }
          for (const served of Object.values(seen).flatMap((m) => Object.values(m)))
            for (const key of served) {
              const ip = key.slice(0, key.lastIndexOf(':'));
              assert.ok(readyAnywhere.has(ip), `${key} is served in ${target} but ready in no source`);
              const probe = probeKey(ip, Number(key.slice(key.lastIndexOf(':') + 1).split('/')[0]));
              assert.ok(
                !unreachable[target]!.has(probe) || isLocal(input, target, ip),
                `${key} is served in ${target} though it did not answer`,
              );
            }
          // Both modes serve the same, where neither had to leave a name alone.
          const blocked = [...eps.problems, ...sls.problems].some((x) => x.cluster === target && x.blocking);
          if (!blocked) {
            const nonEmpty = (m: Record<string, string[]>) =>
              Object.fromEntries(Object.entries(m).filter(([, v]) => v.length));
            assert.deepEqual(nonEmpty(seen.endpoints!), seen.slices, `${target}: Endpoints and slice mode serve alike`);
          }
        }
      }),
      runs,
    );
  });

  it('respects ownership: never updates or deletes an object without the owner label', () => {
    fc.assert(
      fc.property(world, fc.constantFrom<'sync' | 'upsert-only'>('sync', 'upsert-only'), (input, policy) => {
        const p = plan({ ...options, policy }, input);
        for (const c of [...p.updates, ...p.deletes]) {
          const current = itemsOf(input, c.target).find((o) => o.metadata.name === c.name);
          assert.ok(current && isOwned(current, options), `${c.name} is not mefi's`);
        }
        if (policy === 'upsert-only') assert.equal(p.deletes.length, 0);
      }),
      runs,
    );
  });

  it('does not echo: every mirror comes from a source mefi did not write, and copies no source label', () => {
    fc.assert(
      fc.property(world, (input) => {
        const p = plan(options, input);
        const allowed = new Set([options.ownerLabel.key, options.originalNameLabel, options.sourceClusterLabel]);
        for (const c of [...p.creates, ...p.updates]) {
          for (const k of Object.keys(c.object!.metadata.labels ?? {}))
            assert.ok(allowed.has(k), `label ${k} on ${c.name}`);
          if (c.role !== 'mirror') continue;
          const source = input.sources[c.cluster!]!;
          assert.ok(
            source.ok && source.items.some((o) => o.metadata.name === c.originalName && !isOwned(o, options)),
            `${c.name} has no real source`,
          );
        }
      }),
      runs,
    );
  });

  it("is safe under partial failure: an unreadable cluster's mirrors stay, and aggregates keep their addresses", () => {
    fc.assert(
      fc.property(world, (input) => {
        const p = plan(options, input);
        const unreadable = unreadableSources(input);
        const after = applied(input, p);
        const clusters = Object.keys(input.sources);
        for (const [target, o] of Object.entries(input.targets)) {
          if (!o.ok) continue;
          const kept = o.items.filter(
            (obj) => isOwned(obj, options) && unreadable.has(clusterOf(obj, options, clusters) ?? ''),
          );
          for (const k of kept) {
            assert.ok(
              ![...p.updates, ...p.deletes].some((c) => c.target === target && c.name === k.metadata.name),
              `${k.metadata.name} touched`,
            );
            const original = k.metadata.labels?.[options.originalNameLabel];
            if (!original || ips(k).size === 0) continue;
            const aggregate = itemsOf(after, target).find((x) => x.metadata.name === original);
            const blocked = p.problems.some(
              (x) =>
                x.cluster === target &&
                (x.name === original || x.name === k.metadata.name) &&
                (x.code === 'conflict' || x.code === 'name-collision'),
            );
            if (blocked) continue;
            assert.ok(aggregate && isOwned(aggregate, options), `aggregate ${original} missing in ${target}`);
            for (const ip of readyIPs(k))
              assert.ok(
                readyIPs(aggregate).has(ip),
                `aggregate ${original} lost ${ip} of unreadable mirror ${k.metadata.name}`,
              );
          }
        }
        assert.deepEqual(new Set(p.unreadable.filter((u) => u.role === 'source').map((u) => u.cluster)), unreadable);
      }),
      runs,
    );
  });

  it("EndpointSlice target, from any current state (mefi's, stale, the mirroring controller's, strangers'): deterministic, a fixed point, within the limit, touching only mefi's slices of readable clusters", () => {
    const sliceOptions = { ...options, target: 'endpointslices' as const, maxEndpointsPerSlice: 2 };
    const slicesOf = (input: PlanInput, target: string) => {
      const o = input.targets[target];
      return o?.ok ? (o.slices ?? []) : [];
    };
    fc.assert(
      fc.property(sliceWorld, fc.integer(), fc.boolean(), (input, seed, clusterServices) => {
        const o = { ...sliceOptions, clusterServices };
        const p = plan(o, input);
        assert.equal(JSON.stringify(plan(o, shuffled(input, seed))), JSON.stringify(p), 'deterministic');
        const unreadable = unreadableSources(input);
        for (const c of [...p.creates, ...p.updates])
          assert.ok(((c.object as unknown as SliceObject).endpoints ?? []).length <= 2, `${c.name} over the limit`);
        for (const c of [...p.updates, ...p.deletes]) {
          const current = slicesOf(input, c.target).find((x) => x.metadata.name === c.name);
          assert.ok(current && isMefiSlice(current, options), `${c.name} is not mefi's`);
          assert.ok(
            !unreadable.has(current.metadata.labels?.[options.sourceClusterLabel] ?? ''),
            `${c.name} belongs to an unreadable cluster`,
          );
        }
        for (const c of p.creates)
          assert.ok(
            !slicesOf(input, c.target).some((x) => x.metadata.name === c.name),
            `create over existing ${c.name}`,
          );
        // Apply as the API server would store it, and plan again: nothing left to do.
        const after = Object.fromEntries(
          Object.entries(input.targets).map(([t, o]) => {
            if (!o.ok) return [t, o];
            const state = new Map((o.slices ?? []).map((x) => [x.metadata.name, x]));
            for (const c of [...p.creates, ...p.updates])
              if (c.target === t) state.set(c.name, JSON.parse(JSON.stringify(c.object)) as SliceObject);
            for (const c of p.deletes) if (c.target === t) state.delete(c.name);
            return [t, { ok: true as const, items: [], slices: [...state.values()] }];
          }),
        );
        const again = plan(o, { sources: input.sources, targets: after });
        assert.ok(
          isEmpty(again),
          JSON.stringify(again.creates.concat(again.updates, again.deletes).map((c) => c.name)),
        );
      }),
      runs,
    );
  });
});
