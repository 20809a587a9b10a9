import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, test } from 'vitest';
import { FsBlobStore } from './blob-store.fs.ts';

const dir = mkdtempSync(join(tmpdir(), 'caliopen-blobs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('put, get, replace, delete; files are private and no temporary file is left', async () => {
  const store = new FsBlobStore(dir);
  assert.equal(await store.put('raw/acc-1/m1', Buffer.from('hello')), 5);
  assert.equal((await store.get('raw/acc-1/m1'))?.toString(), 'hello');
  await store.put('raw/acc-1/m1', Buffer.from('again'));
  assert.equal((await store.get('raw/acc-1/m1'))?.toString(), 'again');
  assert.equal(statSync(join(dir, 'raw/acc-1/m1')).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(join(dir, 'raw/acc-1')), ['m1']);
  assert.equal(await store.delete('raw/acc-1/m1'), true);
  assert.equal(await store.delete('raw/acc-1/m1'), false);
  assert.equal(await store.get('raw/acc-1/m1'), null);
});

test('keys cannot escape the store', async () => {
  const store = new FsBlobStore(dir);
  for (const key of ['../etc/passwd', 'raw/../../x', '/abs', '', 'a\u0000b']) {
    await assert.rejects(store.put(key, Buffer.from('x')), /invalid blob key/);
  }
});

test('putMany writes a group across directories, private, with no temporary file left; bad keys write nothing', async () => {
  const store = new FsBlobStore(dir);
  const blobs = Array.from({ length: 20 }, (_, i) => ({
    key: `raw/acc-${i % 3}/g${i}`,
    data: Buffer.from(`message ${i}`),
  }));
  await store.putMany(blobs);
  for (const b of blobs) assert.equal((await store.get(b.key))?.toString(), b.data.toString());
  for (const a of [0, 1, 2]) {
    const names = readdirSync(join(dir, `raw/acc-${a}`)).filter((n) => n.startsWith('g'));
    assert.ok(names.every((n) => !n.endsWith('.tmp')));
    assert.equal(statSync(join(dir, `raw/acc-${a}`, names[0]!)).mode & 0o777, 0o600);
  }
  await assert.rejects(
    store.putMany([
      { key: 'raw/ok/x', data: Buffer.from('x') },
      { key: '../x', data: Buffer.from('y') },
    ]),
    /invalid blob key/,
  );
  assert.equal(await store.get('raw/ok/x'), null);
});

test('deletePrefix removes every blob under the prefix and nothing beside it; a bad or empty prefix', async () => {
  const store = new FsBlobStore(dir);
  await store.putMany([
    { key: 'raw/gone/m1', data: Buffer.from('1') },
    { key: 'raw/gone/m2', data: Buffer.from('2') },
    { key: 'raw/gone-not/m1', data: Buffer.from('3') },
    { key: 'raw/kept/m1', data: Buffer.from('4') },
  ]);
  assert.equal(await store.deletePrefix('raw/gone'), 2);
  assert.equal(await store.get('raw/gone/m1'), null);
  assert.throws(() => statSync(join(dir, 'raw/gone')), /ENOENT/);
  assert.equal((await store.get('raw/gone-not/m1'))?.toString(), '3');
  assert.equal((await store.get('raw/kept/m1'))?.toString(), '4');
  assert.equal(await store.deletePrefix('raw/gone'), 0);
  for (const prefix of ['../x', 'raw/../..', '', '/abs', 'raw/']) {
    await assert.rejects(store.deletePrefix(prefix), /invalid blob/);
  }
});

test('a directory removed behind the store (another process, deletePrefix) is made again on the next write', async () => {
  const store = new FsBlobStore(dir);
  await store.putMany([{ key: 'raw/again/m1', data: Buffer.from('1') }]);
  rmSync(join(dir, 'raw/again'), { recursive: true, force: true }); // not through this store: it still knows the directory
  await store.putMany([
    { key: 'raw/again/m2', data: Buffer.from('2') },
    { key: 'raw/again/m3', data: Buffer.from('3') },
  ]);
  assert.deepEqual(readdirSync(join(dir, 'raw/again')).sort(), ['m2', 'm3']);
  rmSync(join(dir, 'raw/again'), { recursive: true, force: true });
  await store.put('raw/again/m4', Buffer.from('4'));
  assert.equal((await store.get('raw/again/m4'))?.toString(), '4');
  assert.equal(await store.deletePrefix('raw/again'), 1);
  await store.put('raw/again/m5', Buffer.from('5'));
  assert.deepEqual(readdirSync(join(dir, 'raw/again')), ['m5']);
});
