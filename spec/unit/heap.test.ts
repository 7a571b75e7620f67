import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Resting } from '../../lib/loop/heap.ts';

describe('giving memory back when the loop rests', () => {
  it('collects at once after a run that planned everything', () => {
    let n = 0;
    new Resting({ collect: () => n++ }).ended(true);
    assert.equal(n, 1);
  });

  it('after other runs, collects once the loop has rested, not while runs follow each other', async () => {
    let n = 0;
    const r = new Resting({ idleMs: 40, everyMs: 0, collect: () => n++ });
    for (let i = 0; i < 5; i++) {
      r.ended(false);
      await sleep(10);
      r.started(); // the next run came before the loop rested
    }
    r.ended(false);
    assert.equal(n, 0, 'not while runs follow each other');
    await sleep(80);
    assert.equal(n, 1, 'once rested');
  });

  it('collects at most every everyMs, full plans included', async () => {
    let n = 0;
    const r = new Resting({ idleMs: 5, everyMs: 200, collect: () => n++ });
    r.ended(true);
    r.ended(true);
    await sleep(60);
    assert.equal(n, 1, 'the second came too soon after the last collection');
    await sleep(200);
    assert.equal(n, 2, 'and is collected when everyMs has passed');
  });

  it('a loop whose runs come closer than everyMs (--interval 1s) collects at the end of a run, everyMs apart', async () => {
    const at: number[] = [];
    const r = new Resting({ idleMs: 5, everyMs: 100, collect: () => at.push(Date.now()) });
    // Fifteen runs, however long a loaded machine makes them: the count follows the time they took.
    const started = Date.now();
    for (let i = 0; i < 15; i++) {
      r.started();
      await sleep(5); // the run
      r.ended(true);
      await sleep(25); // the pause
    }
    const elapsed = Date.now() - started;
    const most = Math.floor(elapsed / 100) + 1;
    assert.ok(at.length >= 2 && at.length <= most, `${at.length} collections in ${elapsed} ms (at most ${most})`);
    for (let i = 1; i < at.length; i++)
      // everyMs by Resting's clock; this test reads the clock a moment after it, so its own spacing may show a millisecond less.
      assert.ok(at[i]! - at[i - 1]! >= 99, `collections ${at[i]! - at[i - 1]!} ms apart`);
  });
});
