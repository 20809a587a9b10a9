import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'vitest';
import fc from 'fast-check';
import { listKey, peopleKey, SELF_KEY, threadKeyOf, titleOf } from './conversation.resolver.ts';

describe('conversation keys', () => {
  test('the key of a participant set ignores order and repetition, and differs for different sets', () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    assert.equal(peopleKey([a, b]), peopleKey([b, a]));
    assert.equal(peopleKey([a, b, a]), peopleKey([a, b]));
    assert.notEqual(peopleKey([a]), peopleKey([a, b]));
    assert.notEqual(peopleKey([a, b]), peopleKey([a, c]));
    assert.equal(peopleKey([]), SELF_KEY);
    assert.match(peopleKey([a]), /^people:[0-9a-f]{64}$/);
  });

  test('property: equal as sets <=> equal keys', () => {
    const ids = fc.array(fc.uuid(), { minLength: 1, maxLength: 6 });
    fc.assert(
      fc.property(ids, ids, (x, y) => {
        const same = new Set(x).size === new Set(y).size && x.every((i) => y.includes(i));
        assert.equal(peopleKey(x) === peopleKey(y), same);
        assert.equal(peopleKey(x), peopleKey(fc.sample(fc.shuffledSubarray(x, { minLength: x.length }), 1)[0]!));
      }),
      { numRuns: 500 },
    );
  });

  test('list keys are case-insensitive and never collide with people keys', () => {
    assert.equal(listKey('Dev.Lists.Example'), 'list:dev.lists.example');
    assert.notEqual(listKey('self'), SELF_KEY);
  });
});

describe('thread keys', () => {
  test('reply and forward prefixes in many languages, counters and list tags are ignored', () => {
    const base = threadKeyOf('Budget 2026');
    assert.equal(base, 'budget 2026');
    for (const s of [
      'Re: Budget 2026',
      'RE: RE: Fwd: budget 2026',
      'Fw: Budget 2026',
      'TR: Budget 2026',
      'AW: WG: Budget 2026',
      'SV: Budget 2026',
      'Re[2]: Budget 2026',
      'Re (3): Budget 2026',
      'RE : Budget 2026',
      '[dev-list] Re: Budget 2026',
      'Réf : Budget  2026',
      'Antw: Budget 2026',
      '回复：Budget 2026',
      '  re:budget 2026  ',
    ]) {
      assert.equal(threadKeyOf(s), base, s);
    }
    assert.notEqual(
      threadKeyOf('Reunion'),
      threadKeyOf('union'),
      'only a prefix followed by a colon is a reply marker',
    );
    assert.equal(threadKeyOf('Re: '), '');
    assert.equal(threadKeyOf(''), '');
  });

  test('never throws and stays short, whatever the subject', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 600 }), (s) => {
        const k = threadKeyOf(s);
        assert.ok(Array.from(k).length <= 200);
        assert.equal(threadKeyOf(k), threadKeyOf(threadKeyOf(k)));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('titles', () => {
  test('the first three names and how many more; the fallback when there is nobody', () => {
    const p = (name: string | null, address = `${name ?? 'x'}@x.example`) => ({
      contactId: randomUUID(),
      address,
      name,
    });
    assert.equal(titleOf([p('Alice')], 'x'), 'Alice');
    assert.equal(titleOf([p('Alice'), p(null, 'bob@b.example')], 'x'), 'Alice, bob@b.example');
    assert.equal(titleOf([p('A'), p('B'), p('C'), p('D'), p('E')], 'x'), 'A, B, C +2');
    assert.equal(titleOf([], 'Notes to self'), 'Notes to self');
  });
});
