import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { openPgpKeyName } from '@caliopen/instance/discovery/key-names.ts';
import { lookupWkd } from '@caliopen/instance/discovery/wkd.ts';
import { ACCOUNT_DELETION_QUEUE } from '@caliopen/instance/account-deletion/account-deletion.service.ts';
import { ok } from '../support/api-client.ts';
import { encodeQuery, udpQuery } from '../support/dns-client.ts';
import { type MailWorld, mailbox, startMailWorld } from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';

/**
 * Issue 18 item 3, second half: self-service account deletion that leaves nothing. A real instance (SMTP in, DNS and
 * the public HTTPS face on) with an account holding messages received over SMTP (one with an attachment), contacts,
 * a published server-held key and search entries; the user asks for the deletion through HTTP, cancels it, asks
 * again; after the grace period (a few seconds here) the purge job runs. Then every table of instance.db and
 * search.db, every file of the blob store, are read for any trace of the account (its id, username, address, the
 * subjects and bodies of its mail, a contact's address, its key's fingerprint): none. The other account is intact;
 * WKD answers 404 and DNS NXDOMAIN for the deleted user. The admin journal (its own database, an append-only audit
 * record) is not scanned: it keeps its entries by design (docs/adr/0025-account-deletion.md).
 */

const DOMAIN = 'alpha.test';
const GRACE_SECONDS = 10;
const USERNAME = 'wilhelmina';
let world: MailWorld;
let user: { id: string; token: string; password: string };
let other: { id: string; token: string; password: string };
let admin: { token: string };
let fingerprint: string;

const UA = { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0' };

const plain = (to: string, subject: string, body: string) =>
  `From: Alice <alice@sender.example>\r\nTo: ${to}@${DOMAIN}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@sender.example>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${body}\r\n`;

const withAttachment = (to: string, subject: string) =>
  [
    'From: Alice <alice@sender.example>',
    `To: ${to}@${DOMAIN}`,
    `Subject: ${subject}`,
    `Message-ID: <${subject.replace(/\W/g, '')}@sender.example>`,
    'Date: Sun, 06 Dec 2026 10:05:00 +0000',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Plans attached, quetzalcoatl.',
    '--b1',
    'Content-Type: text/plain; name="plans.txt"',
    'Content-Disposition: attachment; filename="plans.txt"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('xylophone-attachment-secret\n').toString('base64'),
    '--b1--',
    '',
  ].join('\r\n');

/** What must not remain anywhere once the account is purged. */
const needles = () => [
  user.id,
  USERNAME,
  'Quetzalcoatl',
  'quetzalcoatl',
  'xylophone',
  'eilonwy-contact@elsewhere.example',
  'Eilonwy Contact',
  fingerprint.toLowerCase(),
];

async function login(username: string, password: string) {
  return world.inst.api('POST', '/api/v1/auth/login', { body: { username, password }, headers: UA });
}

/** Waits until the purge queue has nothing waiting, delayed or running; resolves its counts. */
async function queueIdle(timeoutMs: number) {
  const counts = () => world.inst.running.services.queue.counts(ACCOUNT_DELETION_QUEUE);
  await waitFor(async () => {
    const c = await counts();
    return c.waiting + c.delayed + c.active === 0;
  }, timeoutMs);
  return counts();
}

beforeAll(async () => {
  world = await startMailWorld({
    domain: DOMAIN,
    zone: { 'sender.example': [{ type: 'TXT', data: 'v=spf1 ip4:127.0.0.1 -all' }] },
    env: {
      CALIOPEN_ACCOUNT_DELETION_GRACE_SECONDS: String(GRACE_SECONDS),
      CALIOPEN_DNS_ENABLED: 'true',
      CALIOPEN_DNS_PORT: '0',
      CALIOPEN_DNS_ADDRESSES: '127.0.0.1',
    },
  });
  user = await world.inst.user(USERNAME);
  other = await world.inst.user('carol');
  admin = await world.inst.user('root', 'admin');
  const { api } = world.inst;
  ok(await api('POST', '/api/v1/keys', { token: user.token, body: { mode: 'server', password: user.password } }), 201);
  fingerprint = ok(await api('GET', '/api/v1/keys', { token: user.token })).items[0].fingerprint;
  ok(
    await api('POST', '/api/v1/contacts', {
      token: user.token,
      body: { displayName: 'Eilonwy Contact', identities: [{ address: 'eilonwy-contact@elsewhere.example' }] },
    }),
    201,
  );
  const deliveries: [string, string][] = [
    [USERNAME, plain(USERNAME, 'Quetzalcoatl first', 'Hello quetzalcoatl.')],
    [USERNAME, withAttachment(USERNAME, 'Quetzalcoatl plans')],
    ['carol', plain('carol', 'Carol stays', 'for carol only, marmoset')],
  ];
  for (const [to, raw] of deliveries)
    await world.deliver({
      helo: 'mail.sender.example',
      from: 'alice@sender.example',
      to: [`${to}@${DOMAIN}`],
      raw: Buffer.from(raw, 'utf8'),
      tls: false,
    });
  await waitFor(async () => (await mailbox(world.inst, user.token)).length === 2, 30_000);
  await waitFor(async () => (await mailbox(world.inst, other.token)).length === 1, 30_000);
  // Indexed for search (the 'index' queue) before anything is asked.
  await waitFor(
    async () =>
      ok(await api('GET', '/api/v1/search?q=quetzalcoatl', { token: user.token })).items.length === 2 &&
      ok(await api('GET', '/api/v1/search?q=marmoset', { token: other.token })).items.length === 1,
    30_000,
  );
}, 120_000);

afterAll(async () => {
  await world?.stop();
});

const wkd = (localPart: string) =>
  lookupWkd(`${localPart}@${DOMAIN}`, {
    ca: world.cert,
    connectTo: { [DOMAIN]: `127.0.0.1:${new URL(world.inst.running.publicUrl!).port}` },
  });
const dnsKey = async (localPart: string) =>
  (await udpQuery(world.inst.running.dns!.udpPort, encodeQuery(openPgpKeyName(localPart, DOMAIN), 'UNKNOWN_61'))).rcode;

describe('self-service account deletion', () => {
  it('the account is published (WKD, DNS), its attachment readable: what the purge will have to remove', async () => {
    assert.ok((await wkd(USERNAME)).key, 'WKD serves the key');
    assert.equal(await dnsKey(USERNAME), 'NOERROR');
    assert.equal(rawBlobsOf(user.id), 2, 'one raw blob per message (packed in blobs.db)');
  });

  it('refuses bad requests with problem+json: no session, wrong password, bad bodies, nothing to cancel', async () => {
    const { api } = world.inst;
    const anonymous = await api('POST', '/api/v1/account/deletion', { body: { password: user.password } });
    assert.equal(anonymous.status, 401);
    const wrong = await api('POST', '/api/v1/account/deletion', {
      token: user.token,
      body: { password: 'not-the-password' },
    });
    assert.deepEqual([wrong.status, wrong.body.code], [401, 'invalid_credentials']);
    for (const body of [{}, { password: '' }, { password: user.password, extra: 1 }, { password: 42 }, []]) {
      const r = await api('POST', '/api/v1/account/deletion', { token: user.token, body });
      assert.deepEqual([r.status, r.body.code], [400, 'validation_failed'], JSON.stringify(body));
    }
    const nothing = await api('DELETE', '/api/v1/account/deletion', { token: user.token });
    assert.deepEqual([nothing.status, nothing.body.code], [409, 'account_deletion_not_pending']);
    assert.deepEqual(ok(await api('GET', '/api/v1/account/deletion', { token: user.token })), { pending: false });
    // The session still works: nothing was scheduled.
    ok(await api('GET', '/api/v1/me', { token: user.token }));
  });

  it('asking ends every session; signing in again shows the pending deletion and cancels it; nothing is purged', async () => {
    const { api } = world.inst;
    const asked = ok(
      await api('POST', '/api/v1/account/deletion', { token: user.token, body: { password: user.password } }),
      202,
    );
    assert.equal(asked.pending, true);
    assert.equal(new Date(asked.dueAt).getTime() - new Date(asked.requestedAt).getTime(), GRACE_SECONDS * 1000);
    const ended = await api('GET', '/api/v1/me', { token: user.token });
    assert.deepEqual([ended.status, ended.body.code], [401, 'token_revoked']);

    const token = ok(await login(USERNAME, user.password)).token as string;
    assert.deepEqual(ok(await api('GET', '/api/v1/account/deletion', { token })), asked);
    const listed = ok(await api('GET', '/api/v1/admin/account-deletions', { token: admin.token }));
    assert.deepEqual(listed, [
      { accountId: user.id, username: USERNAME, requestedAt: asked.requestedAt, dueAt: asked.dueAt },
    ]);
    assert.equal((await api('GET', '/api/v1/admin/account-deletions', { token })).status, 403);
    ok(await api('DELETE', '/api/v1/account/deletion', { token }), 204);
    assert.deepEqual(ok(await api('GET', '/api/v1/account/deletion', { token })), { pending: false });

    // The purge job still comes due; it finds the request cancelled and removes nothing.
    const counts = await queueIdle((GRACE_SECONDS + 60) * 1000);
    assert.equal(counts.dead, 0);
    assert.equal((await mailbox(world.inst, token)).length, 2);
    assert.ok((await wkd(USERNAME)).key);
    user.token = token;
  }, 120_000);

  it('asked again, the account is purged after the grace period: nothing of it remains anywhere', async () => {
    const { api } = world.inst;
    const otherBefore = {
      mailbox: await mailbox(world.inst, other.token),
      search: ok(await api('GET', '/api/v1/search?q=marmoset', { token: other.token })).items,
    };
    ok(await api('POST', '/api/v1/account/deletion', { token: user.token, body: { password: user.password } }), 202);
    const again = ok(await login(USERNAME, user.password)).token as string;
    const twice = await api('POST', '/api/v1/account/deletion', { token: again, body: { password: user.password } });
    assert.deepEqual([twice.status, twice.body.code], [409, 'account_deletion_pending']);

    await waitFor(
      async () => (await world.inst.running.services.storage.accounts.get(user.id)) === null,
      (GRACE_SECONDS + 60) * 1000,
    );
    const counts = await queueIdle(60_000);
    assert.equal(counts.dead, 0);

    const gone = await login(USERNAME, user.password);
    assert.deepEqual([gone.status, gone.body.code], [401, 'invalid_credentials']);
    assert.equal((await api('GET', '/api/v1/me', { token: again })).status, 401);
    const published = await wkd(USERNAME);
    assert.deepEqual([published.key, published.status], [null, 404]);
    assert.equal(await dnsKey(USERNAME), 'NXDOMAIN');

    // Every table of the store and of the search index, every column, every row.
    for (const file of ['instance.db', 'search.db', 'blobs.db']) {
      const traces = scanDatabase(join(world.inst.dataDir, file), needles());
      assert.deepEqual(traces, [], `${file} still holds traces of the deleted account`);
    }
    // The files themselves, byte for byte (free pages and the write-ahead log included).
    for (const file of readdirSync(world.inst.dataDir).filter((f) => /^(search|blobs)\.db(-wal)?$/.test(f))) {
      const bytes = readFileSync(join(world.inst.dataDir, file)).toString('latin1').toLowerCase();
      for (const n of needles()) assert.ok(!bytes.includes(n.toLowerCase()), `the file ${file} holds ${n}`);
    }
    // Every blob: none under the account's prefix, packed or as a file (large ones), none holding its content.
    assert.equal(rawBlobsOf(user.id), 0);
    const blobs = join(world.inst.dataDir, 'blobs');
    for (const file of walk(blobs)) {
      const rel = relative(blobs, file);
      assert.ok(!rel.includes(user.id), `blob ${rel} is the deleted account's`);
      const content = readFileSync(file).toString('latin1');
      for (const n of needles()) assert.ok(!content.includes(n), `blob ${rel} holds ${n}`);
    }

    // The other account is untouched, its search entry included; the admins see nothing pending.
    assert.deepEqual(await mailbox(world.inst, other.token), otherBefore.mailbox);
    assert.deepEqual(
      ok(await api('GET', '/api/v1/search?q=marmoset', { token: other.token })).items,
      otherBefore.search,
    );
    const carolMessage = otherBefore.mailbox[0];
    ok(await api('GET', `/api/v1/messages/${carolMessage.id}/raw`, { token: other.token }));
    assert.deepEqual(ok(await api('GET', '/api/v1/admin/account-deletions', { token: admin.token })), []);
    // The username is free again.
    const reborn = await world.inst.running.services.accounts.create({
      username: USERNAME,
      password: 'a-new-password-0123',
      role: 'user',
    });
    assert.notEqual(reborn.id, user.id);
  }, 180_000);

  it('with two-factor on, the request also needs a current code', async () => {
    const { api } = world.inst;
    const u = await world.inst.user('twofactor');
    const { secret } = ok(await api('POST', '/api/v1/me/totp', { token: u.token }));
    const code = (offsetSeconds: number) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offsetSeconds });
    ok(await api('POST', '/api/v1/me/totp/confirm', { token: u.token, body: { code: await code(0) } }), 204);
    const ask = (body: unknown) => api('POST', '/api/v1/account/deletion', { token: u.token, body });
    const none = await ask({ password: u.password });
    assert.deepEqual([none.status, none.body.code], [401, 'totp_required']);
    const later = await code(30);
    const wrongCode = String((Number(later) + 1) % 1_000_000).padStart(6, '0');
    const wrong = await ask({ password: u.password, totp: wrongCode });
    assert.deepEqual([wrong.status, wrong.body.code], [401, 'totp_invalid']);
    const badPassword = await ask({ password: 'not-the-password', totp: later });
    assert.deepEqual([badPassword.status, badPassword.body.code], [401, 'invalid_credentials']);
    assert.deepEqual(ok(await api('GET', '/api/v1/account/deletion', { token: u.token })), { pending: false });
    // The next time step's code (within the tolerance), never used before.
    ok(await ask({ password: u.password, totp: later }), 202);
    assert.equal((await api('GET', '/api/v1/me', { token: u.token })).status, 401);
  });
});

/** Every file under `dir` (none when it does not exist: blobs go to files only when large). */
function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

/** How many raw messages of the account are packed in blobs.db. */
function rawBlobsOf(accountId: string): number {
  const db = new Database(join(world.inst.dataDir, 'blobs.db'), { readonly: true, fileMustExist: true });
  try {
    return (
      db
        .prepare('SELECT COUNT(*) AS n FROM blobs WHERE key >= ? AND key < ?')
        .get(`raw/${accountId}/`, `raw/${accountId}0`) as { n: number }
    ).n;
  } finally {
    db.close();
  }
}

/** Every value of every row of every table (FTS shadow tables included) that contains one of the needles. */
function scanDatabase(path: string, needles: string[]): string[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .all() as { name: string }[];
    assert.ok(tables.length > 0);
    const found: string[] = [];
    for (const { name } of tables) {
      const rows = db.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).all() as Record<string, unknown>[];
      for (const row of rows)
        for (const [column, value] of Object.entries(row)) {
          const text =
            typeof value === 'string'
              ? value
              : Buffer.isBuffer(value)
                ? value.toString('latin1')
                : value === null
                  ? ''
                  : String(value);
          for (const n of needles)
            if (text.toLowerCase().includes(n.toLowerCase())) found.push(`${name}.${column} holds ${n}`);
        }
    }
    return found;
  } finally {
    db.close();
  }
}
