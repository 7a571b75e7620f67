// --leader-elect's rules (lib/loop/leader.ts), as client-go's leaderelection
// has them: who may take the Lease, and what taking or renewing writes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acquired, mayAcquire, recordKey, type LeaseRecord } from '../../lib/loop/leader.ts';

const T = Date.parse('2026-12-07T12:00:00Z');
const held = (holder: string, renewed = T): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: new Date(T - 60_000).toISOString(),
  renewTime: new Date(renewed).toISOString(),
  leaseTransitions: 3,
});

describe('leader election: who may take the Lease', () => {
  it('anyone, when no one holds it (none yet, or released on SIGTERM)', () => {
    assert.equal(mayAcquire(undefined, undefined, T, 'b', 15_000), true);
    assert.equal(mayAcquire({ ...held('a'), holderIdentity: '' }, undefined, T, 'b', 15_000), true);
  });

  it('its holder, always: that is a renewal', () => {
    assert.equal(mayAcquire(held('a'), undefined, T, 'a', 15_000), true);
  });

  it("another replica, only once the holder's record has stood unchanged for a lease duration by its own clock", () => {
    const r = held('a');
    const seen = { key: recordKey(r), atMs: T + 5_000 };
    // Its clock, not the record's: the renew time is an hour old, but it saw the record only now.
    assert.equal(mayAcquire(r, seen, T + 5_000 + 14_999, 'b', 15_000), false);
    assert.equal(mayAcquire(r, seen, T + 5_000 + 15_000, 'b', 15_000), true);
    // Never seen, or seen changed since: it waits a lease duration from now.
    assert.equal(mayAcquire(r, undefined, T + 3_600_000, 'b', 15_000), false);
    assert.equal(mayAcquire(held('a', T + 2_000), seen, T + 60_000, 'b', 15_000), false);
  });

  it("counts the holder's own lease duration, not its own", () => {
    const r = { ...held('a'), leaseDurationSeconds: 60 };
    const seen = { key: recordKey(r), atMs: T };
    assert.equal(mayAcquire(r, seen, T + 30_000, 'b', 15_000), false);
    assert.equal(mayAcquire(r, seen, T + 60_000, 'b', 15_000), true);
  });
});

describe('leader election: what taking and renewing write', () => {
  it('a renewal keeps the acquire time and the transitions, and moves the renew time', () => {
    const r = acquired(held('a'), 'a', T + 2_000, 15_000);
    assert.equal(r.holderIdentity, 'a');
    assert.equal(r.acquireTime, held('a').acquireTime);
    assert.equal(r.leaseTransitions, 3);
    assert.equal(r.renewTime, '2026-12-07T12:00:02.000000Z');
    assert.equal(r.leaseDurationSeconds, 15);
  });

  it('taking it from another counts a transition and starts a new acquire time; taking a free one does not count', () => {
    const taken = acquired(held('a'), 'b', T, 15_000);
    assert.deepEqual(
      [taken.holderIdentity, taken.leaseTransitions, taken.acquireTime],
      ['b', 4, '2026-12-07T12:00:00.000000Z'],
    );
    assert.equal(acquired({ ...held('a'), holderIdentity: '' }, 'b', T, 15_000).leaseTransitions, 3);
    assert.equal(acquired(undefined, 'b', T, 15_000).leaseTransitions, 0);
  });
});
