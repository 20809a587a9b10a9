/**
 * The user's web app in a real browser (Debian's Chromium driven by playwright-core), served by a real instance:
 * a message arrives over SMTP (and two more through the instance's ingest port, with the facts the federation inbox
 * and a DKIM-checking SMTP hop would record), then a person opens the app, signs in (password, and a second user with
 * a two-factor code), sees the discussions with their PI badges, opens a breakdown, reads a discussion with the
 * sender's trust level, switches to French, signs out, and is sent back to sign-in when the session is revoked.
 * axe-core checks the sign-in, discussions and discussion screens; the CSP header and the absence of inline script
 * are asserted on what the instance serves, and the browser must report no CSP violation.
 *
 * Screenshots: `CALIOPEN_SCREENSHOTS=docs/screenshots npx vitest run --project e2e tests/e2e/web-app.test.ts`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import { generate } from 'otplib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { WEB_APP_CSP, webAppPlugin } from '@caliopen/instance/http/web-app.plugin.ts';
import Fastify from 'fastify';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { waitFor } from '../support/net.ts';
import { realComponent } from '../support/real-component.ts';
import { startInternetDns, type InternetDns } from './fixtures/internet-dns.ts';
import { launchChromium, openPage, screenshot, seriousViolations, signInToApp } from '../support/browser.ts';
import { requireWebBuild } from '../support/web-build.ts';

const DOMAIN = 'alpha.test';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const browserBinary = realComponent('chromium', 'chromium');

function rfc5322(o: { from: string; to: string; subject: string; body: string }): Buffer {
  return Buffer.from(
    [
      `From: ${o.from}`,
      `To: ${o.to}`,
      `Subject: ${o.subject}`,
      `Message-ID: <${randomUUID()}@test.example>`,
      `Date: ${new Date().toUTCString()}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      o.body,
      '',
    ].join('\r\n'),
  );
}

test('without web/dist, the app paths answer a page saying how to build it; the API paths are not the app’s', async () => {
  const app = Fastify();
  await app.register(webAppPlugin, { distDir: path.join(ROOT, '.data', `no-web-dist-${randomUUID()}`) });
  try {
    for (const url of ['/', '/discussions']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 503);
      assert.match(r.headers['content-type'] as string, /^text\/html/);
      assert.match(r.body, /npm run build -w web/);
      assert.doesNotMatch(r.body, /<script/i);
      assert.equal(r.headers['content-security-policy'], WEB_APP_CSP);
    }
    assert.equal((await app.inject({ method: 'GET', url: '/api/v1/anything' })).statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/app.js' })).statusCode, 404);
  } finally {
    await app.close();
  }
});

describe.skipIf(browserBinary.skip)('the web app in Chromium', () => {
  let inst: TestInstance;
  let dns: InternetDns;
  let browser: Browser;
  let alice: { id: string; password: string };
  let clockOffset = 0;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    requireWebBuild('dist');
    dns = await startInternetDns();
    inst = await startTestInstance({
      clock: () => new Date(Date.now() + clockOffset),
      env: { CALIOPEN_SMTP_ENABLED: 'true', CALIOPEN_SMTP_PORT: '0', CALIOPEN_SMTP_DNS_SERVERS: dns.server },
    });
    alice = await inst.user('alice');

    // 1. Over SMTP, from an ordinary provider with nothing verifiable: a postcard.
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: inst.running.smtp!.port,
      secure: false,
      ignoreTLS: true,
    });
    try {
      await transport.sendMail({
        from: 'Zoé Martin <zoe@x.example>',
        to: `alice@${DOMAIN}`,
        subject: 'Dinner on Friday?',
        text: 'Hi Alice,\n\nAre you free on Friday evening? <script>alert("not run")</script>\n\nZoé',
      });
    } finally {
      transport.close();
    }
    // 2. Through the ingest port, with what a DKIM- and DMARC-checking SMTP hop over TLS records.
    const now = Date.now();
    await inst.running.services.ingest.ingest({
      accountId: alice.id,
      direction: 'inbound',
      receivedAt: new Date(now - 3_600_000),
      raw: rfc5322({
        from: 'Carol Dupont <carol@mail.example>',
        to: `alice@${DOMAIN}`,
        subject: 'Minutes of the meeting',
        body: 'Here are the minutes of Tuesday’s meeting.',
      }),
      facts: {
        transport: {
          via: 'smtp',
          tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
          clientIp: '192.0.2.7',
          helo: 'mx.mail.example',
          receivedChain: [],
          externalHops: 1,
          plaintextHops: 0,
        },
        authentication: {
          spf: { result: 'pass', domain: 'mail.example' },
          dkim: [{ result: 'pass', domain: 'mail.example', selector: 's1', aligned: true }],
          dmarc: { result: 'pass', domain: 'mail.example', policy: 'reject' },
        },
      },
    });
    // 3. What the federation inbox records for a sealed envelope from a labelled member instance.
    await inst.running.services.ingest.ingest({
      accountId: alice.id,
      direction: 'inbound',
      receivedAt: new Date(now - 7_200_000),
      raw: rfc5322({
        from: 'Bob <bob@beta.test>',
        to: `alice@${DOMAIN}`,
        subject: 'Sealed between our instances',
        body: 'This one travelled over the federation.',
      }),
      facts: {
        transport: {
          via: 'federation',
          tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
          clientIp: '127.0.0.1',
          helo: null,
          receivedChain: [],
          externalHops: 0,
          plaintextHops: 0,
        },
        authentication: null,
        federation: {
          peerDomain: 'beta.test',
          labelValid: true,
          peerInstancePi: 80,
          sealed: true,
          forwardSecret: true,
          senderAuthenticated: true,
          envelopeId: randomUUID(),
          e2e: false,
        },
      },
    });
    await waitFor(async () => {
      const r = await inst.api('GET', '/api/v1/discussions', {
        token: (await inst.api('POST', '/api/v1/auth/login', { body: { username: 'alice', password: alice.password } }))
          .body.token,
      });
      return r.body.items.length === 3;
    }, 20_000);

    browser = await launchChromium(browserBinary.path);
  });

  afterAll(async () => {
    await browser?.close();
    await inst?.stop();
    await dns?.stop();
  });

  function newPage(locale = 'en-GB'): Promise<Page> {
    return openPage(browser, cspViolations, { locale, viewport: { width: 1200, height: 800 } });
  }

  test('the instance serves the app with a strict CSP and no inline script', async () => {
    const res = await fetch(`${inst.url}/discussions/${randomUUID()}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-security-policy'), WEB_APP_CSP);
    assert.match(WEB_APP_CSP, /default-src 'self'/);
    assert.match(WEB_APP_CSP, /frame-ancestors 'none'/);
    assert.doesNotMatch(WEB_APP_CSP, /unsafe-inline|unsafe-eval/);
    const html = await res.text();
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
    assert.ok(scripts.length >= 1, 'the app has its script');
    for (const [, attrs, body] of scripts) {
      assert.match(attrs!, /\bsrc="\/assets\//, `a script without src: ${attrs}`);
      assert.equal(body!.trim(), '', 'a script with inline content');
    }
    assert.doesNotMatch(html, /\son[a-z]+\s*=/i, 'an inline event handler');
    assert.doesNotMatch(html, /<style\b|\sstyle\s*=/i, 'inline style');
    // The API keeps its own answers.
    const api = await fetch(`${inst.url}/api/v1/nowhere`);
    assert.equal(api.status, 404);
    assert.equal(((await api.json()) as { code: string }).code, 'route_not_found');
  });

  test('sign in, discussions with PI badges, a breakdown, a discussion, French, sign out', async () => {
    const page = await newPage();
    await page.goto(`${inst.url}/`);
    await page.getByRole('heading', { name: 'Sign in to your mailbox' }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on sign-in');
    await screenshot(page, 'sign-in');

    // A wrong password: a sentence, not JSON.
    await page.getByLabel('Username').fill(`alice@${DOMAIN}`);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.equal(
      (await alert.textContent())?.trim(),
      'The username or password is not right. Check them and try again.',
    );

    await page.getByLabel('Password').fill(alice.password);
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    const rows = page.locator('.discussion-row');
    await rows.nth(2).waitFor();
    assert.equal(await rows.count(), 3);
    const titles = await page.locator('.discussion-title').allTextContents();
    assert.ok(titles[0]!.startsWith('Zoé Martin'), titles.join(' | '));
    assert.ok(titles[0]!.includes('1 unread'), titles[0]);
    // Each correspondent's trust level, in the list as in the discussion, from the facts of their messages.
    for (const [row, level] of [
      [0, 'Unauthenticated email'],
      [1, 'Authenticated email'],
      [2, 'Member'],
    ] as const) {
      await rows
        .nth(row)
        .locator('.trust-compact', { hasText: new RegExp(`^Sender trust: ${level}$`) })
        .waitFor();
    }
    const badges = page.getByRole('button', { name: /^Privacy Index: \w+ \d+ out of 100\. Show why\.$/ });
    assert.equal(await badges.count(), 3);
    assert.deepEqual(await seriousViolations(page), [], 'axe on discussions');
    await screenshot(page, 'discussions');

    // The breakdown of the SMTP discussion, opened by keyboard.
    await badges.first().focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Why this Privacy Index' });
    await dialog.waitFor();
    await dialog.getByRole('heading', { name: 'What counts' }).waitFor();
    await dialog.getByRole('heading', { name: 'How to raise it' }).waitFor();
    await dialog.locator('tbody tr').first().waitFor();
    assert.ok((await dialog.locator('tbody tr').count()) >= 1);
    assert.match((await dialog.textContent()) ?? '', /as private as its most exposed recent message/);
    assert.deepEqual(await seriousViolations(page), [], 'axe on the breakdown');
    await screenshot(page, 'breakdown');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    // The SMTP discussion: the body as text (the <script> is shown, not run), the sender's trust level.
    await page.getByRole('link', { name: /Zoé Martin/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Zoé Martin' }).waitFor();
    const body = page.locator('.message-body').first();
    assert.match((await body.textContent()) ?? '', /<script>alert\("not run"\)<\/script>/);
    await page
      .getByRole('button', { name: /Sender trust: Unauthenticated email/ })
      .first()
      .waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on a discussion');
    await screenshot(page, 'discussion');

    // The federation discussion: a member, with the verified facts behind it.
    await page.getByRole('link', { name: 'Back to discussions' }).click();
    await page.getByRole('link', { name: /^Bob/ }).click();
    const trust = page.getByRole('button', { name: 'Sender trust: Member' }).first();
    await trust.click();
    await page.getByText('beta.test is a labelled member instance of the federation.').first().waitFor();
    await page
      .getByRole('button', { name: /Privacy Index: \w+ \d+ out of 100/ })
      .last()
      .click();
    const messageDialog = page.getByRole('dialog', { name: 'Why this Privacy Index' });
    await messageDialog.getByRole('rowheader', { name: 'Member label' }).waitFor();
    await screenshot(page, 'message-breakdown');
    await page.keyboard.press('Escape');

    // French, from the switch: the interface and the badges' names change, and <html lang> follows.
    await page.getByLabel('Language').selectOption('fr');
    await page.getByRole('link', { name: 'Retour aux discussions' }).waitFor();
    await page.getByRole('button', { name: 'Confiance dans l’expéditeur : Membre' }).first().waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'fr');
    await page.getByRole('link', { name: 'Retour aux discussions' }).click();
    await page
      .getByRole('button', { name: /^Indice de confidentialité : \S+ \d+ sur 100/ })
      .first()
      .waitFor();
    await screenshot(page, 'discussions-fr');

    await page.getByRole('button', { name: 'Se déconnecter' }).click();
    await page.getByText('Vous êtes déconnecté·e.').waitFor();
    await page.context().close();
    assert.deepEqual(cspViolations, []);
  });

  test('keyboard only: sign in, open a discussion, its breakdown and trust, and come back', async () => {
    const page = await newPage();
    await page.goto(`${inst.url}/`);
    await page.getByRole('heading', { name: 'Sign in to your mailbox' }).waitFor();
    const focused = async () =>
      (await page.evaluate(
        "(document.activeElement?.getAttribute('aria-label') ?? '') + '|' + (document.activeElement?.textContent ?? '').trim() + '|' + (document.activeElement?.id ?? '')",
      )) as string;
    await page.keyboard.press('Tab');
    assert.match(await focused(), /\|username$/);
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    assert.match(await focused(), /\|password$/);
    await page.keyboard.type(alice.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    await page.waitForFunction("document.activeElement?.id === 'discussions-h'");
    // Sort buttons, then the first discussion's link and its badge.
    await page.keyboard.press('Tab');
    assert.match(await focused(), /Most recent/);
    await page.keyboard.press('Tab');
    assert.match(await focused(), /Most important/);
    await page.keyboard.press('Tab');
    assert.match(await focused(), /^\|Zoé Martin/);
    await page.keyboard.press('Tab');
    assert.match(await focused(), /Privacy Index: Exposed/);
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Zoé Martin' }).waitFor();
    await page.waitForFunction("document.activeElement?.id === 'discussion-h'");
    // The discussion's trust level (a disclosure), then its PI badge (a dialog).
    await page.keyboard.press('Tab');
    assert.match(await focused(), /Sender trust: Unauthenticated email/);
    await page.keyboard.press('Enter');
    await page.getByText('Nothing verified ties this message to its sender.').first().waitFor();
    await page.keyboard.press('Tab');
    assert.match(await focused(), /Privacy Index: Exposed/);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Why this Privacy Index' });
    await dialog.getByRole('heading', { name: 'What counts' }).waitFor();
    assert.match(await focused(), /^\|Close\|$/, 'focus moves into the dialog');
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    assert.match(await focused(), /Privacy Index: Exposed/, 'focus returns to the badge');
    // Back to the list: the link before the heading.
    await page.evaluate("document.getElementById('discussion-h').focus()");
    await page.keyboard.press('Shift+Tab');
    assert.match(await focused(), /Back to discussions/);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    await page.context().close();
    assert.deepEqual(cspViolations, []);
  });

  test('a French browser gets French; a revoked session returns to sign-in', async () => {
    const page = await newPage('fr-FR');
    const inFlight = new Set<unknown>();
    page.on('request', (r) => {
      if (!r.url().includes('/api/v1/events')) inFlight.add(r);
    });
    page.on('requestfinished', (r) => inFlight.delete(r));
    page.on('requestfailed', (r) => inFlight.delete(r));
    await page.goto(`${inst.url}/discussions`);
    await page.getByRole('heading', { name: 'Connexion à votre messagerie' }).waitFor();
    await page.getByLabel('Nom d’utilisateur').fill('alice');
    await page.getByLabel('Mot de passe').fill(alice.password);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    // The session ends elsewhere (another device signs it out): the next call sends the user back to sign-in. The
    // page's own requests (trust levels, key alerts) are answered first, so that the click meets the ended session.
    // (The live-update stream stays open for good: not waited for.)
    // Quiet: nothing in flight, and still nothing half a second later (what Playwright's networkidle means).
    await waitFor(async () => {
      if (inFlight.size > 0) return false;
      await new Promise((r) => setTimeout(r, 500));
      return inFlight.size === 0;
    }, 30_000);
    const token = (await page.evaluate(
      "JSON.parse(sessionStorage.getItem('caliopen.session') ?? '{}').token",
    )) as string;
    assert.equal((await inst.api('POST', '/api/v1/auth/logout', { token })).status, 204);
    // The live-update stream re-checks its session at each heartbeat: if it met the ended session first, the app has
    // already returned to sign-in, and there is nothing to click.
    await page
      .getByRole('button', { name: 'Les plus importantes' })
      .click({ timeout: 10_000 })
      .catch(() => {});
    await page.getByText('Votre session a pris fin. Reconnectez-vous pour continuer.').waitFor();
    await page.getByRole('heading', { name: 'Connexion à votre messagerie' }).waitFor();
    await page.context().close();
    assert.deepEqual(cspViolations, []);
  });

  test('the sections bar keeps one line: in French at 1200 px it fits; on a phone it scrolls sideways, not the page, and shows the current section', async () => {
    const page = await newPage('fr-FR');
    await signInToApp(page, inst.url, 'alice', alice.password);
    const nav = page.getByRole('navigation', { name: 'Principale' });
    const bar = nav.getByRole('list');
    /** The bar's links: each one's box, and how far the bar itself is scrolled and could be. */
    const measure = () =>
      bar.evaluate((ul) => ({
        links: [...ul.querySelectorAll('a')].map((a) => {
          const r = a.getBoundingClientRect();
          return { name: a.textContent ?? '', top: r.top, left: r.left, right: r.right, height: r.height };
        }),
        scrollable: ul.scrollWidth > ul.clientWidth,
        page: ul.ownerDocument.documentElement.scrollWidth,
      }));

    // 1200 px, French (the longest labels): every section on one row, none of them on two lines, nothing to scroll.
    const wide = await measure();
    assert.ok(wide.links.length >= 8, `the sections: ${wide.links.map((l) => l.name).join(', ')}`);
    const rowTop = wide.links[0]!.top;
    const lineHeight = Math.min(...wide.links.map((l) => l.height));
    for (const l of wide.links) {
      assert.ok(Math.abs(l.top - rowTop) < 1, `${l.name} is on the first row (top ${l.top}, row ${rowTop})`);
      assert.ok(l.height < lineHeight * 1.5, `${l.name} is on one line (height ${l.height})`);
    }
    assert.equal(wide.scrollable, false, 'at 1200 px the sections fit without scrolling');

    // A phone: the page keeps its width; the bar scrolls sideways, and the section opened last is in view.
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${inst.url}/notices`);
    await nav.getByRole('link', { name: /^Avis/ }).and(page.locator('[aria-current="page"]')).waitFor();
    await waitFor(async () => {
      const narrow = await measure();
      const current = narrow.links.find((l) => l.name.startsWith('Avis'))!;
      return narrow.scrollable && narrow.page <= 390 && current.left >= 0 && current.right <= 390;
    }, 10_000).catch(async (err) => {
      assert.fail(`on a phone: ${JSON.stringify(await measure())} (${err})`);
    });
    for (const l of (await measure()).links) assert.ok(l.height < lineHeight * 1.5, `${l.name} stays on one line`);
    // The header's tools fit too: the language select keeps its name (its visible word is hidden on a phone).
    assert.ok(await page.getByLabel('Langue').isVisible(), 'the language select, named, on a phone');
    assert.ok(
      await page.locator('.app-header').evaluate((h) => h.scrollWidth <= h.clientWidth),
      'the header does not overflow',
    );
    await screenshot(page, 'sections-bar-phone-fr');
    await page.context().close();
    assert.deepEqual(cspViolations, []);
  });

  test('a long list is virtualised: 300 discussions, a few dozen rows in the page, the next pages load on scroll', async () => {
    const ivan = await inst.user('ivan');
    const start = Date.now() - 400 * 60_000;
    for (let i = 0; i < 300; i++) {
      const n = String(i).padStart(3, '0');
      await inst.running.services.ingest.ingest({
        accountId: ivan.id,
        direction: 'inbound',
        receivedAt: new Date(start + i * 60_000),
        raw: rfc5322({
          from: `Sender ${n} <sender${n}@list.example>`,
          to: `ivan@${DOMAIN}`,
          subject: `Note ${n}`,
          body: `Note number ${n}.`,
        }),
        facts: { transport: null, authentication: null },
      });
    }
    const page = await newPage();
    await page.goto(`${inst.url}/sign-in`);
    await page.getByLabel('Username').fill('ivan');
    await page.getByLabel('Password').fill(ivan.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('100 discussions so far; more load as you scroll').waitFor();
    const rendered = await page.locator('.discussion-row').count();
    assert.ok(rendered > 5 && rendered < 40, `${rendered} rows in the DOM for 100 loaded`);
    assert.equal(await page.locator('.discussion-row').first().getAttribute('aria-setsize'), '100');
    // Scrolling to the end loads the following pages until the last one.
    for (let i = 0; i < 20 && !(await page.getByText('300 discussions', { exact: true }).isVisible()); i++) {
      await page.evaluate("document.querySelector('.discussion-scroll').scrollTop = 1e9");
      await page.waitForTimeout(250);
    }
    await page.getByText('300 discussions', { exact: true }).waitFor();
    await page.evaluate("document.querySelector('.discussion-scroll').scrollTop = 1e9");
    await page.getByRole('link', { name: /^Sender 000/ }).waitFor();
    assert.equal(await page.locator('.discussion-row').last().getAttribute('aria-posinset'), '300');
    assert.ok((await page.locator('.discussion-row').count()) < 40);
    await page.context().close();
    assert.deepEqual(cspViolations, []);
  });

  test('two-factor: the code is asked when the API wants it', async () => {
    const u = await inst.user('dora');
    const begin = await inst.api('POST', '/api/v1/me/totp', { token: u.token });
    const secret: string = begin.body.secret;
    const code = () => generate({ secret, epoch: Math.floor((Date.now() + clockOffset) / 1000) });
    const confirm = await inst.api('POST', '/api/v1/me/totp/confirm', { token: u.token, body: { code: await code() } });
    assert.equal(confirm.status, 204, confirm.text);
    clockOffset += 60_000; // the next code, not the one just used

    const page = await newPage();
    await page.goto(`${inst.url}/sign-in`);
    await page.getByLabel('Username').fill('dora');
    await page.getByLabel('Password').fill(u.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const totp = page.getByLabel('Two-factor code');
    await totp.waitFor();
    assert.equal(await page.evaluate('document.activeElement?.id'), 'totp');
    await totp.fill('000000' === (await code()) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('That code is wrong or has expired.', { exact: false }).waitFor();
    clockOffset += 60_000;
    await totp.fill(await code());
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    await page.getByText('No discussions yet.', { exact: false }).waitFor();
    await page.context().close();
    assert.deepEqual(cspViolations, []);
  });
});
