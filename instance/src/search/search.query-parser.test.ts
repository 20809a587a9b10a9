import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import fc from 'fast-check';
import { AppError } from '../shared/errors.ts';
import {
  freeTextTerms,
  formatSearchQuery,
  parseSearchQuery,
  searchPage,
  SEARCH_DEFAULT_LIMIT,
  SEARCH_MAX_LIMIT,
  SEARCH_MAX_TERMS,
  SearchQueryError,
} from './search.query-parser.ts';

const day = (s: string): Date => new Date(`${s}T00:00:00.000Z`);

function assertQueryError(input: string, token: string, reason: RegExp): void {
  assert.throws(
    () => parseSearchQuery(input),
    (e: unknown) => {
      assert.ok(e instanceof SearchQueryError, `expected a SearchQueryError, got ${String(e)}`);
      assert.equal(e.token, token);
      assert.match(e.message, reason);
      assert.ok(e.message.includes(JSON.stringify(token)), 'the message names the token');
      return true;
    },
  );
}

describe('parseSearchQuery', () => {
  test('parses every filter of the language, and keeps free words and phrases as text', () => {
    const q = parseSearchQuery(
      'from:alice to:bob subject:"hello world" after:2024-01-01 before:2024-02-01 protocol:email pi>=50 tag:work free words "a phrase"',
    );
    assert.deepEqual(q, {
      from: 'alice',
      to: 'bob',
      subject: 'hello world',
      after: day('2024-01-01'),
      before: day('2024-02-01'),
      protocol: 'email',
      minPi: 50,
      tag: 'work',
      text: 'free words "a phrase"',
    });
  });

  test('an empty or blank query is an empty SearchQuery', () => {
    assert.deepEqual(parseSearchQuery(''), {});
    assert.deepEqual(parseSearchQuery(' \t\n '), {});
    assert.deepEqual(parseSearchQuery('""'), {});
  });

  test('keys are case-insensitive; values keep their case', () => {
    assert.deepEqual(parseSearchQuery('FROM:Alice Tag:Work PI>=10'), { from: 'Alice', tag: 'Work', minPi: 10 });
  });

  test('filters may sit anywhere among the words', () => {
    assert.deepEqual(parseSearchQuery('hello from:alice world'), { from: 'alice', text: 'hello world' });
  });

  test('unknown key: prefixes, URLs and times are words', () => {
    assert.deepEqual(parseSearchQuery('is:unread https://example.com 10:30 cc:bob'), {
      text: 'is:unread https://example.com 10:30 cc:bob',
    });
    assert.deepEqual(
      parseSearchQuery('from=alice'),
      { text: 'from=alice' },
      'only pi takes an operator other than ":"',
    );
  });

  test('a quoted phrase that looks like a filter stays text', () => {
    assert.deepEqual(parseSearchQuery('"from:alice" hello'), { text: '"from:alice" hello' });
  });

  test('a key with an empty value is ignored (the user is still typing)', () => {
    assert.deepEqual(parseSearchQuery('hello from:'), { text: 'hello' });
    assert.deepEqual(parseSearchQuery('tag:"" pi>='), {});
  });

  test('quoted values may contain spaces and colons', () => {
    assert.deepEqual(parseSearchQuery('from:"Alice Durand" subject:"Re: lunch"'), {
      from: 'Alice Durand',
      subject: 'Re: lunch',
    });
  });

  test('an unterminated quote runs to the end of the input', () => {
    assert.deepEqual(parseSearchQuery('hello "big world'), { text: 'hello "big world"' });
    assert.deepEqual(parseSearchQuery('subject:"big world'), { subject: 'big world' });
  });

  test('a quote inside a word ends the word and opens a phrase', () => {
    assert.deepEqual(parseSearchQuery('ab"cd ef"'), { text: 'ab "cd ef"' });
  });

  test('pi accepts >=, >, : and =', () => {
    assert.equal(parseSearchQuery('pi>=50').minPi, 50);
    assert.equal(parseSearchQuery('pi>50').minPi, 51);
    assert.equal(parseSearchQuery('pi:0').minPi, 0);
    assert.equal(parseSearchQuery('pi=100').minPi, 100);
    assert.equal(parseSearchQuery('pi>="70"').minPi, 70);
  });

  test('dates: a day is midnight UTC; date-times need a zone', () => {
    assert.deepEqual(parseSearchQuery('after:2024-02-29').after, day('2024-02-29'));
    assert.deepEqual(parseSearchQuery('after:2024-01-31T18:00Z').after, new Date('2024-01-31T18:00:00Z'));
    assert.deepEqual(
      parseSearchQuery('before:2024-01-31T18:00:30.250+02:00').before,
      new Date('2024-01-31T16:00:30.250Z'),
    );
    assert.deepEqual(parseSearchQuery('after:0024-01-01').after!.getUTCFullYear(), 24);
  });

  test('invalid dates name the bad token', () => {
    assertQueryError('after:yesterday', 'after:yesterday', /YYYY-MM-DD/);
    assertQueryError('hello before:2024-13-01', 'before:2024-13-01', /not a calendar date/);
    assertQueryError('after:2023-02-29', 'after:2023-02-29', /not a calendar date/);
    assertQueryError('after:2024-01-01T25:00Z', 'after:2024-01-01T25:00Z', /not a valid date-time/);
    assertQueryError('after:2024-01-01T10:00', 'after:2024-01-01T10:00', /with a zone/);
    assertQueryError('after:"2024-01-01 10:00"', 'after:"2024-01-01 10:00"', /YYYY-MM-DD/);
  });

  test('an empty date range is an error naming before:', () => {
    assertQueryError('after:2024-02-01 before:2024-01-01', 'before:2024-01-01', /empty/);
    assertQueryError('before:2024-01-01 after:2024-01-01', 'before:2024-01-01', /empty/);
  });

  test('invalid PI values name the bad token', () => {
    assertQueryError('pi>=high', 'pi>=high', /0 to 100/);
    assertQueryError('pi>=101', 'pi>=101', /0 to 100/);
    assertQueryError('pi>100', 'pi>100', /0 to 100/);
    assertQueryError('pi>=-5', 'pi>=-5', /0 to 100/);
    assertQueryError('pi>=5.5', 'pi>=5.5', /0 to 100/);
    assertQueryError('pi<50', 'pi<50', /lower bound/);
    assertQueryError('pi<=50', 'pi<=50', /lower bound/);
  });

  test('a filter given twice is an error naming the second one', () => {
    assertQueryError('tag:work tag:home', 'tag:home', /only once/);
    assertQueryError('pi>=10 pi:20', 'pi:20', /only once/);
  });

  test(`more than ${SEARCH_MAX_TERMS} words is an error`, () => {
    const words = Array.from({ length: SEARCH_MAX_TERMS + 1 }, (_, i) => `w${i}`);
    assert.equal(
      parseSearchQuery(words.slice(0, SEARCH_MAX_TERMS).join(' ')).text,
      words.slice(0, SEARCH_MAX_TERMS).join(' '),
    );
    assertQueryError(words.join(' '), `w${SEARCH_MAX_TERMS}`, /at most/);
  });

  test('the typed error is an AppError the HTTP layer maps to search_query_invalid', () => {
    try {
      parseSearchQuery('after:never');
      assert.fail('should throw');
    } catch (e) {
      assert.ok(e instanceof AppError);
      assert.equal(e.code, 'search_query_invalid');
      assert.equal(e.status, 400);
      assert.equal(e.name, 'SearchQueryError');
      assert.deepEqual(e.extra?.token, 'after:never');
    }
  });
});

describe('freeTextTerms', () => {
  test('splits words and phrases, and drops items without a letter or digit', () => {
    assert.deepEqual(freeTextTerms('hello "big world" - * ( ) "" ""x'), ['hello', 'big world', 'x']);
    assert.deepEqual(freeTextTerms(undefined), []);
    assert.deepEqual(freeTextTerms('NEAR(a b) "unbalanced'), ['NEAR(a', 'b)', 'unbalanced']);
  });

  test('normalises to NFC so that composed and decomposed input agree', () => {
    assert.deepEqual(freeTextTerms('e\u0301cole'), ['\u00e9cole']);
  });

  test('reads filter-looking text literally', () => {
    assert.deepEqual(freeTextTerms('from:alice subject:"a b"'), ['from:alice', 'subject:"a b"']);
  });
});

describe('searchPage', () => {
  test('defaults, clamps and rejects nonsense', () => {
    assert.deepEqual(searchPage({}), { limit: SEARCH_DEFAULT_LIMIT, offset: 0 });
    assert.deepEqual(searchPage({ limit: 0, offset: 5 }), { limit: 0, offset: 5 });
    assert.deepEqual(searchPage({ limit: 10 ** 9 }), { limit: SEARCH_MAX_LIMIT, offset: 0 });
    assert.deepEqual(searchPage({ limit: -1, offset: -1 }), { limit: SEARCH_DEFAULT_LIMIT, offset: 0 });
    assert.deepEqual(searchPage({ limit: 2.5, offset: Number.NaN }), { limit: SEARCH_DEFAULT_LIMIT, offset: 0 });
  });
});

describe('search query properties', () => {
  /** Characters that matter to the language, mixed with ordinary ones, so generated strings hit the edge cases. */
  const syntaxy = fc.string({
    unit: fc.constantFrom(
      'a',
      'é',
      'Z',
      '0',
      '5',
      ' ',
      '\t',
      '"',
      ':',
      '>',
      '<',
      '=',
      '-',
      '*',
      '(',
      ')',
      '.',
      '@',
      'from',
      'to',
      'subject',
      'after',
      'before',
      'protocol',
      'pi',
      'tag',
      '2024-01-01',
      '2024-02-30',
      'T10:00Z',
      '100',
      '101',
    ),
    maxLength: 40,
  });

  test('arbitrary input either parses or throws a SearchQueryError, never anything else', () => {
    for (const arb of [fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 100 }), syntaxy]) {
      fc.assert(
        fc.property(arb, (input) => {
          try {
            parseSearchQuery(input);
          } catch (e) {
            if (!(e instanceof SearchQueryError)) throw e;
            assert.ok(e.message.length > 0 && e.token.length > 0);
          }
        }),
        { numRuns: 2000 },
      );
    }
  });

  test('freeTextTerms never throws below the term limit and never returns an unsearchable term', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), syntaxy), (input) => {
        for (const t of freeTextTerms(input)) assert.match(t, /[\p{L}\p{N}]/u);
      }),
      { numRuns: 2000 },
    );
  });

  test('a parsed query, formatted and parsed again, is the same query', () => {
    fc.assert(
      fc.property(syntaxy, (input) => {
        let q;
        try {
          q = parseSearchQuery(input);
        } catch (e) {
          if (e instanceof SearchQueryError) return;
          throw e;
        }
        assert.deepEqual(parseSearchQuery(formatSearchQuery(q)), q);
      }),
      { numRuns: 2000 },
    );
  });

  test('well-formed filters always round-trip', () => {
    const value = fc.stringMatching(/^[a-zA-Z0-9éà@. -]{1,12}$/).filter((v) => v.trim() === v && v !== '');
    const date = fc.date({
      min: new Date('1970-01-01T00:00:00Z'),
      max: new Date('2100-01-01T00:00:00Z'),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(
        fc.record(
          {
            from: value,
            to: value,
            subject: value,
            protocol: value,
            tag: value,
            minPi: fc.integer({ min: 0, max: 100 }),
            after: date,
          },
          { requiredKeys: [], noNullPrototype: true },
        ),
        (q) => {
          assert.deepEqual(parseSearchQuery(formatSearchQuery(q)), q);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
