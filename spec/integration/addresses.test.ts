// The planner's address rules against the API server's own validation: every
// address mefi keeps is one the server accepts (in the form mefi writes), and
// every address the server accepts mefi keeps, unless it is in a range the
// design drops on purpose. Candidates are generated (fast-check, fixed seed)
// near the edges: IPv4, IPv6, mixed, octal and hex forms, garbage.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import pLimit from 'p-limit';
import { normalizeSubsets } from '../../lib/plan/index.ts';
import { admin, ensureNamespace, skip, uid } from '../support/world.ts';

describe('addresses, as the API server judges them', { skip }, () => {
  it('mefi never writes an address the server refuses, and never drops one it accepts outside the refused ranges', async () => {
    const ns = `ips-${uid()}`;
    await ensureNamespace('alpha', ns);
    const hexish = fc.string({ unit: fc.constantFrom(...'0123456789abcdef:.'), minLength: 1, maxLength: 20 });
    const candidates = fc.sample(
      fc.oneof(
        fc.ipV4(),
        fc.ipV6(),
        fc.ipV4Extended(),
        hexish,
        fc.tuple(fc.ipV4(), fc.constantFrom('::', '::1', ':1')).map(([a, b]) => a + b),
      ),
      { numRuns: 150, seed: 42 },
    );
    let n = 0;
    const accepts = async (ip: string): Promise<boolean> => {
      const name = `a${n++}`;
      try {
        await admin('alpha').request({
          verb: 'create',
          resource: 'endpoints',
          namespace: ns,
          path: `/api/v1/namespaces/${ns}/endpoints`,
          body: {
            apiVersion: 'v1',
            kind: 'Endpoints',
            metadata: { name },
            subsets: [{ addresses: [{ ip }], ports: [{ port: 80 }] }],
          },
        });
        return true;
      } catch (err) {
        if ((err as { status?: number }).status !== 422) throw err;
        return false;
      }
    };
    const limit = pLimit(8);
    const verdicts = await Promise.all(
      [...new Set(candidates)].map((ip) =>
        limit(async () => {
          const { subsets, dropped } = normalizeSubsets([{ addresses: [{ ip }], ports: [{ port: 80 }] }]);
          const kept = subsets[0]?.addresses[0]?.ip;
          return {
            ip,
            kept,
            why: dropped[0]?.message,
            server: await accepts(ip),
            serverTakesKept: kept === undefined ? undefined : await accepts(kept),
          };
        }),
      ),
    );
    for (const v of verdicts) {
      if (v.kept !== undefined)
        assert.equal(v.serverTakesKept, true, `mefi keeps ${v.ip} as ${v.kept}, which the server refuses`);
      // The server refuses only link-local multicast; DESIGN.md §4 drops every multicast address (never a pod's).
      if (v.server)
        assert.ok(
          v.kept !== undefined || /is multicast$/.test(v.why ?? ''),
          `the server accepts ${v.ip}, mefi drops it: ${v.why}`,
        );
    }
    assert.ok(
      verdicts.filter((v) => v.server).length > 20 && verdicts.filter((v) => !v.server).length > 20,
      'both sides of the line were tried',
    );
  });
});
