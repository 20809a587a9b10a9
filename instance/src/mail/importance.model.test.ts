import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import fc from 'fast-check';
import {
  importanceLevelOf,
  importanceOf,
  IMPORTANCE_LEVELS,
  IMPORTANCE_VALUES,
  userTagsOf,
  type ImportanceFacts,
  type ImportanceLevel,
} from './importance.model.ts';
import { referencedMessageIds } from '../messages/importance.service.ts';
import type { DmarcResult, SpfResult } from './message.facts.ts';

const PASS: ImportanceFacts['authentication'] = { spf: 'pass', dmarc: { result: 'pass', policy: 'reject' } };

const base = (over: Partial<ImportanceFacts> = {}): ImportanceFacts => ({
  direction: 'inbound',
  senderIsContact: false,
  senderWrittenTo: false,
  repliesTo: null,
  feedback: null,
  userTags: [],
  listId: null,
  authentication: PASS,
  spamFilter: null,
  ...over,
});

const level = (over: Partial<ImportanceFacts>) => importanceOf(base(over)).level;
const ids = (over: Partial<ImportanceFacts>) => importanceOf(base(over)).reasons.map((r) => r.id);
const value = (l: ImportanceLevel) => IMPORTANCE_VALUES[l];

const spfResults: SpfResult[] = ['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy'];
const dmarcResults: DmarcResult[] = ['pass', 'fail', 'none', 'temperror', 'permerror'];

const factsArb: fc.Arbitrary<ImportanceFacts> = fc.record({
  direction: fc.constantFrom('inbound' as const, 'outbound' as const),
  senderIsContact: fc.boolean(),
  senderWrittenTo: fc.boolean(),
  repliesTo: fc.option(fc.constantFrom('<a@x>', '<b@y>'), { nil: null }),
  feedback: fc.constantFrom(null, 'important' as const, 'junk' as const, 'not-junk' as const),
  userTags: fc.array(fc.constantFrom('INBOX', 'sent', 'bounce', 'Family', 'work', '[Gmail]/Spam', 'INBOX.Drafts'), {
    maxLength: 4,
  }),
  listId: fc.option(fc.constant('dev.lists.example'), { nil: null }),
  authentication: fc.option(
    fc.record({
      spf: fc.constantFrom(...spfResults),
      dmarc: fc.record({
        result: fc.constantFrom(...dmarcResults),
        policy: fc.constantFrom(null, 'none', 'quarantine', 'reject', 'REJECT'),
      }),
    }),
    { nil: null },
  ),
  spamFilter: fc.constantFrom(null, 'spam' as const, 'ham' as const),
});

describe('importance model: the rules', () => {
  test('levels and their stored integers; stored values read back clamped', () => {
    assert.deepEqual(IMPORTANCE_LEVELS.map(value), [2, 1, 0, -1, -2]);
    for (const l of IMPORTANCE_LEVELS) assert.equal(importanceLevelOf(value(l)), l);
    assert.equal(importanceLevelOf(7), 'important');
    assert.equal(importanceLevelOf(-9), 'junk');
    assert.equal(importanceLevelOf(Number.NaN), 'normal');
  });

  test('an unknown sender with nothing special is normal, with no reasons', () => {
    assert.deepEqual(importanceOf(base()), { level: 'normal', score: 0, reasons: [] });
  });

  test('a known sender is high: a contact the user kept, or an address the user has written to', () => {
    assert.equal(level({ senderIsContact: true }), 'high');
    assert.deepEqual(ids({ senderIsContact: true }), ['sender.contact']);
    assert.equal(level({ senderWrittenTo: true }), 'high');
    assert.deepEqual(ids({ senderWrittenTo: true }), ['sender.written-to']);
  });

  test('a reply to one of your messages is high; from a known sender it is important', () => {
    const r = importanceOf(base({ repliesTo: '<sent-1@alpha.test>' }));
    assert.equal(r.level, 'high');
    assert.match(r.reasons[0]!.evidence, /<sent-1@alpha\.test>/);
    assert.equal(level({ repliesTo: '<sent-1@alpha.test>', senderWrittenTo: true }), 'important');
  });

  test('spam verdicts from verified facts: DMARC fail under reject/quarantine is junk, SPF fail is low', () => {
    assert.equal(level({ authentication: { spf: 'pass', dmarc: { result: 'fail', policy: 'reject' } } }), 'junk');
    assert.equal(level({ authentication: { spf: 'pass', dmarc: { result: 'fail', policy: 'quarantine' } } }), 'junk');
    assert.equal(
      level({ authentication: { spf: 'pass', dmarc: { result: 'fail', policy: 'none' } } }),
      'normal',
      'p=none: the domain asks for nothing',
    );
    assert.equal(level({ authentication: { spf: 'fail', dmarc: { result: 'pass', policy: 'reject' } } }), 'low');
    assert.equal(
      level({ authentication: { spf: 'softfail', dmarc: { result: 'none', policy: null } } }),
      'normal',
      'a softfail is no verdict',
    );
    assert.equal(level({ authentication: null }), 'normal', 'nothing verified (local, import): no verdict');
  });

  test('a failed DMARC voids the known-sender signal: a spoofer cannot borrow a contact’s standing', () => {
    const spoof = {
      senderIsContact: true,
      authentication: { spf: 'fail' as const, dmarc: { result: 'fail' as const, policy: 'reject' } },
    };
    assert.equal(level(spoof), 'junk');
    assert.ok(ids(spoof).includes('sender.unproven'));
    assert.equal(
      level({ senderIsContact: true, authentication: { spf: 'pass', dmarc: { result: 'fail', policy: 'none' } } }),
      'normal',
    );
  });

  test('user tags lift to at least normal; protocol tags do not count', () => {
    const junk = { authentication: { spf: 'fail' as const, dmarc: { result: 'fail' as const, policy: 'reject' } } };
    assert.equal(level({ ...junk, userTags: ['INBOX', 'sent'] }), 'junk');
    assert.equal(level({ ...junk, userTags: ['INBOX', 'Family'] }), 'normal');
    assert.ok(ids({ ...junk, userTags: ['Family'] }).includes('tags.user'));
    assert.equal(level({ senderIsContact: true, userTags: ['Family'] }), 'high', 'a floor, never a cap');
    assert.deepEqual(
      userTagsOf(['INBOX', 'Sent', 'bounce', '[Gmail]/All Mail', 'INBOX.Trash', 'Junk', 'INBOX/Family', 'work']),
      ['INBOX/Family', 'work'],
    );
  });

  test('mailing-list mail is at most normal, unless the user says otherwise', () => {
    assert.equal(level({ listId: 'dev.lists.example', senderIsContact: true, repliesTo: '<x@y>' }), 'normal');
    assert.ok(ids({ listId: 'dev.lists.example', senderIsContact: true }).includes('list'));
    assert.equal(
      level({ listId: 'dev.lists.example', authentication: { spf: 'fail', dmarc: { result: 'pass', policy: null } } }),
      'low',
      'a cap, never a floor',
    );
    assert.equal(level({ listId: 'dev.lists.example', feedback: 'important' }), 'important');
  });

  test('the account’s own mail is normal; feedback still applies', () => {
    assert.equal(level({ direction: 'outbound', senderIsContact: true, repliesTo: '<x@y>' }), 'normal');
    assert.equal(level({ direction: 'outbound', feedback: 'junk' }), 'junk');
  });

  test('the spam filter saying spam makes it junk on its own; a known sender lifts it to low only; ham changes nothing', () => {
    assert.equal(level({ spamFilter: 'spam' }), 'junk');
    assert.ok(ids({ spamFilter: 'spam' }).includes('spam.filter'));
    assert.equal(level({ spamFilter: 'spam', senderIsContact: true }), 'low');
    assert.equal(level({ spamFilter: 'ham' }), 'normal');
    assert.equal(level({ spamFilter: 'spam', direction: 'outbound' }), 'normal', 'own mail is never filtered');
  });

  test('not junk: at least normal whatever the spam signals, never lower than without it', () => {
    const spoofed = { spf: 'fail' as const, dmarc: { result: 'fail' as const, policy: 'reject' } };
    assert.equal(level({ spamFilter: 'spam', authentication: spoofed, feedback: 'not-junk' }), 'normal');
    assert.equal(level({ senderIsContact: true, feedback: 'not-junk' }), 'high');
    assert.ok(ids({ spamFilter: 'spam', feedback: 'not-junk' }).includes('feedback.not-junk'));
  });

  test('feedback overrides everything and says so', () => {
    const r = importanceOf(base({ senderIsContact: true, repliesTo: '<x@y>', feedback: 'junk' }));
    assert.equal(r.level, 'junk');
    assert.equal(r.reasons.at(-1)!.id, 'feedback.junk');
    assert.equal(
      level({ authentication: { spf: 'fail', dmarc: { result: 'fail', policy: 'reject' } }, feedback: 'important' }),
      'important',
    );
  });
});

describe('importance model: laws (fast-check)', () => {
  test('feedback `important` always yields important, `junk` always junk', () => {
    fc.assert(
      fc.property(factsArb, (f) => {
        assert.equal(importanceOf({ ...f, feedback: 'important' }).level, 'important');
        assert.equal(importanceOf({ ...f, feedback: 'junk' }).level, 'junk');
      }),
      { numRuns: 500 },
    );
  });

  test('a known sender never lowers importance (contact or written to), nor does a reply to you', () => {
    fc.assert(
      fc.property(factsArb, (f) => {
        const without = value(importanceOf({ ...f, senderIsContact: false, senderWrittenTo: false }).level);
        assert.ok(value(importanceOf({ ...f, senderIsContact: true }).level) >= without);
        assert.ok(value(importanceOf({ ...f, senderWrittenTo: true }).level) >= without);
        assert.ok(
          value(importanceOf({ ...f, repliesTo: '<sent@alpha.test>' }).level) >=
            value(importanceOf({ ...f, repliesTo: null }).level),
        );
      }),
      { numRuns: 500 },
    );
  });

  test('a spam verdict never raises importance; user tags never lower it', () => {
    fc.assert(
      fc.property(factsArb, (f) => {
        const auth = f.authentication ?? { spf: 'pass' as const, dmarc: { result: 'pass' as const, policy: 'reject' } };
        const clean = value(importanceOf({ ...f, authentication: auth }).level);
        assert.ok(value(importanceOf({ ...f, authentication: { ...auth, spf: 'fail' } }).level) <= clean);
        assert.ok(
          value(
            importanceOf({ ...f, authentication: { ...auth, dmarc: { result: 'fail', policy: 'reject' } } }).level,
          ) <= clean,
        );
        assert.ok(
          value(importanceOf({ ...f, spamFilter: 'spam' }).level) <=
            value(importanceOf({ ...f, spamFilter: null }).level),
        );
        const junkless = importanceOf({ ...f, feedback: null }).level;
        assert.ok(value(importanceOf({ ...f, feedback: 'not-junk' }).level) >= Math.max(value(junkless), 0));
        const untagged = value(importanceOf({ ...f, userTags: [] }).level);
        assert.ok(value(importanceOf({ ...f, userTags: ['Family'] }).level) >= untagged);
      }),
      { numRuns: 500 },
    );
  });

  test('pure, and always one of the five levels; every non-normal level has a reason', () => {
    fc.assert(
      fc.property(factsArb, (f) => {
        const a = importanceOf(f);
        assert.deepEqual(importanceOf(structuredClone(f)), a);
        assert.ok(IMPORTANCE_LEVELS.includes(a.level));
        assert.ok(Number.isInteger(a.score));
        if (a.level !== 'normal') assert.ok(a.reasons.length > 0, JSON.stringify(f));
      }),
      { numRuns: 500 },
    );
  });
});

describe('referenced Message-IDs', () => {
  test('In-Reply-To first, then References from the parent back; deduplicated and capped', () => {
    const raw = Buffer.from(
      'From: a@x.example\r\nIn-Reply-To: <p@x>\r\nReferences: <root@x>\r\n <mid@x> <p@x>\r\nSubject: Re: hi\r\n\r\nbody <not@header>\r\n',
    );
    assert.deepEqual(referencedMessageIds(raw), ['<p@x>', '<mid@x>', '<root@x>']);
    const many = Buffer.from(`References: ${Array.from({ length: 500 }, (_, i) => `<r${i}@x>`).join(' ')}\r\n\r\n`);
    const got = referencedMessageIds(many);
    assert.equal(got.length, 50);
    assert.equal(got[0], '<r499@x>', 'the nearest ancestors are kept');
    // Hostile: many long References headers (each cut at the header cap) still give the 50 nearest, in order.
    const flood = Array.from(
      { length: 20 },
      (_, h) => `References: ${Array.from({ length: 6000 }, (_, i) => `<h${h}-${i}@x>`).join(' ')}`,
    ).join('\r\n');
    const nearest = referencedMessageIds(Buffer.from(`In-Reply-To: <parent@x>\r\n${flood}\r\n\r\n`));
    assert.equal(nearest.length, 50);
    assert.equal(nearest[0], '<parent@x>');
    assert.equal(new Set(nearest).size, 50);
    assert.deepEqual(referencedMessageIds(Buffer.from('Subject: none\r\n\r\n')), []);
    assert.deepEqual(referencedMessageIds(Buffer.from('In-Reply-To: garbage without brackets\r\n\r\n')), []);
  });
});
