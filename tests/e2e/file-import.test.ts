/**
 * `caliopen import maildir|mbox PATH --account NAME` through the real CLI entry (separate processes, real files):
 * hostile corpora (malformed `From ` lines, CRLF/LF mixes, 8-bit garbage, empty messages, a truncated last message,
 * huge header lines, a Maildir with tmp/ files and non-message files) — each message stored or reported with where it
 * is and why, the import never stopping on one; resumed after a SIGKILL mid-import without a loss or a duplicate.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { AccountService } from '@caliopen/instance/accounts/account.service.ts';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import { SqliteStorage } from '@caliopen/instance/storage/storage.sqlite.ts';
import { systemClock } from '@caliopen/platform/clock/clock.port.ts';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { waitFor } from '../support/net.ts';
import { tempDir } from '../support/tmp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(root, 'cli/bin/caliopen.mjs');

function caliopen(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface Summary {
  imported: number;
  alreadyPresent: number;
  reported: number;
  resumedPast: number;
  leftAlone: { tmp: number; other: number };
  problems: { where: string; reason: string }[];
}

const json = (stdout: string) => JSON.parse(stdout.trim().split('\n').at(-1)!) as Summary;

describe('caliopen import maildir | mbox', () => {
  const tmp = tempDir('caliopen-file-import-');
  const dataDir = join(tmp.dir, 'instance');
  const db = () => openSqlite(join(dataDir, 'instance.db'), { readonly: true });
  const accounts: Record<string, string> = {};
  const rows = (account: string) => {
    const d = db();
    try {
      return d
        .prepare(
          'SELECT external_id AS ext, subject, direction, tags_json AS tags, read, raw_ref AS ref FROM messages WHERE account_id = ?',
        )
        .all(accounts[account]) as {
        ext: string | null;
        subject: string;
        direction: string;
        tags: string;
        read: number;
        ref: string;
      }[];
    } finally {
      d.close();
    }
  };

  beforeAll(async () => {
    await initInstance({ domain: 'import.test', dataDir, httpPort: '0' }, () => {});
    const storage = SqliteStorage.inDataDir(dataDir);
    const service = new AccountService(storage, new PasswordHasher(), systemClock, 1024 ** 3);
    for (const name of ['mia', 'max', 'kim'])
      accounts[name] = (await service.create({ username: name, password: `pw-${name}-0123456789` })).id;
    await storage.close();
  }, 60_000);
  afterAll(() => tmp.cleanup());

  test('a hostile mbox: every message stored or reported with its position; >From unquoted; resumable', {
    timeout: 240_000,
  }, () => {
    const file = join(tmp.dir, 'hostile.mbox');
    const parts: Buffer[] = [
      Buffer.from('this is not an mbox preamble\n\n'),
      // 1. LF, a standard From line, a quoted >From line in the body (mboxrd), and a body "From" not after a blank line.
      Buffer.from(
        'From alice@x.example Sun Nov 22 10:00:00 2026\nFrom: Alice <alice@x.example>\nTo: mia@import.test\nSubject: one\nMessage-ID: <m1@x.example>\n\nline\n>From the start, quoted\nFrom here, not a separator\n\n',
      ),
      // 2. CRLF and a malformed From line (nothing after it).
      Buffer.from(
        'From \r\nFrom: Bob <bob@x.example>\r\nTo: mia@import.test\r\nSubject: two\r\nMessage-ID: <m2@x.example>\r\n\r\nbody two\r\n\r\n',
      ),
      // 3. 8-bit garbage in headers and body, NULs included.
      Buffer.concat([
        Buffer.from('From garbage@x.example Mon Nov 23 10:00:00 2026\nFrom: \xff\xfe <g@x.example>\nSubject: '),
        Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0x00, 0xff]),
        Buffer.from('\nMessage-ID: <m3@x.example>\n\n'),
        Buffer.from([0x80, 0x81, 0x00, 0xfe, 0x0a]),
        Buffer.from('\n'),
      ]),
      // 4. An empty message.
      Buffer.from('From empty@x.example Mon Nov 23 11:00:00 2026\n\n'),
      // 5. A huge header line (3 MiB, unfolded) and a 300 KB Subject.
      Buffer.from(
        `From big@x.example Mon Nov 23 12:00:00 2026\nFrom: big@x.example\nSubject: ${'s'.repeat(300_000)}\nX-Huge: ${'h'.repeat(3 * 1024 * 1024)}\nMessage-ID: <m5@x.example>\n\nbig\n\n`,
      ),
      // 6. A mixed CRLF/LF message.
      Buffer.from(
        'From mixed@x.example Mon Nov 23 13:00:00 2026\r\nFrom: mixed@x.example\nSubject: six\r\nMessage-ID: <m6@x.example>\n\r\nmixed\n\n',
      ),
      // 7. The last message, truncated in the middle of its headers (no newline at the end).
      Buffer.from('From cut@x.example Mon Nov 23 14:00:00 2026\nFrom: cut@x.example\nMessage-ID: <m7@x.example>\nSubj'),
    ];
    writeFileSync(file, Buffer.concat(parts));

    const first = caliopen(['import', 'mbox', file, '--account', 'mia', '--data-dir', dataDir, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const s = json(first.stdout);
    assert.equal(s.imported, 6, JSON.stringify(s));
    assert.equal(s.problems.length, 2, JSON.stringify(s.problems));
    assert.equal(s.problems[0]!.where, 'byte 0');
    assert.match(s.problems[0]!.reason, /before the first "From " line/);
    assert.match(s.problems[1]!.where, /^message 4 \(byte \d+\)$/);
    assert.match(s.problems[1]!.reason, /empty message/);
    assert.match(first.stderr, /caliopen: message 4 \(byte \d+\): empty message/, 'reported on stderr too');
    const stored = rows('mia');
    assert.equal(stored.length, 6);
    assert.deepEqual(stored.map((r) => r.ext).sort(), [
      '<m1@x.example>',
      '<m2@x.example>',
      '<m3@x.example>',
      '<m5@x.example>',
      '<m6@x.example>',
      '<m7@x.example>',
    ]);
    const one = stored.find((r) => r.ext === '<m1@x.example>')!;
    const raw = readBlob(dataDir, one.ref);
    assert.match(raw, /\nFrom the start, quoted\n/, '>From unquoted (mboxrd)');
    assert.match(raw, /\nFrom here, not a separator\n/, 'a From line not after an empty line stays in the body');
    assert.ok(raw.endsWith('not a separator\n'), 'the separator line is not part of the message');
    assert.ok(readBlob(dataDir, stored.find((r) => r.ext === '<m2@x.example>')!.ref).includes('\r\nbody two\r\n'));

    // Run again: the checkpoint says it is all done; with --restart, dedupe stores nothing twice.
    const again = json(caliopen(['import', 'mbox', file, '--account', 'mia', '--data-dir', dataDir, '--json']).stdout);
    assert.equal(again.imported, 0);
    assert.equal(again.alreadyPresent, 0, 'nothing read again');
    const restart = caliopen([
      'import',
      'mbox',
      file,
      '--account',
      'mia',
      '--data-dir',
      dataDir,
      '--json',
      '--restart',
    ]);
    assert.equal(json(restart.stdout).imported, 0);
    assert.equal(json(restart.stdout).alreadyPresent, 6);
    assert.equal(rows('mia').length, 6);
  });

  test('a hostile Maildir: folders as tags, Sent is outbound, flags read; tmp/ and non-message files left alone', {
    timeout: 240_000,
  }, () => {
    const md = join(tmp.dir, 'Maildir');
    const msg = (id: string, subject: string) =>
      `From: Ann <ann@x.example>\nTo: max@import.test\nSubject: ${subject}\nMessage-ID: <${id}@x.example>\n\nhello ${id}\n`;
    for (const dir of ['cur', 'new', 'tmp', 'cur/odd-dir', '.Sent/cur', '.Sent/new', 'Archive/2023/cur'])
      mkdirSync(join(md, dir), { recursive: true });
    writeFileSync(join(md, 'cur', '1700000000.M1.host:2,S'), msg('d1', 'seen'));
    writeFileSync(join(md, 'cur', '1700000001.M2.host:2,'), msg('d2', 'unseen'));
    writeFileSync(join(md, 'cur', '1700000002.M3.host:2,'), '');
    writeFileSync(
      join(md, 'cur', '1700000003.M4.host:2,'),
      Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x0a, 0x0d, 0x0a, 0x41]),
    );
    writeFileSync(join(md, 'cur', '.hidden'), msg('hidden', 'hidden'));
    writeFileSync(join(md, 'new', '1700000004.M5.host'), msg('d5', 'new'));
    writeFileSync(join(md, 'tmp', '1700000005.M6.host'), msg('d6', 'being delivered'));
    writeFileSync(join(md, 'dovecot-uidlist'), '3 V1 N1\n');
    writeFileSync(join(md, 'maildirfolder'), '');
    writeFileSync(join(md, '.Sent', 'cur', '1700000006.M7.host:2,S'), msg('d7', 'sent'));
    writeFileSync(join(md, 'Archive', '2023', 'cur', '1700000007.M8.host:2,S'), msg('d8', 'archived'));

    const r = caliopen(['import', 'maildir', md, '--account', 'max', '--data-dir', dataDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = json(r.stdout);
    assert.equal(s.imported, 6, JSON.stringify(s));
    assert.deepEqual(s.problems, [{ where: 'cur/1700000002.M3.host:2,', reason: 'empty file' }]);
    assert.equal(s.leftAlone.tmp, 1);
    assert.ok(s.leftAlone.other >= 4, `dot-file, odd directory, dovecot-uidlist, maildirfolder: ${s.leftAlone.other}`);
    const stored = rows('max');
    const by = (ext: string) => stored.find((x) => x.ext === ext)!;
    assert.equal(stored.length, 6);
    assert.deepEqual(JSON.parse(by('<d1@x.example>').tags), ['INBOX']);
    assert.equal(by('<d1@x.example>').read, 1);
    assert.equal(by('<d2@x.example>').read, 0);
    assert.deepEqual(JSON.parse(by('<d7@x.example>').tags), ['Sent']);
    assert.equal(by('<d7@x.example>').direction, 'outbound');
    assert.deepEqual(JSON.parse(by('<d8@x.example>').tags), ['Archive/2023']);
    assert.equal(
      stored.filter((x) => x.ext === null).length,
      1,
      'the 8-bit garbage file is stored as it is (no Message-ID)',
    );

    const bad = caliopen(['import', 'maildir', join(tmp.dir, 'nope'), '--account', 'max', '--data-dir', dataDir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Cannot read .*nope/);
    const nobody = caliopen(['import', 'maildir', md, '--account', 'nobody', '--data-dir', dataDir]);
    assert.equal(nobody.code, 2);
    assert.match(nobody.stderr, /No account named nobody/);
    const noAccount = caliopen(['import', 'mbox', md, '--data-dir', dataDir]);
    assert.notEqual(noAccount.code, 0);
    assert.match(noAccount.stderr, /--account/);
  });

  test('SIGKILLed mid-import, run again: resumes from its checkpoint, nothing lost, nothing doubled', {
    timeout: 300_000,
  }, async () => {
    const total = 1500;
    const file = join(tmp.dir, 'big.mbox');
    const chunks: string[] = [];
    for (let i = 0; i < total; i++)
      chunks.push(
        `From s${i % 9}@x.example Tue Nov 24 10:00:00 2026\nFrom: S${i % 9} <s${i % 9}@x.example>\nTo: kim@import.test\nSubject: n${i}\nMessage-ID: <k${i}@x.example>\n\n${'word '.repeat(200)}\n\n`,
      );
    writeFileSync(file, chunks.join(''));
    const checkpoints = join(dataDir, 'imports', accounts['kim']!);
    const child = spawn(process.execPath, [BIN, 'import', 'mbox', file, '--account', 'kim', '--data-dir', dataDir], {
      cwd: root,
      stdio: 'ignore',
    });
    await waitFor(
      async () => existsSync(checkpoints) && readdirSync(checkpoints).some((f) => f.endsWith('.json')),
      180_000,
      20,
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const atKill = rows('kim').length;
    assert.ok(atKill > 0 && atKill < total, `killed mid-import (${atKill} stored)`);
    const r = caliopen(['import', 'mbox', file, '--account', 'kim', '--data-dir', dataDir, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const s = json(r.stdout);
    assert.ok(s.resumedPast > 0, 'resumed past what the first run committed');
    assert.equal(s.resumedPast + s.imported + s.alreadyPresent, total);
    const stored = rows('kim');
    assert.equal(stored.length, total, 'every message once');
    assert.equal(new Set(stored.map((x) => x.ext)).size, total);
  });
});

/** A raw message as stored: packed in blobs.db (the embedded engine's blob store). */
function readBlob(dataDir: string, ref: string): string {
  const db = openSqlite(join(dataDir, 'blobs.db'), { readonly: true });
  try {
    const row = db.prepare('SELECT data FROM blobs WHERE key = ?').get(ref) as { data: Buffer } | undefined;
    assert.ok(row, `blob ${ref} is in blobs.db`);
    return row.data.toString('latin1');
  } finally {
    db.close();
  }
}
