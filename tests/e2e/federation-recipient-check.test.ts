/**
 * The recipient check (SPEC.md §12.1; issue 12, "an unknown user at a member instance is refused before sending"):
 * alpha.test and beta.test in this process with their public HTTPS faces and a stand-in peer directory
 * (tests/support/federation.ts).
 * - beta answers alpha's signed GET /federation/v1/recipients/:local with 204 for bob, 404 recipient_unknown for no
 *   such user and for every hostile local part; nothing in the answer but the status and the code.
 * - Callers that are not labelled peers get the §6 codes (no signature, another instance, another path, an unknown
 *   key, an unlabelled asker) and learn nothing.
 * - alpha's route preview (GET /api/v1/routes) and compose (POST /api/v1/messages) ask it: nobody@beta.test is refused
 *   with problem+json recipient_unknown, and nothing is stored or queued; bob@beta.test is not. When beta cannot say
 *   (its label lapsed: the federation is closed), nothing is refused on that ground.
 * - Beta rate-limits the check per peer: a burst beyond the allowance gets 429 peer_rate_limited with Retry-After.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  REQUEST_SIGNATURE_HEADER,
  generateEd25519KeyPair,
  recipientCheckPath,
  signRequest,
  type Ed25519KeyPair,
} from '@caliopen/federation-protocol';
import {
  closePeerConnections,
  peerRequest,
  type PeerResponse,
} from '@caliopen/instance/federation/federation.client.ts';
import { signingKeyOf } from '@caliopen/instance/federation/prekey.store.ts';
import type { InstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { ok } from '../support/api-client.ts';
import { type FederatedPair, startFederatedPair } from '../support/federated-pair.ts';
import { StandInDirectory } from '../support/federation.ts';
import type { TestInstance } from '../support/instance.ts';

describe('the recipient check between member instances', () => {
  let pair: FederatedPair;
  let a: TestInstance;
  let b: TestInstance;
  let alphaId: InstanceIdentity;
  let betaId: InstanceIdentity;
  let betaUrl: string;
  const directory = new StandInDirectory();
  let alice: { id: string; token: string };
  const nowSeconds = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    const services = { keyDiscovery: { wkd: false as const, dns: false as const } };
    pair = await startFederatedPair(directory, { alpha: { services }, beta: { services } });
    ({ alpha: a, beta: b, alphaId, betaId, betaUrl } = pair);
    alice = await a.user('alice');
    await b.user('bob');
  });
  afterAll(async () => {
    await pair?.stop();
  });

  async function askBeta(
    path: string,
    o: { sign?: boolean; signer?: Ed25519KeyPair; destination?: string; signedPath?: string } = {},
  ): Promise<PeerResponse> {
    const headers: Record<string, string> = {};
    if (o.sign !== false) {
      headers[REQUEST_SIGNATURE_HEADER] = await signRequest(
        {
          instance: 'alpha.test',
          method: 'GET',
          path: o.signedPath ?? path,
          destination: o.destination ?? 'beta.test',
          created: nowSeconds(),
        },
        o.signer ?? signingKeyOf(alphaId),
      );
    }
    return peerRequest({
      url: `${betaUrl}${path}`,
      method: 'GET',
      headers,
      pinSha256: betaId.tls.fingerprintSha256,
      clientCert: { certPem: alphaId.tls.certPem, keyPem: alphaId.tls.keyPem },
    });
  }
  const codeOf = (r: PeerResponse) => (JSON.parse(r.body.toString('utf8')) as { code: string }).code;

  test('beta answers 204 for bob and 404 recipient_unknown for no such user, with nothing more', async () => {
    const yes = await askBeta(recipientCheckPath('bob'));
    assert.equal(yes.status, 204, yes.body.toString());
    assert.equal(yes.body.length, 0);
    const no = await askBeta(recipientCheckPath('nobody'));
    assert.equal(no.status, 404);
    assert.match(no.contentType, /application\/problem\+json/);
    const problem = JSON.parse(no.body.toString('utf8'));
    assert.equal(problem.code, 'recipient_unknown');
    assert.deepEqual(Object.keys(problem).sort(), ['code', 'status', 'title', 'type'], 'yes or no, nothing else');
    assert.ok(!no.body.toString().includes('nobody'), 'the answer does not echo the address');
  });

  test('hostile local parts: recipient_unknown, never a match, a list or an error page', async () => {
    for (const local of [
      '',
      '*',
      'b*',
      'bob/..',
      '../keys/bob',
      'bob%00',
      'BOB\u0000',
      'bob@beta.test',
      'a'.repeat(90),
      'bo b',
      'bob\r\nx',
    ]) {
      const r = await askBeta(`/federation/v1/recipients/${encodeURIComponent(local)}`);
      if (local === '') {
        assert.ok(r.status === 404, `empty: ${r.status}`);
        continue;
      }
      assert.deepEqual([r.status, codeOf(r)], [404, 'recipient_unknown'], JSON.stringify(local));
    }
    // Local parts are matched as accounts are (case-insensitive usernames): BOB is bob.
    assert.equal((await askBeta(recipientCheckPath('BOB'))).status, 204);
    const long = await askBeta(`/federation/v1/recipients/${'a'.repeat(300)}`);
    assert.equal(long.status, 414, 'longer than the router takes: refused before the route');
  });

  test('only a labelled peer may ask: the §6 codes for everyone else', async () => {
    const path = recipientCheckPath('bob');
    let r = await askBeta(path, { sign: false });
    assert.deepEqual([r.status, codeOf(r)], [401, 'request_signature_missing']);
    r = await askBeta(path, { destination: 'gamma.test' });
    assert.deepEqual([r.status, codeOf(r)], [401, 'request_signature_wrong_destination']);
    r = await askBeta(path, { signer: await generateEd25519KeyPair() });
    assert.deepEqual([r.status, codeOf(r)], [401, 'request_signature_bad']);
    r = await askBeta(path, { signedPath: recipientCheckPath('carol') });
    assert.deepEqual([r.status, codeOf(r)], [401, 'request_signature_bad'], 'a signature asks about one user only');
    directory.setLabel('alpha.test', false);
    try {
      r = await askBeta(path);
      assert.deepEqual([r.status, codeOf(r)], [403, 'peer_not_labelled']);
    } finally {
      directory.setLabel('alpha.test', true);
    }
  });

  test('alpha’s route preview refuses nobody@beta.test with problem+json recipient_unknown; bob is previewed', async () => {
    const refused = await a.api('GET', `/api/v1/routes?to=${encodeURIComponent('nobody@beta.test')}`, {
      token: alice.token,
    });
    assert.equal(refused.status, 404, refused.text);
    assert.match(refused.headers.get('content-type') ?? '', /application\/problem\+json/);
    assert.equal(refused.body.code, 'recipient_unknown');
    assert.match(refused.body.detail, /beta\.test says it has no user nobody@beta\.test/);
    const bob = ok(
      await a.api('GET', `/api/v1/routes?to=${encodeURIComponent('bob@beta.test')}`, { token: alice.token }),
    );
    assert.equal(bob.chosen, 'federation');
  });

  test('alpha’s compose refuses nobody@beta.test before sending: nothing stored, nothing queued', async () => {
    const before = ok(await a.api('GET', '/api/v1/discussions', { token: alice.token })).items.length;
    const refused = await a.api('POST', '/api/v1/messages', {
      token: alice.token,
      body: {
        to: [{ address: 'bob@beta.test' }, { address: 'nobody@beta.test' }],
        subject: 'to nobody',
        text: 'never sent',
        encryption: 'none',
      },
    });
    assert.equal(refused.status, 404, refused.text);
    assert.equal(refused.body.code, 'recipient_unknown');
    assert.match(refused.body.detail, /to\[1\]: beta\.test says it has no user nobody@beta\.test; nothing was sent/);
    assert.equal(ok(await a.api('GET', '/api/v1/discussions', { token: alice.token })).items.length, before);
    const sent = ok(
      await a.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: { to: [{ address: 'bob@beta.test' }], subject: 'to bob', text: 'sent', encryption: 'none' },
      }),
      202,
    );
    assert.deepEqual(
      sent.recipients.map((r: any) => r.route),
      ['federation'],
    );
  });

  test('when beta cannot be asked (its label lapsed: no federation), the check refuses nothing', async () => {
    directory.setLabel('beta.test', false);
    try {
      const r = await a.api('GET', `/api/v1/routes?to=${encodeURIComponent('someone-else@beta.test')}`, {
        token: alice.token,
      });
      assert.equal(r.status, 200, r.text);
      assert.notEqual(r.body.chosen, 'federation');
    } finally {
      directory.setLabel('beta.test', true);
    }
  });

  test('beta rate-limits the check per peer: 429 peer_rate_limited with Retry-After beyond the burst', async () => {
    // Fresh connections: alpha's delivery worker (same process, same connection pool) may hold one being closed.
    closePeerConnections();
    // One after the other (the burst is 30, refilled at 1 a second): quicker than the allowance refills.
    const answers: PeerResponse[] = [];
    for (let i = 0; i < 60; i++) answers.push(await askBeta(recipientCheckPath(`probe${i}`)));
    const limited = answers.filter((r) => r.status === 429);
    assert.ok(limited.length > 0, `statuses: ${answers.map((r) => r.status).join(',')}`);
    for (const r of limited) {
      assert.equal(codeOf(r), 'peer_rate_limited');
      assert.match(r.retryAfter ?? '', /^[1-9]\d*$/);
    }
    for (const r of answers.filter((x) => x.status !== 429)) assert.equal(codeOf(r), 'recipient_unknown');
    // Alpha's own users' previews of unknown peers' users keep working: a 429 from beta refuses nothing. Beta refills
    // one check a second, so on a loaded machine it may have one again by the time alpha asks, and then truthfully
    // answers "no such user" (404). Then the allowance is drained again and alpha asked again, a few times at most,
    // each time of another user (alpha keeps a "no such user" answer for a minute).
    const preview = (n: number) =>
      a.api('GET', `/api/v1/routes?to=${encodeURIComponent(`other${n}@beta.test`)}`, { token: alice.token });
    let r = await preview(0);
    for (let attempt = 0; attempt < 5 && r.status === 404 && r.body?.code === 'recipient_unknown'; attempt++) {
      assert.match(r.body.detail, new RegExp(`beta\\.test says it has no user other${attempt}@beta\\.test`), r.text);
      let drained = false;
      for (let i = 0; i < 60 && !drained; i++)
        drained = (await askBeta(recipientCheckPath(`drain${i}`))).status === 429;
      assert.ok(drained, 'beta never refused a check while being drained');
      r = await preview(attempt + 1);
    }
    assert.equal(r.status, 200, `a 429 from beta refuses nothing: ${r.text}`);
  });
});
