/**
 * Live updates, search and notices in the user's web app, in Debian's Chromium (playwright-core) against a real
 * instance with SMTP:
 * - alice has the app open: a mail that arrives over SMTP appears at the top of her discussions without a reload, is
 *   announced politely to screen readers, and a second one is appended to the discussion she has open;
 * - search: "/" opens the search box; a query with a filter shows it as a chip, the results with their PI badge and
 *   the words found highlighted; removing the chip widens the results; the URL holds the query (back button);
 * - a delivery refused by the remote server (an SMTP sink answering 550) shows as a notice, counted in the navigation
 *   without a reload, with the recipient, why and what to do; dismissed, it stays dismissed;
 * - axe-core on the search and notices screens, in English and in French.
 *
 * Screenshots: `CALIOPEN_SCREENSHOTS=docs/screenshots npx vitest run --project e2e tests/e2e/web-live.test.ts`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { launchChromium, screenshot, seriousViolations } from '../support/browser.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { freePort, waitFor } from '../support/net.ts';
import { realComponent } from '../support/real-component.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { requireWebBuild } from '../support/web-build.ts';
import { startInternetDns, type InternetDns } from './fixtures/internet-dns.ts';

const DOMAIN = 'alpha.test';
const browserBinary = realComponent('chromium', 'chromium');

describe.skipIf(browserBinary.skip)('live updates, search and notices in Chromium', () => {
  let inst: TestInstance;
  let dns: InternetDns;
  let sink: SmtpSink;
  let browser: Browser;
  let alice: { id: string; password: string; token: string };
  const pageErrors: string[] = [];

  const mail = (o: { from: string; subject: string; text: string; minutesAgo?: number }) =>
    Buffer.from(
      `From: ${o.from}\r\nTo: alice@${DOMAIN}\r\nSubject: ${o.subject}\r\nDate: ${new Date(Date.now() - (o.minutesAgo ?? 0) * 60_000).toUTCString()}\r\nMessage-ID: <${randomUUID()}@x.example>\r\n\r\n${o.text}\r\n`,
    );

  async function smtpToAlice(from: string, subject: string, text: string): Promise<void> {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: inst.running.smtp!.port,
      secure: false,
      ignoreTLS: true,
      name: 'mail.sender.example',
    });
    await transport.sendMail({
      envelope: { from: /<(.*)>/.exec(from)![1]!, to: [`alice@${DOMAIN}`] },
      raw: mail({ from, subject, text }),
    });
    transport.close();
  }

  beforeAll(async () => {
    requireWebBuild('dist');
    dns = await startInternetDns();
    sink = await startSmtpSink({ port: await freePort() });
    inst = await startTestInstance({
      domain: DOMAIN,
      env: {
        CALIOPEN_SMTP_ENABLED: 'true',
        CALIOPEN_SMTP_PORT: '0',
        CALIOPEN_SMTP_DNS_SERVERS: dns.server,
        CALIOPEN_OUTBOUND_MX_OVERRIDE: `remote.test=127.0.0.1:${sink.port}`,
        CALIOPEN_OUTBOUND_RETRY_ATTEMPTS: '2',
        CALIOPEN_OUTBOUND_RETRY_BASE_DELAY_MS: '100',
      },
    });
    alice = await inst.user('alice');
    // What alice's search finds: two budget mails from two people, and one about something else.
    for (const [i, m] of [
      { from: 'Anna Lind <anna@north.example>', subject: 'Budget for the spring fair', text: 'The budget is ready.' },
      { from: 'Paul Roy <paul@south.example>', subject: 'Budget review', text: 'Comments on the budget draft.' },
      { from: 'Paul Roy <paul@south.example>', subject: 'Football on Sunday', text: 'Are you coming?' },
    ].entries()) {
      await inst.running.services.ingest.ingest({
        accountId: alice.id,
        direction: 'inbound',
        receivedAt: new Date(Date.now() - (60 - i) * 60_000),
        raw: mail({ ...m, minutesAgo: 60 - i }),
        facts: { transport: null, authentication: null },
      });
    }
    await waitFor(async () => {
      const r = await inst.api('GET', '/api/v1/search?q=budget', { token: alice.token });
      return r.body?.total === 2;
    }, 30_000);
    browser = await launchChromium(browserBinary.path);
  });

  afterAll(async () => {
    await browser?.close();
    await inst?.stop();
    await sink?.stop();
    await dns?.stop();
  });

  async function signedIn(): Promise<Page> {
    const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1200, height: 900 } });
    context.setDefaultTimeout(120_000);
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(m.text());
    });
    await page.goto(`${inst.url}/sign-in`);
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    return page;
  }

  test('a mail arriving over SMTP appears without a reload, announced; the open discussion gets the next one', async () => {
    const page = await signedIn();
    await page.locator('.discussion-row').first().waitFor();
    // A mark that a reload would wipe out.
    await page.evaluate(`window.__notReloaded = true`);
    const rows = page.locator('.discussion-row');
    const before = await rows.count();

    await smtpToAlice('Zoé Martin <zoe@east.example>', 'Picnic on Saturday', 'Shall we meet at the park?');
    await rows.first().filter({ hasText: 'Zoé Martin' }).waitFor();
    assert.equal(await rows.count(), before + 1);
    assert.match((await rows.first().getAttribute('class')) ?? '', /unread/);
    await rows.first().getByText('1 unread').waitFor();
    await page
      .getByTestId('live-announcer')
      .filter({ hasText: /New message in/ })
      .waitFor();
    assert.equal(await page.getByTestId('live-announcer').getAttribute('aria-live'), 'polite');

    await rows.first().getByRole('link').click();
    await page.locator('.message-body', { hasText: 'Shall we meet at the park?' }).waitFor();
    await smtpToAlice('Zoé Martin <zoe@east.example>', 'Re: Picnic on Saturday', 'I will bring the cake.');
    await page.locator('.message-body', { hasText: 'I will bring the cake.' }).waitFor();
    assert.equal(await page.locator('.message').count(), 2);
    assert.equal(await page.evaluate('window.__notReloaded'), true, 'no reload happened');
    await page.context().close();
  });

  test('search: "/" to the box, a filter chip, highlighted results with PI badges; removing the chip widens them', async () => {
    const page = await signedIn();
    await page.locator('body').press('/');
    await page.getByRole('heading', { level: 1, name: 'Search' }).waitFor();
    const box = page.getByLabel('Search your messages');
    await waitFor(async () => (await page.evaluate('document.activeElement?.id')) === 'search-input', 10_000);
    await box.fill('budget from:anna');
    await box.press('Enter');
    await page.getByText('1 message found').waitFor();
    assert.equal(new URL(page.url()).searchParams.get('q'), 'budget from:anna');
    const results = page.locator('.search-result');
    assert.equal(await results.count(), 1);
    assert.deepEqual(await results.first().locator('mark').allTextContents(), ['Budget', 'budget']);
    await results
      .first()
      .getByRole('button', { name: /^Privacy Index:/ })
      .waitFor();
    const chip = page.getByRole('button', { name: 'Remove the filter from:anna' });
    await chip.waitFor();

    // The syntax, explained: opens and closes with Escape.
    await page.getByRole('button', { name: 'How to search' }).click();
    await page.getByText('What you can type').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on search');
    await screenshot(page, 'search-chips');
    await page.keyboard.press('Escape');
    await page.getByText('What you can type').waitFor({ state: 'hidden' });

    await chip.click();
    await page.getByText('2 messages found').waitFor();
    assert.equal(new URL(page.url()).searchParams.get('q'), 'budget');
    assert.equal(await results.count(), 2);
    assert.equal(await page.getByRole('button', { name: /^Remove the filter/ }).count(), 0);
    // Back: the filter is there again.
    await page.goBack();
    await page.getByText('1 message found').waitFor();
    assert.equal(await box.inputValue(), 'budget from:anna');

    // Empty and invalid searches say so in words.
    await box.fill('nothing-like-this');
    await box.press('Enter');
    await page.getByText('No message matches “nothing-like-this”.', { exact: false }).waitFor();
    await box.fill('pi>=500');
    await box.press('Enter');
    await page
      .getByRole('alert')
      .getByText('This part of the search cannot be understood: “pi>=500”.', { exact: false })
      .waitFor();

    // French.
    await page.getByLabel('Language').selectOption('fr');
    await page.getByLabel('Rechercher dans vos messages').fill('budget from:anna');
    await page.getByRole('button', { name: 'Rechercher', exact: true }).click();
    await page.getByText('1 message trouvé').waitFor();
    await page.getByRole('button', { name: 'Retirer le filtre from:anna' }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on search (fr)');
    await page.context().close();
  });

  test('a delivery refused by the remote server is a notice, counted live, explained, dismissed for good', async () => {
    sink.behaviour.rejectRecipients.set('nobody@remote.test', '550 5.1.1 No such user here');
    const page = await signedIn();
    await page.getByRole('link', { name: 'Notices', exact: true }).waitFor();
    const sent = await inst.api('POST', '/api/v1/messages', {
      token: alice.token,
      body: { to: [{ address: 'nobody@remote.test' }], subject: 'Our trip to Lyon', text: 'Hello' },
    });
    assert.equal(sent.status, 202, sent.text);
    // Counted in the navigation without a reload.
    await page.getByRole('link', { name: 'Notices (1 new)' }).click();
    await page.getByRole('heading', { level: 1, name: 'Notices' }).waitFor();
    const notice = page.locator('.notice-card', { hasText: 'nobody@remote.test' });
    await notice.getByRole('heading', { name: '“Our trip to Lyon” could not be delivered' }).waitFor();
    await notice.getByText('this address does not exist at the person’s provider.', { exact: false }).waitFor();
    await notice.getByText('Check the address for a typo', { exact: false }).waitFor();
    await notice.getByText('No such user here', { exact: false }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on notices');
    await screenshot(page, 'notices');

    // French render of the same notice.
    await page.getByLabel('Language').selectOption('fr');
    await page.getByRole('heading', { level: 1, name: 'Avis' }).waitFor();
    await notice
      .getByText('cette adresse n’existe pas chez le fournisseur de la personne.', { exact: false })
      .waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on notices (fr)');
    await page.getByLabel('Langue').selectOption('en');

    await notice.getByRole('button', { name: 'Dismiss the notice: Our trip to Lyon' }).click();
    await page.getByText('Nothing to tell you: all is well.').waitFor();
    await page.getByRole('link', { name: 'Notices', exact: true }).waitFor();
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Notices' }).waitFor();
    await page.getByText('Nothing to tell you: all is well.').waitFor();
    await page.getByRole('button', { name: 'Show the dismissed notice (1)' }).click();
    await page.locator('.notice-card.dismissed', { hasText: 'nobody@remote.test' }).waitFor();
    await page.context().close();
  });

  test('no page error and no CSP violation', () => {
    assert.deepEqual(pageErrors, []);
  });
});
