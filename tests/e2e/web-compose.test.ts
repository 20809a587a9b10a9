/**
 * Compose, reply and HTML mail in the user's web app, in Debian's Chromium (playwright-core) against a real instance:
 * - alice writes to bob (a second account of her instance) and to an outside address: a live route preview per
 *   recipient with the Privacy Index each route gives, the most private chosen; she sends, the message is in her
 *   discussion with bob and in bob's mailbox; bob's reply is prefilled and joins the discussion; an unknown
 *   recipient gives a sentence (in English and in French); the same journey works by keyboard only;
 * - a draft survives a reload and an ended session;
 * - a newsletter in HTML is shown sanitised in a sandboxed frame, remote content blocked with a notice (trackers
 *   counted) until alice chooses to load this sender's images; then they load through the instance's image proxy
 *   (the shop's image server is asked by the instance only, the browser never asks it: 0 requests);
 * - (the corpus of hostile HTML mails has its own file, tests/e2e/web-hostile-html.test.ts, so that it runs in
 *   parallel);
 * - axe-core: no serious or critical violation on compose nor on an HTML mail.
 *
 * Screenshots: `CALIOPEN_SCREENSHOTS=docs/screenshots npx vitest run --project e2e tests/e2e/web-compose.test.ts`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { waitFor } from '../support/net.ts';
import { realComponent } from '../support/real-component.ts';
import { startInternetDns, type InternetDns } from './fixtures/internet-dns.ts';
import {
  launchChromium,
  networkWatch,
  openPage,
  screenshot,
  seriousViolations,
  signInToApp,
} from '../support/browser.ts';
import { requireWebBuild } from '../support/web-build.ts';

const DOMAIN = 'alpha.test';
const browserBinary = realComponent('chromium', 'chromium');
const PNG_1x1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

function htmlMail(o: { from: string; to: string; subject: string; html: string; text?: string }): Buffer {
  const boundary = `b-${randomUUID()}`;
  return Buffer.from(
    [
      `From: ${o.from}`,
      `To: ${o.to}`,
      `Subject: ${o.subject}`,
      `Message-ID: <${randomUUID()}@test.example>`,
      `Date: ${new Date().toUTCString()}`,
      'MIME-Version: 1.0',
      `Content-Type: multipart/alternative; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      o.text ?? 'This message has an HTML version.',
      `--${boundary}`,
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      ...(Buffer.from(o.html, 'utf8')
        .toString('base64')
        .match(/.{1,76}/g) ?? []),
      `--${boundary}--`,
      '',
    ].join('\r\n'),
  );
}

/**
 * The newsletter's images are on the shop's image server: here a local one (127.0.0.1, which the instance's image
 * proxy may reach only because the test config allows that one address).
 */
const newsletter = (images: string) => `<!doctype html><html><head><style>
  .wrap{max-width:560px;margin:0 auto;font-family:Georgia,serif;color:#222}
  .hero{background:#0f4c5c;color:#fff;padding:18px 20px;border-radius:8px}
  .hero h1{margin:0;font-size:24px}
  .offer{border:1px solid #ddd;border-radius:8px;padding:12px 16px;margin-top:14px}
  .cta{display:inline-block;background:#e4572e;color:#fff;padding:8px 14px;border-radius:6px;text-decoration:none}
</style></head><body><div class="wrap">
  <img src="${images}/cdn/logo.png" width="160" height="40" alt="Green Garden Shop">
  <div class="hero"><h1>Spring is here</h1><p>Seeds, tools and advice for your balcony garden.</p></div>
  <div class="offer"><h2 style="color:#0f4c5c;margin-top:0">Tomato seeds, 3 varieties</h2>
  <img src="${images}/cdn/tomatoes.jpg" width="520" height="200" alt="Tomatoes">
  <p>Sow them indoors in March, outside after the last frost.</p>
  <p><a class="cta" href="https://shop.example/spring">See the spring selection</a></p></div>
  <p style="font-size:12px;color:#666">You receive this because you subscribed at shop.example.</p>
  <img src="${images}/track/open.gif?u=alice" width="1" height="1" alt="">
</div></body></html>`;

describe.skipIf(browserBinary.skip)('compose, reply and HTML mail in Chromium', () => {
  let inst: TestInstance;
  let dns: InternetDns;
  let imageServer: Server;
  let imagesBase: string;
  /** What the shop's image server was asked, and by whom. */
  const served: { path: string; userAgent: string }[] = [];
  let browser: Browser;
  let alice: { id: string; password: string; token: string };
  let bob: { id: string; password: string; token: string };
  const cspViolations: string[] = [];

  beforeAll(async () => {
    requireWebBuild('dist');
    dns = await startInternetDns();
    imageServer = createServer((req, res) => {
      served.push({ path: req.url ?? '', userAgent: req.headers['user-agent'] ?? '' });
      res.writeHead(200, { 'content-type': 'image/png' });
      res.end(PNG_1x1);
    });
    imageServer.listen(0, '127.0.0.1');
    await once(imageServer, 'listening');
    imagesBase = `http://127.0.0.1:${(imageServer.address() as AddressInfo).port}`;
    inst = await startTestInstance({
      env: {
        CALIOPEN_SMTP_ENABLED: 'true',
        CALIOPEN_SMTP_PORT: '0',
        CALIOPEN_SMTP_DNS_SERVERS: dns.server,
        CALIOPEN_REMOTE_IMAGES_ALLOW_ADDRESSES: '127.0.0.1',
      },
    });
    alice = await inst.user('alice');
    bob = await inst.user('bob');
    await inst.running.services.ingest.ingest({
      accountId: alice.id,
      direction: 'inbound',
      receivedAt: new Date(Date.now() - 3_600_000),
      raw: htmlMail({
        from: 'Green Garden Shop <news@shop.example>',
        to: `alice@${DOMAIN}`,
        subject: 'Spring is here: seeds and tools',
        html: newsletter(imagesBase),
      }),
      facts: { transport: null, authentication: null },
    });
    browser = await launchChromium(browserBinary.path);
  });

  afterAll(async () => {
    await browser?.close();
    await inst?.stop();
    await dns?.stop();
    await new Promise<void>((resolve) => (imageServer ? imageServer.close(() => resolve()) : resolve()));
  });

  function newPage(): Promise<Page> {
    return openPage(browser, cspViolations);
  }

  const signIn = (page: Page, user: { password: string }, username: string) =>
    signInToApp(page, inst.url, username, user.password);

  test('alice composes to bob with a live route preview, sends, and bob receives it', async () => {
    const page = await newPage();
    await signIn(page, alice, 'alice');
    await page.getByRole('link', { name: 'New message' }).click();
    await page.getByRole('heading', { level: 1, name: 'New message' }).waitFor();
    await page.getByLabel('To', { exact: true }).fill(`bob@${DOMAIN}, zoe@x.example`);
    const previews = page.getByRole('region', { name: 'How the message will travel' });
    // bob: an account of this instance; zoe: email, TLS tried first.
    const bobRoutes = previews.locator('li', { hasText: `bob@${DOMAIN}` }).first();
    await bobRoutes.getByText('will go by delivery inside this instance').waitFor();
    await bobRoutes.getByRole('button', { name: /^Privacy Index: \w+ \d+ out of 100\. Show why\.$/ }).waitFor();
    const zoeRoutes = previews.locator('li', { hasText: 'zoe@x.example' }).first();
    await zoeRoutes.getByText('will go by email encrypted in transit (TLS)').waitFor();
    await zoeRoutes.getByText(/See all \d routes/).click();
    await zoeRoutes.getByText('encrypted email (OpenPGP)').waitFor();
    await zoeRoutes.locator('.route-unavailable', { hasText: 'encrypted email (OpenPGP)' }).waitFor();
    await zoeRoutes.locator('.route-chosen', { hasText: 'email encrypted in transit (TLS)' }).waitFor();
    await page.getByLabel('Subject').fill('Lunch on Thursday');
    await page.getByLabel('Message', { exact: true }).fill('Hi Bob,\n\nLunch on Thursday at noon?\n\nAlice');
    assert.deepEqual(await seriousViolations(page), [], 'axe on compose');
    await screenshot(page, 'compose-route-preview');

    // The PI of a route opens its breakdown, like everywhere else.
    await bobRoutes.getByRole('button', { name: /^Privacy Index:/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Why this Privacy Index' });
    await dialog.getByRole('heading', { name: 'What counts' }).waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });

    // Only bob, this time: send.
    await page.getByLabel('To', { exact: true }).fill(`bob@${DOMAIN}`);
    await page.getByRole('button', { name: 'Send' }).click();
    await page.getByRole('heading', { level: 1, name: /bob/i }).waitFor();
    await page.locator('.message-body', { hasText: 'Lunch on Thursday at noon?' }).waitFor();
    // The draft is gone once sent.
    assert.equal(await page.evaluate(`localStorage.getItem('caliopen.draft.alice.new')`), null);

    // bob has it.
    await waitFor(async () => {
      const r = await inst.api('GET', '/api/v1/discussions', { token: bob.token });
      return r.body.items.some((d: { title: string }) => /alice/i.test(d.title));
    }, 20_000);
    const bobsPage = await newPage();
    await signIn(bobsPage, bob, 'bob');
    await bobsPage.getByRole('link', { name: /alice/i }).click();
    await bobsPage.locator('.message-body', { hasText: 'Lunch on Thursday at noon?' }).waitFor();
    // bob replies from the discussion: recipient, subject and quote are filled in.
    await bobsPage.getByRole('button', { name: 'Reply' }).click();
    await bobsPage.getByRole('heading', { level: 1, name: 'Reply' }).waitFor();
    // Filled in once the message it answers is loaded.
    await waitFor(async () => (await bobsPage.getByLabel('To', { exact: true }).inputValue()) !== '', 10_000);
    assert.equal(await bobsPage.getByLabel('To', { exact: true }).inputValue(), `alice@${DOMAIN}`);
    assert.equal(await bobsPage.getByLabel('Subject').inputValue(), 'Re: Lunch on Thursday');
    assert.match(await bobsPage.getByLabel('Message', { exact: true }).inputValue(), /> Lunch on Thursday at noon\?/);
    await bobsPage.getByLabel('Message', { exact: true }).press('Control+Home');
    await bobsPage.keyboard.type('Noon is perfect.');
    await bobsPage.getByRole('button', { name: 'Send' }).click();
    await bobsPage.locator('.message-body', { hasText: 'Noon is perfect.' }).waitFor();
    assert.equal(
      await bobsPage.locator('.message').count(),
      2,
      'the reply is in the same discussion as the message it answers',
    );
    await bobsPage.context().close();

    // An address that is not an account here: the preview says so, and sending gives a sentence, not JSON.
    await page.getByRole('link', { name: 'New message' }).click();
    await page.getByLabel('To', { exact: true }).fill(`nobody@${DOMAIN}`);
    await page.getByText('No route can reach this address now.').waitFor();
    await page.getByRole('button', { name: 'Send' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /One of the recipients does not exist\. Check the recipients\./);
    await page.getByRole('button', { name: 'Discard draft' }).click();
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    await page.context().close();
    assert.deepEqual(cspViolations, []);
  });

  test('keyboard only: open compose, fill it, open a route’s breakdown and send', async () => {
    const page = await newPage();
    await signIn(page, alice, 'alice');
    const focused = async () =>
      (await page.evaluate(
        "(document.activeElement?.labels?.[0]?.textContent ?? document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.textContent ?? '').trim()",
      )) as string;
    // The header's "New message" link, reached by keyboard from the top of the page.
    await page.evaluate("document.querySelector('.brand').focus()");
    for (let i = 0; i < 6 && (await focused()) !== 'New message'; i++) await page.keyboard.press('Tab');
    assert.equal(await focused(), 'New message');
    await page.keyboard.press('Enter');
    await page.waitForFunction("document.activeElement?.id === 'compose-h'");
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'To');
    await page.keyboard.type(`bob@${DOMAIN}`);
    await page.getByText('will go by delivery inside this instance').waitFor();
    await page.keyboard.press('Tab');
    assert.match(await focused(), /^Privacy Index: \w+ \d+ out of 100\. Show why\.$/);
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Why this Privacy Index' });
    await dialog.getByRole('heading', { name: 'What counts' }).waitFor();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await page.keyboard.press('Tab'); // the routes' disclosure
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Subject');
    await page.keyboard.type('Sent with the keyboard');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Message');
    await page.keyboard.type('No mouse was used.');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Attach files');
    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'Send');
    await page.keyboard.press('Enter');
    await page.locator('.message-body', { hasText: 'No mouse was used.' }).waitFor();
    await page.context().close();
    assert.deepEqual(cspViolations, []);
  });

  test('in French: the compose screen, its route preview and its errors', async () => {
    const context = await browser.newContext({ locale: 'fr-FR', viewport: { width: 1200, height: 900 } });
    const page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(`${inst.url}/sign-in`);
    await page.getByLabel('Nom d’utilisateur').fill('alice');
    await page.getByLabel('Mot de passe').fill(alice.password);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('link', { name: 'Nouveau message' }).click();
    await page.getByRole('heading', { level: 1, name: 'Nouveau message' }).waitFor();
    await page.getByLabel('À', { exact: true }).fill(`bob@${DOMAIN}, personne@${DOMAIN}`);
    await page.getByText('passera par une remise à l’intérieur de cette instance').waitFor();
    await page.getByText('Aucune voie ne peut joindre cette adresse pour le moment.').waitFor();
    await page
      .getByRole('button', { name: /^Indice de confidentialité : \S+ \d+ sur 100/ })
      .first()
      .waitFor();
    await page.getByRole('button', { name: 'Envoyer' }).click();
    await page.getByRole('alert').getByText('Un des destinataires n’existe pas. Vérifiez les destinataires.').waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on compose in French');
    await page.getByRole('button', { name: 'Abandonner le brouillon' }).click();
    await context.close();
    assert.deepEqual(cspViolations, []);
  });

  test('a draft survives a reload and an ended session; signing out on purpose removes it', async () => {
    const page = await newPage();
    const network = networkWatch(page);
    await signIn(page, alice, 'alice');
    await page.goto(`${inst.url}/compose`);
    await page.getByLabel('To', { exact: true }).fill(`bob@${DOMAIN}`);
    await page.getByLabel('Subject').fill('Draft that must not be lost');
    await page.getByLabel('Message', { exact: true }).fill('Half-written thoughts.');
    // The draft is written after each render; reload only once it is (a loaded machine may not have rendered yet).
    await page.waitForFunction("(localStorage.getItem('caliopen.draft.alice.new') ?? '').includes('Half-written')");
    await page.reload();
    await page.getByText('Your draft was restored.').waitFor();
    assert.equal(await page.getByLabel('Subject').inputValue(), 'Draft that must not be lost');
    assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), 'Half-written thoughts.');
    // The restored recipient's route preview is asked once; let it answer before the session ends, so that Send is
    // the first request that meets the ended session (otherwise the preview would, and the app would leave compose).
    await page.getByText('will go by delivery inside this instance').waitFor();

    // The session ends elsewhere; alice signs in again and finds her draft. The page's own requests (route preview,
    // key alerts) are answered first, so that Send is the first request to meet the ended session. (The live-update
    // stream stays open for good: not waited for.)
    await network.quiet();
    const token = (await page.evaluate(
      "JSON.parse(sessionStorage.getItem('caliopen.session') ?? '{}').token",
    )) as string;
    assert.equal((await inst.api('POST', '/api/v1/auth/logout', { token })).status, 204);
    await page.getByLabel('Message', { exact: true }).fill('Half-written thoughts, and more.');
    await page.waitForFunction("(localStorage.getItem('caliopen.draft.alice.new') ?? '').includes('and more')");
    // The live-update stream re-checks its session at each heartbeat: if it met the ended session first, the app
    // has already left compose, and there is nothing to click.
    await page
      .getByRole('button', { name: 'Send' })
      .click({ timeout: 10_000 })
      .catch(() => {});
    await page.getByText('Your session has ended. Sign in again to continue.').waitFor();
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(alice.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    await page.getByRole('link', { name: 'New message' }).click();
    await page.getByText('Your draft was restored.').waitFor();
    assert.equal(await page.getByLabel('Message', { exact: true }).inputValue(), 'Half-written thoughts, and more.');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    assert.equal(await page.evaluate(`localStorage.getItem('caliopen.draft.alice.new')`), null);
    await page.context().close();
    assert.deepEqual(cspViolations, []);
  });

  test('an HTML newsletter: sanitised in a sandboxed frame, remote content blocked until alice allows the sender', async () => {
    const page = await newPage();
    const network = networkWatch(page);
    const remote = [] as string[];
    await page.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.host === new URL(inst.url).host) return route.continue();
      remote.push(url.href);
      return route.fulfill({ status: 200, contentType: 'image/png', body: PNG_1x1 });
    });
    await signIn(page, alice, 'alice');
    await page.getByRole('link', { name: /Green Garden Shop/ }).click();
    const notice = page.getByRole('note');
    await notice.getByText('3 remote images or resources were blocked.').waitFor();
    await notice.getByText('1 of them looks like a tracker.').waitFor();
    const frame = page.frameLocator('iframe.mail-frame');
    await frame.getByRole('heading', { name: 'Spring is here' }).waitFor();
    const iframe = page.locator('iframe.mail-frame');
    assert.equal(await iframe.getAttribute('sandbox'), 'allow-same-origin allow-popups allow-popups-to-escape-sandbox');
    assert.match(
      (await iframe.getAttribute('srcdoc')) ?? '',
      /http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'none'; img-src data:;/,
    );
    // The mail's own styles apply (through the CSSOM), without any inline style in the app.
    assert.equal(
      await frame
        .locator('.hero')
        .evaluate((el: any) => el.ownerDocument.defaultView.getComputedStyle(el).backgroundColor),
      'rgb(15, 76, 92)',
    );
    await network.quiet();
    assert.equal(remote.length, 0, `no remote request before the user allows it: ${remote.join(' ')}`);
    assert.equal(served.length, 0, 'the image server was not asked either');
    assert.deepEqual(await seriousViolations(page), [], 'axe on an HTML mail');
    await screenshot(page, 'mail-html-remote-blocked');

    await page.getByRole('button', { name: 'Load images from news@shop.example' }).click();
    await page.getByText('Images from news@shop.example are loaded, as you chose.').waitFor();
    // The images show, fetched by the instance's image proxy and handed to the frame as blob: URLs.
    const logo = frame.getByRole('img', { name: 'Green Garden Shop' });
    await waitFor(
      async () =>
        (await logo.evaluate((img: any) => img.complete && img.naturalWidth > 0 && img.src.startsWith('blob:'))) ===
        true,
      60_000,
    );
    await waitFor(async () => served.length >= 3, 60_000);
    assert.deepEqual(served.map((r) => r.path).sort(), [
      '/cdn/logo.png',
      '/cdn/tomatoes.jpg',
      '/track/open.gif?u=alice',
    ]);
    assert.ok(
      served.every((r) => r.userAgent === 'Caliopen image proxy'),
      'every image was asked by the instance, none by the browser',
    );
    assert.match((await iframe.getAttribute('srcdoc')) ?? '', /img-src data: blob:;/);
    await network.quiet();
    assert.deepEqual(remote, [], 'the browser never asked the image host itself');
    await page.context().close();
    assert.deepEqual(cspViolations, []);
  });
});
