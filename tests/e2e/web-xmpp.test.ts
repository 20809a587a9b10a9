/**
 * Chat (XMPP) in the web app, in a real Chromium against a real instance and a real Prosody: Ursula links her XMPP
 * account in the app (a wrong password first: refused in words, nothing linked), Carol (an outside @xmpp/client
 * process) writes to her, the discussion shows the chat with its protocol mark, and Ursula answers by chat from the
 * discussion: Carol's client receives it. axe-core checks both screens; no CSP violation or page error.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { launchChromium, openPage, screenshot, seriousViolations, signInToApp } from '../support/browser.ts';
import { prosodyComponent, startProsody, type ProsodyServer } from '../support/engines/prosody.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { waitFor } from '../support/net.ts';
import { realComponent } from '../support/real-component.ts';
import { tempDir } from '../support/tmp.ts';
import { requireWebBuild } from '../support/web-build.ts';
import { startXmppContact, type XmppContact } from '../support/xmpp-contact.ts';

const browserBinary = realComponent('chromium', 'chromium');
const prosody = prosodyComponent();
const CHAT = 'chat.example';
const URSULA = { username: 'ursula', password: 'Ursula-Chat-Secret-42' };
const CAROL = { username: 'carol', password: 'Carol-Chat-Secret-42' };

describe.skipIf(browserBinary.skip || prosody.skip)('chat (XMPP) in the web app, in Chromium', () => {
  let server: ProsodyServer;
  let inst: TestInstance;
  let browser: Browser;
  let carol: XmppContact;
  let user: { id: string; token: string; password: string };
  const ca = tempDir('caliopen-web-xmpp-ca-');
  const caFile = join(ca.dir, 'prosody-ca.pem');
  const problems: string[] = [];

  beforeAll(async () => {
    requireWebBuild('dist');
    server = await startProsody({ users: [URSULA, CAROL], domain: CHAT });
    writeFileSync(caFile, server.certPem);
    inst = await startTestInstance({
      env: { CALIOPEN_IMPORT_ALLOW_PRIVATE_HOSTS: 'true', CALIOPEN_IMPORT_CA_FILE: caFile },
    });
    user = await inst.user('ursula');
    carol = await startXmppContact({ port: server.port, domain: CHAT, ...CAROL, caFile });
    browser = await launchChromium(browserBinary.path);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await carol?.stop();
    await inst?.stop();
    await server?.stop();
    ca.cleanup();
    assert.deepEqual(problems, [], 'the browser reported CSP violations or page errors');
  });

  const signIn = (page: Page) => signInToApp(page, inst.url, 'ursula', user.password);

  test('link a chat account, see chat beside mail, answer by chat', async () => {
    const page = await openPage(browser, problems);
    await signIn(page);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Chat accounts' }).click();
    await page.getByRole('heading', { level: 1, name: 'Chat accounts' }).waitFor();
    const form = page.getByRole('form', { name: 'Link an XMPP account' });
    await form.getByLabel('XMPP address').fill(`ursula@${CHAT}`);
    await form.getByLabel('Password').fill('not-the-password');
    await form.getByLabel('Server host (optional)').fill('127.0.0.1');
    await form.getByLabel('Port (optional)').fill(String(server.port));
    assert.deepEqual(await seriousViolations(page), [], 'axe on the chat accounts screen');
    await form.getByRole('button', { name: 'Link' }).click();
    await form
      .getByRole('alert')
      .getByText('The XMPP server refused the login. Check the address and the password.')
      .waitFor();
    assert.deepEqual((await inst.api('GET', '/api/v1/xmpp/accounts', { token: user.token })).body.items, []);

    await form.getByLabel('Password').fill(URSULA.password);
    await form.getByRole('button', { name: 'Link' }).click();
    await page.getByRole('status').getByText(`ursula@${CHAT} is linked`).waitFor();
    await page.getByRole('list').getByText(`ursula@${CHAT}`).waitFor();
    await screenshot(page, 'chat-accounts');

    // Carol writes by chat; she is a contact with her JID.
    const contact = await inst.api('POST', '/api/v1/contacts', {
      token: user.token,
      body: { displayName: 'Carol', identities: [{ protocol: 'xmpp', address: `carol@${CHAT}` }] },
    });
    assert.equal(contact.status, 201, contact.text);
    await waitFor(
      async () => (await inst.api('GET', '/api/v1/xmpp/accounts', { token: user.token })).body.items[0]?.connected,
      30_000,
    );
    await carol.send(`ursula@${CHAT}`, 'Are you coming on Friday?');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Discussions' }).click();
    await page.getByRole('link', { name: /Carol/ }).first().click();
    await page.getByRole('heading', { level: 1, name: 'Carol' }).waitFor();
    await page.getByText('Chat (XMPP)').first().waitFor();
    await page.getByText('Are you coming on Friday?').waitFor();
    const reply = page.getByRole('form', { name: 'Reply by chat' });
    await reply.getByLabel(`Your chat message to carol@${CHAT}`).fill('Yes — see you there!');
    assert.deepEqual(await seriousViolations(page), [], 'axe on the discussion with chat');
    await reply.getByRole('button', { name: 'Send by chat' }).click();
    await reply.getByRole('status').getByText('Chat message sent.').waitFor();
    await waitFor(async () => carol.heard.some((h) => h.body === 'Yes — see you there!'), 30_000);
    // The answer joins the discussion (live update).
    await page.getByText('Yes — see you there!').waitFor();
    await screenshot(page, 'discussion-chat');

    // Composing a mail to Carol's address: the preview shows the chat route beside the mail routes, never taken.
    await page.getByRole('link', { name: 'New message' }).click();
    await page.getByRole('heading', { level: 1, name: 'New message' }).waitFor();
    await page.getByLabel('To', { exact: true }).fill(`carol@${CHAT}`);
    const routes = page.getByRole('region', { name: 'How the message will travel' }).locator('li').first();
    await routes.getByText('will go by email encrypted in transit (TLS)').waitFor();
    await routes.getByText(/See all \d routes/).click();
    await routes.locator('.route-line', { hasText: 'chat (XMPP): reply from the discussion' }).waitFor();
    assert.equal(await routes.locator('.route-chosen', { hasText: 'chat (XMPP)' }).count(), 0);
    await screenshot(page, 'compose-chat-route');
  }, 180_000);
});
