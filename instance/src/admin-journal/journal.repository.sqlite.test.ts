import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { test } from 'vitest';
import { journalConformance } from './journal.conformance.ts';
import { SqliteJournalRepository } from './journal.repository.sqlite.ts';
import { AdminJournalService } from './journal.service.ts';

journalConformance('SQLite (embedded)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'caliopen-journal-'));
  let current = SqliteJournalRepository.inDataDir(dir);
  return {
    repository: current,
    reopen: async () => {
      await current.close();
      current = SqliteJournalRepository.inDataDir(dir);
      return current;
    },
    cleanup: async () => {
      await current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('the SQLite journal refuses UPDATE and DELETE in the database itself', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'caliopen-journal-'));
  const repo = SqliteJournalRepository.inDataDir(dir);
  try {
    const j = new AdminJournalService(repo, () => new Date('2026-03-01T10:00:00Z'));
    await j.record({
      actor: { kind: 'cli' },
      action: 'account.disabled',
      subject: { accountId: randomUUID(), username: 'a' },
    });
    assert.throws(() => repo.rawDb.prepare("UPDATE journal SET action = 'account.enabled'").run(), /append-only/);
    assert.throws(() => repo.rawDb.prepare('DELETE FROM journal').run(), /append-only/);
    assert.equal((await repo.range(1, 10)).length, 1);
  } finally {
    await repo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
