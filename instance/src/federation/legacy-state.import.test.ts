import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, test } from 'vitest';
import { openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { importLegacyFederationState } from './legacy-state.import.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The per-node files older versions wrote (their schema, as it was). */
function legacyFiles(dataDir: string): void {
  mkdirSync(join(dataDir, 'federation'), { recursive: true });
  const sharing = openSqlite(join(dataDir, 'federation', 'sharing.db'));
  sharing.exec(
    'CREATE TABLE trust_sharing (account_id TEXT PRIMARY KEY, share INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;',
  );
  sharing.prepare('INSERT INTO trust_sharing VALUES (?, ?, ?)').run('acc-yes', 1, 1_700_000_000_000);
  sharing.prepare('INSERT INTO trust_sharing VALUES (?, ?, ?)').run('acc-no', 0, 1_700_000_000_000);
  sharing.close();
  const replay = openSqlite(join(dataDir, 'federation', 'replay.db'));
  replay.exec('CREATE TABLE replay (key TEXT PRIMARY KEY, until INTEGER NOT NULL, receipt TEXT) WITHOUT ROWID;');
  replay.prepare('INSERT INTO replay VALUES (?, ?, ?)').run('alpha.test LIVE', 2000, 'receipt-live');
  replay.prepare('INSERT INTO replay VALUES (?, ?, ?)').run('alpha.test GONE', 900, 'receipt-gone');
  replay.close();
}

describe('importLegacyFederationState', () => {
  test('moves the per-node sharing choices and live replay entries into the storage once, then renames the files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'caliopen-legacy-'));
    dirs.push(dir);
    legacyFiles(dir);
    const storage = SqliteStorage.inDataDir(dir);
    try {
      assert.deepEqual(await importLegacyFederationState(dir, storage, 1000), { sharing: 2, replay: 1 });
      assert.equal(await storage.trustSharing.sharesTrust('acc-yes'), true);
      assert.equal(await storage.trustSharing.sharesTrust('acc-no'), false);
      assert.equal(await storage.replay.rememberOnce('alpha.test LIVE', 2000, 1000), 'seen');
      assert.equal(await storage.replay.receiptOf('alpha.test LIVE'), 'receipt-live');
      assert.equal(await storage.replay.rememberOnce('alpha.test GONE', 2000, 1000), 'fresh', 'expired: not moved');
      assert.equal(existsSync(join(dir, 'federation', 'sharing.db')), false);
      assert.equal(existsSync(join(dir, 'federation', 'sharing.db.imported')), true);
      assert.equal(existsSync(join(dir, 'federation', 'replay.db.imported')), true);
      assert.deepEqual(await importLegacyFederationState(dir, storage, 1000), { sharing: 0, replay: 0 }, 'once');
    } finally {
      await storage.close();
    }
  });
});
