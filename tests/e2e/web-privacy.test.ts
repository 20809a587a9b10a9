/**
 * Contacts, My privacy and Devices in a real browser (Debian's Chromium driven by playwright-core), served by a real
 * instance — the harness of web-app.test.ts. Alice opens her contacts (a PI badge and a key per contact, a key alert
 * in the header), verifies a contact's fingerprint and sees the contact's PI rise, resolves the key alert by comparing
 * both fingerprints; on My privacy she generates a server-held key and sees her account PI rise, turns on two-factor
 * authentication (the code computed with otplib) and the next sign-in asks for a code; on Devices she sees the
 * current device and removes another, whose session ends. axe-core finds nothing serious or critical on each screen,
 * and the screens render in French.
 *
 * Screenshots: `CALIOPEN_SCREENSHOTS=docs/screenshots npx vitest run --project e2e tests/e2e/web-privacy.test.ts`.
 */
import assert from 'node:assert/strict';
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { generateTestKey, type TestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { waitFor } from '../support/net.ts';
import { realComponent } from '../support/real-component.ts';
import { launchChromium, openPage, screenshot, seriousViolations } from '../support/browser.ts';
import { requireWebBuild } from '../support/web-build.ts';

const browserBinary = realComponent('chromium', 'chromium');
const DANA = 'dana@x.example';
const ERIN = 'erin@y.example';

/** The score a PI badge shows ("… Guarded 42 out of 100 …"). */
async function badgeScore(page: Page, scope: string): Promise<number> {
  const text = (await page.locator(`${scope} .pi-badge .pi-score`).first().textContent()) ?? '';
  return Number(text.trim());
}

describe.skipIf(browserBinary.skip)('contacts, my privacy and devices in Chromium', () => {
  let inst: TestInstance;
  let browser: Browser;
  let alice: { id: string; password: string; token: string; deviceId: string };
  let clockOffset = 0;
  let dana: { id: string };
  let erin: { id: string };
  let danaKey: TestKey;
  let erinKeys: [TestKey, TestKey];
  const cspViolations: string[] = [];

  beforeAll(async () => {
    requireWebBuild('dist');
    inst = await startTestInstance({ clock: () => new Date(Date.now() + clockOffset) });
    alice = await inst.user('alice');
    [danaKey, ...erinKeys] = (await Promise.all([
      generateTestKey(DANA, { name: 'Dana' }),
      generateTestKey(ERIN, { name: 'Erin' }),
      generateTestKey(ERIN, { name: 'Erin (new phone)' }),
    ])) as [TestKey, TestKey, TestKey];
    const create = async (displayName: string, address: string) => {
      const r = await inst.api('POST', '/api/v1/contacts', {
        token: alice.token,
        body: { displayName, identities: [{ address }] },
      });
      assert.equal(r.status, 201, r.text);
      return r.body as { id: string };
    };
    dana = await create('Dana Lefèvre', DANA);
    erin = await create('Erin Okafor', ERIN);
    // Keys seen in mail (Autocrypt): Dana's is pinned; Erin's first one is pinned, a second one is a conflict.
    const keys = inst.running.services.keys;
    await keys.addKey(alice.id, DANA, danaKey.armoredPublic, 'autocrypt');
    await keys.addKey(alice.id, ERIN, erinKeys[0].armoredPublic, 'autocrypt');
    const second = await keys.addKey(alice.id, ERIN, erinKeys[1].armoredPublic, 'autocrypt');
    assert.equal(second.outcome, 'conflict');

    browser = await launchChromium(browserBinary.path);
  });

  afterAll(async () => {
    await browser?.close();
    await inst?.stop();
    assert.deepEqual(cspViolations, [], 'the browser reported CSP violations or page errors');
  });

  function newPage(locale = 'en-GB'): Promise<Page> {
    return openPage(browser, cspViolations, { locale });
  }

  async function signIn(page: Page, username: string, password: string, totp?: () => Promise<string>) {
    await page.goto(`${inst.url}/sign-in`);
    await page.getByLabel(/^(Username|Nom d’utilisateur)$/).fill(username);
    await page.getByLabel(/^(Password|Mot de passe)$/).fill(password);
    await page.getByRole('button', { name: /^(Sign in|Se connecter)$/ }).click();
    if (totp) {
      const field = page.getByLabel('Two-factor code');
      await field.waitFor();
      await field.fill(await totp());
      await page.getByRole('button', { name: 'Sign in' }).click();
    }
    await page.getByRole('heading', { level: 1, name: 'Discussions' }).waitFor();
  }

  let page: Page;

  test('contacts: PI badges, a key alert in the header, a fingerprint verified and the contact’s PI rising', async () => {
    page = await newPage();
    await signIn(page, 'alice', alice.password);
    const nav = page.getByRole('navigation', { name: 'Main' });
    const alertBadge = nav.getByRole('link', { name: '1 key alert' });
    await alertBadge.waitFor();

    await nav.getByRole('link', { name: 'Contacts' }).click();
    await page.getByRole('heading', { level: 1, name: 'Contacts' }).waitFor();
    await page.getByRole('link', { name: 'Dana Lefèvre' }).waitFor();
    await page.getByRole('heading', { name: 'Key alerts' }).waitFor();
    const rows = page.locator('.contact-row');
    assert.equal(await rows.count(), 2);
    assert.equal(
      await page.locator('.contact-row', { hasText: 'Erin Okafor' }).getByText('key alert').count(),
      1,
      'the contact with a conflict carries the mark',
    );
    await page
      .locator('.contact-row', { hasText: 'Dana' })
      .getByRole('button', { name: /^Privacy Index: \w+ \d+ out of 100\. Show why\.$/ })
      .waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on contacts');
    await screenshot(page, 'contacts');

    // Dana's card: her key in groups of four, not verified yet.
    await page.getByRole('link', { name: 'Dana Lefèvre' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dana Lefèvre' }).waitFor();
    await page.getByRole('heading', { name: 'Encryption keys' }).waitFor();
    const grouped = danaKey.fingerprint.toUpperCase().match(/.{4}/g)!;
    const shown = await page.locator('.key-item .fingerprint code').first().innerText();
    assert.deepEqual(shown.split(/\s+/).filter(Boolean), grouped);
    await page.getByText('Not verified yet').waitFor();
    const before = await badgeScore(page, '.contact-pi');
    assert.deepEqual(await seriousViolations(page), [], 'axe on a contact card');

    await page.getByRole('button', { name: /^Compare and verify/ }).click();
    const heard = page.getByLabel('Fingerprint as they read it (optional)');
    await heard.fill('0000 1111');
    await page.getByText('It does not match this key. Do not mark it verified.').waitFor();
    assert.equal(await page.getByRole('button', { name: 'It matches: mark as verified' }).isDisabled(), true);
    await heard.fill(grouped.join(' ').toLowerCase());
    await page.getByText('It matches the key, group by group.').waitFor();
    await page.getByRole('button', { name: 'It matches: mark as verified' }).click();
    await page.getByText('The key of Dana Lefèvre is now verified.').waitFor();
    await page.locator('.verified-mark').first().waitFor();
    await waitFor(async () => (await badgeScore(page, '.contact-pi')) > before, 5_000);
    const keys = await inst.api('GET', `/api/v1/contacts/${dana.id}/keys`, { token: alice.token });
    assert.equal(keys.body.items[0].verified, true);
    assert.deepEqual(await seriousViolations(page), [], 'axe on a verified contact card');
    await screenshot(page, 'contact-keys');
  });

  test('a key alert: compare both fingerprints, decide, and the alert is gone where it was shown', async () => {
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: '1 key alert' }).click();
    await page.getByRole('heading', { level: 1, name: 'Erin Okafor' }).waitFor();
    const decision = page.locator('.alert-decision');
    await decision.getByRole('heading', { name: `Two keys for ${ERIN}` }).waitFor();
    const texts = await decision.locator('.fingerprint code').allInnerTexts();
    assert.deepEqual(
      texts.map((s) => s.replace(/\s+/g, '').toLowerCase()),
      [erinKeys[0].fingerprint, erinKeys[1].fingerprint],
    );
    assert.deepEqual(await seriousViolations(page), [], 'axe on a key alert');
    await screenshot(page, 'key-alert');
    await decision.getByRole('button', { name: 'The new key is right: use it' }).click();
    await page.getByText('Decided: the alert is closed.').waitFor();
    await waitFor(async () => (await nav.getByRole('link', { name: /key alert/ }).count()) === 0, 5_000);
    assert.equal(await page.locator('.alert-decision').count(), 0);
    const alerts = await inst.api('GET', '/api/v1/keys/alerts', { token: alice.token });
    assert.deepEqual(alerts.body.items, []);
    const erinKeysNow = await inst.api('GET', `/api/v1/contacts/${erin.id}/keys`, { token: alice.token });
    const byFp = Object.fromEntries(
      (erinKeysNow.body.items as { fingerprint: string; status: string; verified: boolean }[]).map((k) => [
        k.fingerprint,
        k,
      ]),
    );
    assert.equal(byFp[erinKeys[1].fingerprint]!.status, 'active');
    assert.equal(byFp[erinKeys[1].fingerprint]!.verified, true);
  });

  test('a key alert raised by a signature (only the fingerprint known): said so, refusable, not usable', async () => {
    // Dana's mail was signed by another key than her pinned one, and only its fingerprint is known (point 11).
    const stranger = await generateTestKey(DANA, { name: 'Not Dana' });
    const filed = await inst.running.services.keys.recordSignerConflict(alice.id, DANA, stranger.fingerprint);
    assert.equal(filed?.key.source, 'signature');
    const nav = page.getByRole('navigation', { name: 'Main' });
    await page.reload();
    await nav.getByRole('link', { name: '1 key alert' }).click();
    await page.getByRole('heading', { level: 1, name: 'Dana Lefèvre' }).waitFor();
    const decision = page.locator('.alert-decision');
    await decision.getByRole('heading', { name: `Two keys for ${DANA}` }).waitFor();
    await decision.getByText(/signed by an unknown key, not the pinned one/).waitFor();
    await decision.getByText('a signature on their mail (only its fingerprint is known)', { exact: false }).waitFor();
    const texts = await decision.locator('.fingerprint code').allInnerTexts();
    assert.equal(texts[1]?.replace(/\s+/g, '').toLowerCase(), stranger.fingerprint);
    assert.equal(await decision.getByRole('button', { name: 'The new key is right: use it' }).count(), 0);
    assert.deepEqual(await seriousViolations(page), [], 'axe on a key alert from a signature');
    await decision.getByRole('button', { name: 'Refuse the new key' }).click();
    await page.getByText('Decided: the alert is closed.').waitFor();
    await waitFor(async () => (await nav.getByRole('link', { name: /key alert/ }).count()) === 0, 5_000);
    assert.deepEqual((await inst.api('GET', '/api/v1/keys/alerts', { token: alice.token })).body.items, []);
  });

  test('my privacy: generate a server-held key, the account PI rises; turn on two-factor, the next sign-in asks', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My privacy' }).click();
    await page.getByRole('heading', { level: 1, name: 'My privacy' }).waitFor();
    await page.getByRole('heading', { name: 'Privacy Index of your account' }).waitFor();
    const before = await badgeScore(page, '.account-pi');
    const suggestions = page.locator('.suggestion-list');
    await suggestions.getByRole('button', { name: /^Create my key/ }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on my privacy');

    await suggestions.getByRole('button', { name: /^Create my key/ }).click();
    const form = page.getByRole('form', { name: 'Generate a key kept by the instance' });
    await form.getByLabel('Your password (asked again)').fill('not the password');
    await form.getByRole('button', { name: 'Confirm' }).click();
    await form.getByText('The password is not right. Type the password you sign in with.').waitFor();
    await form.getByLabel('Your password (asked again)').fill(alice.password);
    await form.getByRole('button', { name: 'Confirm' }).click();
    await page.getByText(/^Your key was created\. Fingerprint: [0-9A-F]{4}( [0-9A-F]{4}){9}$/).waitFor();
    await page.getByText('private key on the server').waitFor();
    await waitFor(async () => (await badgeScore(page, '.account-pi')) > before, 5_000);
    await screenshot(page, 'my-privacy');

    // Two-factor authentication, from its suggestion.
    await suggestions.getByRole('button', { name: /^Turn it on/ }).click();
    const secret = ((await page.locator('.totp-secret').textContent()) ?? '').trim();
    assert.match((await page.locator('.totp-uri').textContent()) ?? '', /^otpauth:\/\/totp\//);
    const code = () => generate({ secret, epoch: Math.floor((Date.now() + clockOffset) / 1000) });
    await page.getByLabel('The 6-digit code the app now shows').fill(await code());
    await page.getByRole('button', { name: 'Confirm the code' }).click();
    await page
      .getByText('Two-factor authentication is on. Next time you sign in, you will be asked for a code.')
      .waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on my privacy after the changes');
    const me = await inst.api('GET', '/api/v1/me', { token: alice.token });
    assert.equal(me.body.totpEnabled, true);

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to your mailbox' }).waitFor();
    clockOffset += 60_000; // the next code, not the one just used
    await signIn(page, 'alice', alice.password, code);
  });

  test('devices: the current one marked, each with its PI; removing another ends its session', async () => {
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
    const current = page.locator('.device-row', { hasText: '(this device)' });
    await current.waitFor();
    assert.equal(await current.count(), 1);
    const other = page.locator(`#device-${alice.deviceId}`);
    await other.getByRole('button', { name: /^Privacy Index: / }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on devices');
    await screenshot(page, 'devices');

    assert.equal((await inst.api('GET', '/api/v1/me', { token: alice.token })).status, 200);
    await other.getByRole('button', { name: /^Remove / }).click();
    await other.getByRole('button', { name: 'Remove it' }).click();
    await page.getByText(/was removed: its sessions have ended\.$/).waitFor();
    const after = await inst.api('GET', '/api/v1/me', { token: alice.token });
    assert.equal(after.status, 401);
    assert.equal(after.body.code, 'token_revoked');
    await page.getByRole('heading', { name: 'Removed devices' }).waitFor();
    await page.close();
  });

  test('keyboard only: from the navigation to a contact, compare and verify a key, then my privacy; a key exported and moved to the devices', async () => {
    const carol = await inst.user('carol');
    const frank = await generateTestKey('frank@z.example', { name: 'Frank' });
    const c = await inst.api('POST', '/api/v1/contacts', {
      token: carol.token,
      body: { displayName: 'Frank Moreau', identities: [{ address: 'frank@z.example' }] },
    });
    assert.equal(c.status, 201, c.text);
    await inst.running.services.keys.addKey(carol.id, 'frank@z.example', frank.armoredPublic, 'wkd');

    const kb = await newPage();
    await signIn(kb, 'carol', carol.password);
    /**
     * Tab until the focused element's text is `name` (at most 40 presses), as a keyboard user would, once it is on the
     * page: much arrives after the heading (lists, a contact's keys), and tabbing before it is there would go past.
     */
    const tabTo = async (name: string | RegExp) => {
      await kb
        .getByText(name, { exact: typeof name === 'string' })
        .first()
        .waitFor();
      for (let i = 0; i < 40; i++) {
        await kb.keyboard.press('Tab');
        const text = ((await kb.evaluate('document.activeElement?.textContent ?? ""')) as string).trim();
        if (typeof name === 'string' ? text === name : name.test(text)) return;
      }
      throw new Error(`no focusable element named ${name}`);
    };
    await tabTo('Contacts');
    await kb.keyboard.press('Enter');
    await kb.getByRole('heading', { level: 1, name: 'Contacts' }).waitFor();
    assert.equal(await kb.evaluate('document.activeElement?.id'), 'contacts-h', 'focus starts at the heading');
    await tabTo('Frank Moreau');
    await kb.keyboard.press('Enter');
    await kb.getByRole('heading', { level: 1, name: 'Frank Moreau' }).waitFor();
    await tabTo(/^Compare and verify/);
    await kb.keyboard.press('Enter');
    await tabTo('It matches: mark as verified');
    await kb.keyboard.press('Enter');
    await kb.getByText('The key of Frank Moreau is now verified.').waitFor();
    const keys = await inst.api('GET', `/api/v1/contacts/${c.body.id}/keys`, { token: carol.token });
    assert.equal(keys.body.items[0].verified, true);

    await tabTo('My privacy');
    await kb.keyboard.press('Enter');
    await kb.getByRole('heading', { level: 1, name: 'My privacy' }).waitFor();
    await tabTo(/^Create my key/);
    await kb.keyboard.press('Enter');
    assert.equal(await kb.evaluate('document.activeElement?.id'), 'keys-h', 'the key section takes the focus');
    await tabTo('Confirm');
    // The form that asks the password again is reached by Tab (its password field comes before Confirm).
    assert.equal(await kb.getByLabel('Your password (asked again)').count(), 1);

    // Then the key's life: generated on the server, exported, moved to the devices (the server erases its copy).
    await kb.getByLabel('Your password (asked again)').fill(carol.password);
    await kb.getByRole('button', { name: 'Confirm' }).click();
    await kb.getByText(/^Your key was created\./).waitFor();
    const serverHeld = await badgeScore(kb, '.account-pi');
    await kb.getByRole('button', { name: 'Export my private key' }).click();
    await kb.getByLabel('Your password (asked again)').fill(carol.password);
    await kb.getByRole('button', { name: 'Confirm' }).click();
    const exported = kb.getByLabel('Here is your private key. Save it somewhere safe.');
    await exported.waitFor();
    assert.match(await exported.inputValue(), /-----BEGIN PGP PRIVATE KEY BLOCK-----/);
    assert.equal(
      await kb.getByRole('link', { name: 'Download the private key' }).getAttribute('download'),
      'private-key.asc',
    );
    await kb.getByRole('button', { name: 'Keep my key on my devices only' }).click();
    // The key moves to this browser, kept under a passphrase chosen here (web-client-keys.test.ts goes further).
    await kb
      .getByLabel('Passphrase for your key in this browser (at least 10 characters)')
      .fill('carol browser passphrase');
    await kb.getByLabel('Your password (asked again)').fill(carol.password);
    await kb.getByRole('button', { name: 'Confirm' }).click();
    await kb
      .getByText(/^Your private key is now only with you: kept in this browser under your passphrase\./)
      .waitFor();
    await kb.getByText('Your private key is only on your devices: your instance never holds it.').waitFor();
    await waitFor(async () => (await badgeScore(kb, '.account-pi')) > serverHeld, 5_000);
    const mode = await inst.api('GET', '/api/v1/keys', { token: carol.token });
    assert.equal(mode.body.mode, 'client');
    assert.deepEqual(await seriousViolations(kb), [], 'axe on my privacy with an exported key');
    await kb.close();
  });

  test('adding a contact’s key by pasting it; a key that cannot be read gets a sentence', async () => {
    const dave = await inst.user('dave');
    const gina = await generateTestKey('gina@w.example', { name: 'Gina' });
    const c = await inst.api('POST', '/api/v1/contacts', {
      token: dave.token,
      body: { displayName: 'Gina Rossi', identities: [{ address: 'gina@w.example' }] },
    });
    const page = await newPage();
    await signIn(page, 'dave', dave.password);
    await page.goto(`${inst.url}/contacts/${c.body.id}`);
    await page.getByRole('heading', { level: 1, name: 'Gina Rossi' }).waitFor();
    await page.getByText('No key is known for this contact', { exact: false }).waitFor();
    await page.getByRole('button', { name: 'Add a key' }).click();
    const form = page.getByRole('form', { name: 'Add a key' });
    await form
      .getByLabel('Public key')
      .fill('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot a key\n-----END PGP PUBLIC KEY BLOCK-----');
    await form.getByRole('button', { name: 'Add the key' }).click();
    await form
      .getByRole('alert')
      .getByText('This is not an OpenPGP key the instance can read. Paste the whole armoured block.')
      .waitFor();
    await form.getByLabel('Public key').fill(gina.armoredPublic);
    await form.getByRole('button', { name: 'Add the key' }).click();
    await page.getByText('The key was added.').waitFor();
    const shown = await page.locator('.key-item .fingerprint .visually-hidden').first().textContent();
    assert.equal(shown, `Fingerprint: ${gina.fingerprint.toUpperCase().match(/.{4}/g)!.join(', ')}`);
    assert.deepEqual(await seriousViolations(page), [], 'axe on a contact card with an added key');
    await page.close();
  });

  test('passwords for mail apps: made and shown once, listed, revoked; it signs a mail app in until then', async () => {
    const frank = await inst.user('frank');
    const p = await newPage();
    await signIn(p, 'frank', frank.password);
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My privacy' }).click();
    await p.getByRole('heading', { name: 'Passwords for mail apps' }).waitFor();
    await p.getByText('No app password yet.').waitFor();
    const form = p.getByRole('form', { name: 'Make a password' });
    await form.getByLabel('Which app is it for?').fill('Thunderbird');
    await form.getByRole('button', { name: 'Make a password' }).click();
    const shown = p.locator('.app-password-made');
    await shown.getByText(/Copy it into the app now: it will not be shown again\./).waitFor();
    const secret = ((await shown.locator('code').textContent()) ?? '').trim();
    assert.match(secret, /^(?:[a-z2-9]{4}-){4}[a-z2-9]{4}$/);
    await p.getByText('never used').waitFor();
    assert.deepEqual(await seriousViolations(p), [], 'axe on my privacy with an app password');
    const auth = inst.running.services.mailClientAuth;
    assert.equal((await auth.authenticate('frank', secret, '192.0.2.10')).ok, true, 'a mail app signs in with it');
    await p.getByRole('button', { name: 'Revoke the password for “Thunderbird”' }).click();
    await p.getByText('The password for “Thunderbird” is revoked.').waitFor();
    await p.getByText('No app password yet.').waitFor();
    assert.equal((await auth.authenticate('frank', secret, '192.0.2.10')).ok, false, 'revoked');
    await p.close();
  });

  test('in French: contacts, my privacy and devices', async () => {
    const bob = await inst.user('bob');
    const fr = await newPage('fr-FR');
    await fr.goto(`${inst.url}/sign-in`);
    await fr.getByLabel('Nom d’utilisateur').fill('bob');
    await fr.getByLabel('Mot de passe').fill(bob.password);
    await fr.getByRole('button', { name: 'Se connecter' }).click();
    await fr.getByRole('heading', { level: 1, name: 'Discussions' }).waitFor();
    const nav = fr.getByRole('navigation', { name: 'Principale' });
    await nav.getByRole('link', { name: 'Ma confidentialité' }).click();
    await fr.getByRole('heading', { level: 1, name: 'Ma confidentialité' }).waitFor();
    await fr.getByRole('heading', { name: 'Indice de confidentialité de votre compte' }).waitFor();
    await fr.getByRole('button', { name: /^Créer ma clé/ }).waitFor();
    await fr.getByRole('checkbox', { name: 'Partager l’indice de mon compte avec les instances membres' }).check();
    await fr.getByText('Enregistré.').waitFor();
    assert.equal((await inst.api('GET', '/api/v1/privacy/sharing', { token: bob.token })).body.shareTrust, true);
    await fr.getByRole('heading', { name: 'Mots de passe pour les applications de messagerie' }).waitFor();
    assert.deepEqual(await seriousViolations(fr), [], 'axe on my privacy in French');
    await screenshot(fr, 'my-privacy-fr');
    await nav.getByRole('link', { name: 'Contacts' }).click();
    await fr.getByText('Aucun contact pour l’instant.', { exact: false }).waitFor();
    await nav.getByRole('link', { name: 'Appareils' }).click();
    await fr.getByRole('heading', { level: 1, name: 'Appareils' }).waitFor();
    await fr.getByText('(cet appareil)').waitFor();
    assert.deepEqual(await seriousViolations(fr), [], 'axe on devices in French');
    await fr.close();
  });
});
