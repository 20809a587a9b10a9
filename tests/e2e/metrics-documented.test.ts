/**
 * Issue #18 item 5: every metric a running instance (and registry) exposes on /metrics is documented in
 * docs/ops/metrics.md, and every documented name is exposed — scraped from real processes with inbound SMTP and the
 * federation on (the conditions under which the conditional metrics exist).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, test } from 'vitest';
import { ROOT } from '../support/process.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { startTestRegistry, type TestRegistry } from '../support/registry.ts';
import { waitFor } from '../support/net.ts';

/** The names a section of docs/ops/metrics.md documents: table rows starting with a `caliopen_…` name (`*`: a family). */
function documented(section: 'Instance' | 'Registry'): string[] {
  const doc = readFileSync(join(ROOT, 'docs/ops/metrics.md'), 'utf8');
  const start = doc.indexOf(`## ${section}`);
  assert.ok(start >= 0, `docs/ops/metrics.md has a "## ${section}" section`);
  const end = doc.indexOf('\n## ', start + 3);
  const body = doc.slice(start, end === -1 ? undefined : end);
  return [...body.matchAll(/^\| `(caliopen_[a-z0-9_]+\*?)`/gm)].map((m) => m[1]!);
}

/** The metric names of a Prometheus text exposition (its # TYPE lines). */
async function exposed(url: string): Promise<string[]> {
  const res = await fetch(`${url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  return [...text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) /gm)].map((m) => m[1]!);
}

/** Both lists agree: each exposed name is documented (by name or family), each documented name or family is exposed. */
function sameNames(docNames: string[], live: string[], where: string) {
  const families = docNames.filter((n) => n.endsWith('*')).map((n) => n.slice(0, -1));
  const names = new Set(docNames.filter((n) => !n.endsWith('*')));
  const undocumented = live.filter((n) => !names.has(n) && !families.some((f) => n.startsWith(f)));
  assert.deepEqual(undocumented, [], `${where}: exposed but not in docs/ops/metrics.md`);
  const missing = [...names].filter((n) => !live.includes(n));
  assert.deepEqual(missing, [], `${where}: documented but not exposed`);
  for (const f of families)
    assert.ok(
      live.some((n) => n.startsWith(f)),
      `${where}: no metric of the family ${f}*`,
    );
  assert.equal(new Set(docNames).size, docNames.length, `${where}: a name is documented twice`);
}

let registry: TestRegistry;
let instance: TestInstance;

beforeAll(async () => {
  registry = await startTestRegistry();
  const keys = (await registry.api('GET', '/v1/keys')).text;
  instance = await startTestInstance({
    env: {
      CALIOPEN_SMTP_ENABLED: 'true',
      CALIOPEN_SMTP_PORT: '0',
      CALIOPEN_FEDERATION_REGISTRY_URL: registry.url,
      CALIOPEN_FEDERATION_REGISTRY_KEYS: keys,
      // Spam filtering wired (its metrics exist from the start); nothing answers there: no mail is sent in this test.
      CALIOPEN_RSPAMD_URL: 'http://127.0.0.1:9',
    },
  });
}, 120_000);

afterAll(async () => {
  await instance?.stop();
  await registry?.stop();
});

test('the instance exposes exactly the metrics docs/ops/metrics.md documents', async () => {
  // One request first, so that the HTTP histogram has a series; the feed synced once, so that its age is a number.
  await instance.api('GET', '/healthz');
  await waitFor(async () => instance.running.services.federation?.status().lastSyncAt != null, 30_000, 100);
  sameNames(documented('Instance'), await exposed(instance.url), 'instance');
  const text = await (await fetch(`${instance.url}/metrics`)).text();
  const value = (name: string) =>
    Number(
      text
        .split('\n')
        .find((l) => l.startsWith(`${name} `))
        ?.split(' ')[1],
    );
  const identity = await instance.running.services.identity();
  assert.equal(value('caliopen_certificate_expiry_timestamp_seconds'), identity.tls.notAfter.getTime() / 1000);
  assert.ok(value('caliopen_federation_feed_age_seconds') >= 0, 'the feed was synced');
  assert.equal(value('caliopen_federation_label_expiry_timestamp_seconds'), 0, 'not labelled');
  assert.equal(value('caliopen_smtp_in_spool_oldest_age_seconds'), 0, 'nothing waits in the spool');
  assert.match(text, /^caliopen_delivery_queue_jobs\{queue="smtp-out",state="waiting"\} 0$/m);
});

test('the registry exposes exactly the metrics docs/ops/metrics.md documents', async () => {
  await registry.api('GET', '/v1/keys');
  sameNames(documented('Registry'), await exposed(registry.url), 'registry');
});
