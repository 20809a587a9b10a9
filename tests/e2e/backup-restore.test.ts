import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startInstance, type RunningInstance } from '@caliopen/instance/app/instance.app.ts';
import { loadConfig } from '@caliopen/instance/config/config.loader.ts';
import { SqliteInboundSpool } from '@caliopen/instance/email/inbound-spool.sqlite.ts';
import { type Api, jsonApi, ok } from '../support/api-client.ts';
import { queueIdle } from '../support/instance.ts';
import { mailbox, type MailWorld, startMailWorld } from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';
import { caliopenAsync } from '../support/process.ts';
import { RawSmtpClient } from '../support/smtp-client.ts';
import { tempDir } from '../support/tmp.ts';

/**
 * Issue 18 item 2 through the real entry points: `caliopen backup create` (a separate process) while an SMTP sender
 * loop keeps mail flowing into the running instance, `caliopen backup verify` (sound, tampered, wrong passphrase),
 * `caliopen backup restore` into a new directory, and a second instance started on it, compared with the original
 * through the API: accounts, every message accepted before the backup started (with its raw form: no message
 * without its blob), contacts, keys, Privacy Index, search hits.
 */

const DOMAIN = 'alpha.test';
const PASSPHRASE = 'a passphrase long enough for the backup';

let world: MailWorld;
let restored: RunningInstance | null = null;
let restoredApi: Api;
const tmp = tempDir('caliopen-backup-e2e-');
const users: Record<string, { id: string; token: string; password: string }> = {};
let admin: { token: string };

interface Sent {
  to: 'bob' | 'carol';
  subject: string;
  acceptedAt: number;
}
const sent: Sent[] = [];
let sending = true;
let loop: Promise<void>;
let backupStartedAt = 0;
let backupEndedAt = 0;

function letter(to: string, subject: string): string {
  return `From: Alice <alice@sender.example>\r\nTo: ${to}@${DOMAIN}\r\nSubject: ${subject}\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\nMessage-ID: <${subject}@sender.example>\r\n\r\nHello, this is ${subject} about the zebra crossing.\r\n`;
}

/** Sends one message after another over SMTP until told to stop; records when each was accepted (250). */
async function senderLoop(): Promise<void> {
  let n = 0;
  while (sending) {
    const to = n % 2 === 0 ? 'bob' : 'carol';
    const subject = `msg${String(n).padStart(4, '0')}`;
    const c = await RawSmtpClient.connect(world.inst.running.smtp!.port);
    assert.equal((await c.read())?.code, 220);
    assert.equal((await c.command('EHLO mail.sender.example'))?.code, 250);
    const reply = await c.send('alice@sender.example', [`${to}@${DOMAIN}`], letter(to, subject));
    assert.equal(reply?.code, 250, `${reply?.code} ${reply?.text}`);
    sent.push({ to, subject, acceptedAt: Date.now() });
    await c.quit();
    n++;
  }
}

const secretArgs = () => ['--passphrase-file', join(tmp.dir, 'passphrase')];

beforeAll(async () => {
  world = await startMailWorld({
    domain: DOMAIN,
    zone: { 'sender.example': [{ type: 'TXT', data: 'v=spf1 ip4:127.0.0.1 -all' }] },
  });
  for (const name of ['bob', 'carol'] as const) users[name] = await world.inst.user(name);
  admin = await world.inst.user('root', 'admin');
  const { api } = world.inst;
  // Keys (server-held for bob, so sealed under the master key in the backup), contacts.
  ok(
    await api('POST', '/api/v1/keys', {
      token: users.bob!.token,
      body: { mode: 'server', password: users.bob!.password },
    }),
    201,
  );
  for (const [name, address] of [
    ['Alice Martin', 'alice@sender.example'],
    ['Dora', 'dora@elsewhere.example'],
  ])
    ok(
      await api('POST', '/api/v1/contacts', {
        token: users.bob!.token,
        body: { displayName: name, identities: [{ address }], notes: `note about ${name}` },
      }),
      201,
    );
  writeFileSync(join(tmp.dir, 'passphrase'), `${PASSPHRASE}\n`);
  loop = senderLoop();
  loop.catch(() => undefined);
  await waitFor(async () => sent.length >= 10, 60_000);
});

afterAll(async () => {
  sending = false;
  await loop?.catch(() => undefined);
  await restored?.stop();
  await world?.stop();
  tmp.cleanup();
});

describe('caliopen backup, while mail flows', () => {
  const file = () => join(tmp.dir, 'instance.backup');
  const target = () => join(tmp.dir, 'restored');

  it('create: a backup made by another process while the sender loop keeps delivering', async () => {
    backupStartedAt = Date.now();
    const r = await caliopenAsync(['backup', 'create', file(), '--data-dir', world.inst.dataDir, ...secretArgs()], {
      env: { CALIOPEN_BACKUP_PASSPHRASE: '' },
    });
    backupEndedAt = Date.now();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Backup of alpha\.test written to .*: \d+ files/);
    assert.match(r.stdout, /The master key is NOT in it/);
    // Mail was accepted while the backup ran (the traffic really overlapped), then the loop stops.
    const before = sent.length;
    await waitFor(async () => sent.length >= before + 3, 60_000);
    sending = false;
    await loop;
    assert.ok(
      sent.some((s) => s.acceptedAt > backupStartedAt && s.acceptedAt < backupEndedAt),
      'messages were accepted during the backup',
    );
    const bytes = readFileSync(file());
    assert.equal(bytes.subarray(0, 8).toString('latin1'), 'CLPNBAK1');
    assert.ok(!bytes.includes(Buffer.from('zebra crossing')), 'no message text in clear');
    assert.ok(!bytes.includes(Buffer.from('SQLite format 3')), 'no database in clear');
  });

  it('--help says what each command does and where the Cassandra procedure is; bad usage exits 2', async () => {
    const help = await caliopenAsync(['backup', '--help']);
    assert.equal(help.code, 0);
    for (const word of ['create', 'verify', 'restore', 'docs/ops/backup.md', '--key-file'])
      assert.ok(help.stdout.includes(word), `${word} in ${help.stdout}`);
    const noDir = await caliopenAsync(['backup', 'restore', file(), ...secretArgs()]);
    assert.equal(noDir.code, 2);
    assert.match(noDir.stderr, /--data-dir/);
    const both = await caliopenAsync(['backup', 'verify', file(), ...secretArgs(), '--key-file', '/etc/hostname']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /exclude each other/);
  });

  it('create refuses an existing file, a file inside the data directory and a missing secret', async () => {
    const again = await caliopenAsync(['backup', 'create', file(), '--data-dir', world.inst.dataDir, ...secretArgs()]);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists: refusing to overwrite/);
    const inside = await caliopenAsync([
      'backup',
      'create',
      join(world.inst.dataDir, 'x.backup'),
      '--data-dir',
      world.inst.dataDir,
      ...secretArgs(),
    ]);
    assert.equal(inside.code, 2);
    assert.match(inside.stderr, /outside the data directory/);
    const noSecret = await caliopenAsync(['backup', 'create', join(tmp.dir, 'y'), '--data-dir', world.inst.dataDir], {
      env: { CALIOPEN_BACKUP_PASSPHRASE: '' },
    });
    assert.equal(noSecret.code, 2);
    assert.match(noSecret.stderr, /needs a secret/);
    assert.equal(existsSync(join(tmp.dir, 'y')), false);
  });

  it('verify: sound as made; a changed byte, a cut file and a wrong passphrase are each reported', async () => {
    const good = await caliopenAsync(['backup', 'verify', file(), ...secretArgs()]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /is sound: alpha\.test, .* \d+ databases pass their integrity check/);

    const bytes = readFileSync(file());
    const tampered = Buffer.from(bytes);
    tampered[Math.floor(bytes.length / 2)]! ^= 0x20;
    writeFileSync(join(tmp.dir, 'tampered.backup'), tampered);
    const bad = await caliopenAsync(['backup', 'verify', join(tmp.dir, 'tampered.backup'), ...secretArgs()]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /damaged or was changed: chunk \d+/);

    writeFileSync(join(tmp.dir, 'cut.backup'), bytes.subarray(0, bytes.length - 100));
    const cut = await caliopenAsync(['backup', 'verify', join(tmp.dir, 'cut.backup'), ...secretArgs()]);
    assert.equal(cut.code, 1);
    assert.match(cut.stderr, /damaged or was changed/);

    const wrong = await caliopenAsync(['backup', 'verify', file()], {
      env: { CALIOPEN_BACKUP_PASSPHRASE: 'not the passphrase of it' },
    });
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /does not open this backup/);
  });

  it('restore: refuses a non-empty directory and a missing master key, then restores into a new one', async () => {
    const busy = await caliopenAsync(['backup', 'restore', file(), '--data-dir', world.inst.dataDir, ...secretArgs()]);
    assert.equal(busy.code, 2);
    assert.match(busy.stderr, /is not empty: a backup is restored only into an empty or new directory/);

    const noKey = await caliopenAsync(['backup', 'restore', file(), '--data-dir', target(), ...secretArgs()], {
      env: { CALIOPEN_MASTER_KEY: '' },
    });
    assert.equal(noKey.code, 2);
    assert.match(noKey.stderr, /does not hold the master key/);

    const r = await caliopenAsync(
      [
        'backup',
        'restore',
        file(),
        '--data-dir',
        target(),
        '--master-key-file',
        join(world.inst.dataDir, 'secrets', 'master.key'),
        ...secretArgs(),
      ],
      { env: { CALIOPEN_MASTER_KEY: '' } },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Restored alpha\.test .* search index rebuilt: \d+ messages of 3 accounts/);
    assert.equal(existsSync(join(target(), 'search.db')), true);
  });

  it('an instance started on the restored directory answers as the original did at the backup', async () => {
    const config = loadConfig({
      dataDir: target(),
      env: {
        CALIOPEN_LOGIN_RATE_LIMIT: '10000',
        CALIOPEN_HTTP_PORT: '0',
        CALIOPEN_HTTPS_PORT: '0',
        CALIOPEN_SMTP_ENABLED: 'true',
        CALIOPEN_SMTP_PORT: '0',
        CALIOPEN_SMTP_DNS_SERVERS: `${world.dns.host}:${world.dns.port}`,
      },
      overrides: { log: { level: 'silent' } },
    });
    restored = await startInstance(config, { logger: pino({ level: 'silent' }) });
    restoredApi = jsonApi(restored.url);
    const original = world.inst.api;

    // Accounts (the sessions came back too: the tokens of before still work).
    const list = async (api: Api) =>
      ok(await api('GET', '/api/v1/admin/users', { token: admin.token }))
        .items.map((u: any) => `${u.id} ${u.username} ${u.role}`)
        .sort();
    assert.deepEqual(await list(restoredApi), await list(original));

    // What the spool held at the snapshot is filed on start, then indexed: wait until both are done.
    await waitFor(async () => SqliteInboundSpool.countsAt(join(target(), 'spool.db'))?.queued === 0, 60_000);
    await waitFor(() => queueIdle(restored!, 'index'), 60_000);

    for (const name of ['bob', 'carol'] as const) {
      const { token } = users[name]!;
      const acceptedBefore = sent.filter((s) => s.to === name && s.acceptedAt < backupStartedAt).map((s) => s.subject);
      const everSent = new Set(sent.filter((s) => s.to === name).map((s) => s.subject));
      // Accepted before the snapshot started: all there (those still in the spool are filed on start).
      let subjects: string[] = [];
      await waitFor(async () => {
        subjects = (await mailbox({ api: restoredApi }, token)).map((m) => m.subject);
        return acceptedBefore.every((s) => subjects.includes(s));
      }, 60_000);
      assert.ok(acceptedBefore.length >= 4, `${name} had mail before the backup`);
      assert.ok(
        subjects.every((s) => everSent.has(s)),
        'nothing but what was sent',
      );
      assert.equal(new Set(subjects).size, subjects.length, 'each message once');

      // Each restored message: its raw form (its blob) and its PI, as on the original.
      const restoredMessages = await mailbox({ api: restoredApi }, token);
      const originalMessages = new Map((await mailbox(world.inst, token)).map((m) => [m.id, m]));
      for (const m of restoredMessages) {
        const raw = await fetch(`${restored.url}/api/v1/messages/${m.id}/raw`, {
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(raw.status, 200, `raw of ${m.subject}`);
        const text = await raw.text();
        assert.match(text, new RegExp(`Subject: ${m.subject}`));
        const before = originalMessages.get(m.id);
        if (before) {
          const detailR = ok(await restoredApi('GET', `/api/v1/messages/${m.id}`, { token }));
          const detailO = ok(await original('GET', `/api/v1/messages/${m.id}`, { token }));
          assert.deepEqual(detailR.pi, detailO.pi, `PI of ${m.subject}`);
          assert.equal(detailR.subject, detailO.subject);
        }
      }

      // Search: the rebuilt index finds every restored message, the same hit as the original for one of before.
      let found: any = null;
      await waitFor(async () => {
        found = ok(await restoredApi('GET', '/api/v1/search?q=zebra&limit=100', { token }));
        return found.total === restoredMessages.length;
      }, 60_000).catch((e) => {
        const hits = new Set(found?.items.map((i: any) => i.message.subject));
        throw new Error(
          `${(e as Error).message}: ${found?.total} hits for ${restoredMessages.length} messages; missing ${restoredMessages
            .filter((m) => !hits.has(m.subject))
            .map((m) => m.subject)}; hits ${[...hits]}`,
        );
      });
      const probe = acceptedBefore[1]!;
      const hit = async (api: Api) =>
        ok(await api('GET', `/api/v1/search?q=${encodeURIComponent(`subject:${probe}`)}`, { token })).items.map(
          (i: any) => i.message.id,
        );
      let last: unknown = null;
      await waitFor(async () => {
        last = ok(await original('GET', `/api/v1/search?q=${encodeURIComponent(`subject:${probe}`)}`, { token }));
        return (await hit(original)).length === 1;
      }, 30_000).catch((e) => {
        throw new Error(`${(e as Error).message}: ${probe} ${JSON.stringify(last).slice(0, 500)}`);
      });
      assert.deepEqual(await hit(restoredApi), await hit(original));
    }

    // Contacts, keys and the account's Privacy Index: as on the original.
    const bob = users.bob!.token;
    const contacts = async (api: Api) =>
      ok(await api('GET', '/api/v1/contacts', { token: bob }))
        .items.map((c: any) => JSON.stringify([c.id, c.displayName, c.identities, c.notes]))
        .sort();
    assert.equal((await contacts(original)).length, 2);
    assert.deepEqual(await contacts(restoredApi), await contacts(original));
    const keys = async (api: Api) => {
      const r = ok(await api('GET', '/api/v1/keys', { token: bob }));
      return { address: r.address, keys: r.items.map((k: any) => [k.fingerprint, k.status, k.heldBy]) };
    };
    assert.equal((await keys(original)).keys.length, 1);
    assert.deepEqual(await keys(restoredApi), await keys(original));
    // The account's PI factors that do not depend on mail that came after the backup (the recent-exchanges factor
    // does: the original kept receiving) are the original's.
    const pi = async (api: Api) => {
      const account = ok(await api('GET', '/api/v1/privacy', { token: bob })).account;
      return account.factors.filter((f: any) => f.id !== 'exchanges.recent');
    };
    const [piR, piO] = [await pi(restoredApi), await pi(original)];
    assert.ok(piO.length >= 3, JSON.stringify(piO));
    assert.deepEqual(piR, piO);
  });
});
