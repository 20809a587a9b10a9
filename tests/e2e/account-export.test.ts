import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { splitMboxrd } from '@caliopen/instance/account-export/account-export.mbox.ts';
import { parseVcards } from '@caliopen/instance/contacts/contact.vcard.ts';
import type { Browser } from 'playwright-core';
import { ok } from '../support/api-client.ts';
import { launchChromium, networkWatch, openPage, seriousViolations } from '../support/browser.ts';
import { type MailWorld, mailbox, startMailWorld } from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';
import { realComponent } from '../support/real-component.ts';
import { tempDir } from '../support/tmp.ts';
import { requireWebBuild } from '../support/web-build.ts';

/**
 * Issue 18 item 3, "take your data away": GET /api/v1/account/export through HTTP, the archive unpacked by the
 * system's tar, and each part read back by an independent reader: the mbox split and every message parsed by
 * mailparser, the vCards by the vCard parser, the keys by OpenPGP.js; the counts match what the API shows, and
 * nothing of another account (nor a password hash) is in it.
 */

const DOMAIN = 'alpha.test';
let world: MailWorld;
const tmp = tempDir('caliopen-export-e2e-');
let bob: { id: string; token: string; password: string };
let carol: { id: string; token: string };
let admin: { token: string };

const letter = (to: string, subject: string, body: string) =>
  `From: Alice <alice@sender.example>\r\nTo: ${to}@${DOMAIN}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@sender.example>\r\nDate: Sun, 06 Dec 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${body}\r\n`;

beforeAll(async () => {
  world = await startMailWorld({
    domain: DOMAIN,
    zone: { 'sender.example': [{ type: 'TXT', data: 'v=spf1 ip4:127.0.0.1 -all' }] },
  });
  bob = await world.inst.user('bob');
  carol = await world.inst.user('carol');
  admin = await world.inst.user('root', 'admin');
  const { api } = world.inst;
  ok(await api('POST', '/api/v1/keys', { token: bob.token, body: { mode: 'server', password: bob.password } }), 201);
  for (const [name, address] of [
    ['Alice Martin', 'alice@sender.example'],
    ['Dora Ünïcode; "quoted"', 'dora@elsewhere.example'],
  ])
    ok(
      await api('POST', '/api/v1/contacts', {
        token: bob.token,
        body: { displayName: name, identities: [{ address }] },
      }),
      201,
    );
  ok(await api('PATCH', `/api/v1/admin/users/${bob.id}`, { token: admin.token, body: { quotaBytes: 123456789 } }));
  const messages: [string, string, string][] = [
    ['bob', 'First hello', 'Hello Bob.'],
    ['bob', 'Tricky body', 'From the start of a line\r\n>From quoted already\r\n.\r\nend'],
    ['bob', 'Third one', 'Bonjour, café.'],
    ['carol', 'Carol private', 'for carol only'],
  ];
  for (const [to, subject, body] of messages)
    await world.deliver({
      helo: 'mail.sender.example',
      from: 'alice@sender.example',
      to: [`${to}@${DOMAIN}`],
      raw: Buffer.from(letter(to, subject, body), 'utf8'),
      tls: false,
    });
  await waitFor(async () => (await mailbox(world.inst, bob.token)).length === 3, 30_000);
  await waitFor(async () => (await mailbox(world.inst, carol.token)).length === 1, 30_000);
});

afterAll(async () => {
  await world?.stop();
  tmp.cleanup();
});

describe('GET /api/v1/account/export', () => {
  it('needs a session', async () => {
    const r = await fetch(`${world.inst.url}/api/v1/account/export`);
    assert.equal(r.status, 401);
    assert.match(r.headers.get('content-type') ?? '', /problem\+json/);
  });

  it('streams a tar of everything about the account, each part readable back, nothing of others', async () => {
    const r = await fetch(`${world.inst.url}/api/v1/account/export`, {
      headers: { authorization: `Bearer ${bob.token}` },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/x-tar');
    assert.match(
      r.headers.get('content-disposition') ?? '',
      /^attachment; filename="caliopen-bob-\d{4}-\d{2}-\d{2}\.tar"$/,
    );
    const archive = Buffer.from(await r.arrayBuffer());
    const file = join(tmp.dir, 'export.tar');
    writeFileSync(file, archive);
    const out = join(tmp.dir, 'x');
    spawnSync('mkdir', ['-p', out]);
    const untar = spawnSync('tar', ['-xf', file, '-C', out], { encoding: 'utf8' });
    assert.equal(untar.status, 0, untar.stderr);
    const files = [
      ...readdirSync(out).filter((f) => f !== 'keys'),
      ...readdirSync(join(out, 'keys')).map((f) => `keys/${f}`),
    ].sort();
    const read = (name: string) => readFileSync(join(out, name));

    // Nothing of another account, no secret.
    const all = archive.toString('latin1');
    assert.ok(!all.includes('Carol private') && !all.includes('for carol only'), 'no message of carol');
    assert.ok(!all.includes('$argon2'), 'no password hash');
    assert.ok(!all.includes(bob.token), 'no session token');

    // Messages: the mbox splits into as many messages as the mailbox has, each parses with its subject and body.
    const inMailbox = (await mailbox(world.inst, bob.token)).map((m) => m.subject).sort();
    const parsed = await Promise.all(splitMboxrd(read('messages.mbox')).map((raw) => simpleParser(raw)));
    assert.deepEqual(parsed.map((p) => p.subject).sort(), inMailbox);
    const tricky = parsed.find((p) => p.subject === 'Tricky body')!;
    assert.equal(tricky.text?.trim(), 'From the start of a line\n>From quoted already\n.\nend');
    assert.match(parsed.find((p) => p.subject === 'Third one')!.text ?? '', /Bonjour, café\./);
    const index = JSON.parse(read('messages.json').toString());
    assert.equal(index.length, 3);
    assert.ok(index.every((m: any) => m.inMbox === true && typeof m.conversationId === 'string'));

    // Contacts: the vCards parse back, as many as the API lists, names intact.
    const cards = parseVcards(read('contacts.vcf').toString('utf8'));
    const listed = ok(await world.inst.api('GET', '/api/v1/contacts', { token: bob.token })).items;
    assert.equal(cards.length, listed.length);
    assert.ok(listed.length >= 2);
    assert.ok(cards.some((c) => c.displayName === 'Dora Ünïcode; "quoted"'));

    // Keys: the public key parses with the fingerprint the API shows; the private key is not there, and it says why.
    const apiKeys = ok(await world.inst.api('GET', '/api/v1/keys', { token: bob.token })).items;
    const keysJson = JSON.parse(read('keys.json').toString());
    assert.equal(keysJson.length, apiKeys.length);
    assert.match(keysJson[0].privateKey, /held by the server.*not in this export/);
    const armored = read(`keys/${apiKeys[0].fingerprint}.asc`).toString();
    const key = await openpgp.readKey({ armoredKey: armored });
    assert.equal(key.getFingerprint(), apiKeys[0].fingerprint);
    assert.equal(key.isPrivate(), false);
    assert.ok(!all.includes('PRIVATE KEY BLOCK'), 'no private key');

    // Devices, PI, the admin journal's entries about bob, the account.
    const devices = JSON.parse(read('devices.json').toString());
    assert.equal(devices.length, ok(await world.inst.api('GET', '/api/v1/devices', { token: bob.token })).items.length);
    const pi = JSON.parse(read('privacy.json').toString());
    assert.equal(
      pi.account.score,
      ok(await world.inst.api('GET', '/api/v1/privacy', { token: bob.token })).account.score,
    );
    const journal = JSON.parse(read('admin-journal.json').toString());
    assert.ok(journal.some((e: any) => e.action === 'account.quota_changed' && e.subject.accountId === bob.id));
    assert.ok(journal.every((e: any) => e.subject?.accountId === bob.id));
    const account = JSON.parse(read('account.json').toString());
    assert.equal(account.address, `bob@${DOMAIN}`);
    assert.equal(account.quotaBytes, 123456789);
    assert.equal(account.passwordHash, undefined);
    assert.deepEqual(
      files,
      [
        'README.txt',
        'account.json',
        'admin-journal.json',
        'contacts.vcf',
        'devices.json',
        `keys/${apiKeys[0].fingerprint}.asc`,
        'keys.json',
        'messages.json',
        'messages.mbox',
        'privacy.json',
      ].sort(),
    );
  });
});

const browserBinary = realComponent('chromium', 'chromium');

describe.skipIf(browserBinary.skip)('“Vos données” in the app (Chromium)', () => {
  let browser: Browser;
  const problems: string[] = [];

  beforeAll(async () => {
    requireWebBuild('dist');
    browser = await launchChromium(browserBinary.path);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('a keyboard user downloads the archive from My privacy, in French, with no serious accessibility violation', async () => {
    const page = await openPage(browser, problems, { locale: 'fr-FR', acceptDownloads: true });
    await page.goto(`${world.inst.url}/sign-in`);
    await page.getByLabel('Nom d’utilisateur').fill('bob');
    await page.getByLabel('Mot de passe').fill(bob.password);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    await page.goto(`${world.inst.url}/privacy`);
    await page.getByRole('heading', { name: 'Vos données' }).waitFor();
    await networkWatch(page).quiet();
    assert.deepEqual(await seriousViolations(page), []);

    const button = page.getByRole('button', { name: 'Télécharger mes données' });
    await button.focus();
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    assert.match(download.suggestedFilename(), /^caliopen-bob-\d{4}-\d{2}-\d{2}\.tar$/);
    const saved = await download.path();
    const tarBytes = readFileSync(saved);
    assert.equal(tarBytes.subarray(257, 262).toString('latin1'), 'ustar', 'a tar archive');
    await page.getByRole('status').filter({ hasText: 'Votre archive est téléchargée.' }).waitFor();
    assert.deepEqual(problems, []);
  });
});
