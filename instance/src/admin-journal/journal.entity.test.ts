import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'vitest';
import { GENESIS_HASH, hashBody, sealEntry, verifyChain, type StoredJournalEntry } from './journal.entity.ts';

const admin = { kind: 'admin' as const, accountId: randomUUID(), username: 'root' };
const alice = { accountId: randomUUID(), username: 'alice' };

function chain(n: number): StoredJournalEntry[] {
  const out: StoredJournalEntry[] = [];
  for (let i = 0; i < n; i++) {
    const prev = out.at(-1) ?? null;
    out.push(
      sealEntry(prev, {
        at: new Date(Date.UTC(2026, 2, 1, 10, i)).toISOString(),
        actor: admin,
        action: i % 2 ? 'account.disabled' : 'account.quota_changed',
        subject: alice,
        details: i % 2 ? {} : { from: i, to: i + 1 },
      }),
    );
  }
  return out;
}

test('a sealed chain verifies, and its head is the last hash', () => {
  const c = chain(5);
  assert.deepEqual(verifyChain(c), { ok: true, entries: 5, head: c[4]!.hash });
  assert.deepEqual(verifyChain([]), { ok: true, entries: 0, head: GENESIS_HASH });
  assert.equal(JSON.parse(c[0]!.body).prevHash, GENESIS_HASH);
  assert.match(c[0]!.hash, /^[0-9a-f]{64}$/);
});

test('an edited body is detected, even when its hash is recomputed (the next entry no longer chains)', () => {
  const c = chain(4);
  const edited = c[1]!.body.replace('"account.disabled"', '"account.enabled"');
  assert.deepEqual(verifyChain(c.map((e, i) => (i === 1 ? { ...e, body: edited } : e))), {
    ok: false,
    entries: 1,
    seq: 2,
    problem: 'its body does not hash to its recorded hash',
  });
  const rehashed = c.map((e, i) =>
    i === 1 ? { ...e, body: edited, action: 'account.enabled' as const, hash: hashBody(edited) } : e,
  );
  const v = verifyChain(rehashed);
  assert.equal(v.ok, false);
  assert.equal(v.ok === false && v.seq, 3);
  assert.equal(v.ok === false && v.problem, 'it does not chain to the entry before');
});

test('a body canonical JSON cannot write (a lone surrogate, 10,000 levels deep) is reported, not thrown', () => {
  const c = chain(2);
  for (const details of ['{"x":"\\ud800"}', `{"x":${'['.repeat(10_000)}${']'.repeat(10_000)}}`]) {
    const body = c[1]!.body.replace('"details":{}', `"details":${details}`);
    assert.notEqual(body, c[1]!.body);
    const v = verifyChain(c.map((e, i) => (i === 1 ? { ...e, body, hash: hashBody(body) } : e)));
    assert.deepEqual(v, { ok: false, entries: 1, seq: 2, problem: 'its body is not in canonical form' });
  }
});

test('a removed, reordered entry, or a column changed beside its body, is detected', () => {
  const c = chain(4);
  const removed = verifyChain([c[0]!, c[2]!, c[3]!]);
  assert.equal(removed.ok === false && removed.seq, 3);
  assert.match(removed.ok === false ? removed.problem : '', /entry 2 is missing/);
  const swapped = verifyChain([c[0]!, c[2]!, c[1]!, c[3]!]);
  assert.equal(swapped.ok, false);
  const column = verifyChain(c.map((e, i) => (i === 2 ? { ...e, subjectId: randomUUID() } : e)));
  assert.equal(column.ok === false && column.problem, 'its stored columns disagree with its body');
});

test('an entry never carries a password field: the body is what was given, and the sealer adds nothing else', () => {
  const e = sealEntry(null, {
    at: new Date().toISOString(),
    actor: admin,
    action: 'account.password_reset',
    subject: alice,
    details: {},
  });
  assert.deepEqual(Object.keys(JSON.parse(e.body)).sort(), [
    'action',
    'actor',
    'at',
    'details',
    'prevHash',
    'seq',
    'subject',
    'v',
  ]);
});
