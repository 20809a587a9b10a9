import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, test } from 'vitest';
import { FsBlobStore } from './blob-store.fs.ts';
import { SqliteBlobStore } from './blob-store.sqlite.ts';

const root = mkdtempSync(join(tmpdir(), 'caliopen-blobs-sqlite-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const open: SqliteBlobStore[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

function fresh(options: { maxPackedBytes?: number } = {}) {
  const dir = join(root, String(++n));
  const files = new FsBlobStore(join(dir, 'blobs'));
  const store = SqliteBlobStore.open(join(dir, 'blobs.db'), files, options);
  open.push(store);
  return { dir, files, store };
}

test('put, get, replace, delete: small blobs are packed in the database, not written as files', async () => {
  const { dir, store } = fresh();
  assert.equal(await store.put('raw/acc-1/m1', Buffer.from('hello')), 5);
  assert.equal((await store.get('raw/acc-1/m1'))?.toString(), 'hello');
  assert.equal(store.isPacked('raw/acc-1/m1'), true);
  assert.equal(existsSync(join(dir, 'blobs/raw/acc-1/m1')), false);
  await store.put('raw/acc-1/m1', Buffer.from('again'));
  assert.equal((await store.get('raw/acc-1/m1'))?.toString(), 'again');
  assert.equal(await store.delete('raw/acc-1/m1'), true);
  assert.equal(await store.delete('raw/acc-1/m1'), false);
  assert.equal(await store.get('raw/acc-1/m1'), null);
});

test('putMany packs the small ones in one commit and writes the large ones as files; all read back', async () => {
  const { dir, store } = fresh({ maxPackedBytes: 1024 });
  const blobs = Array.from({ length: 40 }, (_, i) => ({
    key: `raw/acc-2/m${i}`,
    data: Buffer.alloc(i % 4 === 0 ? 4096 : 100, i),
  }));
  await store.putMany(blobs);
  for (const b of blobs) {
    assert.deepEqual(await store.get(b.key), b.data, b.key);
    const large = b.data.length > 1024;
    assert.equal(store.isPacked(b.key), !large, b.key);
    assert.equal(existsSync(join(dir, 'blobs', b.key)), large, b.key);
  }
});

test('what is written is durable: a new store on the same files reads it', async () => {
  const { dir, store } = fresh();
  await store.putMany([
    { key: 'raw/acc-3/a', data: Buffer.from('first') },
    { key: 'raw/acc-3/b', data: Buffer.from('second') },
  ]);
  await store.close();
  open.length = 0;
  const again = SqliteBlobStore.open(join(dir, 'blobs.db'), new FsBlobStore(join(dir, 'blobs')));
  open.push(again);
  assert.equal((await again.get('raw/acc-3/a'))?.toString(), 'first');
  assert.equal((await again.get('raw/acc-3/b'))?.toString(), 'second');
});

test('blobs written as files before the database existed stay readable, and a new version replaces them', async () => {
  const { dir, files, store } = fresh();
  await files.put('raw/acc-4/old', Buffer.from('from before'));
  assert.equal((await store.get('raw/acc-4/old'))?.toString(), 'from before');
  await store.put('raw/acc-4/old', Buffer.from('rewritten'));
  assert.equal((await store.get('raw/acc-4/old'))?.toString(), 'rewritten');
  assert.equal(existsSync(join(dir, 'blobs/raw/acc-4/old')), false, 'the stale file went');
  // A large new version goes to a file, and the packed one goes: never two versions of a key.
  const { store: small } = { store: SqliteBlobStore.open(join(dir, 'blobs.db'), files, { maxPackedBytes: 4 }) };
  open.push(small);
  await small.put('raw/acc-4/old', Buffer.from('now large'));
  assert.equal(small.isPacked('raw/acc-4/old'), false);
  assert.equal((await small.get('raw/acc-4/old'))?.toString(), 'now large');
  assert.equal(await small.delete('raw/acc-4/old'), true);
  assert.equal(await small.get('raw/acc-4/old'), null);
});

test('deletePrefix removes an account whole, packed and file blobs, and leaves its neighbours', async () => {
  const { files, store } = fresh({ maxPackedBytes: 8 });
  await store.putMany([
    { key: 'raw/acc-5/a', data: Buffer.from('small') },
    { key: 'raw/acc-5/b', data: Buffer.from('larger than eight') },
    { key: 'raw/acc-5/c', data: Buffer.from('tiny') },
    { key: 'raw/acc-50/a', data: Buffer.from('other') },
    { key: 'raw/acc-5x/a', data: Buffer.from('other') },
  ]);
  await files.put('raw/acc-5/legacy', Buffer.from('a file from before'));
  assert.equal(await store.deletePrefix('raw/acc-5'), 4);
  for (const k of ['raw/acc-5/a', 'raw/acc-5/b', 'raw/acc-5/c', 'raw/acc-5/legacy'])
    assert.equal(await store.get(k), null, k);
  assert.equal((await store.get('raw/acc-50/a'))?.toString(), 'other');
  assert.equal((await store.get('raw/acc-5x/a'))?.toString(), 'other');
  assert.equal(await store.deletePrefix('raw/acc-5'), 0);
  await assert.rejects(store.deletePrefix('raw/acc-5/'), /invalid blob prefix/);
});

test("a deleted account's bytes are gone from the database file and its log (secure delete, log truncated)", async () => {
  const { dir, store } = fresh();
  const secret = Buffer.from(`SECRET-${'x'.repeat(3000)}-MARKER`);
  await store.putMany([
    { key: 'raw/acc-6/m', data: secret },
    { key: 'raw/acc-7/m', data: Buffer.from('kept') },
  ]);
  await store.deletePrefix('raw/acc-6');
  const onDisk = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f)) : Buffer.alloc(0));
  for (const f of ['blobs.db', 'blobs.db-wal'])
    assert.equal(onDisk(f).includes('SECRET-'), false, `${f} still holds the deleted message's bytes`);
  assert.equal((await store.get('raw/acc-7/m'))?.toString(), 'kept');
});

test('keys cannot escape the store; a failed write rejects and loses nothing already stored', async () => {
  const { store } = fresh();
  await store.put('raw/acc-8/kept', Buffer.from('kept'));
  for (const key of ['../etc/passwd', 'raw/../../x', '/abs', '', 'a\u0000b']) {
    await assert.rejects(store.put(key, Buffer.from('x')), /invalid blob key/);
    await assert.rejects(
      store.putMany([
        { key: 'raw/acc-8/ok', data: Buffer.from('x') },
        { key, data: Buffer.from('x') },
      ]),
      /invalid blob key/,
    );
    await assert.rejects(store.get(key), /invalid blob key/);
  }
  assert.equal(await store.get('raw/acc-8/ok'), null, 'a batch with a bad key writes nothing');
  assert.equal((await store.get('raw/acc-8/kept'))?.toString(), 'kept');
});

test('writes after close are refused with a clear error', async () => {
  const { store } = fresh();
  await store.close();
  open.length = 0;
  await assert.rejects(store.put('raw/acc-9/m', Buffer.from('x')), /blob store/);
});

test('concurrent batches all land (the writer thread takes them in turn)', async () => {
  const { store } = fresh();
  await Promise.all(
    Array.from({ length: 20 }, (_, b) =>
      store.putMany(
        Array.from({ length: 16 }, (_, i) => ({ key: `raw/acc-10/${b}-${i}`, data: Buffer.from(`${b}:${i}`) })),
      ),
    ),
  );
  for (let b = 0; b < 20; b++)
    for (let i = 0; i < 16; i++) assert.equal((await store.get(`raw/acc-10/${b}-${i}`))?.toString(), `${b}:${i}`);
});
