import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

/** What the browser tests share: screenshots on request and the axe-core accessibility check. */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const shotsDir = process.env.CALIOPEN_SCREENSHOTS ? path.resolve(ROOT, process.env.CALIOPEN_SCREENSHOTS) : null;

/** Writes a full-page screenshot when `CALIOPEN_SCREENSHOTS` names a folder (e.g. docs/screenshots); else nothing. */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (!shotsDir) return;
  mkdirSync(shotsDir, { recursive: true });
  await page.screenshot({ path: path.join(shotsDir, `${name}.png`), fullPage: true });
}

/** The page's serious and critical accessibility violations found by axe-core, one line each. */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.evaluate(`${axeSource}\n;void 0`);
  const violations = (await page.evaluate(
    "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.map((n) => n.target.join(' ')) })))",
  )) as { id: string; impact: string | null; nodes: string[] }[];
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.nodes.join(', ')}`);
}

/**
 * Watches `page`'s requests from now on, so that a test can wait until the app is quiet: nothing in flight, and still
 * nothing half a second later (what Playwright's `networkidle` means). The live-update stream (`/api/v1/events`) stays
 * open for good, so it is not counted: with it open, `networkidle` never comes.
 */
export function networkWatch(page: Page): { quiet(timeoutMs?: number): Promise<void> } {
  const inFlight = new Set<unknown>();
  page.on('request', (r) => {
    if (!r.url().includes('/api/v1/events')) inFlight.add(r);
  });
  page.on('requestfinished', (r) => inFlight.delete(r));
  page.on('requestfailed', (r) => inFlight.delete(r));
  return {
    async quiet(timeoutMs = 120_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        if (inFlight.size === 0) {
          await new Promise((r) => setTimeout(r, 500));
          if (inFlight.size === 0) return;
        } else await new Promise((r) => setTimeout(r, 50));
        if (Date.now() > until) throw new Error(`${inFlight.size} requests still in flight after ${timeoutMs} ms`);
      }
    },
  };
}

/** Debian's Chromium, headless, as every browser test runs it. */
export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/**
 * A page in a context of its own, in `locale`. Every wait is on a condition, with a bound generous for a loaded 2-core
 * machine (Playwright's own is 30 s). What the browser reports as a CSP refusal or a page error is pushed to
 * `problems`, which the test asserts empty at its end.
 */
export async function openPage(
  browser: Browser,
  problems: string[],
  o: { locale?: string; viewport?: { width: number; height: number }; acceptDownloads?: boolean } = {},
): Promise<Page> {
  const context = await browser.newContext({
    locale: o.locale ?? 'en-GB',
    viewport: o.viewport ?? { width: 1200, height: 900 },
    ...(o.acceptDownloads ? { acceptDownloads: true } : {}),
  });
  context.setDefaultTimeout(120_000);
  const page = await context.newPage();
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return page;
}

/**
 * Signs in to the user's web app at `baseUrl` as a person does (the form, in English or French), and waits for the
 * discussions.
 */
export async function signInToApp(page: Page, baseUrl: string, username: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/sign-in`);
  await page.getByLabel(/^(Username|Nom d’utilisateur)$/).fill(username);
  await page.getByLabel(/^(Password|Mot de passe)$/).fill(password);
  await page.getByRole('button', { name: /^(Sign in|Se connecter)$/ }).click();
  await page.getByRole('heading', { level: 1, name: 'Discussions' }).waitFor();
}
