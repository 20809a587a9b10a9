import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { freeTerms, queryChips, removeChip, tokenizeQuery } from './query-chips.ts';

describe('the search language as chips', () => {
  test('filters become chips with their key, operator and value; the rest is free text', () => {
    const q = 'lunch from:anna to:"Bob Martin" pi>=50 "see you" after:2026-01-01';
    const chips = queryChips(q);
    assert.deepEqual(
      chips.map((c) => [c.key, c.op, c.value, c.raw]),
      [
        ['from', ':', 'anna', 'from:anna'],
        ['to', ':', 'Bob Martin', 'to:"Bob Martin"'],
        ['pi', '>=', '50', 'pi>=50'],
        ['after', ':', '2026-01-01', 'after:2026-01-01'],
      ],
    );
    assert.deepEqual(freeTerms(q), ['lunch', 'see you']);
  });

  test('keys are case-insensitive; unknown keys, times and URLs stay words (as the instance reads them)', () => {
    assert.deepEqual(
      queryChips('FROM:anna').map((c) => c.key),
      ['from'],
    );
    assert.deepEqual(queryChips('is:unread 10:30 http://x.example has:attachment'), []);
    assert.deepEqual(freeTerms('is:unread 10:30'), ['is:unread', '10:30']);
    // Only pi takes a comparison: `from>=x` is a word.
    assert.deepEqual(queryChips('from>=x'), []);
  });

  test('a filter still being typed (no value) is not a chip; a phrase of spaces or punctuation is no term', () => {
    assert.deepEqual(queryChips('from: hello'), []);
    assert.deepEqual(freeTerms('" " - * hello'), ['hello']);
  });

  test('removing a chip removes exactly its text, spaces tidied', () => {
    const q = 'report to:"Bob Martin" from:anna  budget';
    const [to, from] = queryChips(q);
    assert.equal(removeChip(q, to!), 'report from:anna budget');
    assert.equal(removeChip(q, from!), 'report to:"Bob Martin" budget');
    assert.equal(removeChip(removeChip(q, from!), queryChips(removeChip(q, from!))[0]!), 'report budget');
  });

  test('hostile input never throws: unterminated quotes, quotes inside words, control characters, long input', () => {
    for (const q of [
      '"unterminated',
      'from:"open',
      'a"b"c',
      '\u0000\u202e from:\u0007x',
      `${'from:a '.repeat(5000)}`,
    ]) {
      const tokens = tokenizeQuery(q);
      assert.ok(Array.isArray(tokens));
      for (const c of queryChips(q)) assert.equal(q.slice(c.start, c.end), c.raw);
    }
    assert.deepEqual(
      queryChips('from:"open').map((c) => c.value),
      ['open'],
    );
  });
});
