/**
 * Attachments in the user's web app, in Debian's Chromium (playwright-core) against a real instance:
 * - alice attaches two files to a message for bob (one through the "Attach files" input, one with a non-ASCII name
 *   dropped onto the form), sees their sizes and the total against the instance's limit, and sends;
 * - a file larger than the limit is refused in words before anything is sent;
 * - bob opens the discussion, sees both attachments with name, type and size, and downloads one: the bytes saved
 *   are the bytes alice attached, under the name she gave;
 * - axe-core: no serious or critical violation on compose with attachments nor on the discussion; French renders.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { networkWatch, screenshot, seriousViolations } from '../support/browser.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { waitFor } from '../support/net.ts';
import { realComponent } from '../support/real-component.ts';
import { requireWebBuild } from '../support/web-build.ts';

const DOMAIN = 'alpha.test';
const browserBinary = realComponent('chromium', 'chromium');
/** A small limit, so that "too large" is a small file. */
const LIMIT = 300_000;
const NOTES = Buffer.from('Agenda:\n1. budget\n2. garden\n');
const REPORT = randomBytes(120_000);
const REPORT_NAME = 'Rapport d’été — ✓ 日本.pdf';

describe.skipIf(browserBinary.skip)('attachments in Chromium', () => {
  let inst: TestInstance;
  let browser: Browser;
  let alice: { id: string; password: string; token: string };
  let bob: { id: string; password: string; token: string };
  const pageErrors: string[] = [];

  beforeAll(async () => {
    requireWebBuild('dist');
    inst = await startTestInstance({ env: { CALIOPEN_OUTBOUND_MAX_ATTACHMENT_BYTES: String(LIMIT) } });
    alice = await inst.user('alice');
    bob = await inst.user('bob');
    browser = await chromium.launch({
      executablePath: browserBinary.path,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await inst?.stop();
  });

  async function newPage(locale = 'en-GB'): Promise<Page> {
    const context = await browser.newContext({ locale, viewport: { width: 1200, height: 900 }, acceptDownloads: true });
    context.setDefaultTimeout(120_000);
    const page = await context.newPage();
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) pageErrors.push(m.text());
    });
    page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
    return page;
  }

  async function signIn(page: Page, user: { password: string }, username: string, fr = false): Promise<void> {
    await page.goto(`${inst.url}/sign-in`);
    await page.getByLabel(fr ? 'Nom d’utilisateur' : 'Username').fill(username);
    await page.getByLabel(fr ? 'Mot de passe' : 'Password').fill(user.password);
    await page.getByRole('button', { name: fr ? 'Se connecter' : 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
  }

  /** Drops a file onto the compose form, as a file dragged from the desktop would be (a DataTransfer with a File). */
  async function dropFile(page: Page, name: string, bytes: Buffer): Promise<void> {
    // A string: the tests are compiled without the DOM library; this runs in the page.
    await page.evaluate(`(() => {
      const bin = atob(${JSON.stringify(bytes.toString('base64'))});
      const data = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) data[i] = bin.charCodeAt(i);
      const dt = new DataTransfer();
      dt.items.add(new File([data], ${JSON.stringify(name)}, { type: 'application/pdf' }));
      const form = document.querySelector('form.compose-form');
      form.dispatchEvent(new DragEvent('dragover', { bubbles: true, cancelable: true, dataTransfer: dt }));
      form.dispatchEvent(new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: dt }));
    })()`);
  }

  test('alice attaches two files and sends them; a too-large file is refused in words; bob downloads one', async () => {
    const page = await newPage();
    const net = networkWatch(page);
    await signIn(page, alice, 'alice');
    await page.getByRole('link', { name: 'New message' }).click();
    await page.getByRole('heading', { level: 1, name: 'New message' }).waitFor();
    await page.getByLabel('To', { exact: true }).fill(`bob@${DOMAIN}`);
    await page.getByText('will go by delivery inside this instance').waitFor();
    await page.getByLabel('Subject').fill('Files for the meeting');
    await page.getByLabel('Message', { exact: true }).fill('Here are the agenda and the report.');
    // The instance's limit is said before anything is attached.
    await page.getByText('At most 293 kB in all.').waitFor();

    await page.getByLabel('Attach files').setInputFiles([{ name: 'notes.txt', mimeType: 'text/plain', buffer: NOTES }]);
    const list = page.getByRole('list', { name: 'Attached files' });
    await list.getByText('notes.txt').waitFor();
    await dropFile(page, REPORT_NAME, REPORT);
    await list.getByText(REPORT_NAME).waitFor();
    assert.equal(await list.getByRole('listitem').count(), 2);
    await page.getByText('117.2 kB of 293 kB').waitFor();
    await page.getByText('Attached files are not kept in the draft').waitFor();

    // Too large: refused here, in words, and not added.
    await page
      .getByLabel('Attach files')
      .setInputFiles([{ name: 'video.mp4', mimeType: 'video/mp4', buffer: Buffer.alloc(LIMIT) }]);
    const refused = page.getByRole('alert').filter({ hasText: 'video.mp4' });
    await refused.waitFor();
    assert.match(
      (await refused.textContent()) ?? '',
      /video\.mp4 \(293 kB\) was not attached: the files together would be 410.2 kB, more than the 293 kB this instance accepts in one message\./,
    );
    assert.equal(await list.getByRole('listitem').count(), 2);

    // A third file, removed again with its own labelled button.
    await page
      .getByLabel('Attach files')
      .setInputFiles([{ name: 'extra.bin', mimeType: '', buffer: Buffer.from([1]) }]);
    await list.getByText('extra.bin').waitFor();
    await list.getByRole('button', { name: 'Remove extra.bin' }).click();
    await waitFor(async () => (await list.getByRole('listitem').count()) === 2, 20_000);

    await net.quiet();
    assert.deepEqual(await seriousViolations(page), [], 'axe on compose with attachments');
    await screenshot(page, 'compose-attachments');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.message-body', { hasText: 'Here are the agenda and the report.' }).waitFor();
    await page.context().close();

    // bob has it, with both files.
    await waitFor(async () => {
      const r = await inst.api('GET', '/api/v1/discussions', { token: bob.token });
      return r.body.items.some((d: { title: string }) => /alice/i.test(d.title));
    }, 20_000);
    const bobs = await newPage();
    const bobNet = networkWatch(bobs);
    await signIn(bobs, bob, 'bob');
    await bobs.getByRole('link', { name: /alice/i }).click();
    const attachments = bobs.getByRole('region', { name: 'Attachments' });
    await attachments.getByText(REPORT_NAME).waitFor();
    await attachments.getByText('notes.txt').waitFor();
    await attachments.getByText('application/pdf · 117.2 kB').waitFor();
    await attachments.getByText('text/plain · 28 byte').waitFor();
    const button = attachments.getByRole('button', { name: `Download ${REPORT_NAME} (117.2 kB)` });
    // Keyboard: the download button takes the focus and Enter downloads.
    await button.focus();
    const [download] = await Promise.all([bobs.waitForEvent('download'), bobs.keyboard.press('Enter')]);
    assert.equal(download.suggestedFilename(), REPORT_NAME);
    const saved = await download.path();
    assert.ok(saved, 'the download completed');
    assert.deepEqual(readFileSync(saved), REPORT, 'the bytes bob saved are the bytes alice attached');
    await bobNet.quiet();
    assert.deepEqual(await seriousViolations(bobs), [], 'axe on the discussion with attachments');
    await screenshot(bobs, 'discussion-attachments');
    await bobs.context().close();
    assert.deepEqual(pageErrors, []);
  });

  test('in French: the attachments of a discussion and the compose form', async () => {
    await waitFor(async () => {
      const r = await inst.api('GET', '/api/v1/discussions', { token: bob.token });
      return r.body.items.some((d: { title: string }) => /alice/i.test(d.title));
    }, 120_000);
    const page = await newPage('fr-FR');
    const net = networkWatch(page);
    await signIn(page, bob, 'bob', true);
    await page.getByRole('link', { name: /alice/i }).click();
    const attachments = page.getByRole('region', { name: 'Pièces jointes' });
    await attachments.getByText(REPORT_NAME).waitFor();
    await attachments.getByRole('button', { name: `Télécharger ${REPORT_NAME} (117,2 ko)` }).waitFor();
    await attachments.getByText(/^text\/plain · 28\so$/).waitFor();
    await page.getByRole('link', { name: 'Nouveau message' }).click();
    await page.getByLabel('Joindre des fichiers').waitFor();
    await page.getByText('293 ko au plus en tout.').waitFor();
    await page
      .getByLabel('Joindre des fichiers')
      .setInputFiles([{ name: 'trop.bin', mimeType: '', buffer: Buffer.alloc(LIMIT + 1) }]);
    await page
      .getByRole('alert')
      .filter({ hasText: 'trop.bin' })
      .getByText(/n’a pas été joint/)
      .waitFor();
    await net.quiet();
    assert.deepEqual(await seriousViolations(page), [], 'axe on compose in French');
    await page.context().close();
    assert.deepEqual(pageErrors, []);
  });
});
