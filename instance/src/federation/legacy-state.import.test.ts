import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  // federation/prekeys.json as PrekeyStore wrote it (private halves sealed; the sealing is not this test's concern).
  const prekey = (kid: string, notBefore: number) => ({
    prekey: {
      kid,
      domain: 'beta.test',
      publicJwk: { kty: 'OKP', crv: 'X25519', x: kid },
      notBefore,
      notAfter: notBefore + 86_400,
    },
    jws: `jws-${kid}`,
    privateSealed: kid === 'pk-old' ? null : `sealed-${kid}`,
  });
  writeFileSync(
    join(dataDir, 'federation', 'prekeys.json'),
    JSON.stringify({ version: 1, prekeys: [prekey('pk-old', 1_700_000_000), prekey('pk-new', 1_700_064_800)] }),
  );
  // notices.db, its schema as it was.
  const notices = openSqlite(join(dataDir, 'notices.db'));
  notices.exec(`
    CREATE TABLE delivery_failure (id TEXT PRIMARY KEY, account_id TEXT NOT NULL, message_id TEXT NOT NULL, at INTEGER NOT NULL, recipients TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE standing_change (id TEXT PRIMARY KEY, at INTEGER NOT NULL, change TEXT NOT NULL, status TEXT NOT NULL, reason TEXT) WITHOUT ROWID;
    CREATE TABLE dismissed (account_id TEXT NOT NULL, notice_id TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (account_id, notice_id)) WITHOUT ROWID;`);
  const recipients = JSON.stringify([
    { address: 'x@remote.test', status: '5.1.1', diagnostic: '550 No such user', remoteMta: null },
  ]);
  notices
    .prepare('INSERT INTO delivery_failure VALUES (?, ?, ?, ?, ?)')
    .run('f-1', 'acc-yes', 'm-1', 1_700_000_000_000, recipients);
  notices
    .prepare('INSERT INTO delivery_failure VALUES (?, ?, ?, ?, ?)')
    .run('f-2', 'acc-yes', 'm-2', 1_700_000_001_000, recipients);
  notices
    .prepare('INSERT INTO standing_change VALUES (?, ?, ?, ?, ?)')
    .run('s-1', 1_700_000_002_000, 'stopped', 'revoked', 'Audit failed.');
  notices.prepare('INSERT INTO dismissed VALUES (?, ?, ?)').run('acc-yes', 'f-1', 1_700_000_003_000);
  notices.prepare('INSERT INTO dismissed VALUES (?, ?, ?)').run('acc-no', 's-1', 1_700_000_003_000);
  notices.close();
}

describe('importLegacyFederationState', () => {
  test('moves the per-node sharing choices, live replay entries, prekeys and notices into the storage once, then renames the files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'caliopen-legacy-'));
    dirs.push(dir);
    legacyFiles(dir);
    const storage = SqliteStorage.inDataDir(dir);
    try {
      assert.deepEqual(await importLegacyFederationState(dir, storage, 1000), {
        sharing: 2,
        replay: 1,
        prekeys: 2,
        notices: 3,
      });
      assert.equal(await storage.trustSharing.sharesTrust('acc-yes'), true);
      assert.equal(await storage.trustSharing.sharesTrust('acc-no'), false);
      assert.equal(await storage.replay.rememberOnce('alpha.test LIVE', 2000, 1000), 'seen');
      assert.equal(await storage.replay.receiptOf('alpha.test LIVE'), 'receipt-live');
      assert.equal(await storage.replay.rememberOnce('alpha.test GONE', 2000, 1000), 'fresh', 'expired: not moved');
      assert.equal(existsSync(join(dir, 'federation', 'sharing.db')), false);
      assert.equal(existsSync(join(dir, 'federation', 'sharing.db.imported')), true);
      assert.equal(existsSync(join(dir, 'federation', 'replay.db.imported')), true);
      const prekeys = await storage.prekeys.list();
      assert.deepEqual(
        prekeys.map((p) => [p.prekey.kid, p.jws, p.privateSealed]),
        [
          ['pk-old', 'jws-pk-old', null],
          ['pk-new', 'jws-pk-new', 'sealed-pk-new'],
        ],
      );
      assert.equal(existsSync(join(dir, 'federation', 'prekeys.json')), false, 'sealed private halves not left behind');
      const failures = await storage.notices.deliveryFailures('acc-yes');
      assert.deepEqual(
        failures.map((f) => f.messageId),
        ['m-2', 'm-1'],
      );
      assert.equal((await storage.notices.lastStandingChange())?.reason, 'Audit failed.');
      const m1 = failures.find((f) => f.messageId === 'm-1')!;
      assert.deepEqual([...(await storage.notices.dismissed('acc-yes'))], [m1.id], 'dismissals follow the new ids');
      assert.deepEqual(
        [...(await storage.notices.dismissed('acc-no'))],
        [(await storage.notices.lastStandingChange())?.id],
      );
      assert.equal(existsSync(join(dir, 'notices.db.imported')), true);
      assert.deepEqual(
        await importLegacyFederationState(dir, storage, 1000),
        { sharing: 0, replay: 0, prekeys: 0, notices: 0 },
        'once',
      );
    } finally {
      await storage.close();
    }
  });
});
