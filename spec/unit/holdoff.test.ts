import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Holdoff } from '../../lib/world/holdoff.ts';
import { holdCreates, type Change, type Plan } from '../../lib/plan/index.ts';

const k = 'alpha/mefi-system/web-beta';

describe('holding off a create that something else keeps deleting', () => {
  it("writes a first delete back at once (a person, a restart's sweep)", () => {
    const h = new Holdoff();
    assert.equal(h.deleted(k, 1_000), undefined);
    assert.equal(h.held(1_001).size, 0);
  });

  it('holds off a name deleted again after mefi wrote it back, for 1.5 times the time between the deletes, within the bounds', () => {
    const h = new Holdoff({ minMs: 1_000, maxMs: 60_000 });
    h.deleted(k, 0);
    h.written(k);
    assert.equal(h.deleted(k, 4_000), 10_000, 'the controller came back after 4 s: wait 6');
    assert.deepEqual([...h.held(9_999)], [[k, 10_000]]);
    assert.equal(h.held(10_000).size, 0, 'and no longer');
    h.written(k);
    assert.equal(h.deleted(k, 30_000), 69_000, 'deleted again: the wait grows with the time between deletes');
    h.written(k);
    assert.equal(h.deleted(k, 100_000), 160_000, 'capped at maxMs');
    h.written(k);
    assert.equal(h.deleted(k, 100_010), 101_010, 'at least minMs');
  });

  it('does not hold off a name deleted twice without mefi writing it in between', () => {
    const h = new Holdoff();
    h.deleted(k, 0);
    assert.equal(h.deleted(k, 500), undefined);
  });

  it('forgets a name once its deletes are long past: a delete then is a first one', () => {
    const h = new Holdoff({ minMs: 1_000, maxMs: 10_000 });
    h.deleted(k, 0);
    h.written(k);
    h.deleted('other', 100_000); // time passes; the old entry is dropped on a later delete
    assert.equal(h.deleted(k, 100_001), undefined);
  });
});

describe('holdCreates (a plan policy)', () => {
  const create = (name: string): Change => ({
    target: 'alpha',
    role: 'mirror',
    namespace: 'mefi-system',
    name,
    originalName: 'web',
  });
  const plan: Plan = {
    creates: [create('web-beta'), create('web-gamma')],
    updates: [],
    deletes: [],
    leases: [],
    unreadable: [],
    problems: [],
  };

  it('takes out the creates held past now, each a blocking problem that says until when and why', () => {
    const out = holdCreates(plan, new Map([[k, 5_000]]), 1_000);
    assert.deepEqual(
      out.creates.map((c) => c.name),
      ['web-gamma'],
    );
    assert.equal(out.problems.length, 1);
    assert.equal(out.problems[0]!.code, 'deleted-again');
    assert.equal(out.problems[0]!.blocking, true);
    assert.equal(out.problems[0]!.name, 'web-beta');
    assert.match(out.problems[0]!.message, /1970-01-01T00:00:05\.000Z.*Endpoints controller/);
  });

  it('leaves the plan as it is when nothing is held, or the hold is over', () => {
    assert.equal(holdCreates(plan, new Map(), 1_000), plan);
    assert.equal(holdCreates(plan, new Map([[k, 1_000]]), 1_000), plan);
  });
});
