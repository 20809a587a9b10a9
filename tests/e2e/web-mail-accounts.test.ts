/**
 * Mail accounts in the web app, in a real Chromium against a real instance, a real Dovecot (the user's mailbox at
 * another provider, IMAPS) and the provider's SMTP submission server (smtp-server with AUTH on implicit TLS: a
 * provider on the internet is the one thing faked):
 * - Ursula adds her mailbox: a wrong password is refused in words and nothing is added; with the right one the
 *   mailbox is listed, its import starts at once and its progress ends in "3 new messages"; the three messages are
 *   in her discussions.
 * - She changes its password and name (a wrong password first: refused, nothing changed); its import resumes where it
 *   was (nothing imported twice).
 * - She sets the provider's outgoing server to send as that address (a wrong password first: refused in words,
 *   nothing kept); compose then offers the address in "From", says the message leaves through the provider, and the
 *   provider receives it from that address with her credentials. Once she stops sending as it, compose no longer
 *   offers it. Removing the mailbox keeps the mail already imported.
 * - In French, the screen speaks French. axe-core checks the screens; no CSP violation or page error.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ImapFlow } from 'imapflow';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { ok } from '../support/api-client.ts';
import { launchChromium, openPage, screenshot, seriousViolations, signInToApp } from '../support/browser.ts';
import { dovecotComponent, type DovecotServer, startDovecot } from '../support/dovecot.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { mailbox } from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';
import { type ProviderSubmission, startProviderSubmission } from '../support/provider-submission.ts';
import { realComponent } from '../support/real-component.ts';
import { tempDir } from '../support/tmp.ts';
import { requireWebBuild } from '../support/web-build.ts';

const browserBinary = realComponent('chromium', 'chromium');
const dovecot = dovecotComponent();
const IMAP_USER = { username: 'me', password: 'imap-password-123' };
const SMTP_PASSWORD = 'provider-smtp-secret-456';
const SUBJECTS = ['Dinner on Friday', 'The garden plans', 'Train tickets'];

function seedMessage(n: number): string {
  return [
    `From: Friend ${n} <friend${n}@elsewhere.test>`,
    'To: me@provider.test',
    `Subject: ${SUBJECTS[n]}`,
    `Message-ID: <seed-${n}@elsewhere.test>`,
    `Date: Mon, ${n + 1} Dec 2026 10:00:00 +0000`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    `Message ${n} kept at the old provider.`,
    '',
  ].join('\r\n');
}

describe.skipIf(browserBinary.skip || dovecot.skip)('mail accounts in the web app, in Chromium', () => {
  let imap: DovecotServer;
  let provider: ProviderSubmission;
  let providerPort: number;
  let relayed: ProviderSubmission['relayed'];
  let inst: TestInstance;
  let browser: Browser;
  let user: { id: string; token: string; password: string };
  const ca = tempDir('caliopen-web-mail-accounts-ca-');
  const problems: string[] = [];

  beforeAll(async () => {
    requireWebBuild('dist');
    imap = await startDovecot({ users: [IMAP_USER], ssl: true });
    const seeder = new ImapFlow({
      host: '127.0.0.1',
      port: imap.port,
      secure: false,
      doSTARTTLS: false,
      auth: { user: IMAP_USER.username, pass: IMAP_USER.password },
      logger: false,
    });
    seeder.on('error', () => {});
    await seeder.connect();
    for (let n = 0; n < SUBJECTS.length; n++) await seeder.append('INBOX', seedMessage(n));
    // The provider's junk folder (special-use \\Junk): shown as left there, nothing of it imported.
    await seeder.mailboxCreate('Junk');
    await seeder.append('Junk', seedMessage(0).replace('Message-ID: <', 'Message-ID: <junk-'));
    await seeder.logout();

    provider = await startProviderSubmission({ username: IMAP_USER.username, password: SMTP_PASSWORD });
    providerPort = provider.port;
    relayed = provider.relayed;
    const caFile = join(ca.dir, 'provider-ca.pem');
    writeFileSync(caFile, `${imap.certPem}\n${provider.certPem}`);
    inst = await startTestInstance({
      env: {
        CALIOPEN_IMPORT_ALLOW_PRIVATE_HOSTS: 'true',
        CALIOPEN_IMPORT_CA_FILE: caFile,
        CALIOPEN_IMPORT_RESYNC_MINUTES: '1440',
      },
    });
    user = await inst.user('ursula');
    browser = await launchChromium(browserBinary.path);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await inst?.stop();
    await provider?.close();
    await imap?.stop();
    ca.cleanup();
    assert.deepEqual(problems, [], 'the browser reported CSP violations or page errors');
  });

  const signIn = (page: Page) => signInToApp(page, inst.url, 'ursula', user.password);

  async function openMailAccounts(page: Page) {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Mail accounts' }).click();
    await page.getByRole('heading', { level: 1, name: 'Mail accounts' }).waitFor();
  }

  const label = `${IMAP_USER.username} on 127.0.0.1`;

  test('add a mailbox: a wrong password is refused in words; the right one is imported as you watch', async () => {
    const page = await openPage(browser, problems);
    await signIn(page);
    await openMailAccounts(page);
    await page.getByText('No other mailbox yet.').waitFor();
    const form = page.getByRole('form', { name: 'Add a mailbox' });
    await form.getByLabel('Username').fill(IMAP_USER.username);
    await form.getByLabel('Password').fill('not-the-password');
    await form.getByLabel('IMAP server').fill('127.0.0.1');
    assert.equal(await form.getByLabel('Port').inputValue(), '993', 'the usual IMAPS port until one is typed');
    await form.getByLabel('Security').selectOption('starttls');
    assert.equal(await form.getByLabel('Port').inputValue(), '143');
    await form.getByLabel('Security').selectOption('implicit');
    await form.getByLabel('Port').fill(String(imap.tlsPort));
    assert.deepEqual(await seriousViolations(page), [], 'axe on the mail accounts screen');
    await form.getByRole('button', { name: 'Add and import' }).click();
    await form
      .getByRole('alert')
      .getByText(
        'The mail server refused the login. Check the username and password; some providers want an app password.',
      )
      .waitFor();
    assert.deepEqual(ok(await inst.api('GET', '/api/v1/identities', { token: user.token })).items, []);

    await form.getByLabel('Password').fill(IMAP_USER.password);
    await form.getByRole('button', { name: 'Add and import' }).click();
    await page.getByRole('status').getByText(`${label} is added; its import has started.`).waitFor();
    const card = page.getByRole('article', { name: label });
    await card.getByText(`${IMAP_USER.username} on 127.0.0.1, port ${imap.tlsPort}`).waitFor();
    await card.getByText('TLS from the first byte (IMAPS)').waitFor();
    // The screen follows the import by itself, to its end.
    await card.getByText(/^Last import finished on .+: 3 new messages\.$/).waitFor({ timeout: 60_000 });
    assert.equal(await form.getByLabel('Password').inputValue(), '', 'the password is not kept in the form');
    await card.getByText('By folder (2)').click();
    await card.getByText('not imported: this is the junk folder at your provider (its mail stays there)').waitFor();
    await screenshot(page, 'mail-accounts');

    // In her discussions, by person, as any mail.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Discussions' }).click();
    for (let n = 0; n < SUBJECTS.length; n++)
      await page
        .getByRole('link', { name: new RegExp(`Friend ${n}`) })
        .first()
        .waitFor();
    const imported = await mailbox(inst, user.token);
    assert.deepEqual(imported.map((x) => x.subject).sort(), [...SUBJECTS].sort());
  }, 180_000);

  test('send as the imported address: set in Mail accounts, chosen in From, relayed by the provider', async () => {
    const page = await openPage(browser, problems);
    await signIn(page);
    await openMailAccounts(page);
    const card = page.getByRole('article', { name: label });
    await card.getByText('Send as this address').click();
    const form = card.getByRole('form', { name: `Send as this address: ${label}` });
    await form.getByLabel('Address to send as').fill('me@provider.test');
    assert.equal(await form.getByLabel('Outgoing (SMTP) server').inputValue(), '127.0.0.1');
    await form.getByLabel('Outgoing (SMTP) server').fill('localhost');
    assert.equal(await form.getByLabel('Port').inputValue(), '465');
    await form.getByLabel('Port').fill(String(providerPort));
    await form.getByLabel('Password').fill('not-the-password');
    assert.deepEqual(await seriousViolations(page), [], 'axe with the send-as form open');
    await form.getByRole('button', { name: 'Save' }).click();
    await form
      .getByRole('alert')
      .getByText('The provider’s mail server refused the username or password. Some providers want an app password.')
      .waitFor();
    assert.deepEqual(ok(await inst.api('GET', '/api/v1/send-as', { token: user.token })).items, []);

    await form.getByLabel('Password').fill(SMTP_PASSWORD);
    await form.getByRole('button', { name: 'Save' }).click();
    await page
      .getByRole('status')
      .getByText('You can now send as me@provider.test: choose it in “From” when you write.')
      .waitFor();
    await card.getByText(`Mail from me@provider.test leaves through localhost, port ${providerPort}.`).waitFor();

    // Compose offers it; choosing it says how the message leaves, and hides the route choice it does not have.
    await page.getByRole('link', { name: 'New message' }).click();
    await page.getByRole('heading', { level: 1, name: 'New message' }).waitFor();
    const fromField = page.getByLabel('From', { exact: true });
    assert.equal(await fromField.inputValue(), '', 'the own address by default');
    await fromField.selectOption('me@provider.test');
    await page
      .getByText(
        'This message leaves from me@provider.test through localhost, your provider’s server: by plain email, without the federation and without end-to-end encryption by your instance.',
      )
      .waitFor();
    await page.getByLabel('To', { exact: true }).fill('friend0@elsewhere.test');
    await page.getByLabel('Subject').fill('Sent from my old address');
    await page.getByLabel('Message', { exact: true }).fill('Through my provider, from the new hub.');
    assert.equal(await page.getByRole('region', { name: 'How the message will travel' }).count(), 0);
    // The draft keeps the From chosen: a reload comes back to it.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'New message' }).waitFor();
    await page.getByText('Your draft was restored.').waitFor();
    await page.getByText('This message leaves from me@provider.test through localhost', { exact: false }).waitFor();
    assert.equal(await page.getByLabel('From', { exact: true }).inputValue(), 'me@provider.test');
    assert.deepEqual(await seriousViolations(page), [], 'axe on compose with From');
    await screenshot(page, 'compose-send-as');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('heading', { level: 1 }).filter({ hasNotText: 'New message' }).waitFor();
    await waitFor(async () => relayed.length === 1, 30_000);
    const [m] = relayed;
    assert.equal(m!.user, IMAP_USER.username, "signed in with the mailbox's credentials");
    assert.equal(m!.from, 'me@provider.test');
    assert.deepEqual(m!.to, ['friend0@elsewhere.test']);
    assert.match(m!.raw, /^From: .*<me@provider\.test>/m);
    assert.match(m!.raw, /^Subject: Sent from my old address/m);
    const sent = (await mailbox(inst, user.token)).find((x) => x.subject === 'Sent from my old address');
    assert.equal(sent?.direction, 'outbound', 'a Sent copy');

    // Stopping while a draft has that From: compose says the draft now leaves from the own address, and no longer
    // offers it.
    await page.getByRole('link', { name: 'New message' }).click();
    await page.getByRole('heading', { level: 1, name: 'New message' }).waitFor();
    await page.getByLabel('From', { exact: true }).selectOption('me@provider.test');
    await page.getByLabel('To', { exact: true }).fill('friend1@elsewhere.test');
    await openMailAccounts(page);
    await page.getByRole('button', { name: 'Stop sending as me@provider.test' }).click();
    await page.getByRole('status').getByText('You no longer send as me@provider.test.').waitFor();
    await page.getByRole('link', { name: 'New message' }).click();
    await page.getByRole('heading', { level: 1, name: 'New message' }).waitFor();
    await page
      .getByText(
        'me@provider.test can no longer be sent as (it was stopped in Mail accounts): this message will leave from your own address.',
      )
      .waitFor();
    assert.equal(await page.getByLabel('From', { exact: true }).count(), 0, 'no longer offered');
    assert.equal(await page.getByLabel('To', { exact: true }).inputValue(), 'friend1@elsewhere.test', 'the draft');
    await page.getByRole('button', { name: 'Discard draft' }).click();
    // A new password (here the same one again: Dovecot's does not change) and name; a wrong one changes nothing.
    await openMailAccounts(page);
    await card.getByText('Change the password or the name').click();
    const change = card.getByRole('form', { name: `Change the password or the name: ${label}` });
    await change.getByLabel('New password (optional)').fill('not-the-password');
    await change.getByLabel('Name', { exact: true }).fill('My old mailbox');
    await change.getByRole('button', { name: 'Save' }).click();
    await change
      .getByRole('alert')
      .getByText(
        'The mail server refused the login. Check the username and password; some providers want an app password.',
      )
      .waitFor();
    assert.equal(ok(await inst.api('GET', '/api/v1/identities', { token: user.token })).items[0].label, label);
    await change.getByLabel('New password (optional)').fill(IMAP_USER.password);
    await change.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('My old mailbox is updated; its import has started.').waitFor();
    const renamed = page.getByRole('article', { name: 'My old mailbox' });
    await renamed.getByText(/^Last import finished on .+: 0 new messages\.$/).waitFor({ timeout: 60_000 });

    await page.getByRole('button', { name: 'Remove My old mailbox' }).click();
    const confirm = renamed.getByRole('group', { name: /^Remove My old mailbox\? The mail already imported stays/ });
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
    assert.equal(ok(await inst.api('GET', '/api/v1/identities', { token: user.token })).items.length, 1, 'kept');
    await page.getByRole('button', { name: 'Remove My old mailbox' }).click();
    await confirm.getByRole('button', { name: 'Yes, remove' }).click();
    await page
      .getByRole('status')
      .getByText('My old mailbox is removed. Mail already imported stays in your discussions.')
      .waitFor();
    await page.getByText('No other mailbox yet.').waitFor();
    const kept = await mailbox(inst, user.token);
    for (const subject of SUBJECTS)
      assert.ok(
        kept.some((x) => x.subject === subject),
        `${subject} stays`,
      );
  }, 180_000);

  test('in French', async () => {
    const page = await openPage(browser, problems, { locale: 'fr-FR' });
    await page.goto(`${inst.url}/sign-in`);
    await page.getByLabel('Nom d’utilisateur').fill('ursula');
    await page.getByLabel('Mot de passe').fill(user.password);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('navigation').getByRole('link', { name: 'Comptes de courriel' }).click();
    await page.getByRole('heading', { level: 1, name: 'Comptes de courriel' }).waitFor();
    const form = page.getByRole('form', { name: 'Ajouter une boîte' });
    await form.getByLabel('Sécurité').selectOption('none');
    await form
      .getByText('Sans chiffrement, votre mot de passe et votre courriel traversent le réseau', { exact: false })
      .waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe in French');
    await form.getByLabel('Sécurité').selectOption('implicit');
    await form.getByLabel('Identifiant').fill(IMAP_USER.username);
    await form.getByLabel('Mot de passe').fill('pas-le-mot-de-passe');
    await form.getByLabel('Serveur IMAP').fill('127.0.0.1');
    await form.getByLabel('Port').fill(String(imap.tlsPort));
    await form.getByRole('button', { name: 'Ajouter et importer' }).click();
    await form.getByRole('alert').getByText('Le serveur de courriel a refusé la connexion', { exact: false }).waitFor();
    await screenshot(page, 'mail-accounts-fr');
  }, 120_000);
});
