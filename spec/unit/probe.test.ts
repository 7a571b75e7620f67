// The probe's connect and its memory, against loopback only: a port that
// listens and one that refuses both answer. (Silence, a blackholed route, is
// the real bed's to show: spec/integration/bed.test.ts.)

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { probeKey } from '../../lib/plan/index.ts';
import { probeOnce, Prober } from '../../lib/world/probe.ts';

function listen(): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer((c) => c.destroy()).listen(0, '127.0.0.1', () => resolve(s));
  });
}

describe('probe', () => {
  let open: Server;
  let openPort = 0;
  let closedPort = 0;

  before(async () => {
    open = await listen();
    openPort = (open.address() as { port: number }).port;
    const closed = await listen();
    closedPort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
  });
  after(() => new Promise((r) => open.close(r)));

  it('a listening port answers, and so does a refusing one (the path to the address is there)', async () => {
    assert.equal(await probeOnce('127.0.0.1', openPort, 1000), true);
    assert.equal(await probeOnce('127.0.0.1', closedPort, 1000), true);
  });

  it("reuses results younger than the maximum age, probes again older ones, and keeps the unreachable set's identity while it is unchanged", async () => {
    const prober = new Prober({ timeoutMs: 1000, concurrency: 10 });
    const candidates = [
      { cluster: 'b', ip: '127.0.0.1', port: openPort, key: probeKey('127.0.0.1', openPort) },
      { cluster: 'b', ip: '127.0.0.1', port: closedPort, key: probeKey('127.0.0.1', closedPort) },
    ];
    const first = await prober.check(candidates, 60_000);
    assert.deepEqual([first.probed, first.unprobed, first.unreachable.size], [2, 0, 0]);
    const reused = await prober.check(candidates, 60_000);
    assert.equal(reused.probed, 0);
    assert.equal(reused.unreachable, first.unreachable);
    const again = await prober.check(candidates, 0);
    assert.equal(again.probed, 2);
    assert.equal(again.unreachable, first.unreachable, 'same keys, same Set');
  });
});
