/**
 * The operator's console and the user's journal in a real browser (Debian's Chromium driven by playwright-core),
 * served by a real instance whose DNS resolver is a real test DNS server. An admin signs in, walks every console
 * section (overview, accounts, DNS records with their live check, queues, label and peers, journal), disables an
 * account, changes its quota and enables it again; the user signs in and reads both actions in My privacy > Journal.
 * A plain user sees no console. axe-core finds nothing serious on each screen, in English and in French.
 *
 * Screenshots: `CALIOPEN_SCREENSHOTS=docs/screenshots npx vitest run --project e2e tests/e2e/web-admin.test.ts`.
 */
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { launchChromium, openPage, screenshot, seriousViolations, signInToApp } from '../support/browser.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { realComponent } from '../support/real-component.ts';
import { waitFor } from '../support/net.ts';
import { requireWebBuild } from '../support/web-build.ts';

const browserBinary = realComponent('chromium', 'chromium');
const MIB = 1024 * 1024;

describe.skipIf(browserBinary.skip)('operator console and the user’s journal in Chromium', () => {
  let dns: TestDnsServer;
  let inst: TestInstance;
  let browser: Browser;
  let admin: { id: string; password: string };
  let alice: { id: string; password: string };
  const pageErrors: string[] = [];

  beforeAll(async () => {
    requireWebBuild('dist');
    dns = await startDnsServer({
      zone: {
        'alpha.test': [
          { type: 'A', data: '192.0.2.10' },
          { type: 'MX', data: { preference: 10, exchange: 'alpha.test' } },
          { type: 'TXT', data: 'v=spf1 mx -all' },
        ],
        '_dmarc.alpha.test': [{ type: 'TXT', data: 'v=DMARC1; p=none' }],
      },
    });
    inst = await startTestInstance({ env: { CALIOPEN_DNS_RESOLVERS: `${dns.host}:${dns.port}` } });
    admin = await inst.user('root', 'admin');
    alice = await inst.user('alice');
    browser = await launchChromium(browserBinary.path);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await inst?.stop();
    await dns?.close();
    assert.deepEqual(pageErrors, [], 'the browser reported CSP violations or page errors');
  });

  function newPage(locale = 'en-GB'): Promise<Page> {
    return openPage(browser, pageErrors, { locale, viewport: { width: 1280, height: 900 } });
  }

  const signIn = (page: Page, username: string, password: string) => signInToApp(page, inst.url, username, password);

  async function openSection(page: Page, name: string, heading: string) {
    await page
      .getByRole('navigation', { name: /^(Administration sections|Sections de l’administration)$/ })
      .getByRole('link', { name })
      .click();
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  }

  test('an admin walks the console, disables alice, changes her quota and enables her again', async () => {
    const page = await newPage();
    await signIn(page, 'root', admin.password);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Administration' }).click();
    await page.getByRole('heading', { level: 1, name: 'Administration — Overview' }).waitFor();
    await page.getByText('ready').waitFor();
    await page.getByRole('heading', { name: 'Storage use' }).waitFor();
    await page.getByText('2 (1 administrators, 0 disabled)').waitFor();
    await page
      .getByRole('cell', { name: /^caliopen_/ })
      .first()
      .waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on the overview');
    await screenshot(page, 'admin-overview');

    await openSection(page, 'Accounts', 'Administration — Accounts');
    const row = page.locator('tr[data-username="alice"]');
    await row.getByText('enabled').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on the accounts');
    await row.getByRole('button', { name: 'Manage alice' }).click();
    const edit = page.getByRole('region', { name: 'Managing alice' });
    await edit.waitFor();
    await edit.getByRole('button', { name: 'Disable the account' }).click();
    await page.getByText('Account alice disabled.').waitFor();
    await row.getByText('disabled').waitFor();
    await edit.getByLabel('Quota in MB').fill('2048');
    await edit.getByRole('button', { name: 'Save the quota' }).click();
    await page.getByText(/^Quota of alice set to 2/).waitFor();
    let stored = await inst.running.services.accounts.get(alice.id);
    assert.equal(stored.disabled, true);
    assert.equal(stored.quotaBytes, 2048 * MIB);
    assert.deepEqual(await seriousViolations(page), [], 'axe on an account being managed');
    await screenshot(page, 'admin-accounts');
    // Disabled, alice cannot sign in.
    const refused = await inst.api('POST', '/api/v1/auth/login', {
      body: { username: 'alice', password: alice.password },
    });
    assert.equal(refused.status, 403, refused.text);
    await edit.getByRole('button', { name: 'Enable the account' }).click();
    await page.getByText('Account alice enabled.').waitFor();
    stored = await inst.running.services.accounts.get(alice.id);
    assert.equal(stored.disabled, false);

    // A new account, created in the console.
    const create = page.getByRole('region', { name: 'Create an account' });
    await create.getByLabel('Username').fill('bob');
    await create.getByLabel('Password').fill('bob-console-password-1');
    await create.getByRole('button', { name: 'Create the account' }).click();
    await page.getByText('Account bob created.').waitFor();
    await page.locator('tr[data-username="bob"]').waitFor();

    await openSection(page, 'DNS records', 'Administration — DNS records');
    await page.locator('tr[data-status]').first().waitFor();
    const statusOf = (name: string) =>
      page.locator('tr[data-status]', { hasText: name }).first().getAttribute('data-status');
    assert.equal(await page.locator('tr[data-status]', { hasText: 'v=spf1' }).getAttribute('data-status'), 'ok');
    assert.equal(await statusOf('_dmarc.alpha.test.'), 'different');
    assert.equal(await statusOf('_caliopen.alpha.test.'), 'missing');
    await page.locator('tr[data-status="different"]').getByText('v=DMARC1; p=none').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on the DNS records');
    await screenshot(page, 'admin-dns');
    // Published, the record turns ok on the next check.
    const value = (
      await page.locator('tr', { hasText: '_caliopen.alpha.test.' }).locator('.value-cell code').first().innerText()
    ).trim();
    dns.zone['_caliopen.alpha.test'] = [{ type: 'TXT', data: value.slice(1, -1) }];
    await page.getByRole('button', { name: 'Check again' }).click();
    await page.locator('tr[data-status="ok"]', { hasText: '_caliopen.alpha.test.' }).waitFor();

    await openSection(page, 'Queues', 'Administration — Queues');
    await page.locator('tr[data-queue="smtp"]').getByRole('rowheader', { name: 'Outgoing mail (SMTP)' }).waitFor();
    await page.locator('tr[data-queue="federation"]').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on the queues');
    await screenshot(page, 'admin-queues');

    await openSection(page, 'Label and peers', 'Administration — Label and peers');
    await page.getByText('none: federation is off').waitFor();
    await page.getByText('This instance follows no registry: it has no peers.').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on label and peers');
    await screenshot(page, 'admin-federation');

    await openSection(page, 'Journal', 'Administration — Journal');
    const entries = page.locator('.journal-table tbody tr');
    await page.locator('tr[data-action="account.created"]').waitFor();
    assert.deepEqual(await entries.evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action'))), [
      'account.created',
      'account.enabled',
      'account.quota_changed',
      'account.disabled',
    ]);
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await page.getByText('Chain intact: 4 entries checked.').waitFor();
    await page.getByLabel('Action', { exact: true }).selectOption('account.quota_changed');
    await page.getByRole('button', { name: 'Filter' }).click();
    await waitFor(async () => (await page.locator('.journal-table tbody tr').count()) === 1, 120_000);
    await page.locator('tr[data-action="account.quota_changed"]').getByText('alice').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on the journal');
    await screenshot(page, 'admin-journal');
    await page.close();
  });

  test('alice signs in and reads both actions in My privacy > Journal; she has no console', async () => {
    const page = await newPage();
    await signIn(page, 'alice', alice.password);
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.equal(await nav.getByRole('link', { name: 'Administration' }).count(), 0);
    await nav.getByRole('link', { name: 'My privacy' }).click();
    await page.getByRole('link', { name: 'See what administrators did to your account' }).click();
    await page.getByRole('heading', { level: 1, name: 'Journal of administrator actions' }).waitFor();
    const disabled = page.locator('tr[data-action="account.disabled"]');
    await disabled.getByRole('cell', { name: 'Account disabled' }).waitFor();
    await disabled.getByRole('cell', { name: 'root' }).waitFor();
    const quota = page.locator('tr[data-action="account.quota_changed"]');
    await quota.getByRole('cell', { name: 'Storage quota changed' }).waitFor();
    await quota.getByText(/to 2 GB$/).waitFor();
    await page.locator('tr[data-action="account.enabled"]').waitFor();
    assert.equal(await page.locator('tr[data-action="account.created"]').count(), 0, 'bob’s creation is not alice’s');
    assert.deepEqual(await seriousViolations(page), [], 'axe on my journal');
    await screenshot(page, 'my-journal');
    // The console's address shows her the discussions, and the API refuses her anyway.
    await page.goto(`${inst.url}/admin/accounts`);
    await page.getByRole('heading', { level: 1, name: 'Discussions' }).waitFor();
    assert.equal(await page.getByRole('heading', { name: /Administration/ }).count(), 0);
    await page.close();
  });

  test('in French: the console and the journal', async () => {
    const fr = await newPage('fr-FR');
    await signIn(fr, 'root', admin.password);
    await fr.getByRole('navigation', { name: 'Principale' }).getByRole('link', { name: 'Administration' }).click();
    await fr.getByRole('heading', { level: 1, name: 'Administration — Vue d’ensemble' }).waitFor();
    await fr.getByText('prête').waitFor();
    assert.deepEqual(await seriousViolations(fr), [], 'axe on the overview in French');
    await openSection(fr, 'Comptes', 'Administration — Comptes');
    await fr.locator('tr[data-username="alice"]').getByRole('button', { name: 'Gérer alice' }).waitFor();
    assert.deepEqual(await seriousViolations(fr), [], 'axe on the accounts in French');
    await screenshot(fr, 'admin-accounts-fr');
    await openSection(fr, 'Enregistrements DNS', 'Administration — Enregistrements DNS');
    await fr.locator('tr[data-status]').first().waitFor();
    assert.deepEqual(await seriousViolations(fr), [], 'axe on the DNS records in French');
    await openSection(fr, 'Files d’attente', 'Administration — Files d’attente');
    await fr.getByRole('rowheader', { name: 'Courrier sortant (SMTP)' }).waitFor();
    assert.deepEqual(await seriousViolations(fr), [], 'axe on the queues in French');
    await openSection(fr, 'Label et pairs', 'Administration — Label et pairs');
    await fr.getByText('aucun : la fédération est désactivée').waitFor();
    assert.deepEqual(await seriousViolations(fr), [], 'axe on label and peers in French');
    await openSection(fr, 'Journal', 'Administration — Journal');
    await fr.locator('tr[data-action="account.disabled"]').getByRole('cell', { name: 'Compte désactivé' }).waitFor();
    assert.deepEqual(await seriousViolations(fr), [], 'axe on the journal in French');
    await screenshot(fr, 'admin-journal-fr');
    await fr.close();

    const user = await newPage('fr-FR');
    await signIn(user, 'alice', alice.password);
    await user.goto(`${inst.url}/privacy/journal`);
    await user.getByRole('heading', { level: 1, name: 'Journal des actions des administrateurs' }).waitFor();
    await user
      .locator('tr[data-action="account.quota_changed"]')
      .getByRole('cell', { name: 'Quota de stockage modifié' })
      .waitFor();
    assert.deepEqual(await seriousViolations(user), [], 'axe on my journal in French');
    await screenshot(user, 'my-journal-fr');
    await user.close();
  });
});
