// DESIGN.md §3's invariants in MCS mode (§9), each a property over generated
// clustersets: random exports (valid or not, conflicting, of every type),
// random target states (mefi's own, garbage, a stranger's on a wanted name,
// namespaces missing), clusters that cannot be read.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isEmpty, plan, type Change, type PlanInput, type ServiceExportObject } from '../../lib/plan/index.ts';
import { isOwned } from '../../lib/plan/object.ts';
import { derivedName, isDerivedService } from '../../lib/plan/mcs/derived.ts';
import { isMcsSlice } from '../../lib/plan/mcs/slices.ts';
import { shuffled } from '../support/arbitraries.ts';
import { unreadableSources } from '../support/fixtures.ts';
import { applied, mcsOptions, mcsWorld, NOW } from '../support/mcs.ts';

const runs = { numRuns: Number(process.env.MEFI_PROPERTY_RUNS ?? 400) };
const names = (cs: Change[]) => cs.map((c) => `${c.target} ${c.kind} ${c.namespace}/${c.name}`);
const ok = (input: PlanInput, cluster: string, side: 'sources' | 'targets') => {
  const o = input[side][cluster];
  return o?.ok ? o : undefined;
};

describe('MCS planner invariants (property tests)', () => {
  it('is deterministic: the same clusterset in any order gives the same plan, byte for byte', () => {
    fc.assert(
      fc.property(mcsWorld, fc.integer(), (input, seed) => {
        assert.equal(JSON.stringify(plan(mcsOptions, shuffled(input, seed))), JSON.stringify(plan(mcsOptions, input)));
      }),
      runs,
    );
  });

  it("writes two sets of the same endpoints per import and cluster: the import's (its KEP labels) and its derived Service's (kubernetes.io/service-name), never one slice with both", () => {
    fc.assert(
      fc.property(mcsWorld, (input) => {
        const p = plan(mcsOptions, input);
        const after = applied(input, p);
        // What an unreadable cluster has stays as it is: the sets this run wrote are compared.
        const written = new Set(
          [...p.creates, ...p.updates]
            .filter((c) => c.kind === 'EndpointSlice')
            .map((c) => `${c.target} ${c.namespace}/${c.originalName}/${c.cluster}`),
        );
        for (const [t, o] of Object.entries(after.targets)) {
          if (!o.ok) continue;
          const sets = new Map<string, Map<string, string[]>>();
          for (const s of (o.slices ?? []).filter((x) => isMcsSlice(x, mcsOptions))) {
            const l = s.metadata.labels!;
            const ns = s.metadata.namespace ?? '';
            const name = l['multicluster.kubernetes.io/service-name'];
            const service = l['kubernetes.io/service-name'];
            // As a consumer of both reads them (Envoy Gateway): the Service's label first.
            const set = service !== undefined ? 'derived' : 'import';
            const of =
              set === 'import'
                ? name
                : (name ??
                  o.serviceImports?.find(
                    (i) => i.metadata.namespace === ns && derivedName(ns, i.metadata.name) === service,
                  )?.metadata.name);
            if (of === undefined) continue; // a derived set whose import is gone: nothing to compare it with
            const key = `${ns}/${of}/${l['multicluster.kubernetes.io/source-cluster']}`;
            if (name !== undefined && service !== undefined && written.has(`${t} ${key}`))
              assert.fail(`${t}: ${ns}/${s.metadata.name} has both labels`);
            if (!sets.has(key)) sets.set(key, new Map());
            const eps = (s.endpoints ?? []).map(
              (e) => `${e.addresses[0]} ${e.conditions?.ready !== false} ${s.ports?.map((p) => p.port).join()}`,
            );
            sets.get(key)!.set(set, [...(sets.get(key)!.get(set) ?? []), ...eps]);
          }
          for (const [key, set] of sets) {
            if (!written.has(`${t} ${key}`)) continue;
            assert.deepEqual(
              (set.get('import') ?? []).sort(),
              (set.get('derived') ?? []).sort(),
              `${t} ${key}: the import's set and the derived Service's`,
            );
          }
        }
      }),
      runs,
    );
  });

  it('reaches a fixed point: applying the plan (ips filled in as apply does), then planning again, gives nothing to do', () => {
    fc.assert(
      fc.property(mcsWorld, fc.constantFrom(1, 2, 100), (input, max) => {
        const o = { ...mcsOptions, maxEndpointsPerSlice: max };
        const again = plan(o, applied(input, plan(o, input)));
        assert.ok(isEmpty(again), JSON.stringify(names([...again.creates, ...again.updates, ...again.deletes])));
        // A later run, the world unchanged: no status is rewritten either (lastTransitionTime holds).
        assert.ok(isEmpty(plan(o, { ...applied(input, plan(o, input)), now: NOW + 60_000 })));
      }),
      runs,
    );
  });

  it('respects ownership: updates and deletes only what mefi owns, never creates over a taken name, writes no more than a status of a ServiceExport', () => {
    fc.assert(
      fc.property(mcsWorld, fc.constantFrom<'sync' | 'upsert-only'>('sync', 'upsert-only'), (input, policy) => {
        const p = plan({ ...mcsOptions, policy }, input);
        if (policy === 'upsert-only') assert.equal(p.deletes.length, 0);
        for (const c of [...p.updates, ...p.deletes]) {
          if (c.kind === 'ServiceExportStatus') {
            const e = ok(input, c.target, 'sources')?.serviceExports?.find(
              (x) => x.metadata.namespace === c.namespace && x.metadata.name === c.name,
            );
            assert.ok(e, `status of a ServiceExport ${c.namespace}/${c.name} that ${c.target} does not have`);
            assert.deepEqual(c.writes, ['status']);
            assert.deepEqual(
              (c.object as ServiceExportObject).spec ?? null,
              e.spec ?? null,
              "the export's spec is never changed",
            );
            continue;
          }
          const t = ok(input, c.target, 'targets')!;
          const at = (x: { metadata: { namespace?: string; name: string } }) =>
            x.metadata.namespace === c.namespace && x.metadata.name === c.name;
          const current =
            c.kind === 'ServiceImport'
              ? t.serviceImports?.find(at)
              : c.kind === 'Service'
                ? t.services?.find(at)
                : t.slices?.find(at);
          assert.ok(current, `${c.kind} ${c.namespace}/${c.name} does not exist in ${c.target}`);
          const mine =
            c.kind === 'ServiceImport'
              ? isOwned(current, mcsOptions)
              : c.kind === 'Service'
                ? isDerivedService(current as never, mcsOptions)
                : isMcsSlice(current as never, mcsOptions);
          assert.ok(mine, `${c.kind} ${c.namespace}/${c.name} in ${c.target} is not mefi's`);
        }
        for (const c of p.creates) {
          const t = ok(input, c.target, 'targets')!;
          const at = (x: { metadata: { namespace?: string; name: string } }) =>
            x.metadata.namespace === c.namespace && x.metadata.name === c.name;
          const list = c.kind === 'ServiceImport' ? t.serviceImports : c.kind === 'Service' ? t.services : t.slices;
          assert.ok(!list?.some(at), `create over existing ${c.kind} ${c.namespace}/${c.name}`);
        }
        // Targets are written in the export's own namespace only.
        const exported = new Set(
          Object.values(input.sources).flatMap((o) =>
            o.ok ? (o.serviceExports ?? []).map((e) => `${e.metadata.namespace}/${e.metadata.name}`) : [],
          ),
        );
        for (const c of p.creates)
          assert.ok(
            exported.has(`${c.namespace}/${c.originalName}`),
            `${c.kind} ${c.namespace}/${c.name} for nothing exported`,
          );
      }),
      runs,
    );
  });

  it("is safe under partial failure: an unreadable cluster's slices stay, and so does every import that lists it", () => {
    fc.assert(
      fc.property(mcsWorld, (input) => {
        const unreadable = unreadableSources(input);
        const p = plan(mcsOptions, input);
        const touched = new Set(names([...p.updates, ...p.deletes]));
        for (const [target, o] of Object.entries(input.targets)) {
          if (!o.ok) continue;
          for (const s of (o.slices ?? []).filter(
            (x) =>
              isMcsSlice(x, mcsOptions) &&
              unreadable.has(x.metadata.labels!['multicluster.kubernetes.io/source-cluster']!),
          ))
            assert.ok(
              !touched.has(`${target} EndpointSlice ${s.metadata.namespace}/${s.metadata.name}`),
              `slice ${s.metadata.name} of an unreadable cluster touched in ${target}`,
            );
          for (const i of (o.serviceImports ?? []).filter(
            (x) => isOwned(x, mcsOptions) && (x.status?.clusters ?? []).some((c) => unreadable.has(c.cluster)),
          ))
            assert.ok(
              !touched.has(`${target} ServiceImport ${i.metadata.namespace}/${i.metadata.name}`),
              `import ${i.metadata.name} listing an unreadable cluster touched in ${target}`,
            );
        }
        assert.deepEqual(new Set(p.unreadable.filter((u) => u.role === 'source').map((u) => u.cluster)), unreadable);
      }),
      runs,
    );
  });

  it("serves the KEP's import: every written import merges the valid exports, oldest first, and its slices carry only ports it has", () => {
    fc.assert(
      fc.property(mcsWorld, (input) => {
        const p = plan(mcsOptions, input);
        for (const c of [...p.creates, ...p.updates].filter((x) => x.kind === 'EndpointSlice')) {
          const slice = c.object as { metadata: { labels?: Record<string, string> }; ports?: { name?: string }[] };
          // Either set: the import's own names it, the derived Service's through its name.
          const name = c.originalName;
          const imp = [...p.creates, ...p.updates].find(
            (x) =>
              x.kind === 'ServiceImport' && x.target === c.target && x.namespace === c.namespace && x.name === name,
          )?.object as { spec: { ports: { name?: string }[] } } | undefined;
          const stored = ok(input, c.target, 'targets')!.serviceImports?.find(
            (x) => x.metadata.namespace === c.namespace && x.metadata.name === name,
          );
          const ports = (imp ?? stored)?.spec.ports;
          assert.ok(ports, `slice ${c.name} of no import`);
          for (const port of slice.ports ?? [])
            assert.ok(
              ports.some((q) => (q.name ?? '') === (port.name ?? '')),
              `slice ${c.name} has port ${port.name} its import does not`,
            );
        }
      }),
      runs,
    );
  });
});
