/**
 * The admin journal's conformance suite: every JournalRepository adapter must pass it unchanged.
 * Run by journal.repository.sqlite.test.ts (always) and tests/conformance/admin-journal.cassandra.test.ts
 * (CASSANDRA_CONTACT_POINTS).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { AdminJournalService } from './journal.service.ts';
import type { JournalRepository } from './journal.repository.ts';
import { GENESIS_HASH, sealEntry } from './journal.entity.ts';

export interface JournalUnderTest {
  repository: JournalRepository;
  /** Closes and opens again on the same data. */
  reopen: () => Promise<JournalRepository>;
  cleanup: () => Promise<void>;
}

export function journalConformance(name: string, open: () => Promise<JournalUnderTest>): void {
  describe(`JournalRepository conformance: ${name}`, () => {
    let u: JournalUnderTest;
    let repo: JournalRepository;
    const alice = { accountId: randomUUID(), username: 'alice' };
    const bob = { accountId: randomUUID(), username: 'bob' };
    const admin = { kind: 'admin' as const, accountId: randomUUID(), username: 'root' };
    let t = Date.parse('2026-03-01T10:00:00.000Z');
    const clock = () => new Date((t += 1000));

    beforeAll(async () => {
      u = await open();
      repo = u.repository;
    }, 120_000);
    afterAll(async () => {
      await u?.cleanup();
    });

    test('an empty journal has no head and verifies', async () => {
      assert.equal(await repo.head(), null);
      assert.deepEqual(await repo.list({ limit: 10 }), []);
      assert.deepEqual(await new AdminJournalService(repo, clock).verify(), {
        ok: true,
        entries: 0,
        head: GENESIS_HASH,
      });
    });

    test('entries are numbered from 1, chained, and listed newest first with filters and paging', async () => {
      const j = new AdminJournalService(repo, clock);
      const e1 = await j.record({
        actor: admin,
        action: 'account.created',
        subject: alice,
        details: { quotaBytes: 10 },
      });
      const e2 = await j.record({ actor: { kind: 'cli' }, action: 'account.password_reset', subject: bob });
      const e3 = await j.record({ actor: admin, action: 'account.disabled', subject: alice });
      const e4 = await j.record({ actor: admin, action: 'config.changed', subject: null, details: { key: 'x' } });
      assert.deepEqual([e1.seq, e2.seq, e3.seq, e4.seq], [1, 2, 3, 4]);
      assert.equal(e1.prevHash, GENESIS_HASH);
      assert.equal(e2.prevHash, e1.hash);
      assert.deepEqual(await repo.head(), { seq: 4, hash: e4.hash });

      const all = await j.list({ limit: 10 });
      assert.deepEqual(
        all.items.map((e) => e.seq),
        [4, 3, 2, 1],
      );
      assert.equal(all.next, null);
      const aliceOnly = await j.list({ limit: 10, subjectId: alice.accountId });
      assert.deepEqual(
        aliceOnly.items.map((e) => e.action),
        ['account.disabled', 'account.created'],
      );
      const byCli = await j.list({ limit: 10, action: 'account.password_reset' });
      assert.deepEqual(
        byCli.items.map((e) => e.subject?.username),
        ['bob'],
      );
      assert.deepEqual((await j.list({ limit: 10, actorId: admin.accountId })).items.length, 3);
      const page1 = await j.list({ limit: 2 });
      assert.deepEqual(
        page1.items.map((e) => e.seq),
        [4, 3],
      );
      assert.equal(page1.next, 3);
      const page2 = await j.list({ limit: 2, beforeSeq: page1.next! });
      assert.deepEqual(
        page2.items.map((e) => e.seq),
        [2, 1],
      );
      const window = await j.list({ limit: 10, since: new Date(e2.at), until: new Date(e4.at) });
      assert.deepEqual(
        window.items.map((e) => e.seq),
        [3, 2],
      );
      assert.deepEqual(
        (await repo.range(2, 2)).map((e) => e.seq),
        [2, 3],
      );
      assert.deepEqual(await j.verify(), { ok: true, entries: 4, head: e4.hash });
    });

    test('a position is taken once: a second append at the same seq is refused', async () => {
      const head = (await repo.head())!;
      const a = sealEntry(head, {
        at: clock().toISOString(),
        actor: admin,
        action: 'account.enabled',
        subject: alice,
        details: {},
      });
      const b = sealEntry(head, {
        at: clock().toISOString(),
        actor: admin,
        action: 'account.disabled',
        subject: bob,
        details: {},
      });
      assert.equal(await repo.append(a), true);
      assert.equal(await repo.append(b), false);
      // Nor may a writer skip a position.
      const c = sealEntry(
        { seq: a.seq + 5, hash: a.hash },
        { at: clock().toISOString(), actor: admin, action: 'account.enabled', subject: alice, details: {} },
      );
      assert.equal(await repo.append(c), false);
      assert.deepEqual(await repo.head(), { seq: a.seq, hash: a.hash });
    });

    test('concurrent writers all land, in one unbroken chain', async () => {
      const j = new AdminJournalService(repo, clock);
      const before = (await repo.head())!.seq;
      const written = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          j.record({ actor: admin, action: 'account.quota_changed', subject: bob, details: { from: i, to: i + 1 } }),
        ),
      );
      assert.deepEqual(
        written.map((e) => e.seq).sort((x, y) => x - y),
        Array.from({ length: 8 }, (_, i) => before + 1 + i),
      );
      const v = await j.verify();
      assert.equal(v.ok, true);
      assert.equal(v.entries, before + 8);
    });

    test('entries survive a reopen, byte for byte', async () => {
      const beforeRows = await repo.range(1, 1000);
      repo = await u.reopen();
      assert.deepEqual(await repo.range(1, 1000), beforeRows);
      assert.equal((await new AdminJournalService(repo, clock).verify()).ok, true);
    });
  });
}
