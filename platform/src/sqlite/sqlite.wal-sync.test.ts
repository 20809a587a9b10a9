import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, test } from 'vitest';
import { openSqlite } from './sqlite.connection.ts';
import { WalSync } from './sqlite.wal-sync.ts';

const dir = mkdtempSync(join(tmpdir(), 'caliopen-walsync-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function relaxedDb(name: string) {
  const path = join(dir, name);
  const db = openSqlite(path);
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (n INTEGER)');
  return { db, path, sync: new WalSync(path) };
}

test('a commit at synchronous=NORMAL is in the log; sync() resolves once it is on disk, and a new connection reads it', async () => {
  const { db, path, sync } = relaxedDb('a.db');
  db.prepare('INSERT INTO t VALUES (1)').run();
  assert.ok(statSync(`${path}-wal`).size > 0, 'the commit went to the write-ahead log');
  await sync.sync();
  assert.equal(sync.syncs, 1);
  const other = openSqlite(path, { readonly: true });
  assert.deepEqual(other.prepare('SELECT n FROM t').all(), [{ n: 1 }]);
  other.close();
  db.close();
  await sync.close();
});

test('callers that arrive together share syncs; one arriving during a sync gets the next one, not the running one', async () => {
  const { db, sync } = relaxedDb('b.db');
  db.prepare('INSERT INTO t VALUES (1)').run();
  const first = sync.sync();
  // These commits come after the first sync started: they must wait for a second one, which they all share.
  db.prepare('INSERT INTO t VALUES (2)').run();
  const later = Array.from({ length: 20 }, () => sync.sync());
  assert.notEqual(later[0], first);
  assert.ok(
    later.every((p) => p === later[0]),
    'the late callers share one sync',
  );
  await Promise.all([first, ...later]);
  assert.equal(sync.syncs, 2, 'two fdatasyncs for 21 callers');
  // Nothing running: the next call starts one at once.
  await sync.sync();
  assert.equal(sync.syncs, 3);
  db.close();
  await sync.close();
});

test('no log file (a database without one yet, or an in-memory one): sync() resolves without error', async () => {
  await new WalSync(join(dir, 'never-opened.db')).sync();
  await new WalSync(':memory:').sync();
});
