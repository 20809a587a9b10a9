import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, it } from 'vitest';
import { openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { FsBlobStore } from '../blobs/blob-store.fs.ts';
import { SqliteBlobStore } from '../blobs/blob-store.sqlite.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { createBackup, restoreBackup, verifyBackup } from './backup.archive.ts';

/*
 * The archive layer on a synthetic data directory (the end-to-end test, tests/e2e/backup-restore.test.ts, runs it
 * on a live instance through the CLI): what goes in, what stays out, and the checks verify makes beyond checksums.
 */

const secret = { passphrase: 'unit test passphrase' };
const scrypt = { log2N: 14 };
const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'caliopen-backup-unit-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A data directory: the instance database with one account and one message whose raw form is blob `rawRef`. */
async function dataDir(rawRef: string, withBlob: boolean): Promise<string> {
  const dir = temp();
  const storage = SqliteStorage.inDataDir(dir);
  await storage.close();
  const db = openSqlite(join(dir, 'instance.db'));
  const account = randomUUID();
  db.prepare(
    "INSERT INTO accounts (id, username, display_name, role, password_hash, quota_bytes, created_at, updated_at) VALUES (?, 'bob', 'Bob', 'user', 'x', 1000, 0, 0)",
  ).run(account);
  db.prepare(
    `INSERT INTO messages (id, account_id, conversation_id, protocol, direction, content_hash, from_json, to_json, cc_json,
       subject, snippet, received_at, size_bytes, raw_ref, tags_json, facts_json)
     VALUES (?, ?, ?, 'email', 'inbound', 'h', '{}', '[]', '[]', 's', '', 0, 5, ?, '[]', '{}')`,
  ).run(randomUUID(), account, randomUUID(), rawRef);
  db.close();
  if (withBlob) {
    mkdirSync(join(dir, 'blobs', 'ab'), { recursive: true });
    writeFileSync(join(dir, 'blobs', rawRef), 'hello');
  }
  mkdirSync(join(dir, 'secrets'));
  writeFileSync(join(dir, 'secrets', 'master.key'), `${Buffer.alloc(32, 7).toString('base64')}\n`);
  writeFileSync(join(dir, 'search.db'), 'derived');
  writeFileSync(join(dir, 'blobs-leftover.tmp'), 'temporary');
  return dir;
}

describe('backup archive', () => {
  it('leaves out the master key unless asked, the search index and temporary files; restores the rest exactly', async () => {
    const src = await dataDir('ab/raw1', true);
    symlinkSync('/etc/passwd', join(src, 'link'));
    const out = join(temp(), 'b.backup');
    const manifest = await createBackup({ dataDir: src, domain: 'alpha.test', out, secret, scrypt });
    const paths = manifest.files.map((f) => f.path).sort();
    assert.deepEqual(paths, ['blobs/ab/raw1', 'instance.db']);
    assert.deepEqual(manifest.skipped.map((s) => s.path).sort(), ['link', 'search.db', 'secrets/master.key']);
    assert.equal((await verifyBackup(out, secret)).databases, 1);

    const withKey = join(temp(), 'k.backup');
    const m2 = await createBackup({
      dataDir: src,
      domain: 'alpha.test',
      out: withKey,
      secret,
      scrypt,
      includeMasterKey: true,
    });
    assert.ok(m2.includesMasterKey && m2.files.some((f) => f.path === 'secrets/master.key'));
    const dst = join(temp(), 'restored');
    await restoreBackup({ file: withKey, secret, dataDir: dst, env: {} });
    assert.deepEqual(readFileSync(join(dst, 'blobs', 'ab', 'raw1'), 'utf8'), 'hello');
    assert.deepEqual(
      readFileSync(join(dst, 'secrets', 'master.key')),
      readFileSync(join(src, 'secrets', 'master.key')),
    );
    assert.equal(existsSync(join(dst, 'link')), false);
  });

  it('verify and restore refuse a backup whose mailbox names a blob it does not hold; the target is left empty', async () => {
    const src = await dataDir('ab/missing', false);
    const out = join(temp(), 'b.backup');
    await createBackup({ dataDir: src, domain: 'alpha.test', out, secret, scrypt, includeMasterKey: true });
    await assert.rejects(
      verifyBackup(out, secret),
      /1 message\(s\) of the backup have no raw form in it \(first: blob ab\/missing\)/,
    );
    const dst = join(temp(), 'restored');
    await assert.rejects(restoreBackup({ file: out, secret, dataDir: dst, env: {} }), /no raw form/);
    assert.deepEqual(readdirSync(dst), []);
  });

  it('a raw form packed in blobs.db counts; blobs.db is copied after the mailbox; a key it lacks is still refused', async () => {
    const src = await dataDir('ab/packed', false);
    const blobs = SqliteBlobStore.open(join(src, 'blobs.db'), new FsBlobStore(join(src, 'blobs')));
    await blobs.put('ab/packed', Buffer.from('hello'));
    await blobs.close();
    const out = join(temp(), 'b.backup');
    const manifest = await createBackup({
      dataDir: src,
      domain: 'alpha.test',
      out,
      secret,
      scrypt,
      includeMasterKey: true,
    });
    const order = manifest.files.map((f) => f.path);
    assert.ok(order.indexOf('instance.db') < order.indexOf('blobs.db'), order.join(', '));
    assert.equal((await verifyBackup(out, secret)).databases, 2);
    const dst = join(temp(), 'restored');
    await restoreBackup({ file: out, secret, dataDir: dst, env: {} });
    const restored = SqliteBlobStore.open(join(dst, 'blobs.db'), new FsBlobStore(join(dst, 'blobs')));
    assert.equal((await restored.get('ab/packed'))?.toString(), 'hello');
    await restored.close();

    const other = await dataDir('ab/elsewhere', false);
    const wrong = SqliteBlobStore.open(join(other, 'blobs.db'), new FsBlobStore(join(other, 'blobs')));
    await wrong.put('ab/not-this-one', Buffer.from('hello'));
    await wrong.close();
    const bad = join(temp(), 'bad.backup');
    await createBackup({ dataDir: other, domain: 'alpha.test', out: bad, secret, scrypt });
    await assert.rejects(verifyBackup(bad, secret), /no raw form in it \(first: blob ab\/elsewhere\)/);
  });
});
