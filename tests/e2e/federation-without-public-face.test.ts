/**
 * Sending over the federation does not depend on the public HTTPS face (issue 11): alpha.test runs with
 * `https.enabled = false` — no listener for peers — and still routes mail for a labelled peer over the federation,
 * sealed and signed with its identity, delivered once to beta.test (which does run its public face, to receive it).
 * The peer directory is the stand-in of tests/support/federation.ts.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { loadInstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { waitFor } from '../support/net.ts';
import { StandInDirectory } from '../support/federation.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';

describe('federation without the public face', () => {
  let a: TestInstance;
  let b: TestInstance;
  const directory = new StandInDirectory();

  beforeAll(async () => {
    a = await startTestInstance({ domain: 'alpha.test', env: { CALIOPEN_HTTPS_ENABLED: 'false' } });
    b = await startTestInstance({ domain: 'beta.test' });
    assert.equal(a.running.publicUrl, null, 'alpha has no public face');
    // Alpha is listed with an endpoint nobody needs to reach in this test (it only sends).
    directory.add(await loadInstanceIdentity(a.dataDir, a.running.services.box), 'https://127.0.0.1:9');
    directory.add(await loadInstanceIdentity(b.dataDir, b.running.services.box), b.running.publicUrl!);
    for (const inst of [a, b]) (inst.running.services as { federation?: unknown }).federation = directory;
  });
  afterAll(async () => {
    await a?.stop();
    await b?.stop();
  });

  test('alice@alpha.test (no public face) sends to bob@beta.test: routed over the federation, delivered once', async () => {
    const alice = await a.user('alice');
    const bob = await b.user('bob');
    const preview = await a.api('GET', '/api/v1/routes?to=bob%40beta.test', { token: alice.token });
    assert.equal(preview.status, 200, preview.text);
    assert.equal(preview.body.chosen, 'federation', preview.text);
    const sent = await a.api('POST', '/api/v1/messages', {
      token: alice.token,
      body: { to: [{ address: 'bob@beta.test' }], subject: 'no public face here', text: 'sealed all the same' },
    });
    assert.equal(sent.status, 202, sent.text);
    assert.deepEqual(
      sent.body.recipients.map((r: { route: string }) => r.route),
      ['federation'],
    );
    const inbox = async () => {
      const d = await b.api('GET', '/api/v1/discussions?limit=50', { token: bob.token });
      const out: { subject: string }[] = [];
      for (const c of d.body.items) {
        const m = await b.api('GET', `/api/v1/discussions/${c.id}/messages?limit=50`, { token: bob.token });
        out.push(...m.body.items);
      }
      return out.filter((m) => m.subject === 'no public face here');
    };
    await waitFor(async () => (await inbox()).length > 0, 20_000);
    assert.equal((await inbox()).length, 1);
  });
});
