/**
 * The spam filter in the user's web app (Debian's Chromium through playwright-core, the real instance): a received
 * message shows what the instance's spam filter said of it (verdict, score, the rules that counted, in a disclosure),
 * and the Junk / Not junk button gives the user's word through the API, says so in a live region, and is keyboard
 * reachable; axe-core finds no serious violation. The verdict is recorded as the SMTP path records it (facts.spam);
 * rspamd itself is exercised in spam-filter.test.ts.
 */
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { launchChromium, networkWatch, openPage, seriousViolations } from '../support/browser.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { waitFor } from '../support/net.ts';
import { realComponent } from '../support/real-component.ts';
import { requireWebBuild } from '../support/web-build.ts';

const DOMAIN = 'alpha.test';
const browserBinary = realComponent('chromium', 'chromium');

describe.skipIf(browserBinary.skip)('junk / not junk and the spam verdict in the web app', () => {
  let inst: TestInstance;
  let browser: Browser;
  let lea: { id: string; password: string; token: string };
  let messageId: string;

  beforeAll(async () => {
    requireWebBuild('dist');
    inst = await startTestInstance({ domain: DOMAIN });
    lea = await inst.user('lea');
    const raw = Buffer.from(
      `From: Prize Office <claims@lottery.example>\r\nTo: lea@${DOMAIN}\r\nSubject: YOU HAVE WON\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <won-1@lottery.example>\r\n\r\nClaim your prize now.\r\n`,
    );
    const r = await inst.running.services.ingest.ingest({
      accountId: lea.id,
      direction: 'inbound',
      receivedAt: new Date(),
      raw,
      facts: {
        transport: null,
        authentication: null,
        spam: {
          status: 'checked',
          filter: 'rspamd',
          verdict: 'spam',
          score: 9.5,
          action: 'add header',
          symbols: [
            { name: 'SUBJ_ALL_CAPS', score: 3, description: 'Subject contains mostly capital letters' },
            { name: 'R_UNDISC_RCPT', score: 3, description: null },
          ],
          checkedAt: new Date().toISOString(),
        },
      },
    });
    messageId = r.message.id;
    assert.equal(r.message.importance, -2, 'filed as junk');
    browser = await launchChromium(browserBinary.path);
  });
  afterAll(async () => {
    await browser?.close();
    await inst?.stop();
  });

  test('the verdict and its rules are shown; Not junk, then Junk, by keyboard, change the message through the API', async () => {
    const problems: string[] = [];
    const page = await openPage(browser, problems);
    const network = networkWatch(page);
    await page.goto(`${inst.url}/`);
    await page.getByLabel('Username').fill('lea');
    await page.getByLabel('Password').fill(lea.password);
    await page.getByLabel('Password').press('Enter');
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    await page.locator('.discussion-row').first().click();

    const verdict = page.locator('details.spam-verdict summary');
    await verdict.waitFor();
    assert.equal((await verdict.textContent())?.trim(), 'Spam filter: spam (score 9.5)');
    await verdict.focus();
    await page.keyboard.press('Enter');
    const rule = page.locator('.spam-rules li', { hasText: 'SUBJ_ALL_CAPS' });
    await rule.waitFor();
    assert.match((await rule.textContent()) ?? '', /SUBJ_ALL_CAPS \(\+3\) — Subject contains mostly capital letters/);

    const notJunk = page.getByRole('button', { name: 'Not junk' });
    await notJunk.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'Marked as not junk' }).waitFor();
    await page.getByRole('button', { name: 'Junk', exact: true }).waitFor();
    const after = await inst.api('GET', `/api/v1/messages/${messageId}`, { token: lea.token });
    assert.equal(after.body.importance, 'normal');
    assert.ok(after.body.importanceReasons.some((r: { id: string }) => r.id === 'feedback.not-junk'));

    await page.getByRole('button', { name: 'Junk', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Marked as junk' }).waitFor();
    await waitFor(async () => {
      const m = await inst.api('GET', `/api/v1/messages/${messageId}`, { token: lea.token });
      return m.body.importance === 'junk';
    });
    await network.quiet();
    assert.deepEqual(await seriousViolations(page), [], 'axe on a discussion with a spam verdict');
    assert.deepEqual(problems, []);
  });
});
