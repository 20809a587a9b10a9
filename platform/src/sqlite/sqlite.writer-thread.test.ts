import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, test } from 'vitest';
import { openSqlite } from './sqlite.connection.ts';
import { SqliteWriterThread } from './sqlite.writer-thread.ts';

const dir = mkdtempSync(join(tmpdir(), 'caliopen-writer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function database(name: string) {
  const path = join(dir, name);
  const db = openSqlite(path);
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB NOT NULL) STRICT');
  return { path, db };
}
const statements = { put: 'INSERT INTO t (k, v) VALUES (?, ?)', del: 'DELETE FROM t WHERE k = ?' };

async function until(check: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('no thread until the first write; one transaction per call, committed when it resolves, bytes kept as bytes', async () => {
  const { path, db } = database('a.db');
  const writer = SqliteWriterThread.open(path, { label: 'test store', statements });
  assert.equal(writer.started, 0, 'opening starts no thread');
  assert.deepEqual(
    await writer.transaction([
      { run: 'put', params: ['a', Buffer.from([0, 1, 2])] },
      { run: 'put', params: ['b', new Uint8Array([255])] },
      { run: 'del', params: ['nothing'] },
    ]),
    [1, 1, 0],
  );
  assert.equal(writer.started, 1);
  assert.deepEqual(db.prepare('SELECT k, v FROM t ORDER BY k').all(), [
    { k: 'a', v: Buffer.from([0, 1, 2]) },
    { k: 'b', v: Buffer.from([255]) },
  ]);
  await writer.close();
  db.close();
});

test('a failing statement fails its whole transaction with a clear error, and the writer goes on', async () => {
  const { path, db } = database('b.db');
  const writer = SqliteWriterThread.open(path, { label: 'test store', statements });
  await writer.transaction([{ run: 'put', params: ['a', Buffer.from('1')] }]);
  await assert.rejects(
    writer.transaction([
      { run: 'put', params: ['b', Buffer.from('2')] },
      { run: 'put', params: ['a', Buffer.from('again')] },
    ]),
    /test store write failed: UNIQUE constraint failed/,
  );
  assert.deepEqual(db.prepare('SELECT k FROM t').all(), [{ k: 'a' }], 'nothing of the failed transaction');
  await writer.transaction([{ run: 'put', params: ['c', Buffer.from('3')] }]);
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n, 2);
  await writer.close();
  await assert.rejects(writer.transaction([{ run: 'del', params: ['a'] }]), /the test store is closed/);
  db.close();
});

test('idle, the thread stops; the next write starts another one', async () => {
  const { path, db } = database('c.db');
  const writer = SqliteWriterThread.open(path, { label: 'test store', statements, idleMs: 50 });
  await writer.transaction([{ run: 'put', params: ['a', Buffer.from('1')] }]);
  const thread = () => (writer as unknown as { worker: unknown }).worker;
  await until(() => thread() === null, 'the idle thread to stop');
  await writer.transaction([{ run: 'put', params: ['b', Buffer.from('2')] }]);
  assert.equal(writer.started, 2);
  assert.equal((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n, 2);
  await writer.close();
  db.close();
});
