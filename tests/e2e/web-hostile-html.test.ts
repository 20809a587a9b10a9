/**
 * R6 (issue 12): the whole corpus of hostile HTML mails (tests/e2e/fixtures/hostile-html.ts), rendered by the user's
 * web app in Debian's Chromium (playwright-core) through its real path: each mail is ingested into a real instance,
 * fetched by the app (GET /api/v1/messages/:id/html), sanitised (DOMPurify) and shown in its sandboxed frame. The
 * mails come from several senders, so that each discussion holds at most its page of messages; the test walks from
 * discussion to discussion inside the app (no reload), every message of a discussion rendered on the same page.
 * - script executions: the marker every payload prints (`console.log(/XSS-n/)`) and its alert(), seen in any frame,
 *   and popups, counted: 0;
 * - remote requests: every request of the page is intercepted; any that goes to another host than the instance (or
 *   to the instance outside the app's own paths) is counted: 0;
 * - once the user loads a sender's images: still 0 executions, and the browser asks the instance (its image proxy)
 *   for them, never their host;
 * - a positive control proves the hooks see an execution inside a frame and a request to the evil host.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { waitFor } from '../support/net.ts';
import { realComponent } from '../support/real-component.ts';
import { requireWebBuild } from '../support/web-build.ts';
import { launchChromium, networkWatch, signInToApp } from '../support/browser.ts';
import { EVIL_HOST, HOSTILE_MAILS } from './fixtures/hostile-html.ts';

const DOMAIN = 'alpha.test';
const browserBinary = realComponent('chromium', 'chromium');
/** Messages per sender: under the 50 a discussion shows. */
const PER_SENDER = 45;
const SENDERS = [
  'Mallory',
  'Trudy',
  'Eve',
  'Oscar',
  'Peggy',
  'Victor',
  'Sybil',
  'Walter',
  'Judy',
  'Grace',
  'Heidi',
  'Ivan',
  'Niaj',
  'Olivia',
  'Rupert',
  'Wendy',
];
const senderOf = (id: number) => SENDERS[Math.floor((id - 1) / PER_SENDER)]!;
const PNG_1x1 = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAAABJRU5ErkJggg==',
  'base64',
);

function htmlMail(o: { from: string; to: string; subject: string; html: string }): Buffer {
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
      'This message has an HTML version.',
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

/** Each watched page's requests, to wait until the app is quiet (the live-update stream never ends: not networkidle). */
const networks = new WeakMap<Page, ReturnType<typeof networkWatch>>();
function quiet(page: Page): Promise<void> {
  const network = networks.get(page);
  if (!network) throw new Error('quiet(page) needs watch(page) first');
  return network.quiet();
}

describe.skipIf(browserBinary.skip)('the hostile HTML corpus in Chromium, through the web app', () => {
  let inst: TestInstance;
  let browser: Browser;
  let hana: { id: string; password: string; token: string };
  const senders = [...new Set(HOSTILE_MAILS.map((m) => senderOf(m.id)))];

  beforeAll(async () => {
    requireWebBuild('dist');
    assert.ok(HOSTILE_MAILS.length <= SENDERS.length * PER_SENDER, 'add senders for a bigger corpus');
    // The image proxy gives up quickly on the corpus' hosts (which do not resolve here).
    inst = await startTestInstance({ env: { CALIOPEN_REMOTE_IMAGES_TIMEOUT_MS: '3000' } });
    hana = await inst.user('hana');
    for (const mail of HOSTILE_MAILS) {
      const sender = senderOf(mail.id);
      await inst.running.services.ingest.ingest({
        accountId: hana.id,
        direction: 'inbound',
        receivedAt: new Date(Date.now() - 3_600_000 + mail.id * 1000),
        raw: htmlMail({
          from: `${sender} <${sender.toLowerCase()}@hostile.example>`,
          to: `hana@${DOMAIN}`,
          subject: `Hostile #${mail.id}: ${mail.name}`,
          html: mail.html,
        }),
        facts: { transport: null, authentication: null },
      });
    }
    await waitFor(async () => {
      const r = await inst.api('GET', '/api/v1/discussions?limit=100', { token: hana.token });
      return r.body.items.length === senders.length;
    }, 60_000);
    browser = await launchChromium(browserBinary.path);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await inst?.stop();
  });

  /** The hooks: script markers, dialogs and popups in any frame; every request that is not the app's own. */
  function watch(page: Page) {
    networks.set(page, networkWatch(page));
    const executions: string[] = [];
    const remote: string[] = [];
    const ownHost = new URL(inst.url).host;
    page.on('console', (m) => {
      if (/XSS-\d+/.test(m.text())) executions.push(m.text());
    });
    page.on('dialog', (d) => {
      executions.push(`dialog: ${d.message()}`);
      void d.dismiss();
    });
    page.on('popup', (p) => executions.push(`popup: ${p.url()}`));
    return {
      executions,
      remote,
      async intercept() {
        await page.route('**/*', (route) => {
          const url = new URL(route.request().url());
          const appPath =
            /^\/(api\/|assets\/|favicon\.svg$|sign-in$|discussions)/.test(url.pathname) || url.pathname === '/';
          if (url.host === ownHost && appPath) return route.continue();
          remote.push(url.href);
          return route.fulfill({ status: 200, contentType: 'image/png', body: PNG_1x1 });
        });
      },
    };
  }

  const signIn = (page: Page) => signInToApp(page, inst.url, 'hana', hana.password);

  /**
   * Opens a sender's discussion in the app, waits until every message is in its frame and every frame has loaded,
   * then makes the gestures handlers wait for (the pointer over every frame, a wheel turn, a key press). Returns the
   * frames' titles (each names its mail).
   */
  async function renderDiscussion(page: Page, sender: string): Promise<string[]> {
    await page.getByRole('link', { name: new RegExp(`^${sender}\\b`) }).click();
    await page.getByRole('heading', { level: 1, name: sender }).waitFor();
    const expected = HOSTILE_MAILS.filter((m) => senderOf(m.id) === sender).length;
    const frames = page.locator('iframe.mail-frame');
    // A message's body loads as it comes near the viewport: pass over every one of them.
    await waitFor(async () => (await page.locator('.message').count()) === expected, 120_000);
    for (let i = 0; i < expected; i++) await page.locator('.message').nth(i).scrollIntoViewIfNeeded();
    await waitFor(async () => (await frames.count()) === expected, 120_000);
    // Every frame holds its mail, sanitised, and has finished loading what it was given.
    await waitFor(
      async () =>
        (await frames.evaluateAll(
          (els) =>
            els.every((f) => {
              const doc = (f as any).contentDocument;
              return doc?.readyState === 'complete' && doc.body !== null;
            }),
          null,
        )) as boolean,
      120_000,
    );
    const titles = await frames.evaluateAll((els) => els.map((f) => f.getAttribute('title') ?? ''));
    // Gestures that handlers wait for: the pointer over every frame, a wheel turn, a key press.
    for (let i = 0; i < expected; i++) {
      await frames
        .nth(i)
        .hover({ timeout: 5_000 })
        .catch(() => {});
    }
    await page.mouse.wheel(0, 400);
    await page.keyboard.press('Tab');
    await quiet(page);
    return titles;
  }

  test(`${HOSTILE_MAILS.length} hostile HTML mails, every one rendered by the app: 0 script executions, 0 remote requests`, async () => {
    const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1200, height: 900 } });
    context.setDefaultTimeout(120_000);
    const page = await context.newPage();
    const hooks = watch(page);
    await hooks.intercept();
    await signIn(page);

    const rendered = new Set<number>();
    for (const sender of senders) {
      const titles = await renderDiscussion(page, sender);
      for (const title of titles) {
        const id = Number(/Hostile #(\d+):/.exec(title)?.[1]);
        assert.ok(id > 0, `a frame names its mail: ${title}`);
        rendered.add(id);
      }
      await page.getByRole('link', { name: 'Back to discussions' }).click();
      await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    }
    assert.deepEqual(
      HOSTILE_MAILS.filter((m) => !rendered.has(m.id)).map((m) => `#${m.id} ${m.name}`),
      [],
      'every mail of the corpus was rendered',
    );
    assert.deepEqual(hooks.executions, [], 'a payload ran');
    assert.deepEqual(hooks.remote, [], `a request left for ${EVIL_HOST} or elsewhere`);
    await context.close();
  });

  test('once hana loads the images of the sender with the most remote content: still 0 executions, and the images are asked of the instance only', async () => {
    const remoteBySender = new Map<string, number>();
    for (const m of HOSTILE_MAILS)
      if (m.remote) remoteBySender.set(senderOf(m.id), (remoteBySender.get(senderOf(m.id)) ?? 0) + 1);
    const [sender] = [...remoteBySender].sort((a, b) => b[1] - a[1])[0]!;
    const context = await browser.newContext({ locale: 'en-GB', viewport: { width: 1200, height: 900 } });
    context.setDefaultTimeout(120_000);
    const page = await context.newPage();
    const hooks = watch(page);
    await hooks.intercept();
    const proxied: string[] = [];
    page.on('request', (r) => {
      if (/\/api\/v1\/messages\/[^/]+\/remote-image\?/.test(r.url())) proxied.push(r.url());
    });
    await signIn(page);
    await renderDiscussion(page, sender);
    assert.deepEqual(proxied, [], 'nothing asked before the choice');
    await page
      .getByRole('button', { name: `Load images from ${sender.toLowerCase()}@hostile.example` })
      .first()
      .click();
    // The choice holds for the sender: every message of the discussion, shown again, has its images allowed.
    await page.getByRole('link', { name: 'Back to discussions' }).click();
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    await renderDiscussion(page, sender);
    await waitFor(async () => proxied.length > 0, 60_000);
    await quiet(page);
    assert.ok(
      proxied.every((u) => new URL(u).host === new URL(inst.url).host),
      'the images are asked of the instance',
    );
    assert.deepEqual(hooks.executions, [], 'a payload ran once remote content was allowed');
    assert.deepEqual(hooks.remote, [], `the browser itself asked ${EVIL_HOST} or elsewhere`);
    await context.close();
  });

  test('control: the same hooks see a payload run in a frame and a request to the evil host', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const hooks = watch(page);
    await page.route('**/*', (route) => {
      hooks.remote.push(route.request().url());
      return route.fulfill({ status: 200, contentType: 'image/png', body: PNG_1x1 });
    });
    // The corpus without the app: a script element and a tracking pixel, in a frame that allows scripts (what the
    // app's frame would be with a weaker sandbox), and in the page itself.
    const scriptMail = HOSTILE_MAILS.find((m) => m.name === 'script element')!;
    const pixelMail = HOSTILE_MAILS.find((m) => m.name === 'tracking pixel')!;
    const srcdoc = `${scriptMail.html}${pixelMail.html}`.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
    await page.setContent(`<iframe sandbox="allow-scripts allow-modals" srcdoc="${srcdoc}"></iframe>${pixelMail.html}`);
    await waitFor(
      async () =>
        hooks.executions.some((e) => e.includes(`XSS-${scriptMail.id}`)) &&
        hooks.executions.some((e) => e.includes(`dialog: ${scriptMail.id}`)) &&
        hooks.remote.some((u) => new URL(u).host.endsWith(EVIL_HOST)),
      30_000,
    );
    await context.close();
  });
});
