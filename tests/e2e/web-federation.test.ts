/**
 * The user's web app on a real local federation (issue 12, Show): the registry, alpha.test and beta.test, each a
 * `caliopen ... start` process prepared and labelled by `caliopen federation` (as tests/e2e/federation-processes.test.ts
 * builds it; one federation for the whole file), and real Chromium on each instance's app.
 * - alice signs in on alpha's app and writes to bob@beta.test: the route preview says the federation; she sends.
 * - An unknown user at beta (nobody@beta.test) is refused while alice writes, in words, before anything is sent
 *   (beta answers alpha's recipient check), and Send sends nothing.
 * - bob signs in on beta's app: the message, its PI badge and breakdown, alice's trust level ("Verified member": bob
 *   compared her key's fingerprint) with alpha's label (issuer, valid until, standing) and instance PI from the
 *   registry's feed, and how it came (sealed, forward secret, receipt); the same in French.
 * - The registry revokes alpha's label: after beta's next feed sync (every 5 s in this federation) bob's app says so
 *   plainly, with the registry's reason, on alice's contact and on her next message, which comes by email (alpha,
 *   revoked too, no longer offers the federation).
 * axe-core finds no serious violation on the screens visited, in English and French.
 *
 * Screenshots: `CALIOPEN_SCREENSHOTS=docs/screenshots npx vitest run --project e2e tests/e2e/web-federation.test.ts`.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { spawnCaliopen, untilReady, type CaliopenChild } from '@caliopen/cli/federation.children.ts';
import type { LoopbackResolver } from '@caliopen/cli/federation.resolver.ts';
import { launchChromium, openPage, screenshot, seriousViolations, signInToApp } from '../support/browser.ts';
import {
  cleanEnv,
  prepareLocalFederation,
  startFederationResolver,
  type PreparedFederation,
} from '../support/local-federation.ts';
import { waitFor } from '../support/net.ts';
import { answers, ROOT } from '../support/process.ts';
import { realComponent } from '../support/real-component.ts';
import { tempDir } from '../support/tmp.ts';
import { requireWebBuild } from '../support/web-build.ts';

const browserBinary = realComponent('chromium', 'chromium');
const REASON = 'charter breach found in an audit';

async function json(
  url: string,
  init: Omit<RequestInit, 'body'> & { token?: string; body?: any } = {},
): Promise<{ status: number; body: any }> {
  const { token, body, ...rest } = init;
  const res = await fetch(url, {
    ...rest,
    headers: {
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

function ok<T = any>(r: { status: number; body: any }, status = 200): T {
  assert.equal(r.status, status, JSON.stringify(r.body));
  return r.body as T;
}

describe.skipIf(browserBinary.skip)('the web app on a local federation, in Chromium', { timeout: 900_000 }, () => {
  const tmp = tempDir('caliopen-webfed-');
  const dataDir = join(tmp.dir, 'federation');
  const running = new Map<string, CaliopenChild>();
  let resolver: LoopbackResolver;
  let browser: Browser;
  let alpha: string;
  let beta: string;
  let registry: string;
  let credentials: PreparedFederation['credentials'];
  let passwordOf: PreparedFederation['passwordOf'];
  let bobToken: string;
  let aliceContactAtBeta: string;
  const pageErrors: string[] = [];
  const subject = 'Quarterly figures';

  async function login(api: string, username: string): Promise<string> {
    return ok(
      await json(`${api}/api/v1/auth/login`, { method: 'POST', body: { username, password: passwordOf(username) } }),
    ).token;
  }

  async function startChild(name: string, args: string[], probe: string): Promise<void> {
    const child = spawnCaliopen(args, { name, cwd: ROOT, env: cleanEnv() });
    running.set(name, child);
    await untilReady(child, () => answers(probe), 180_000);
  }

  beforeAll(async () => {
    requireWebBuild('dist');
    // `caliopen federation` prepares, audits and labels both members (what `npm start` runs), then stops; the same
    // processes are then started one by one, as federation-processes.test.ts does.
    const prepared = await prepareLocalFederation(dataDir);
    assert.equal(prepared.output.match(/federation open: mail to @/g)?.length, 2, prepared.output);
    const { ports } = prepared;
    alpha = `http://127.0.0.1:${ports.alpha.http}`;
    beta = `http://127.0.0.1:${ports.beta.http}`;
    registry = `http://127.0.0.1:${ports.registry}`;
    ({ credentials, passwordOf } = prepared);

    resolver = await startFederationResolver(ports);
    await Promise.all([
      startChild('alpha.test', ['instance', 'start', '--data-dir', join(dataDir, 'alpha.test')], `${alpha}/healthz`),
      startChild('beta.test', ['instance', 'start', '--data-dir', join(dataDir, 'beta.test')], `${beta}/healthz`),
      startChild('registry', ['registry', 'start', '--data-dir', join(dataDir, 'registry')], `${registry}/v1/keys`),
    ]);

    // Keys on both sides, server-held; bob has alice as a contact and compared her key's fingerprint with her
    // (what makes her a *verified* member). bob's session stays open: his key is unlocked when her message arrives.
    const aliceToken = await login(alpha, 'alice');
    bobToken = await login(beta, 'bob');
    ok(
      await json(`${beta}/api/v1/keys`, {
        method: 'POST',
        token: bobToken,
        body: { mode: 'server', password: passwordOf('bob') },
      }),
      201,
    );
    const aliceKey = ok(
      await json(`${alpha}/api/v1/keys`, {
        method: 'POST',
        token: aliceToken,
        body: { mode: 'server', password: passwordOf('alice') },
      }),
      201,
    ).key;
    aliceContactAtBeta = ok(
      await json(`${beta}/api/v1/contacts`, {
        method: 'POST',
        token: bobToken,
        body: { displayName: 'Alice', identities: [{ address: 'alice@alpha.test' }] },
      }),
      201,
    ).id;
    ok(
      await json(`${beta}/api/v1/contacts/${aliceContactAtBeta}/keys`, {
        method: 'POST',
        token: bobToken,
        body: { address: 'alice@alpha.test', armored: aliceKey.armored },
      }),
      201,
    );
    ok(
      await json(`${beta}/api/v1/contacts/${aliceContactAtBeta}/keys/${aliceKey.fingerprint}/verify`, {
        method: 'POST',
        token: bobToken,
      }),
    );
    // Each member's peer directory lists the other as labelled (synced from the registry).
    await waitFor(
      async () =>
        (await json(`${alpha}/api/v1/routes?to=bob@beta.test`, { token: aliceToken })).body?.chosen === 'federation',
      120_000,
      250,
    );

    browser = await launchChromium(browserBinary.path);
  });

  afterAll(async () => {
    await browser?.close();
    for (const [name, child] of [...running].reverse()) {
      await child.stop('SIGTERM');
      running.delete(name);
    }
    await resolver?.close();
    tmp.cleanup();
  });

  function newPage(locale = 'en-GB'): Promise<Page> {
    return openPage(browser, pageErrors, { locale });
  }

  const signIn = (page: Page, url: string, username: string) => signInToApp(page, url, username, passwordOf(username));

  test('alice writes to bob over the federation; nobody@beta.test is refused before sending', async () => {
    const aliceToken = await login(alpha, 'alice');
    const discussionsBefore = ok(await json(`${alpha}/api/v1/discussions`, { token: aliceToken })).items.length;
    const page = await newPage();
    await signIn(page, alpha, 'alice');
    await page.getByRole('link', { name: 'New message' }).click();
    await page.getByRole('heading', { level: 1, name: 'New message' }).waitFor();

    // An unknown user at beta: beta says so when asked (the recipient check), and the app says it in words.
    await page.getByLabel('To', { exact: true }).fill('nobody@beta.test');
    const refusal =
      'nobody@beta.test does not exist: beta.test says it has no such user. Nothing was sent; check the address.';
    const previews = page.getByRole('region', { name: 'How the message will travel' });
    await previews.getByText(refusal).waitFor();
    await page.getByLabel('Subject').fill('To nobody');
    await page.getByLabel('Message', { exact: true }).fill('This must not leave alpha.');
    assert.deepEqual(await seriousViolations(page), [], 'axe on compose with the refusal');
    await page.getByRole('button', { name: 'Send' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    assert.match(
      (await alert.textContent()) ?? '',
      /nobody@beta\.test does not exist: beta\.test says it has no such user/,
    );
    await screenshot(page, 'compose-unknown-member-user');
    // The API says the same, as problem+json, and nothing was stored.
    const refused = await json(`${alpha}/api/v1/messages`, {
      method: 'POST',
      token: aliceToken,
      body: { to: [{ address: 'nobody@beta.test' }], subject: 'To nobody', text: 'no', encryption: 'none' },
    });
    assert.equal(refused.status, 404);
    assert.equal(refused.body.code, 'recipient_unknown');
    assert.equal(
      ok(await json(`${alpha}/api/v1/discussions`, { token: aliceToken })).items.length,
      discussionsBefore,
      'nothing stored',
    );

    // bob@beta.test: the route preview says the federation, the most private route; she sends.
    await page.getByLabel('To', { exact: true }).fill('bob@beta.test');
    const bobRoutes = previews.locator('.recipient-routes', { hasText: 'bob@beta.test' });
    await bobRoutes.getByText('will go by the federation (sealed)').waitFor();
    await bobRoutes.getByRole('button', { name: /^Privacy Index: \w+ \d+ out of 100\. Show why\.$/ }).waitFor();
    await page.getByLabel('Subject').fill(subject);
    await page.getByLabel('Message', { exact: true }).fill('Hello Bob,\n\nthe figures are in.\n\nAlice');
    await screenshot(page, 'compose-federation');
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator('.message-body', { hasText: 'the figures are in.' }).waitFor();
    await page.context().close();
  });

  test('bob sees the message, its PI and breakdown, alice’s trust level with alpha’s label and instance PI, in English and French', async () => {
    // It arrives over the federation (the API says so too), decrypted with bob's server-held key.
    let found: any = null;
    await waitFor(
      async () => {
        const list = ok(await json(`${beta}/api/v1/discussions`, { token: bobToken })).items;
        for (const d of list) {
          const msgs = ok(await json(`${beta}/api/v1/discussions/${d.id}/messages`, { token: bobToken })).items;
          found = msgs.find((m: any) => m.subject === subject) ?? null;
          if (found) return true;
        }
        return false;
      },
      180_000,
      500,
    );
    const detail = ok(await json(`${beta}/api/v1/messages/${found.id}`, { token: bobToken }));
    assert.equal(detail.facts.transport.via, 'federation');
    const peer = ok(await json(`${beta}/api/v1/federation/peers/alpha.test`, { token: bobToken }));
    assert.equal(peer.entry.standing, 'labelled');
    assert.equal(peer.entry.revocation, null);

    const page = await newPage();
    await signIn(page, beta, 'bob');
    const row = page.locator('.discussion-row', { hasText: 'Alice' });
    await row.locator('.trust-compact', { hasText: /^Sender trust: Verified member$/ }).waitFor();
    await row.getByRole('button', { name: /^Privacy Index: \w+ \d+ out of 100\. Show why\.$/ }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on bob’s discussions');
    await page.getByRole('link', { name: /^Alice/ }).click();
    await page.getByRole('heading', { level: 1, name: 'Alice' }).waitFor();
    await page.locator('.message-body', { hasText: 'the figures are in.' }).waitFor();

    // Alice's trust level, and the verified facts behind it.
    await page.getByRole('button', { name: 'Sender trust: Verified member' }).first().click();
    await page.getByText('alpha.test is a labelled member instance of the federation.').first().waitFor();
    await page.getByText('You verified the key that signed this message.').first().waitFor();

    // alpha's label and instance PI, from the registry's feed.
    const card = page.getByRole('region', { name: 'alpha.test, their instance' });
    await card.waitFor();
    const cardText = (await card.textContent()) ?? '';
    assert.match(cardText, /LabelValid/);
    assert.ok(peer.entry.issuer && cardText.includes(`Issued by${peer.entry.issuer}`), cardText);
    const until = new Intl.DateTimeFormat('en', { dateStyle: 'long' }).format(new Date(peer.entry.labelExpiresAt));
    assert.ok(cardText.includes(`Valid until${until}`), cardText);
    await card
      .getByRole('button', { name: new RegExp(`^Privacy Index: \\w+ ${peer.entry.instancePi.score} out of 100`) })
      .click();
    const instanceDialog = page.getByRole('dialog', { name: 'Why this Privacy Index' });
    await instanceDialog.getByText('The instance alpha.test').waitFor();
    await instanceDialog.getByRole('heading', { name: 'What counts' }).waitFor();
    assert.ok((await instanceDialog.locator('tbody tr').count()) >= 1, 'the instance PI’s factors');
    await page.keyboard.press('Escape');
    await instanceDialog.waitFor({ state: 'hidden' });

    // How it came: over the federation, sealed, forward secret, with a receipt.
    const message = page.locator('.message', { hasText: 'the figures are in.' });
    await message.getByText('Came over the federation from alpha.test:').waitFor();
    await message.getByText('sealed envelope (only this instance could open it)').waitFor();
    await message.getByText('forward secret (the key that opened it is deleted)').waitFor();
    await message.getByText('a signed receipt was returned to alpha.test').waitFor();

    // The message's PI badge and its breakdown.
    await message.getByRole('button', { name: /^Privacy Index: \w+ \d+ out of 100\. Show why\.$/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Why this Privacy Index' });
    await dialog.getByRole('rowheader', { name: 'Member label' }).waitFor();
    assert.match((await dialog.textContent()) ?? '', /alpha\.test holds a valid label/);
    assert.deepEqual(await seriousViolations(page), [], 'axe on the message breakdown');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.deepEqual(await seriousViolations(page), [], 'axe on bob’s discussion with the trust card');
    await screenshot(page, 'federation-discussion');

    // French: the same screen, in words.
    await page.getByLabel('Language').selectOption('fr');
    await page.getByRole('button', { name: 'Confiance dans l’expéditeur : Membre vérifié' }).first().waitFor();
    const carte = page.getByRole('region', { name: 'alpha.test, son instance' });
    await carte.getByText('Valide', { exact: true }).waitFor();
    await carte.getByText('Délivré par').waitFor();
    await page.getByText('Arrivé par la fédération depuis alpha.test :').waitFor();
    await page.getByText('enveloppe scellée (seule cette instance pouvait l’ouvrir)').waitFor();
    assert.equal(await page.locator('html').getAttribute('lang'), 'fr');
    assert.deepEqual(await seriousViolations(page), [], 'axe on the discussion in French');
    await screenshot(page, 'federation-discussion-fr');
    await page.getByLabel('Langue').selectOption('en');
    await page.context().close();
    assert.deepEqual(pageErrors, []);
  });

  test('the registry revokes alpha: bob’s app says so plainly, with its reason, on alice’s contact and her next message', async () => {
    // Revocation is the auditors' consensus: every auditor of the local federation approves the proposal.
    let revoked: any = null;
    for (const auditor of credentials.registry.auditors) {
      const session = ok(
        await json(`${registry}/v1/auth/login`, {
          method: 'POST',
          body: { name: auditor.name, password: auditor.password },
        }),
      );
      const r = await json(`${registry}/v1/audit/instances/alpha.test/revoke`, {
        method: 'POST',
        token: session.token,
        body: { reason: REASON },
      });
      assert.ok(r.status === 200 || r.status === 202, JSON.stringify(r.body));
      revoked = r.body;
    }
    assert.equal(revoked.status, 'revoked');

    // Beta's next feed sync (every 5 s here), and alpha's: alpha no longer offers the federation.
    await waitFor(
      async () =>
        ok(await json(`${beta}/api/v1/federation/peers/alpha.test`, { token: bobToken })).entry?.standing === 'revoked',
      180_000,
      500,
    );
    const aliceToken = await login(alpha, 'alice');
    await waitFor(
      async () => ok(await json(`${alpha}/api/v1/federation`, { token: aliceToken })).standing.status === 'revoked',
      180_000,
      500,
    );
    const peer = ok(await json(`${beta}/api/v1/federation/peers/alpha.test`, { token: bobToken }));
    assert.equal(peer.entry.labelValid, false);
    assert.equal(peer.entry.revocation?.reason, REASON, 'the reason the registry published');

    // alice's next message goes by email.
    const sent = ok(
      await json(`${alpha}/api/v1/messages`, {
        method: 'POST',
        token: aliceToken,
        body: {
          to: [{ address: 'bob@beta.test' }],
          subject: 'After the revocation',
          text: 'This one comes by email.',
          encryption: 'none',
        },
      }),
      202,
    );
    assert.notEqual(sent.recipients[0].route, 'federation');

    const page = await newPage();
    await signIn(page, beta, 'bob');
    await page.getByRole('link', { name: /^Alice/ }).click();
    const next = page.locator('.message', { hasText: 'This one comes by email.' });
    await next.waitFor({ timeout: 180_000 }).catch(async () => {
      // It may arrive after the page loaded: reload until it is there.
      await waitFor(
        async () => {
          await page.reload();
          return next.isVisible();
        },
        180_000,
        2000,
      );
    });
    const plainly = `The registry revoked the label of alpha.test: it no longer vouches for this instance, and its messages no longer come over the federation. The registry’s reason: “${REASON}”.`;
    // On the discussion's trust card, as an alert.
    const card = page.getByRole('region', { name: 'alpha.test, their instance' });
    await card.getByRole('alert').filter({ hasText: plainly }).waitFor();
    await card.getByText('Revoked', { exact: true }).waitFor();
    // On the next message: it came by email, and its instance's label is revoked.
    await next.getByText('Came by email, not over the federation.').waitFor();
    await next.getByText(plainly).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on the discussion after the revocation');
    await screenshot(page, 'federation-revoked-discussion');

    // On alice's contact.
    await page.goto(`${beta}/contacts/${aliceContactAtBeta}`);
    await page.getByRole('heading', { level: 1, name: 'Alice' }).waitFor();
    const contactCard = page.getByRole('region', { name: 'alpha.test, their instance' });
    await contactCard.getByRole('alert').filter({ hasText: plainly }).waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on the contact after the revocation');
    await screenshot(page, 'federation-revoked-contact');

    // In French too.
    await page.getByLabel('Language').selectOption('fr');
    await page
      .getByRole('region', { name: 'alpha.test, son instance' })
      .getByRole('alert')
      .filter({ hasText: `Le registre a révoqué le label de alpha.test` })
      .filter({ hasText: `« ${REASON} »` })
      .waitFor();
    assert.deepEqual(await seriousViolations(page), [], 'axe on the contact in French');
    await page.context().close();
    assert.deepEqual(pageErrors, []);
  });
});
