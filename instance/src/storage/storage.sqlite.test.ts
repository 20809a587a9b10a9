import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageConformance } from './storage.conformance.ts';
import { SqliteStorage } from './storage.sqlite.ts';
import { SQLITE_ACCOUNT_TABLES } from './account-purge.sqlite.ts';
import { test } from 'vitest';

storageConformance('SQLite (embedded)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'caliopen-storage-'));
  let current = SqliteStorage.inDataDir(dir);
  return {
    storage: current,
    reopen: async () => {
      await current.close();
      current = SqliteStorage.inDataDir(dir);
      return current;
    },
    another: async () => SqliteStorage.inDataDir(dir),
    cleanup: async () => {
      await current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('the account purge names every table of instance.db that has an account_id column', () => {
  const dir = mkdtempSync(join(tmpdir(), 'caliopen-storage-'));
  const storage = SqliteStorage.inDataDir(dir);
  try {
    const tables = storage.db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .all() as { name: string }[];
    const withAccount = tables
      .filter(({ name }) =>
        (storage.db.prepare(`SELECT name FROM pragma_table_info(?)`).all(name) as { name: string }[]).some(
          (c) => c.name === 'account_id',
        ),
      )
      .map((t) => t.name)
      .sort();
    assert.deepEqual(withAccount, [...SQLITE_ACCOUNT_TABLES].sort());
  } finally {
    storage.db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
