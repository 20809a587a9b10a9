/**
 * The association's public site in a real browser (Debian's Chromium driven by playwright-core), served by a real
 * registry at `/`: three instances apply with real keys, certificates and checks on loopback and are labelled by two
 * auditors (one chose the gated listing); a person opens the directory (members, an instance PI breakdown with its
 * evidence), a member page with its checks and log entries, then the transparency-log explorer, where an inclusion
 * proof and a consistency proof are verified in the browser with the bundled federation-protocol code. A revocation
 * grows the log: on reload the browser proves the new checkpoint extends the one it remembered. A tampered proof
 * (intercepted, one hash flipped) is shown as failed; a checkpoint inconsistent with the remembered one raises the
 * split-view warning. axe-core: no serious or critical violation; French renders; no CSP violation.
 *
 * Screenshots: `CALIOPEN_SCREENSHOTS=docs/screenshots npx vitest run --project e2e tests/e2e/registry-web.test.ts`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { REGISTRY_WEB_CSP, registryWebPlugin } from '@caliopen/registry/http/registry-web.plugin.ts';
import Fastify from 'fastify';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  applicationFor,
  startTestInstanceSite,
  startTestRegistry,
  type TestInstanceSite,
  type TestRegistry,
} from '../support/registry.ts';
import { realComponent } from '../support/real-component.ts';
import { launchChromium, openPage, screenshot, seriousViolations } from '../support/browser.ts';
import { requireWebBuild } from '../support/web-build.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const browserBinary = realComponent('chromium', 'chromium');
const REASON = 'Sold its users\u2019 address books to an advertiser.';

test('without web/dist-registry, / answers a page saying how to build it; the API paths are not the site’s', async () => {
  const app = Fastify();
  await app.register(registryWebPlugin, { distDir: path.join(ROOT, '.data', `no-dist-${randomUUID()}`) });
  try {
    for (const url of ['/', '/members/alpha.test', '/log']) {
      const r = await app.inject({ method: 'GET', url });
      assert.equal(r.statusCode, 503);
      assert.match(r.body, /npm run build -w web/);
      assert.doesNotMatch(r.body, /<script/i);
      assert.equal(r.headers['content-security-policy'], REGISTRY_WEB_CSP);
    }
    for (const url of ['/v1/anything', '/docs/x', '/healthz/x', '/app.js']) {
      assert.equal((await app.inject({ method: 'GET', url })).statusCode, 404, url);
    }
  } finally {
    await app.close();
  }
});

describe.skipIf(browserBinary.skip)('the registry’s public site in Chromium', () => {
  let reg: TestRegistry;
  let browser: Browser;
  const sites: Record<string, TestInstanceSite> = {};
  let alice: { token: string };
  let bob: { token: string };
  const cspViolations: string[] = [];

  async function label(domain: string, listed: boolean, jurisdiction: string) {
    const site = sites[domain]!;
    const r = await reg.api('POST', '/v1/applications', {
      body: await applicationFor(site, { listed, declaration: { jurisdiction } }),
    });
    assert.equal(r.status, 201, r.text);
    site.publishChallenge(r.body.challenge.token, r.body.challenge.value);
    const v = await reg.api('POST', `/v1/applications/${r.body.id}/verify`, { token: r.body.token });
    assert.equal(v.status, 200, v.text);
    for (const who of [alice, bob]) {
      const vote = await reg.api('POST', `/v1/audit/applications/${r.body.id}/votes`, {
        token: who.token,
        body: { vote: 'approve' },
      });
      assert.equal(vote.status, 200, vote.text);
    }
  }

  beforeAll(async () => {
    requireWebBuild('dist-registry');
    for (const d of ['alpha.test', 'beta.test', 'gamma.test']) sites[d] = await startTestInstanceSite(d);
    reg = await startTestRegistry({ maintenance: false });
    for (const site of Object.values(sites)) reg.connect(site.domain, site.connectTo);
    alice = await reg.auditor('alice');
    bob = await reg.auditor('bob');
    await label('alpha.test', true, 'FR');
    await label('beta.test', true, 'DE');
    await label('gamma.test', false, 'CH');
    browser = await launchChromium(browserBinary.path);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await reg?.stop();
    for (const site of Object.values(sites)) await site.stop();
    assert.deepEqual(cspViolations, []);
  });

  function newPage(locale = 'en-GB'): Promise<Page> {
    return openPage(browser, cspViolations, { locale, viewport: { width: 1280, height: 900 } });
  }

  test('the registry serves the site at / with a strict CSP and no inline script; its API keeps its 404s', async () => {
    for (const p of ['/', '/members/alpha.test', '/log?entry=0']) {
      const res = await fetch(`${reg.url}${p}`);
      assert.equal(res.status, 200, p);
      assert.equal(res.headers.get('content-security-policy'), REGISTRY_WEB_CSP);
      const html = await res.text();
      assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/i, 'no inline script');
      assert.match(html, /<script type="module" crossorigin src="\/assets\//);
    }
    const missing = await fetch(`${reg.url}/v1/nothing-here`);
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /problem\+json/);
    assert.equal((await fetch(`${reg.url}/healthz`)).status, 200);
  });

  test('the public directory endpoint leaves out the member that chose the gated listing', async () => {
    const r = await reg.api('GET', '/v1/directory/members');
    assert.equal(r.status, 200, r.text);
    const domains = r.body.members.map((m: { domain: string }) => m.domain);
    assert.deepEqual(domains, ['alpha.test', 'beta.test']);
    const alpha = r.body.members[0];
    assert.equal(alpha.jurisdiction, 'FR');
    assert.equal(alpha.charterVersion, '1.0');
    assert.ok(alpha.pi.factors.length > 0);
    assert.ok(alpha.checks.results.length > 0);
    // Gated, yet verifiable by name.
    assert.equal((await reg.api('GET', '/v1/instances/gamma.test')).body.status, 'labelled');
    const log = await reg.api('GET', '/v1/directory/members/alpha.test/log');
    assert.ok(log.body.entries.some((e: { entry: { type: string } }) => e.entry.type === 'label.issued'));
  });

  test('directory: members with PI, standing, jurisdiction and checks; the PI badge opens the breakdown with evidence', async () => {
    const page = await newPage();
    await page.goto(`${reg.url}/`);
    await page.getByRole('heading', { name: 'Member directory' }).waitFor();
    const rows = page.locator('tbody tr');
    await rows.first().waitFor();
    assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-domain'))), [
      'alpha.test',
      'beta.test',
    ]);
    const alphaRow = page.locator('tr[data-domain="alpha.test"]');
    assert.match(await alphaRow.innerText(), /Labelled[\s\S]*valid until[\s\S]*FR[\s\S]*1\.0[\s\S]*passed/);
    assert.deepEqual(await seriousViolations(page), []);

    // Search and filter.
    await page.getByLabel('Search by domain').fill('bet');
    await page.getByText('1 member shown').waitFor();
    await page.getByLabel('Search by domain').fill('');
    await page.getByLabel('Standing').selectOption('revoked');
    await page.getByText('No member matches.').waitFor();
    await page.getByLabel('Standing').selectOption('all');

    await alphaRow.locator('button.pi-badge').click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    const text = await dialog.innerText();
    assert.match(text, /alpha\.test/);
    const record = (await reg.api('GET', '/v1/instances/alpha.test')).body;
    assert.ok(text.includes(record.pi.factors[0].evidence), 'the breakdown shows the evidence from the feed');
    assert.deepEqual(await seriousViolations(page), []);
    await screenshot(page, 'registry-directory-pi');
    await page.keyboard.press('Escape');
    await page.context().close();
  });

  test('member page: label, checks with evidence, label history and links to its log entries', async () => {
    const page = await newPage();
    await page.goto(`${reg.url}/`);
    await page.getByRole('link', { name: 'alpha.test' }).click();
    await page.getByRole('heading', { name: 'alpha.test', level: 1 }).waitFor();
    await page.getByRole('heading', { name: 'Last automated checks' }).waitFor();
    await page.getByText('All mandatory checks passed').waitFor();
    await page.getByText('tls.certificate.san').waitFor();
    const logLink = page.getByRole('link', { name: /Entry #\d+: label issued/ });
    await logLink.waitFor();
    assert.deepEqual(await seriousViolations(page), []);
    await screenshot(page, 'registry-member');
    await logLink.click();
    await page.waitForURL(/\/log\?entry=\d+$/);
    await page.getByRole('heading', { name: 'Transparency log' }).waitFor();
    await page.context().close();
  });

  test('log explorer: inclusion and consistency proofs verified in the browser, step by step; the checkpoint is remembered', async () => {
    const page = await newPage();
    await page.goto(`${reg.url}/log`);
    await page.locator('[data-testid="memory"][data-kind="first"]').waitFor();
    await page.locator('[data-testid="signature"][data-ok="true"]').waitFor();
    const kid = (await reg.api('GET', '/v1/keys')).body.keys[0].kid as string;
    assert.match(await page.getByTestId('signature').innerText(), new RegExp(`verified in your browser.*${kid}`));
    const size = Number(await page.getByTestId('tree-size').innerText());
    assert.ok(size >= 3, `log size ${size}`);

    await page.locator('tr[data-index="1"]').getByRole('button').click();
    const inclusion = page.locator('[data-proof="inclusion"]');
    await inclusion.waitFor();
    assert.equal(await inclusion.getAttribute('data-verdict'), 'verified');
    await page.getByText('Leaf hash recomputed from the entry in your browser: matches').waitFor();
    assert.ok((await inclusion.locator('.reg-steps li').count()) >= 1, 'the steps are shown');
    assert.match(await inclusion.innerText(), /Verified in your browser/);

    await page.getByLabel('From tree size').fill('1');
    await page.getByRole('button', { name: 'Verify consistency' }).click();
    const consistency = page.locator('[data-proof="consistency"]');
    await consistency.waitFor();
    assert.equal(await consistency.getAttribute('data-verdict'), 'verified');
    assert.deepEqual(await seriousViolations(page), []);
    await inclusion.scrollIntoViewIfNeeded();
    await screenshot(page, 'registry-log-explorer');

    // The log grows (a revocation); on reload the browser links the new checkpoint to the one it remembered.
    for (const who of [alice, bob]) {
      const revoke = await reg.api('POST', '/v1/audit/instances/beta.test/revoke', {
        token: who.token,
        body: { reason: REASON },
      });
      assert.ok(revoke.status === 200 || revoke.status === 202, revoke.text);
    }
    assert.equal((await reg.api('GET', '/v1/instances/beta.test')).body.status, 'revoked');
    await page.reload();
    await page.locator('[data-testid="memory"][data-kind="extends"]').waitFor();
    const linked = page.locator('[data-proof="consistency"]');
    assert.equal(await linked.getAttribute('data-verdict'), 'verified');
    assert.ok(Number(await page.getByTestId('tree-size').innerText()) > size);

    // The revoked member shows its reason and date in the directory.
    await page.getByRole('link', { name: 'Directory', exact: true }).click();
    const beta = page.locator('tr[data-domain="beta.test"]');
    await beta.waitFor();
    assert.match(await beta.innerText(), /Revoked[\s\S]*Sold its users/);
    assert.deepEqual(await seriousViolations(page), []);
    await screenshot(page, 'registry-directory');

    // A tampered proof (one hash flipped on the way) is shown as failed.
    await page.route('**/v1/log/proof/inclusion**', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      const h = body.proof[0] as string;
      body.proof[0] = (h[0] === 'A' ? 'B' : 'A') + h.slice(1);
      await route.fulfill({ response, json: body });
    });
    await page.goto(`${reg.url}/log`);
    await page.locator('tr[data-index="1"]').getByRole('button').click();
    const tampered = page.locator('[data-proof="inclusion"]');
    await tampered.waitFor();
    assert.equal(await tampered.getAttribute('data-verdict'), 'failed');
    assert.match(await tampered.innerText(), /Proof failed/);
    await page.unroute('**/v1/log/proof/inclusion**');

    // A checkpoint whose signature was altered on the way: refused, and not remembered.
    await page.route('**/v1/log/checkpoint', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      const [h, p, sig] = (body.checkpoint as string).split('.');
      body.checkpoint = `${h}.${p}.${sig![0] === 'A' ? 'B' : 'A'}${sig!.slice(1)}`;
      await route.fulfill({ response, json: body });
    });
    await page.reload();
    await page.locator('[data-testid="signature"][data-ok="false"]').waitFor();
    assert.match(await page.getByTestId('signature').innerText(), /does not verify/);
    await page.unroute('**/v1/log/checkpoint');

    // A registry showing another history at the same size: the split-view warning.
    // (A string: the tests are type-checked without the DOM library.)
    await page.evaluate(`(() => {
      const key = Object.keys(localStorage).find((k) => k.startsWith('caliopen.registry.checkpoint:'));
      const seen = JSON.parse(localStorage.getItem(key));
      seen.rootHash = (seen.rootHash[0] === 'A' ? 'B' : 'A') + seen.rootHash.slice(1);
      localStorage.setItem(key, JSON.stringify(seen));
    })()`);
    await page.reload();
    const banner = page.getByTestId('split-view');
    await banner.waitFor();
    assert.match(await banner.innerText(), /inconsistent with one this browser saw before/);
    assert.deepEqual(await seriousViolations(page), []);
    await page.context().close();
  });

  test('French: the directory and the log explorer render in French', async () => {
    const page = await newPage('fr-FR');
    await page.goto(`${reg.url}/`);
    await page.getByRole('heading', { name: 'Annuaire des membres' }).waitFor();
    assert.equal(await page.evaluate('document.documentElement.lang'), 'fr');
    await page.locator('tr[data-domain="beta.test"]').getByText('Révoquée').waitFor();
    assert.deepEqual(await seriousViolations(page), []);
    await page.getByRole('link', { name: 'Journal de transparence' }).click();
    await page
      .locator('tr[data-index="0"]')
      .getByRole('button', { name: /Vérifier l’inclusion/ })
      .click();
    const proof = page.locator('[data-proof="inclusion"][data-verdict="verified"]');
    await proof.waitFor();
    assert.match(await proof.innerText(), /Vérifiée dans votre navigateur[\s\S]*Étape 1/);
    assert.match(await page.getByTestId('signature').innerText(), /vérifiée dans votre navigateur avec la clé/);
    assert.deepEqual(await seriousViolations(page), []);
    await page.context().close();
  });
});
