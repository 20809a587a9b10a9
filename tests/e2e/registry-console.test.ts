/**
 * The applicant's view and the auditors' console of the association's site, in a real browser (Debian's Chromium
 * driven by playwright-core) against a real registry running the real checks on a loopback instance site:
 * - a new instance applies; its operator opens the follow URL the registry returned (the token in the fragment):
 *   the checks show domain control failing with what to fix; the operator publishes the challenge and runs the checks
 *   again from the page: they pass;
 * - two auditors sign in to the console (HttpOnly SameSite=Strict cookie session, nothing in page storage), read the
 *   application with its checks, evidence and declaration, and vote; the second approval reaches consensus and the
 *   label appears in the public directory; the applicant sees the votes (without the auditors' names) and the label's
 *   renewal dates;
 * - an auditor proposes the revocation: the member stays labelled (no auditor revokes alone); the second auditor
 *   approves it in the console; consensus is reached and the directory shows the revoked member with its reason;
 * - the trail and the key status are shown; French renders; axe-core finds no serious violation on any new screen.
 *
 * Screenshots: `CALIOPEN_SCREENSHOTS=docs/screenshots npx vitest run --project e2e tests/e2e/registry-console.test.ts`.
 */
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { launchChromium, openPage, screenshot, seriousViolations } from '../support/browser.ts';
import { realComponent } from '../support/real-component.ts';
import {
  applicationFor,
  startTestInstanceSite,
  startTestRegistry,
  type TestInstanceSite,
  type TestRegistry,
} from '../support/registry.ts';
import { requireWebBuild } from '../support/web-build.ts';

const browserBinary = realComponent('chromium', 'chromium');
const REASON = 'Resold its users’ address books, as its own admin admitted.';

describe.skipIf(browserBinary.skip)('the applicant view and the auditor console in Chromium', () => {
  let reg: TestRegistry;
  let browser: Browser;
  let site: TestInstanceSite;
  let other: TestInstanceSite;
  let application: { id: string; followPath: string; challenge: { token: string; value: string } };
  const auditors: Record<string, { password: string; token: string }> = {};
  const pageErrors: string[] = [];

  beforeAll(async () => {
    requireWebBuild('dist-registry');
    site = await startTestInstanceSite('delta.test');
    other = await startTestInstanceSite('epsilon.test');
    reg = await startTestRegistry({ maintenance: false, approvals: 2 });
    reg.connect(site.domain, site.connectTo);
    reg.connect(other.domain, other.connectTo);
    for (const name of ['alice', 'bob']) auditors[name] = await reg.auditor(name);
    browser = await launchChromium(browserBinary.path);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await reg?.stop();
    await site?.stop();
    await other?.stop();
    assert.deepEqual(pageErrors, []);
  });

  function newPage(locale = 'en-GB'): Promise<Page> {
    return openPage(browser, pageErrors, { locale, viewport: { width: 1280, height: 900 } });
  }

  async function signIn(page: Page, name: string): Promise<void> {
    await page.goto(`${reg.url}/console`);
    await page.getByRole('heading', { name: 'Auditor sign-in' }).waitFor();
    await page.getByLabel('Auditor name').fill(name);
    await page.getByLabel('Password').fill(auditors[name]!.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`Signed in as ${name}.`).waitFor();
  }

  test('a new instance applies: the applicant view shows the failing check and its fix, then passes after the fix', async () => {
    const r = await reg.api('POST', '/v1/applications', { body: await applicationFor(site) });
    assert.equal(r.status, 201, r.text);
    application = r.body;
    assert.match(application.followPath, new RegExp(`^/applications/${application.id}#token=`));

    const page = await newPage();
    await page.goto(`${reg.url}${application.followPath}`);
    await page.getByRole('heading', { name: 'Application of delta.test' }).waitFor();
    await page.getByText('No check has run yet').waitFor();
    await page.getByRole('button', { name: 'Run the checks again' }).click();
    const control = page.locator('tr[data-check="domain.control"]');
    await control.waitFor();
    assert.equal(await control.getAttribute('data-status'), 'fail');
    assert.match(await control.innerText(), /Publish the challenge below/);
    await page.getByText('a mandatory check still fails').waitFor();
    assert.match(await page.getByTestId('decision').innerText(), /A mandatory check fails/);
    // The challenge to publish, and the signed declaration, are on the page.
    assert.ok((await page.locator('main').innerText()).includes(application.challenge.value));
    assert.match(await page.getByTestId('declaration').innerText(), /No resale of user data\s+yes/);
    assert.deepEqual(await seriousViolations(page), []);
    await screenshot(page, 'registry-applicant-failing');

    // The fix: the operator publishes the challenge, then runs the checks again from the page.
    site.publishChallenge(application.challenge.token, application.challenge.value);
    await page.getByRole('button', { name: 'Run the checks again' }).click();
    await page.locator('tr[data-check="domain.control"][data-status="pass"]').waitFor();
    await page.getByText('every mandatory check passes', { exact: false }).first().waitFor();
    assert.match(await page.getByTestId('decision').innerText(), /Approvals: 0 of 2 needed/);
    // The token stayed out of the page's storage.
    assert.equal(await page.evaluate('localStorage.length + sessionStorage.length'), 0);
    await page.context().close();
  });

  test('two auditors vote in the console; consensus labels the instance and it appears in the public directory', async () => {
    const alice = await newPage();
    await signIn(alice, 'alice');
    // The session is an HttpOnly cookie: the page can read neither it nor any token.
    assert.equal(await alice.evaluate('document.cookie'), '');
    assert.equal(await alice.evaluate('localStorage.length + sessionStorage.length'), 0);
    const card = alice.locator('article[data-application="delta.test"]');
    await card.waitFor();
    assert.match(await card.getByTestId('consensus').innerText(), /Approvals: 0 of 2 needed/);
    await alice.getByTestId('rule').first().waitFor();
    assert.match(await alice.getByTestId('rule').first().innerText(), /2 approvals, no standing objection/);
    assert.equal(await card.locator('tr[data-check="domain.control"]').getAttribute('data-status'), 'pass');
    assert.deepEqual(await seriousViolations(alice), []);
    await screenshot(alice, 'registry-console-queue');

    // An objection needs a reason: the registry's refusal is shown in words.
    await card.getByLabel('Object', { exact: true }).check();
    await card.getByRole('button', { name: 'Cast the vote' }).click();
    await card.getByRole('alert').getByText('Write a reason').waitFor();
    await card.getByLabel('Approve', { exact: true }).check();
    await card.getByLabel(/^Reason/).fill('Checks pass; the declaration meets the charter.');
    await card.getByRole('button', { name: 'Cast the vote' }).click();
    await card.getByTestId('consensus').getByText('Approvals: 1 of 2 needed').waitFor();
    await card.getByText('alice: Approve').waitFor();

    const bob = await newPage();
    await signIn(bob, 'bob');
    const bobCard = bob.locator('article[data-application="delta.test"]');
    await bobCard.getByText('alice: Approve').waitFor();
    await bobCard.getByRole('button', { name: 'Cast the vote' }).click();
    await bob.getByText('Consensus reached: delta.test is labelled.').waitFor();
    await bob.getByText('No application is waiting for a decision.').waitFor();

    // The public directory lists it.
    const pub = await newPage();
    await pub.goto(`${reg.url}/`);
    const row = pub.locator('tr[data-domain="delta.test"]');
    await row.waitFor();
    assert.match(await row.innerText(), /Labelled/);

    // The applicant sees the votes (names hidden: the association's default) and the renewal dates.
    await pub.goto(`${reg.url}${application.followPath}`);
    await pub.getByTestId('renewal').waitFor();
    assert.match(await pub.getByTestId('application-status').innerText(), /Approved/);
    const votes = await pub.getByTestId('votes').innerText();
    assert.match(votes, /Approve — an auditor/);
    assert.doesNotMatch(votes, /alice|bob/);
    assert.match(await pub.getByTestId('renewal').innerText(), /Renewed automatically from/);
    assert.deepEqual(await seriousViolations(pub), []);
    await screenshot(pub, 'registry-applicant-approved');

    // The trail and the registry keys.
    await bob.getByRole('button', { name: 'Audit trail' }).click();
    await bob.locator('tr[data-action="decision.reached"]').waitFor();
    assert.match(await bob.locator('tr[data-action="vote.cast"]').first().innerText(), /alice|bob/);
    assert.deepEqual(await seriousViolations(bob), []);
    await screenshot(bob, 'registry-console-trail');
    await bob.getByRole('button', { name: 'Registry keys' }).click();
    const kid = (await reg.api('GET', '/v1/keys')).body.keys[0].kid as string;
    await bob.locator(`tr[data-kid="${kid}"]`).getByText('signing now').waitFor();
    assert.deepEqual(await seriousViolations(bob), []);
    for (const p of [alice, bob, pub]) await p.context().close();
  });

  test('an auditor proposes revocation; it takes effect only when consensus is reached; the directory shows the reason', async () => {
    const alice = await newPage();
    await signIn(alice, 'alice');
    await alice.getByRole('button', { name: 'Members and re-check failures' }).click();
    const member = alice.locator('article[data-member="delta.test"]');
    await member.waitFor();
    await member.getByLabel('Public reason to revoke delta.test').fill(REASON);
    await member.getByRole('button', { name: 'Propose revocation' }).click();
    await alice.getByText('Revocation of delta.test proposed').waitFor();
    const proposal = member.getByTestId('proposal');
    await proposal.waitFor();
    assert.match(await proposal.getByTestId('consensus').innerText(), /Approvals: 1 of 2 needed/);
    // One auditor alone revoked nothing.
    assert.equal((await reg.api('GET', '/v1/instances/delta.test')).body.status, 'labelled');
    assert.deepEqual(await seriousViolations(alice), []);
    await screenshot(alice, 'registry-console-revocation-proposed');

    const bob = await newPage();
    await signIn(bob, 'bob');
    await bob.getByRole('button', { name: 'Members and re-check failures' }).click();
    const bobMember = bob.locator('article[data-member="delta.test"]');
    await bobMember.getByTestId('proposal').getByText(REASON, { exact: false }).first().waitFor();
    await bobMember.getByRole('button', { name: 'Cast the vote' }).click();
    await bobMember.getByText('Revoked', { exact: true }).waitFor();
    await bob.getByRole('button', { name: 'Revocation proposals' }).click();
    await bob.locator('article[data-proposal="delta.test"]').getByText('enacted: revoked', { exact: false }).waitFor();
    assert.deepEqual(await seriousViolations(bob), []);

    await bob.getByRole('link', { name: 'Directory', exact: true }).click();
    const row = bob.locator('tr[data-domain="delta.test"]');
    await row.waitFor();
    assert.match(await row.innerText(), /Revoked[\s\S]*Resold its users/);
    await screenshot(bob, 'registry-directory-revoked-by-consensus');
    const events = (await reg.api('GET', '/v1/audit/events', { token: (await reg.auditor('carol')).token })).body
      .events as { action: string; detail: { approvals?: number } }[];
    assert.equal(events.find((e) => e.action === 'instance.revoked')?.detail.approvals, 2);
    for (const p of [alice, bob]) await p.context().close();
  });

  test('an emergency suspension by one auditor is immediate, time-limited, and opens a proposal to confirm it', async () => {
    // epsilon.test is labelled through the API, as in the other tests.
    const r = await reg.api('POST', '/v1/applications', { body: await applicationFor(other) });
    assert.equal(r.status, 201, r.text);
    other.publishChallenge(r.body.challenge.token, r.body.challenge.value);
    assert.equal((await reg.api('POST', `/v1/applications/${r.body.id}/verify`, { token: r.body.token })).status, 200);
    for (const name of ['alice', 'bob'])
      await reg.api('POST', `/v1/audit/applications/${r.body.id}/votes`, {
        token: auditors[name]!.token,
        body: { vote: 'approve' },
      });
    assert.equal((await reg.api('GET', '/v1/instances/epsilon.test')).body.status, 'labelled');

    const alice = await newPage();
    await signIn(alice, 'alice');
    await alice.getByRole('button', { name: 'Members and re-check failures' }).click();
    const member = alice.locator('article[data-member="epsilon.test"]');
    await member.getByLabel('Public reason to suspend epsilon.test now').fill('Serving a key it never declared.');
    await member.getByRole('button', { name: 'Suspend now (emergency)' }).click();
    await member.getByText(/Emergency suspension by alice until .*: Serving a key/).waitFor();
    assert.match(await member.getByTestId('proposal').getByTestId('consensus').innerText(), /1 of 2/);
    assert.deepEqual(await seriousViolations(alice), []);
    await screenshot(alice, 'registry-console-suspension');
    // In force at once: the feed and the public directory say suspended, with the reason and the end.
    assert.equal((await reg.api('GET', '/v1/instances/epsilon.test')).body.status, 'suspended');
    await alice.getByRole('link', { name: 'Directory', exact: true }).click();
    const row = alice.locator('tr[data-domain="epsilon.test"]');
    await row.waitFor();
    assert.match(
      await row.innerText(),
      /Suspended[\s\S]*Suspended in an emergency until .* unless revoked by consensus/,
    );
    await alice.context().close();
  });

  test('French: the sign-in, the console and the applicant view', async () => {
    const page = await newPage('fr-FR');
    await page.goto(`${reg.url}/console`);
    await page.getByRole('heading', { name: 'Connexion des auditeurs' }).waitFor();
    assert.deepEqual(await seriousViolations(page), []);
    await page.getByLabel('Nom d’auditeur').fill('alice');
    await page.getByLabel('Mot de passe').fill('wrong-password-000');
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByRole('alert').getByText('Nom d’auditeur ou mot de passe incorrect.').waitFor();
    await page.getByLabel('Mot de passe').fill(auditors.alice!.password);
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await page.getByText('Connecté en tant que alice.').waitFor();
    await page.getByRole('button', { name: 'Propositions de révocation' }).click();
    await page.locator('article[data-proposal="delta.test"]').getByText('adoptée', { exact: false }).waitFor();
    assert.deepEqual(await seriousViolations(page), []);
    await page.getByRole('button', { name: 'Se déconnecter' }).click();
    await page.getByRole('heading', { name: 'Connexion des auditeurs' }).waitFor();

    await page.goto(`${reg.url}${application.followPath}`);
    await page.getByRole('heading', { name: 'Candidature de delta.test' }).waitFor();
    await page.getByTestId('renewal').getByText('Révoquée').waitFor();
    assert.match(await page.getByTestId('votes').innerText(), /un auditeur/);
    assert.deepEqual(await seriousViolations(page), []);
    await screenshot(page, 'registry-applicant-fr');

    // Without the token, the page asks for it; a wrong one does not open the application.
    await page.goto(`${reg.url}/applications/${application.id}`);
    await page.getByLabel('Jeton de candidature').fill(`cal_${'A'.repeat(43)}`);
    await page.getByRole('button', { name: 'Ouvrir la candidature' }).click();
    await page.getByRole('alert').waitFor();
    assert.deepEqual(await seriousViolations(page), []);
    await page.context().close();
  });
});
