/**
 * "Supprimer mon compte" on My privacy, in a real browser (Debian's Chromium through playwright-core) served by a
 * real instance: a wrong password gets its sentence; the right one schedules the deletion and signs the user out;
 * signing in again shows the date and a button that cancels it. Keyboard only, in French, axe-core finds nothing
 * serious. The purge itself is tested in account-deletion.test.ts (the grace period here is an hour).
 */
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { ok } from '../support/api-client.ts';
import { launchChromium, networkWatch, openPage, seriousViolations } from '../support/browser.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { realComponent } from '../support/real-component.ts';
import { requireWebBuild } from '../support/web-build.ts';

const browserBinary = realComponent('chromium', 'chromium');

describe.skipIf(browserBinary.skip)('deleting one’s account from My privacy (Chromium)', () => {
  let inst: TestInstance;
  let browser: Browser;
  let greta: { id: string; password: string; token: string };
  const problems: string[] = [];

  beforeAll(async () => {
    requireWebBuild('dist');
    inst = await startTestInstance({ env: { CALIOPEN_ACCOUNT_DELETION_GRACE_SECONDS: '3600' } });
    greta = await inst.user('greta');
    browser = await launchChromium(browserBinary.path);
  });

  afterAll(async () => {
    await browser?.close();
    await inst?.stop();
  });

  async function signIn(page: Page) {
    await page.goto(`${inst.url}/sign-in`);
    await page.getByLabel('Nom d’utilisateur').fill('greta');
    await page.getByLabel('Mot de passe').fill(greta.password);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('heading', { name: 'Discussions' }).waitFor();
    await page.goto(`${inst.url}/privacy`);
    await page.getByRole('heading', { name: 'Supprimer mon compte' }).waitFor();
    await networkWatch(page).quiet();
  }

  test('ask with the password (a wrong one is refused), get signed out, sign in again, cancel', async () => {
    const page = await openPage(browser, problems, { locale: 'fr-FR' });
    await signIn(page);
    assert.deepEqual(await seriousViolations(page), []);

    const password = page.getByLabel('Votre mot de passe');
    await password.focus();
    await page.keyboard.type('not-the-password');
    await page.keyboard.press('Enter');
    await page.getByText('Le nom d’utilisateur ou le mot de passe est incorrect.').waitFor();
    assert.deepEqual(ok(await inst.api('GET', '/api/v1/account/deletion', { token: greta.token })), { pending: false });

    await password.fill('');
    await password.focus();
    await page.keyboard.type(greta.password);
    await page.keyboard.press('Enter');
    // Signed out: the sign-in form is back, and the deletion is pending.
    await page.getByLabel('Nom d’utilisateur').waitFor();
    const token = ok(
      await inst.api('POST', '/api/v1/auth/login', { body: { username: 'greta', password: greta.password } }),
    ).token as string;
    const pending = ok(await inst.api('GET', '/api/v1/account/deletion', { token }));
    assert.equal(pending.pending, true);

    await signIn(page);
    await page.getByText('Votre compte sera supprimé le').waitFor();
    assert.deepEqual(await seriousViolations(page), []);
    const cancel = page.getByRole('button', { name: 'Annuler la suppression' });
    await cancel.focus();
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'La suppression est annulée' }).waitFor();
    assert.deepEqual(ok(await inst.api('GET', '/api/v1/account/deletion', { token })), { pending: false });
    await page.getByLabel('Votre mot de passe').waitFor();
    assert.deepEqual(
      problems.filter((p) => !/401/.test(p)),
      [],
    );
  });
});
