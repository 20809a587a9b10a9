/**
 * Client key mode in a real browser (Debian's Chromium driven by playwright-core), served by a real instance that
 * receives mail over real SMTP:
 * - Alice makes her key in My privacy: openpgp.js makes it in the page, the private key is kept in the browser's
 *   IndexedDB under her passphrase, and only the public key reaches the instance; its database holds no private key.
 * - Sam, outside, sends her a PGP/MIME message encrypted to that public key and signed (openpgp in the test, over
 *   SMTP): the discussion says "encrypted — unlock to read"; a wrong passphrase gets a sentence; the right one shows
 *   the text, decrypted and its signature verified in the browser. The plaintext is nowhere in the instance's data.
 * - Another browser (a fresh profile) says it lacks the key, and imports the one downloaded from the first.
 * - Bob moves his server-held key to his browser: the instance hands it out once and erases its copy.
 * - French renders; axe-core finds nothing serious or critical on the new screens.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as openpgp from 'openpgp';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { generateTestKey, pgpMimeEncrypted, type TestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import { ok } from '../support/api-client.ts';
import { launchChromium, openPage, screenshot, seriousViolations } from '../support/browser.ts';
import {
  dkimKey,
  dkimSigned,
  type MailWorld,
  receivedMessage,
  sendingDomain,
  startMailWorld,
} from '../support/mail-world.ts';
import { realComponent } from '../support/real-component.ts';
import { requireWebBuild } from '../support/web-build.ts';

const browserBinary = realComponent('chromium', 'chromium');
const DOMAIN = 'alpha.test';
const SAM = 'sam@outside.example';
const PASSPHRASE = 'seagull over the harbour';
const SECRET_WORDS = 'Meet at the lighthouse, pelican at dawn.';

/** Every row of every table of the instance's SQLite files (read-only, beside the running instance), as text. */
function rowsOf(dataDir: string): { where: string; text: string }[] {
  const out: { where: string; text: string }[] = [];
  for (const file of ['instance.db', 'queue.db', 'search.db']) {
    const db = new Database(join(dataDir, file), { readonly: true, fileMustExist: true });
    try {
      const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all();
      for (const { name } of tables) {
        for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]) {
          const text = Object.values(row)
            .map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : String(v)))
            .join('\u0000');
          out.push({ where: `${file}:${name}`, text });
        }
      }
    } finally {
      db.close();
    }
  }
  return out;
}

/** The account's rows of `account_keys`: what the instance holds of its keys. */
function keyRows(
  dataDir: string,
  accountId: string,
): { fingerprint: string; private_sealed: unknown; kek_json: unknown }[] {
  const db = new Database(join(dataDir, 'instance.db'), { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare('SELECT fingerprint, private_sealed, kek_json FROM account_keys WHERE account_id = ?')
      .all(accountId) as { fingerprint: string; private_sealed: unknown; kek_json: unknown }[];
  } finally {
    db.close();
  }
}

describe.skipIf(browserBinary.skip)('client key mode in Chromium', () => {
  let world: MailWorld;
  let browser: Browser;
  let alice: { id: string; password: string; token: string };
  let bob: { id: string; password: string; token: string };
  let sam: TestKey;
  let discussionId: string;
  let downloaded: string;
  let bobPage: Page;
  const dkim = dkimKey();
  const pageErrors: string[] = [];
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    requireWebBuild('dist');
    world = await startMailWorld({ domain: DOMAIN, zone: sendingDomain('outside.example', 'sel', dkim) });
    alice = await world.inst.user('alice');
    bob = await world.inst.user('bob');
    sam = await generateTestKey(SAM, { name: 'Sam' });
    // Alice knows Sam and his key: the browser verifies his signature with it.
    const contact = ok(
      await world.inst.api('POST', '/api/v1/contacts', {
        token: alice.token,
        body: { displayName: 'Sam Outside', identities: [{ address: SAM }] },
      }),
      201,
    );
    ok(
      await world.inst.api('POST', `/api/v1/contacts/${contact.id}/keys`, {
        token: alice.token,
        body: { armored: sam.armoredPublic },
      }),
      201,
    );
    browser = await launchChromium(browserBinary.path);
  });

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await world?.stop();
    assert.deepEqual(pageErrors, [], 'the browser reported CSP violations or page errors');
  });

  /** A fresh browser profile (its own IndexedDB), as another device is. */
  async function newPage(locale = 'en-GB'): Promise<Page> {
    const page = await openPage(browser, pageErrors, { locale, acceptDownloads: true });
    contexts.push(page.context());
    return page;
  }

  async function signIn(page: Page, username: string, password: string, fr = false) {
    await page.goto(`${world.inst.url}/sign-in`);
    await page.getByLabel(fr ? 'Nom d’utilisateur' : 'Username').fill(username);
    await page.getByLabel(fr ? 'Mot de passe' : 'Password').fill(password);
    await page.getByRole('button', { name: fr ? 'Se connecter' : 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Discussions' }).waitFor();
  }

  async function openPrivacy(page: Page) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My privacy' }).click();
    await page.getByRole('heading', { level: 1, name: 'My privacy' }).waitFor();
  }

  let page: Page;

  test('Alice makes her key in the browser: only the public key reaches the instance', async () => {
    page = await newPage();
    await signIn(page, 'alice', alice.password);
    await openPrivacy(page);
    await page.getByRole('button', { name: 'Make my key in this browser' }).click();
    const form = page.getByRole('form', { name: 'Make my key in this browser' });
    await form.getByLabel('Passphrase for your key in this browser').fill(PASSPHRASE);
    await form.getByLabel('The same passphrase again').fill(`${PASSPHRASE}!`);
    await form.getByRole('button', { name: 'Confirm' }).click();
    await form.getByText('The two passphrases differ. Type the same one twice.').waitFor();
    assert.equal(ok(await world.inst.api('GET', '/api/v1/keys', { token: alice.token })).mode, 'none');

    await form.getByLabel('The same passphrase again').fill(PASSPHRASE);
    await form.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText(/^Your key was made in this browser\. Fingerprint:/).waitFor();
    await page.getByText('Your private key is only on your devices: your instance never holds it.').waitFor();
    await page.getByText('Unlocked for this session: your encrypted mail opens here.').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on my privacy, client mode');
    await screenshot(page, 'client-key-made');

    const keys = ok(await world.inst.api('GET', '/api/v1/keys', { token: alice.token }));
    assert.equal(keys.mode, 'client');
    assert.equal(keys.items.length, 1);
    assert.equal(keys.items[0].heldBy, 'client');
    assert.deepEqual(keys.items[0].userIds, [`alice <alice@${DOMAIN}>`]);
    assert.equal(keys.items[0].revocationHeld, true, 'the browser gave its revocation certificate');
    // The browser keeps the private key, encrypted (read from its IndexedDB, as the app does).
    const kept = (await page.evaluate(
      `new Promise((resolve, reject) => { const r = indexedDB.open('caliopen-client-keys'); r.onerror = reject;
        r.onsuccess = () => { const g = r.result.transaction('keys').objectStore('keys').get('alice');
        g.onsuccess = () => resolve(g.result); g.onerror = reject; }; })`,
    )) as { keys: string[]; fingerprints: string[] };
    assert.deepEqual(kept.fingerprints, [keys.items[0].fingerprint]);
    const privateKey = await openpgp.readPrivateKey({ armoredKey: kept.keys[0]! });
    assert.equal(privateKey.isDecrypted(), false, 'kept encrypted under the passphrase');
    await openpgp.decryptKey({ privateKey, passphrase: PASSPHRASE });

    // The instance's database holds no private key for Alice.
    const rows = keyRows(world.inst.dataDir, alice.id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.fingerprint, keys.items[0].fingerprint);
    assert.equal(rows[0]!.private_sealed, null);
    assert.equal(rows[0]!.kek_json, null);
    const secretMaterial = Buffer.from(kept.keys[0]!).toString('latin1');
    for (const r of rowsOf(world.inst.dataDir)) {
      assert.ok(!r.text.includes('PRIVATE KEY BLOCK'), `${r.where} holds an armoured private key`);
      assert.ok(!r.text.includes(secretMaterial.slice(200, 260)), `${r.where} holds the kept key`);
    }
  });

  test('a message encrypted to her arrives over SMTP: locked, a wrong passphrase, then read and verified', async () => {
    const keys = ok(await world.inst.api('GET', '/api/v1/keys', { token: alice.token }));
    const alicePublic = await openpgp.readKey({ armoredKey: keys.items[0].armored });
    const raw = await pgpMimeEncrypted({
      from: `Sam <${SAM}>`,
      to: `alice@${DOMAIN}`,
      subject: '...',
      recipients: [{ publicKey: alicePublic } as TestKey],
      signer: sam,
      text: SECRET_WORDS,
    });
    await world.deliver({
      helo: 'mail.outside.example',
      from: SAM,
      to: [`alice@${DOMAIN}`],
      raw: await dkimSigned(dkim, { domain: 'outside.example', selector: 'sel' }, raw),
    });
    const m = await receivedMessage(world.inst, alice.token, (x) => x.direction === 'inbound');
    assert.equal(m.facts.openpgp.encrypted, true);
    assert.notEqual(m.facts.openpgp.decrypted, true, 'the instance could not decrypt it');
    discussionId = m.conversationId;

    // A reload forgets the unlocked key (memory only); the kept copy stays.
    await page.goto(`${world.inst.url}/discussions/${discussionId}`);
    await page.getByText('Encrypted — unlock to read.').waitFor();
    assert.equal(await page.getByText(SECRET_WORDS).count(), 0);
    const unlock = page.getByRole('form', { name: 'Unlock your key for this session' });
    await unlock.getByLabel('Passphrase of your key').fill('not my passphrase at all');
    await unlock.getByRole('button', { name: 'Unlock' }).click();
    await unlock.getByText('That passphrase does not open your key. Check it and try again.').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on an encrypted message, locked');

    await unlock.getByLabel('Passphrase of your key').fill(PASSPHRASE);
    await unlock.getByRole('button', { name: 'Unlock' }).click();
    await page.getByText(SECRET_WORDS).waitFor();
    await page.getByText('Signed by the sender: the signature is valid.').waitFor();
    await page.getByText('Decrypted in your browser.', { exact: false }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on an encrypted message, read');
    await screenshot(page, 'client-key-decrypted');

    // Decrypted in the page only: the plaintext is nowhere in the instance's data.
    for (const r of rowsOf(world.inst.dataDir))
      assert.ok(!r.text.includes('pelican'), `${r.where} holds the plaintext`);
  });

  test('another browser says it lacks the key, and imports the one downloaded from the first', async () => {
    await openPrivacy(page);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: 'Download my private key' }).click(),
    ]);
    downloaded = readFileSync((await download.path())!, 'utf8');
    assert.match(downloaded, /^-----BEGIN PGP PRIVATE KEY BLOCK-----/);
    assert.equal((await openpgp.readPrivateKey({ armoredKey: downloaded })).isDecrypted(), false, 'still protected');

    const other = await newPage();
    await signIn(other, 'alice', alice.password);
    await other.goto(`${world.inst.url}/discussions/${discussionId}`);
    await other.getByText('Encrypted — unlock to read.').waitFor();
    await other.getByText(/^This browser does not hold your private key/).waitFor();
    await other.getByRole('link', { name: 'Import your key in My privacy' }).click();
    await other.getByRole('heading', { level: 1, name: 'My privacy' }).waitFor();
    const form = other.getByRole('form', { name: 'Import your private key into this browser' });
    await form.getByLabel('Private key (armoured)').fill(downloaded);
    await form.getByLabel('Its passphrase, if it has one').fill('wrong passphrase here');
    await form.getByLabel('Passphrase for your key in this browser').fill('second device passphrase');
    await form.getByLabel('The same passphrase again').fill('second device passphrase');
    await form.getByRole('button', { name: 'Confirm' }).click();
    await form.getByText('That passphrase does not open your key. Check it and try again.').waitFor();
    await form.getByLabel('Its passphrase, if it has one').fill(PASSPHRASE);
    await form.getByRole('button', { name: 'Confirm' }).click();
    await other.getByText('Your key is now kept in this browser and unlocked for this session.').waitFor();
    assert.deepEqual(await seriousViolations(other), [], 'axe on my privacy after an import');

    await other.goto(`${world.inst.url}/discussions/${discussionId}`);
    const unlock = other.getByRole('form', { name: 'Unlock your key for this session' });
    await unlock.getByLabel('Passphrase of your key').fill('second device passphrase');
    await unlock.getByRole('button', { name: 'Unlock' }).click();
    await other.getByText(SECRET_WORDS).waitFor();
    assert.equal(ok(await world.inst.api('GET', '/api/v1/keys', { token: alice.token })).items.length, 1, 'no new key');
  });

  test('Bob moves his server-held key to his browser: the instance hands it out once and erases its copy', async () => {
    ok(
      await world.inst.api('POST', '/api/v1/keys', {
        token: bob.token,
        body: { mode: 'server', password: bob.password },
      }),
      201,
    );
    assert.notEqual(keyRows(world.inst.dataDir, bob.id)[0]!.private_sealed, null, 'held by the server first');
    const p = await newPage();
    bobPage = p;
    await signIn(p, 'bob', bob.password);
    await openPrivacy(p);
    await p.getByRole('button', { name: 'Keep my key on my devices only' }).click();
    const form = p.getByRole('form', { name: 'Keep my key on my devices only' });
    await form.getByLabel('Passphrase for your key in this browser (at least 10 characters)').fill('short');
    await form.getByLabel('Your password (asked again)').fill(bob.password);
    await form.getByRole('button', { name: 'Confirm' }).click();
    await form.getByText('The passphrase needs at least 10 characters.').waitFor();
    assert.equal(ok(await world.inst.api('GET', '/api/v1/keys', { token: bob.token })).mode, 'server', 'unchanged');

    await form
      .getByLabel('Passphrase for your key in this browser (at least 10 characters)')
      .fill('bob browser passphrase');
    await form.getByRole('button', { name: 'Confirm' }).click();
    await p.getByText(/^Your private key is now only with you: kept in this browser/).waitFor();
    await p.getByText('Unlocked for this session: your encrypted mail opens here.').waitFor();
    assert.deepEqual(await seriousViolations(p), [], 'axe on my privacy after the move');
    assert.equal(ok(await world.inst.api('GET', '/api/v1/keys', { token: bob.token })).mode, 'client');
    const rows = keyRows(world.inst.dataDir, bob.id);
    assert.equal(rows.length, 1);
    assert.deepEqual([rows[0]!.private_sealed, rows[0]!.kek_json], [null, null], 'the server copy is erased');
  });

  test('Alice writes to Bob from her browser: encrypted and signed there, sent by the instance as it is', async () => {
    const words = 'The cormorant nests by the old pier.';
    // A reload: the compose screen offers to unlock the key kept here.
    await page.goto(`${world.inst.url}/compose`);
    await page.getByRole('heading', { level: 1, name: 'New message' }).waitFor();
    await page.getByLabel('To', { exact: true }).fill(`bob@${DOMAIN}`);
    await page.getByLabel('Subject').fill('Pier plans');
    await page.getByRole('textbox', { name: 'Message' }).fill(words);
    await page
      .getByText('Your key is locked: unlock it below to encrypt and sign this message in your browser.')
      .waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on compose, client mode, locked');
    const unlock = page.getByRole('form', { name: 'Unlock your key for this session' });
    await unlock.getByLabel('Passphrase of your key').fill(PASSPHRASE);
    await unlock.getByRole('button', { name: 'Unlock' }).click();
    await page.getByText(/^Encrypted and signed in your browser, with the key it keeps/).waitFor();
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    // The Sent copy: encrypted to Alice too, opened in her browser, her own signature verified.
    await page.getByText(words).waitFor();
    await page.getByText('Signed by the sender: the signature is valid.').waitFor();

    const received = await receivedMessage(world.inst, bob.token, (m) => m.direction === 'inbound');
    assert.equal(received.subject, '...', 'the real subject travels inside only');
    assert.equal(received.facts.openpgp.kind, 'pgp-mime-encrypted');
    assert.equal(received.facts.openpgp.encrypted, true);
    const rawReply = await fetch(`${world.inst.url}/api/v1/messages/${received.id}/raw`, {
      headers: { authorization: `Bearer ${bob.token}` },
    });
    const raw = await rawReply.text();
    assert.match(raw, /multipart\/encrypted/);
    assert.ok(!raw.includes('cormorant') && !raw.includes('Pier plans'), 'no plaintext in what was sent');
    // Bob's key (kept in his browser) opens it, and Alice's signature inside verifies against her public key.
    const bobKept = (await bobPage.evaluate(
      `new Promise((resolve, reject) => { const r = indexedDB.open('caliopen-client-keys'); r.onerror = reject;
        r.onsuccess = () => { const g = r.result.transaction('keys').objectStore('keys').get('bob');
        g.onsuccess = () => resolve(g.result); g.onerror = reject; }; })`,
    )) as { keys: string[] };
    const bobKey = await openpgp.decryptKey({
      privateKey: await openpgp.readPrivateKey({ armoredKey: bobKept.keys[0]! }),
      passphrase: 'bob browser passphrase',
    });
    const aliceKeys = ok(await world.inst.api('GET', '/api/v1/keys', { token: alice.token }));
    const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(raw)![0];
    const opened = await openpgp.decrypt({
      message: await openpgp.readMessage({ armoredMessage: armored.replace(/\r\n/g, '\n') }),
      decryptionKeys: bobKey,
      verificationKeys: await openpgp.readKey({ armoredKey: aliceKeys.items[0].armored }),
      expectSigned: true,
      format: 'binary',
    });
    const inner = Buffer.from(opened.data as Uint8Array).toString('utf8');
    assert.match(inner, /^Subject: Pier plans\r$/m);
    assert.match(inner, /protected-headers="v1"/);
    assert.ok(Buffer.from(inner.split('\r\n\r\n')[1]!, 'base64').toString('utf8').includes(words));

    // Bob reads it in his browser after his passphrase.
    await bobPage.goto(`${world.inst.url}/discussions/${received.conversationId}`);
    const bobUnlock = bobPage.getByRole('form', { name: 'Unlock your key for this session' });
    await bobUnlock.getByLabel('Passphrase of your key').fill('bob browser passphrase');
    await bobUnlock.getByRole('button', { name: 'Unlock' }).click();
    await bobPage.getByText(words).waitFor();
    await bobPage.getByText('Subject inside the encryption: Pier plans').waitFor();
    for (const r of rowsOf(world.inst.dataDir))
      assert.ok(!r.text.includes('cormorant'), `${r.where} holds the plaintext`);
  });

  test('a pre-encrypted body that is not one is refused with its code, and nothing is sent', async () => {
    const before = ok(await world.inst.api('GET', '/api/v1/discussions', { token: alice.token })).items.length;
    const signedOnly = await openpgp.sign({
      message: await openpgp.createMessage({ text: 'not encrypted at all' }),
      signingKeys: sam.privateKey,
    });
    for (const body of [
      { to: [{ address: `bob@${DOMAIN}` }], encrypted: signedOnly },
      { to: [{ address: `bob@${DOMAIN}` }], encrypted: 'hello bob' },
      {
        to: [{ address: `bob@${DOMAIN}` }],
        encrypted: '-----BEGIN PGP MESSAGE-----\n\nAAAA\n-----END PGP MESSAGE-----',
      },
      { to: [{ address: `bob@${DOMAIN}` }], encrypted: signedOnly, text: 'and clear words' },
    ]) {
      const r = await world.inst.api('POST', '/api/v1/messages', { token: alice.token, body });
      assert.equal(r.status, 422, r.text);
      assert.equal(r.body.code, 'encrypted_body_invalid');
    }
    assert.equal(ok(await world.inst.api('GET', '/api/v1/discussions', { token: alice.token })).items.length, before);
  });

  test('in French: the encrypted message and the key in this browser', async () => {
    const fr = await newPage('fr-FR');
    await signIn(fr, 'alice', alice.password, true);
    await fr.goto(`${world.inst.url}/discussions/${discussionId}`);
    await fr.getByText('Chiffré — déverrouillez pour lire.').waitFor();
    await fr.getByText(/^Ce navigateur ne détient pas votre clé privée/).waitFor();
    assert.deepEqual(await seriousViolations(fr), [], 'axe on an encrypted message in French');
    await fr.getByRole('link', { name: 'Importer votre clé dans Ma confidentialité' }).click();
    await fr.getByRole('heading', { level: 1, name: 'Ma confidentialité' }).waitFor();
    await fr.getByRole('heading', { name: 'Dans ce navigateur', exact: true }).waitFor();
    await fr.getByRole('form', { name: 'Importer votre clé privée dans ce navigateur' }).waitFor();
    assert.deepEqual(await seriousViolations(fr), [], 'axe on my privacy in French, client mode');
    await screenshot(fr, 'client-key-fr');
  });
});
