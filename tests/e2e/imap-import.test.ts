/**
 * IMAP import against a real Dovecot started by the test (Debian `dovecot-imapd`, its own config in a temp dir, free
 * loopback ports, a self-signed certificate): 3 folders and 500 generated messages, imported through the HTTP API and
 * the queue, then incremental syncs, a UIDVALIDITY change, the CLI with its progress lines, bad credentials and
 * ownership. Everything goes through the real entry points; the storage is read only to check what was stored.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { credentialPurpose } from '@caliopen/instance/identities/remote-identity.entity.ts';
import type { Message } from '@caliopen/instance/mail/message.entity.ts';
import type { Storage } from '@caliopen/instance/database/storage.port.ts';
import { ImapFlow } from 'imapflow';
import { ok } from '../support/api-client.ts';
import { dovecotComponent, startDovecot, type DovecotServer } from '../support/dovecot.ts';
import { freePort, waitFor } from '../support/net.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { tempDir } from '../support/tmp.ts';

const dovecot = dovecotComponent();
const root = fileURLToPath(new URL('../..', import.meta.url));

const REMOTE = { username: 'alice', password: 'Remote-Secret-9f3c1b7e' };
const FOLDERS = [
  { path: 'INBOX', count: 300 },
  { path: 'Sent', count: 100 },
  { path: 'Archives/2025', count: 100 },
] as const;

/** Message `n` of a folder, always the same bytes. */
function generated(folder: string, n: number, tag = 'seed'): string {
  const sent = folder === 'Sent';
  const correspondent = `person${n % 7}@corr${n % 3}.example`;
  const date = new Date(Date.UTC(2025, 0, 1) + n * 3_600_000).toUTCString().replace('GMT', '+0000');
  return [
    `From: ${sent ? 'Alice <alice@remote.example>' : `Person ${n % 7} <${correspondent}>`}`,
    `To: ${sent ? correspondent : 'Alice <alice@remote.example>'}`,
    `Subject: ${tag} message ${n} of ${folder}`,
    `Date: ${date}`,
    `Message-ID: <${tag}-${folder.replaceAll('/', '-').toLowerCase()}-${n}@remote.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Hello, this is ${tag} message ${n} filed in ${folder}.`,
    'A second line, so that the body is more than one line.',
    '',
  ].join('\r\n');
}

async function imapClient(server: DovecotServer): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: server.port,
    secure: false,
    doSTARTTLS: false,
    auth: { user: REMOTE.username, pass: REMOTE.password },
    logger: false,
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}

async function append(server: DovecotServer, folder: string, from: number, count: number, tag = 'seed'): Promise<void> {
  const client = await imapClient(server);
  try {
    for (let n = from; n < from + count; n++)
      await client.append(folder, generated(folder, n, tag), n % 2 === 0 ? ['\\Seen'] : []);
  } finally {
    await client.logout();
  }
}

/** Every message of the account, read through the storage port (conversations, then their messages). */
async function allMessages(storage: Storage, accountId: string): Promise<Message[]> {
  const out: Message[] = [];
  let before: { at: Date; id: string } | undefined;
  for (;;) {
    const page = await storage.conversations.list(accountId, { limit: 200, ...(before ? { before } : {}) });
    for (const c of page) {
      let mBefore: { at: Date; id: string } | undefined;
      for (;;) {
        const msgs = await storage.messages.listByConversation(accountId, c.id, {
          limit: 200,
          ...(mBefore ? { before: mBefore } : {}),
        });
        out.push(...msgs);
        if (msgs.length < 200) break;
        mBefore = { at: msgs.at(-1)!.receivedAt, id: msgs.at(-1)!.id };
      }
    }
    if (page.length < 200) break;
    before = { at: page.at(-1)!.lastMessageAt, id: page.at(-1)!.id };
  }
  return out;
}

/** Every file under `dir` (databases, their WAL files, blobs...). */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...filesUnder(full));
    else out.push(full);
  }
  return out;
}

describe('IMAP import from a real Dovecot', { skip: dovecot.skip }, () => {
  let server: DovecotServer;
  let inst: TestInstance;
  let a: { id: string; token: string };
  let b: { id: string; token: string };
  let identityId: string;
  const ca = tempDir('caliopen-imap-ca-');
  const caFile = join(ca.dir, 'dovecot-ca.pem');
  const logs = new PassThrough();
  let logText = '';
  logs.on('data', (c: Buffer) => {
    logText += c.toString();
  });

  const importOf = async (token: string) => inst.api('GET', `/api/v1/identities/${identityId}/import`, { token });

  /** Starts an import through the API and waits for it to end; resolves its final status. */
  async function syncNow(observed: any[] = []): Promise<any> {
    const started = await inst.api('POST', `/api/v1/identities/${identityId}/import`, { token: a.token });
    assert.equal(started.status, 202, started.text);
    assert.match(started.body.importId, /^[0-9a-f-]{36}$/);
    assert.ok(['queued', 'running'].includes(started.body.state), started.body.state);
    let last: any = null;
    await waitFor(
      async () => {
        last = (await importOf(a.token)).body;
        observed.push(last);
        return last.importId === started.body.importId && (last.state === 'completed' || last.state === 'failed');
      },
      300_000, // 500 messages through the real ingest: minutes on a 2-core machine under load
      100,
    );
    assert.equal(last.state, 'completed', JSON.stringify(last.lastError));
    return last;
  }

  beforeAll(async () => {
    server = await startDovecot({ users: [REMOTE, { username: 'bob', password: 'bob-password-123' }], ssl: true });
    writeFileSync(caFile, server.certPem!);
    const client = await imapClient(server);
    await client.mailboxCreate('Sent');
    await client.mailboxCreate('Archives/2025');
    // The provider's junk folder and trash (special-use \\Junk and \\Trash): left there by the import.
    await client.mailboxCreate('Junk');
    await client.mailboxCreate('Trash');
    await client.logout();
    for (const f of FOLDERS) await append(server, f.path, 0, f.count);
    await append(server, 'Junk', 0, 4, 'spam');
    await append(server, 'Trash', 0, 2, 'thrown');
    inst = await startTestInstance({
      env: {
        CALIOPEN_IMPORT_ALLOW_PRIVATE_HOSTS: 'true',
        CALIOPEN_IMPORT_CA_FILE: caFile,
        CALIOPEN_IMPORT_RESYNC_MINUTES: '1440',
      },
      logTo: logs,
    });
    a = await inst.user('importer-a');
    b = await inst.user('importer-b');
  });

  afterAll(async () => {
    await inst?.stop();
    await server?.stop();
    ca.cleanup();
  });

  test('a wrong password, a closed port or an untrusted certificate: a clear error and nothing stored', async () => {
    const body = {
      kind: 'imap',
      host: '127.0.0.1',
      port: server.tlsPort,
      tls: 'implicit',
      username: REMOTE.username,
      password: 'not-the-password',
    };
    const wrong = await inst.api('POST', '/api/v1/identities', { token: a.token, body });
    assert.equal(wrong.status, 422, wrong.text);
    assert.equal(wrong.body.code, 'imap_auth_failed');
    assert.ok(!wrong.text.includes('not-the-password'));

    const closed = await inst.api('POST', '/api/v1/identities', {
      token: a.token,
      body: { ...body, password: REMOTE.password, port: await freePort() },
    });
    assert.equal(closed.status, 502, closed.text);
    assert.equal(closed.body.code, 'imap_unreachable');

    // Implicit TLS towards the plain port: the server greets in clear, the TLS handshake fails.
    const plain = await inst.api('POST', '/api/v1/identities', {
      token: a.token,
      body: { ...body, password: REMOTE.password, port: server.port },
    });
    assert.equal(plain.status, 502, plain.text);
    assert.equal(plain.body.code, 'imap_tls_failed');

    assert.deepEqual((await inst.api('GET', '/api/v1/identities', { token: a.token })).body.items, []);
    assert.deepEqual(await inst.running.services.storage.remoteIdentities.listByAccount(a.id), []);

    // Another instance that does not trust the test CA, and one that keeps users off private addresses.
    const [untrusting, strict] = await Promise.all([
      startTestInstance({ env: { CALIOPEN_IMPORT_ALLOW_PRIVATE_HOSTS: 'true' } }),
      startTestInstance(),
    ]);
    try {
      for (const [other, code] of [
        [untrusting, 'imap_tls_failed'],
        [strict, 'imap_host_forbidden'],
      ] as const) {
        const u = await other.user('someone');
        for (const host of code === 'imap_host_forbidden' ? ['127.0.0.1', 'localhost', '[::1]'] : ['127.0.0.1']) {
          const r = await other.api('POST', '/api/v1/identities', {
            token: u.token,
            body: { ...body, host, password: REMOTE.password },
          });
          assert.equal(r.body.code, code, `${host}: ${r.text}`);
        }
        assert.deepEqual(await other.running.services.storage.remoteIdentities.listByAccount(u.id), []);
      }
    } finally {
      await untrusting.stop();
      await strict.stop();
    }
  });

  test('hostile input is refused by the schema', async () => {
    const good = {
      kind: 'imap',
      host: '127.0.0.1',
      port: server.tlsPort,
      tls: 'implicit',
      username: REMOTE.username,
      password: REMOTE.password,
    };
    for (const bad of [
      { ...good, kind: 'pop3' },
      { ...good, port: 0 },
      { ...good, port: 70000 },
      { ...good, tls: 'maybe' },
      { ...good, host: 'a b.example' },
      { ...good, host: 'x'.repeat(300) },
      { ...good, host: 'evil.example\r\nA1 LOGOUT' },
      { ...good, username: 'alice\r\nA1 DELETE INBOX' },
      { ...good, password: '' },
      { ...good, extra: true },
      { ...good, label: 'l'.repeat(101) },
    ]) {
      const r = await inst.api('POST', '/api/v1/identities', { token: a.token, body: bad });
      assert.equal(r.status, 400, `${JSON.stringify(bad).slice(0, 120)}: ${r.text}`);
      assert.equal(r.body.code, 'validation_failed');
    }
    for (const path of ['/api/v1/identities/not-a-uuid', '/api/v1/identities/not-a-uuid/import']) {
      assert.equal((await inst.api('GET', path, { token: a.token })).status, 400);
    }
    assert.equal(
      (await inst.api('GET', '/api/v1/identities/00000000-0000-4000-8000-000000000000/import', { token: a.token }))
        .status,
      404,
    );
  });

  test('first import: 500 messages of 3 folders (the \\Noselect parent skipped, the junk folder and the trash left at the provider), folder names as tags, Sent as outbound', async () => {
    const created = await inst.api('POST', '/api/v1/identities', {
      token: a.token,
      body: {
        kind: 'imap',
        host: '127.0.0.1',
        port: server.tlsPort,
        tls: 'implicit',
        username: REMOTE.username,
        password: REMOTE.password,
        label: 'Old mailbox',
      },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.label, 'Old mailbox');
    assert.equal(created.body.sync.state, 'idle');
    assert.ok(!created.text.includes(REMOTE.password), 'the password is never returned');
    identityId = created.body.id;

    const again = await inst.api('POST', '/api/v1/identities', {
      token: a.token,
      body: {
        kind: 'imap',
        host: '127.0.0.1',
        port: server.tlsPort,
        tls: 'implicit',
        username: REMOTE.username,
        password: REMOTE.password,
      },
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'identity_exists');

    const observed: any[] = [];
    const done = await syncNow(observed);
    const midway = observed.find((s) => s.state === 'running' && s.folders.length === 5 && s.totals.done < 500);
    assert.ok(midway, 'progress was visible while the import ran');
    assert.ok(midway.folders.every((f: any) => f.total === null || f.done <= f.total));
    assert.deepEqual(
      done.folders.map((f: any) => [f.path, f.total, f.done, f.imported, f.skipped, f.excluded]).sort(),
      [
        ['Archives/2025', 100, 100, 100, 0, null],
        ['INBOX', 300, 300, 300, 0, null],
        ['Junk', 0, 0, 0, 0, 'junk'],
        ['Sent', 100, 100, 100, 0, null],
        ['Trash', 0, 0, 0, 0, 'trash'],
      ],
      'three folders imported, the junk folder and the trash listed as left at the provider; the Archives parent (\\Noselect) is not one',
    );
    assert.deepEqual(done.totals, { total: 500, done: 500, imported: 500, skipped: 0 });
    assert.equal(done.lastError, null);
    assert.ok(done.lastSuccessAt);

    const stored = await allMessages(inst.running.services.storage, a.id);
    assert.equal(stored.length, 500);
    assert.deepEqual(
      stored.filter((m) => /^(spam|thrown) /.test(m.subject) || m.tags.includes('Junk') || m.tags.includes('Trash')),
      [],
      'nothing of the junk folder or the trash was imported',
    );
    for (const f of FOLDERS) {
      const inFolder = stored.filter((m) => m.tags.includes(f.path));
      assert.equal(inFolder.length, f.count, f.path);
      assert.ok(
        inFolder.every((m) => m.direction === (f.path === 'Sent' ? 'outbound' : 'inbound')),
        `${f.path} direction`,
      );
      assert.ok(inFolder.every((m) => (m.facts as any).transport?.via === 'imap-import'));
    }
    const m7 = stored.find((m) => m.externalId?.includes('seed-inbox-7@'));
    assert.ok(m7, 'message 7 of INBOX is there');
    assert.equal(m7.subject, 'seed message 7 of INBOX');
    assert.equal(m7.read, false, 'unseen stays unread');
    assert.equal(stored.find((m) => m.externalId?.includes('seed-inbox-8@'))?.read, true, '\\Seen becomes read');
    assert.equal(await inst.running.services.storage.messages.countByAccount(b.id), 0, 'nothing landed in B');
  });

  test('a second sync imports nothing', async () => {
    const done = await syncNow();
    assert.deepEqual(done.totals, { total: 0, done: 0, imported: 0, skipped: 0 });
    assert.equal((await allMessages(inst.running.services.storage, a.id)).length, 500);
  });

  test('5 new messages -> exactly 5 imported, in their folders', async () => {
    await append(server, 'INBOX', 1000, 2, 'new');
    await append(server, 'Archives/2025', 1000, 3, 'new');
    const done = await syncNow();
    assert.equal(done.totals.imported, 5);
    assert.equal(done.totals.total, 5);
    assert.equal(done.folders.find((f: any) => f.path === 'INBOX').imported, 2);
    assert.equal(done.folders.find((f: any) => f.path === 'Archives/2025').imported, 3);
    const stored = await allMessages(inst.running.services.storage, a.id);
    assert.equal(stored.length, 505);
    assert.equal(stored.filter((m) => m.subject.startsWith('new ') && m.tags.includes('Archives/2025')).length, 3);
  });

  test('a UIDVALIDITY change re-scans the folder without importing anything twice; a copy gains its second tag', async () => {
    const before = await inst.running.services.storage.remoteIdentities.listFolders(a.id, identityId);
    const client = await imapClient(server);
    await client.mailboxDelete('Archives/2025');
    await client.mailboxCreate('Archives/2025');
    await client.logout();
    await append(server, 'Archives/2025', 0, 100);
    await append(server, 'Archives/2025', 1000, 3, 'new');
    const copier = await imapClient(server);
    const lock = await copier.getMailboxLock('INBOX');
    await copier.messageCopy('1', 'Sent');
    lock.release();
    await copier.logout();

    const done = await syncNow();
    const archives = done.folders.find((f: any) => f.path === 'Archives/2025');
    assert.deepEqual(
      [archives.total, archives.done, archives.imported],
      [103, 103, 0],
      'the whole renumbered folder was looked at, nothing imported again',
    );
    assert.equal(done.totals.imported, 0);
    const after = await inst.running.services.storage.remoteIdentities.listFolders(a.id, identityId);
    assert.notEqual(
      after.find((f) => f.path === 'Archives/2025')?.uidValidity,
      before.find((f) => f.path === 'Archives/2025')?.uidValidity,
    );

    const stored = await allMessages(inst.running.services.storage, a.id);
    assert.equal(stored.length, 505);
    const first = stored.find((m) => m.externalId?.includes('seed-inbox-0@'));
    assert.deepEqual(
      first?.tags.filter((t) => t === 'INBOX' || t === 'Sent').sort(),
      ['INBOX', 'Sent'],
      'the copy in Sent added its tag',
    );
  });

  test('the CLI imports with a progress line per batch', async () => {
    await append(server, 'INBOX', 2000, 3, 'cli');
    const child = spawn(
      process.execPath,
      [join(root, 'cli/bin/caliopen.mjs'), 'import', 'run', 'importer-a', identityId, '--data-dir', inst.dataDir],
      {
        env: {
          ...process.env,
          CALIOPEN_IMPORT_ALLOW_PRIVATE_HOSTS: 'true',
          CALIOPEN_IMPORT_CA_FILE: caFile,
          CALIOPEN_LOG_LEVEL: 'silent',
          CALIOPEN_HTTP_PORT: '0',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, `${out}\n${err}`);
    assert.match(out, /Importing Old mailbox/);
    assert.match(out, /running: folder \d\/3 "INBOX" \d+\/3 \| all folders \d+\/3 done/);
    assert.match(out, /Imported 3 new message\(s\) from 3 folder\(s\) .*; 2 folder\(s\) left at the provider\)/);
    assert.match(out, /^ {2}Junk: not imported \(the provider's junk folder: its mail stays there\)$/m);
    assert.match(out, /^ {2}Trash: not imported \(the provider's trash: its mail stays there\)$/m);
    assert.ok(!out.includes(REMOTE.password) && !err.includes(REMOTE.password));
    assert.equal((await allMessages(inst.running.services.storage, a.id)).length, 508);

    const list = spawn(
      process.execPath,
      [join(root, 'cli/bin/caliopen.mjs'), 'import', 'list', 'importer-a', '--data-dir', inst.dataDir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let listed = '';
    list.stdout.on('data', (c: Buffer) => (listed += c.toString()));
    assert.equal(await new Promise((resolve) => list.on('exit', resolve)), 0);
    assert.match(
      listed,
      new RegExp(`${identityId}  Old mailbox  implicit://127.0.0.1:${server.tlsPort}  last import: completed`),
    );
  });

  test('the password is sealed: in no file of the data directory, in no log line, and it opens for this identity only', async () => {
    const needle = Buffer.from(REMOTE.password, 'utf8');
    for (const file of filesUnder(inst.dataDir)) {
      assert.equal(readFileSync(file).indexOf(needle), -1, `the password appears in ${file}`);
    }
    assert.ok(logText.length > 0, 'the instance logged something');
    assert.ok(!logText.includes(REMOTE.password), 'the password appears in the logs');
    const identity = await inst.running.services.storage.remoteIdentities.get(a.id, identityId);
    assert.match(identity!.credentialSealed, /^v1\./);
    const box = inst.running.services.box;
    assert.equal(box.open(identity!.credentialSealed, credentialPurpose(identityId)), REMOTE.password);
    assert.throws(() => box.open(identity!.credentialSealed, credentialPurpose(b.id)));
  });

  test('a new password or name: a wrong password changes nothing; the right one is sealed anew and the positions stay', async () => {
    const path = `/api/v1/identities/${identityId}`;
    const before = await inst.running.services.storage.remoteIdentities.get(a.id, identityId);
    const wrong = await inst.api('PATCH', path, { token: a.token, body: { password: 'not-the-password', label: 'x' } });
    assert.equal(wrong.status, 422, wrong.text);
    assert.equal(wrong.body.code, 'imap_auth_failed');
    const unchanged = await inst.running.services.storage.remoteIdentities.get(a.id, identityId);
    assert.deepEqual(
      [unchanged?.credentialSealed, unchanged?.label],
      [before?.credentialSealed, before?.label],
      'nothing changed, the name neither',
    );
    for (const body of [
      {},
      { password: 'x\r\nA1 LOGIN evil' },
      { password: '' },
      { label: 'x'.repeat(101) },
      { host: 'evil.example' },
    ]) {
      const r = await inst.api('PATCH', path, { token: a.token, body });
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${r.text}`);
    }

    const changed = ok(
      await inst.api('PATCH', path, { token: a.token, body: { password: REMOTE.password, label: 'Old mailbox' } }),
    );
    assert.equal(changed.label, 'Old mailbox');
    assert.ok(!JSON.stringify(changed).includes(REMOTE.password), 'never returned');
    const after = await inst.running.services.storage.remoteIdentities.get(a.id, identityId);
    assert.notEqual(after?.credentialSealed, before?.credentialSealed, 'sealed anew');
    assert.equal(
      inst.running.services.box.open(after!.credentialSealed, credentialPurpose(identityId)),
      REMOTE.password,
    );
    const stored = (await allMessages(inst.running.services.storage, a.id)).length;
    const done = await syncNow();
    assert.equal(done.totals.imported, 0, 'the positions were kept: nothing is imported again');
    assert.equal((await allMessages(inst.running.services.storage, a.id)).length, stored);
    const renamedBack = ok(await inst.api('PATCH', path, { token: a.token, body: { label: '' } }));
    assert.equal(renamedBack.label, `${REMOTE.username} on 127.0.0.1`, 'an empty name: the default one');
  });

  test("B can neither see nor trigger A's identity; A's delete forgets it and keeps the mail", async () => {
    for (const [method, path] of [
      ['GET', `/api/v1/identities/${identityId}`],
      ['GET', `/api/v1/identities/${identityId}/import`],
      ['POST', `/api/v1/identities/${identityId}/import`],
      ['PATCH', `/api/v1/identities/${identityId}`],
      ['DELETE', `/api/v1/identities/${identityId}`],
    ] as const) {
      const r = await inst.api(method, path, {
        token: b.token,
        ...(method === 'PATCH' ? { body: { label: 'taken' } } : {}),
      });
      assert.equal(r.status, 404, `${method} ${path} as B: ${r.text}`);
      assert.equal(r.body.code, 'not_found');
    }
    assert.deepEqual((await inst.api('GET', '/api/v1/identities', { token: b.token })).body.items, []);
    assert.equal((await importOf(a.token)).body.state, 'completed', "B's attempts changed nothing");

    const listed = await inst.api('GET', '/api/v1/identities', { token: a.token });
    assert.deepEqual(
      listed.body.items.map((i: any) => i.id),
      [identityId],
    );
    assert.ok(!listed.text.includes(REMOTE.password));
    const removed = await inst.api('DELETE', `/api/v1/identities/${identityId}`, { token: a.token });
    assert.equal(removed.status, 200, removed.text);
    assert.equal((await inst.api('GET', `/api/v1/identities/${identityId}`, { token: a.token })).status, 404);
    assert.deepEqual(await inst.running.services.storage.remoteIdentities.listFolders(a.id, identityId), []);
    assert.equal((await allMessages(inst.running.services.storage, a.id)).length, 508, 'imported mail stays');
  });
});
