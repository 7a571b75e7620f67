import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Trigger } from '../../lib/loop/trigger.ts';

const far = () => Date.now() + 60_000;

describe('the watching loop trigger', () => {
  it('starts a run on a change at once, not after a debounce', async () => {
    const t = new Trigger();
    const signal = new AbortController().signal;
    const started = Date.now();
    setTimeout(() => t.fire(), 5);
    assert.equal(await t.due(far(), signal), true);
    // A debounce or a coalescing window would be tens of ms; a minute means it never came.
    assert.ok(Date.now() - started < 1000, `${Date.now() - started} ms`);
  });

  it('coalesces the changes that came while a run was in flight into one run after it', async () => {
    const t = new Trigger();
    const signal = new AbortController().signal;
    t.fire();
    assert.equal(await t.due(far(), signal), true);
    // The run: changes arrive meanwhile.
    for (let i = 0; i < 10; i++) t.fire();
    assert.equal(await t.due(far(), signal), true, 'one run for all of them');
    assert.equal(await t.due(Date.now() + 30, signal), false, 'and no second one');
  });

  it('gives the events of the same turn to the same run', async () => {
    const t = new Trigger();
    const signal = new AbortController().signal;
    const due = t.due(far(), signal);
    t.fire();
    queueMicrotask(() => t.fire());
    assert.equal(await due, true);
    assert.equal(await t.due(Date.now() + 30, signal), false, 'the second event of that turn made no run of its own');
  });

  it('says false at the resync time, or when stopped', async () => {
    const t = new Trigger();
    const stop = new AbortController();
    assert.equal(await t.due(Date.now() + 20, stop.signal), false);
    setTimeout(() => stop.abort(), 10);
    assert.equal(await t.due(far(), stop.signal), false);
  });
});
