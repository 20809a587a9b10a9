/**
 * Editing and merging contacts in a real browser (Debian's Chromium driven by playwright-core), served by a real
 * instance, and this browser's device kept across sign-ins. Alice has three contacts made through the API and a
 * discussion with one of them; in the app she renames a contact and gives it another address (an empty name, an
 * address that is not one and an address of another contact are refused in words, and nothing is changed), then
 * merges a second contact into it after reading what will happen (cancelling once first): the instance holds one
 * contact with both people's addresses and the discussion follows. Signing in twice from the same browser context
 * leaves one device in the list, named after the browser. axe-core checks the forms; the browser must report no CSP
 * violation or page error.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { launchChromium, openPage, screenshot, seriousViolations, signInToApp } from '../support/browser.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { realComponent } from '../support/real-component.ts';
import { requireWebBuild } from '../support/web-build.ts';

const browserBinary = realComponent('chromium', 'chromium');

describe.skipIf(browserBinary.skip)('contacts edited and merged, and this browser’s device, in Chromium', () => {
  let inst: TestInstance;
  let browser: Browser;
  let alice: { id: string; password: string; token: string };
  const contacts: Record<'zoe' | 'zoeWork' | 'carol', { id: string }> = {} as never;
  const cspViolations: string[] = [];

  beforeAll(async () => {
    requireWebBuild('dist');
    inst = await startTestInstance();
    alice = await inst.user('alice');
    const create = async (displayName: string, address: string) => {
      const r = await inst.api('POST', '/api/v1/contacts', {
        token: alice.token,
        body: { displayName, identities: [{ address }] },
      });
      assert.equal(r.status, 201, r.text);
      return r.body as { id: string };
    };
    contacts.zoe = await create('Zoé Martin', 'zoe@x.example');
    contacts.zoeWork = await create('Z. Martin (work)', 'zoe.martin@work.example');
    contacts.carol = await create('Carol Dupont', 'carol@mail.example');
    // A discussion with the work address: it follows the merge.
    await inst.running.services.ingest.ingest({
      accountId: alice.id,
      direction: 'inbound',
      receivedAt: new Date(),
      raw: Buffer.from(
        [
          'From: Z. Martin <zoe.martin@work.example>',
          'To: alice@alpha.test',
          'Subject: Budget review',
          `Message-ID: <${randomUUID()}@work.example>`,
          `Date: ${new Date().toUTCString()}`,
          'MIME-Version: 1.0',
          'Content-Type: text/plain; charset=utf-8',
          '',
          'The figures are attached.',
          '',
        ].join('\r\n'),
      ),
      facts: { transport: null, authentication: null },
    });

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

  const signIn = (page: Page, username: string, password: string) => signInToApp(page, inst.url, username, password);

  const contactOf = async (id: string) => inst.api('GET', `/api/v1/contacts/${id}`, { token: alice.token });

  test('edit a contact: bad input refused in words and nothing changed, then a new name and a second address', async () => {
    const page = await newPage();
    await signIn(page, 'alice', alice.password);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
    await page.getByRole('link', { name: 'Zoé Martin', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Zoé Martin' }).waitFor();

    await page.getByRole('button', { name: 'Edit the contact' }).click();
    const form = page.getByRole('form', { name: 'Edit Zoé Martin' });
    await form.waitFor();
    assert.equal(await page.evaluate('document.activeElement?.value'), 'Zoé Martin', 'focus moves to the name');
    assert.deepEqual(await seriousViolations(page), [], 'axe on the edit form');

    // An empty name: said before anything is sent.
    await form.getByLabel('Name').fill('   ');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByRole('alert').getByText('Give the contact a name.').waitFor();

    // An address that is not one: the instance's refusal, as a sentence.
    await form.getByLabel('Name').fill('Zoé Martin-Dupont');
    await form.getByRole('button', { name: 'Add an address' }).click();
    const second = form.getByRole('textbox', { name: 'Address 2', exact: true });
    await second.waitFor();
    // The new address takes the focus once rendered: waited for, not sampled (under load the render comes later).
    await page.waitForFunction('document.activeElement?.getAttribute("type") === "email"', null, { timeout: 20_000 });
    assert.equal(await page.evaluate('document.activeElement?.getAttribute("type")'), 'email');
    await form.getByRole('button', { name: 'Save' }).click();
    await form.getByRole('alert').getByText('Fill in address 2, or remove it.').waitFor();
    await second.fill('not an address <script>');
    await form.getByRole('button', { name: 'Save' }).click();
    await form
      .getByRole('alert')
      .getByText('One of the addresses is not a valid email address. Correct it and save again.')
      .waitFor();
    // Carol's address: it belongs to another contact.
    await second.fill('carol@mail.example');
    await form.getByRole('button', { name: 'Save' }).click();
    await form
      .getByRole('alert')
      .getByText('One of these addresses already belongs to another of your contacts. Merge the two contacts instead.')
      .waitFor();
    assert.doesNotMatch((await form.getByRole('alert').textContent()) ?? '', /[{}]|contact_identity_taken/);
    const unchanged = await contactOf(contacts.zoe.id);
    assert.equal(unchanged.body.displayName, 'Zoé Martin');
    assert.deepEqual(
      unchanged.body.identities.map((i: { address: string }) => i.address),
      ['zoe@x.example'],
    );
    assert.equal((await contactOf(contacts.carol.id)).body.identities[0].address, 'carol@mail.example');
    await screenshot(page, 'contact-edit');

    await second.fill('Zoe@Home.example');
    await form.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    await page.getByRole('heading', { level: 1, name: 'Zoé Martin-Dupont' }).waitFor();
    await page.getByRole('region', { name: 'Addresses' }).getByText('zoe@home.example').waitFor();
    assert.equal(
      await page.evaluate('document.activeElement?.textContent'),
      'Edit the contact',
      'focus returns to the button',
    );
    const saved = await contactOf(contacts.zoe.id);
    assert.equal(saved.body.displayName, 'Zoé Martin-Dupont');
    assert.deepEqual(saved.body.identities.map((i: { address: string }) => i.address).sort(), [
      'zoe@home.example',
      'zoe@x.example',
    ]);

    // Removing an address, by its labelled button.
    await page.getByRole('button', { name: 'Edit the contact' }).click();
    await form.getByText('Address 2').waitFor();
    await page.getByRole('button', { name: 'Remove address 2 (zoe@home.example)' }).click();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Saved.').waitFor();
    await waitForAddresses(contacts.zoe.id, ['zoe@x.example']);
    await page.context().close();
  });

  async function waitForAddresses(id: string, expected: string[]) {
    const r = await contactOf(id);
    assert.deepEqual(r.body.identities.map((i: { address: string }) => i.address).sort(), expected);
  }

  test('merge two contacts: what happens is said first, cancel changes nothing, confirm merges them', async () => {
    const page = await newPage();
    await signIn(page, 'alice', alice.password);
    await page.goto(`${inst.url}/contacts/${contacts.zoe.id}`);
    await page.getByRole('heading', { level: 1, name: 'Zoé Martin-Dupont' }).waitFor();
    const merge = page.getByRole('region', { name: 'Merge with another contact' });
    const choose = merge.getByLabel('Contact to merge into Zoé Martin-Dupont');
    assert.equal(await merge.getByRole('button', { name: 'Merge…' }).isDisabled(), true, 'nothing chosen yet');
    const options = await choose.locator('option').allTextContents();
    assert.ok(!options.some((o) => o.startsWith('Zoé Martin-Dupont')), 'the contact itself is not offered');
    await choose.selectOption({ label: 'Z. Martin (work) (zoe.martin@work.example)' });
    await merge.getByRole('button', { name: 'Merge…' }).click();
    const confirmText =
      'Merge Z. Martin (work) into Zoé Martin-Dupont? Z. Martin (work)’s addresses (zoe.martin@work.example) move to Zoé Martin-Dupont, Z. Martin (work) is removed, and your discussions with them are combined. This cannot be undone.';
    await merge.getByText(confirmText).waitFor();
    assert.equal(
      await page.evaluate('document.activeElement?.textContent'),
      confirmText,
      'focus moves to the sentence',
    );
    assert.deepEqual(await seriousViolations(page), [], 'axe on the merge confirmation');
    await screenshot(page, 'contact-merge');

    await merge.getByRole('button', { name: 'Cancel' }).click();
    await merge.getByRole('button', { name: 'Merge…' }).waitFor();
    assert.equal((await contactOf(contacts.zoeWork.id)).status, 200, 'cancelled: both contacts remain');

    await merge.getByRole('button', { name: 'Merge…' }).click();
    await merge.getByRole('button', { name: 'Yes, merge them' }).click();
    await page
      .getByRole('status')
      .getByText('Z. Martin (work) was merged into Zoé Martin-Dupont: 1 discussion combined.')
      .waitFor();
    await page.getByRole('region', { name: 'Addresses' }).getByText('zoe.martin@work.example').waitFor();
    assert.equal((await contactOf(contacts.zoeWork.id)).status, 404);
    await waitForAddresses(contacts.zoe.id, ['zoe.martin@work.example', 'zoe@x.example']);
    // The discussion with the work address is now with the merged contact.
    const discussions = await inst.api('GET', '/api/v1/discussions', { token: alice.token });
    const budget = discussions.body.items.find((d: { title: string }) => d.title.includes('Martin'));
    assert.ok(budget, JSON.stringify(discussions.body.items.map((d: { title: string }) => d.title)));
    assert.deepEqual(
      budget.participants.map((p: { contactId: string | null }) => p.contactId),
      [contacts.zoe.id],
    );
    // The merged-away contact is no longer offered.
    assert.ok(!(await choose.locator('option').allTextContents()).some((o) => o.startsWith('Z. Martin (work)')));
    assert.deepEqual(await seriousViolations(page), [], 'axe after the merge');
    await page.context().close();
  });

  test('merge refused in words: a contact removed meanwhile', async () => {
    const page = await newPage('fr-FR');
    await page.goto(`${inst.url}/sign-in`);
    await page.getByLabel('Nom d’utilisateur').fill('alice');
    await page.getByLabel('Mot de passe').fill(alice.password);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('heading', { level: 1, name: 'Discussions' }).waitFor();
    const gone = await inst.api('POST', '/api/v1/contacts', {
      token: alice.token,
      body: { displayName: 'Ghost', identities: [{ address: 'ghost@x.example' }] },
    });
    await page.goto(`${inst.url}/contacts/${contacts.carol.id}`);
    await page.getByRole('heading', { level: 1, name: 'Carol Dupont' }).waitFor();
    const merge = page.getByRole('region', { name: 'Fusionner avec un autre contact' });
    await merge.getByLabel('Contact à fusionner dans Carol Dupont').selectOption({ label: 'Ghost (ghost@x.example)' });
    await merge.getByRole('button', { name: 'Fusionner…' }).click();
    assert.equal((await inst.api('DELETE', `/api/v1/contacts/${gone.body.id}`, { token: alice.token })).status, 200);
    await merge.getByRole('button', { name: 'Oui, les fusionner' }).click();
    await merge.getByRole('alert').getByText('Cet élément n’existe pas, ou il n’est pas à vous.').waitFor();
    assert.equal((await contactOf(contacts.carol.id)).body.identities.length, 1);
    await page.context().close();
  });

  test('signing in twice from the same browser lists one device, named after the browser', async () => {
    const erin = await inst.running.services.accounts.create({
      username: 'erin',
      password: 'pw-erin-0123456789',
      role: 'user',
    });
    const page = await newPage();
    await signIn(page, 'erin', 'pw-erin-0123456789');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to your mailbox' }).waitFor();
    await signIn(page, 'erin', 'pw-erin-0123456789');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Devices' }).click();
    await page.getByRole('heading', { level: 1, name: 'Devices' }).waitFor();
    await page.locator('.device-row', { hasText: '(this device)' }).waitFor();
    assert.equal(await page.locator('.device-row').count(), 1);
    const name = ((await page.locator('.device-name').textContent()) ?? '').trim();
    assert.match(name, /^Chrom\S*( Headless)? on Linux \(this device\)$/, name);
    // The instance agrees: one device for this account, seen at both sign-ins.
    const token = (await page.evaluate(
      "JSON.parse(sessionStorage.getItem('caliopen.session') ?? '{}').token",
    )) as string;
    const devices = await inst.api('GET', '/api/v1/devices', { token });
    assert.equal(devices.body.items.length, 1, JSON.stringify(devices.body.items));
    assert.equal(
      (await inst.running.services.storage.devices.listByAccount(erin.id)).length,
      1,
      'no second device stored either',
    );
    // Another browser (a fresh context, nothing remembered) is another device.
    const other = await newPage();
    await signIn(other, 'erin', 'pw-erin-0123456789');
    assert.equal((await inst.api('GET', '/api/v1/devices', { token })).body.items.length, 2);
    await other.context().close();
    await page.context().close();
  });
});
