/**
 * The federated key directory and trust sharing between two instances in this process (issue 7, item 3: "Content end
 * to end", "Trust sharing"; SPEC.md §12, §13), every piece real on loopback: alpha.test and beta.test with their
 * public HTTPS faces, and a stand-in peer directory listing both (tests/support/federation.ts).
 * - bob@beta.test has a key: alpha's route preview for bob finds it through beta's key directory, filed for alice with
 *   source 'federation' (before WKD, which is off here, and DNS).
 * - Trust sharing is off by default: beta answers trust_not_shared and alice's contact for bob shows the federation
 *   route and beta's instance PI but no `federation.account_pi`; bob turns it on: the contact shows his account PI as
 *   beta signs it; bob turns it off: refused again and, once alpha's cache has expired, the factor is gone.
 * - Hostile callers, each with its stable code: no request signature, a signature for another instance, an
 *   unlabelled instance, no client certificate; unknown user, user without key, malformed local part.
 * - Content end to end: dave@beta.test's key is known to alpha only through beta's key directory; alice writes to him
 *   through alpha's API (encryption required): compose finds the key at send time, the message travels over the
 *   federation PGP/MIME-encrypted to dave's key (checked on beta's stored raw), dave reads it decrypted and its PI
 *   counts E2E.
 * Both instances run on clocks the test moves forward together (past alpha's trust cache), never asserting times.
 */
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  REQUEST_SIGNATURE_HEADER,
  keyDirectoryPath,
  signRequest,
  trustPath,
  verifyKeyDirectoryEntry,
  verifyTrustStatement,
  type Ed25519KeyPair,
} from '@caliopen/federation-protocol';
import { peerRequest, type PeerResponse } from '@caliopen/instance/federation/federation.client.ts';
import { signingKeyOf } from '@caliopen/instance/federation/prekey.store.ts';
import type { InstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { generateEd25519KeyPair } from '@caliopen/federation-protocol';
import { ok } from '../support/api-client.ts';
import { type FederatedPair, startFederatedPair } from '../support/federated-pair.ts';
import { STAND_IN_INSTANCE_PI, StandInDirectory } from '../support/federation.ts';
import type { TestInstance } from '../support/instance.ts';
import { waitFor } from '../support/net.ts';

const factorIds = (pi: { factors: { id: string }[] }) => pi.factors.map((f) => f.id);

describe('federated key directory and trust sharing', () => {
  let pair: FederatedPair;
  let a: TestInstance;
  let b: TestInstance;
  let alphaId: InstanceIdentity;
  let betaId: InstanceIdentity;
  let betaUrl: string;
  const directory = new StandInDirectory();
  /** Both instances' clocks run this far ahead of the real one. */
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  const nowSeconds = () => Math.floor(clock().getTime() / 1000);
  let alice: { id: string; token: string };
  let bob: { id: string; token: string; password: string };
  let bobFingerprint: string;
  let bobContactAtAlpha: string;

  beforeAll(async () => {
    // WKD off and DNS lookups off: a key found can only come from the federation.
    const services = { keyDiscovery: { wkd: false as const, dns: false as const } };
    pair = await startFederatedPair(directory, { alpha: { clock, services }, beta: { clock, services } });
    ({ alpha: a, beta: b, alphaId, betaId, betaUrl } = pair);
    alice = await a.user('alice');
    bob = await b.user('bob');
    await b.user('carol'); // no key
    bobFingerprint = ok(
      await b.api('POST', '/api/v1/keys', { token: bob.token, body: { mode: 'server', password: bob.password } }),
      201,
    ).key.fingerprint.toLowerCase();
    bobContactAtAlpha = ok(
      await a.api('POST', '/api/v1/contacts', {
        token: alice.token,
        body: { displayName: 'Bob', identities: [{ address: 'bob@beta.test' }] },
      }),
      201,
    ).id;
  });
  afterAll(async () => {
    await pair?.stop();
  });

  /** A GET to beta's public face as alpha would send it (signed by `signer`, alpha's certificate), or as told. */
  async function askBeta(
    path: string,
    o: { sign?: boolean; signer?: Ed25519KeyPair; destination?: string } = {},
  ): Promise<PeerResponse> {
    const headers: Record<string, string> = { accept: 'application/jose' };
    if (o.sign !== false) {
      headers[REQUEST_SIGNATURE_HEADER] = await signRequest(
        {
          instance: 'alpha.test',
          method: 'GET',
          path,
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

  async function contactPi(): Promise<string[]> {
    return factorIds(ok(await a.api('GET', `/api/v1/contacts/${bobContactAtAlpha}`, { token: alice.token })).pi);
  }

  test("beta's key directory serves bob's key, signed for the asker to verify", async () => {
    const r = await askBeta(keyDirectoryPath('bob'));
    assert.equal(r.status, 200, r.body.toString());
    assert.match(r.contentType, /application\/jose/);
    const entry = await verifyKeyDirectoryEntry(r.body.toString('utf8'), {
      signingKeys: [betaId.signing.publicJwk as never],
      expectedDomain: 'beta.test',
      expectedLocal: 'bob',
      now: nowSeconds(),
    });
    assert.ok(entry.ok, JSON.stringify(!entry.ok && entry.error));
    assert.equal(entry.value.fingerprint, bobFingerprint);
  });

  test("alpha's route preview finds bob's key through the federation, filed with source 'federation'", async () => {
    const preview = ok(
      await a.api('GET', `/api/v1/routes?to=${encodeURIComponent('bob@beta.test')}`, { token: alice.token }),
    );
    const keyed = preview.routes.filter((r: any) => r.key !== null);
    assert.ok(keyed.length > 0, JSON.stringify(preview.routes));
    for (const r of keyed) {
      assert.equal(r.key.source, 'federation');
      assert.equal(r.key.fingerprint.toLowerCase(), bobFingerprint);
    }
    const keys = ok(await a.api('GET', `/api/v1/contacts/${bobContactAtAlpha}/keys`, { token: alice.token }));
    const items = keys.items ?? keys;
    assert.ok(
      items.some((k: any) => k.fingerprint.toLowerCase() === bobFingerprint && k.source === 'federation'),
      JSON.stringify(items),
    );
  });

  test('key directory: unknown user, user without key, hostile local part -> key_not_found', async () => {
    for (const local of ['nobody', 'carol', 'a'.repeat(90), 'bob/..', 'bob%00', 'BOB\u0000']) {
      const r = await askBeta(`/federation/v1/keys/${encodeURIComponent(local)}`);
      assert.equal(r.status, 404, local);
      assert.equal(codeOf(r), 'key_not_found', local);
    }
    // Longer than the router takes a path parameter: refused before the route (414), never a key.
    const long = await askBeta(`/federation/v1/keys/${'a'.repeat(300)}`);
    assert.equal(long.status, 414);
  });

  test('trust sharing is off by default: trust_not_shared, and no account_pi factor on the contact', async () => {
    ok(await b.api('GET', '/api/v1/privacy/sharing', { token: bob.token }));
    assert.deepEqual(ok(await b.api('GET', '/api/v1/privacy/sharing', { token: bob.token })), { shareTrust: false });
    const r = await askBeta(trustPath('bob'));
    assert.equal(r.status, 404);
    assert.equal(codeOf(r), 'trust_not_shared');
    const ids = await contactPi();
    assert.ok(ids.includes('route.federation'), ids.join());
    assert.ok(ids.includes('federation.instance_pi'), ids.join());
    assert.ok(!ids.includes('federation.account_pi'), ids.join());
  });

  test('bob allows it: the contact at alpha shows his account PI as beta signs it', async () => {
    assert.equal(
      ok(await b.api('PUT', '/api/v1/privacy/sharing', { token: bob.token, body: { shareTrust: 'yes' } }), 400)?.code,
      'validation_failed',
    );
    assert.deepEqual(
      ok(await b.api('PUT', '/api/v1/privacy/sharing', { token: bob.token, body: { shareTrust: true } })),
      { shareTrust: true },
    );
    const bobPi = ok(await b.api('GET', '/api/v1/privacy', { token: bob.token })).account.score as number;
    const r = await askBeta(trustPath('bob'));
    assert.equal(r.status, 200, r.body.toString());
    const statement = await verifyTrustStatement(r.body.toString('utf8'), {
      signingKeys: [betaId.signing.publicJwk as never],
      expectedDomain: 'beta.test',
      expectedLocal: 'bob',
      now: nowSeconds(),
    });
    assert.ok(statement.ok);
    assert.equal(statement.value.pi.score, bobPi);
    assert.deepEqual(
      Object.keys(
        JSON.parse(Buffer.from(r.body.toString('utf8').split('.')[1]!, 'base64url').toString('utf8')).pi,
      ).sort(),
      ['level', 'modelVersion', 'score'],
    );
    // Past alpha's cache of the earlier absence.
    offsetMs += 6 * 60_000;
    const contact = ok(await a.api('GET', `/api/v1/contacts/${bobContactAtAlpha}`, { token: alice.token }));
    const factor = contact.pi.factors.find((f: any) => f.id === 'federation.account_pi');
    assert.ok(factor, factorIds(contact.pi).join());
    assert.match(factor.evidence, new RegExp(`is ${bobPi}\\b`));
    assert.match(
      contact.pi.factors.find((f: any) => f.id === 'federation.instance_pi').evidence,
      new RegExp(`${STAND_IN_INSTANCE_PI}`),
    );
  });

  test('bob disallows it: refused again, and the factor is gone once alpha no longer holds the answer', async () => {
    assert.deepEqual(
      ok(await b.api('PUT', '/api/v1/privacy/sharing', { token: bob.token, body: { shareTrust: false } })),
      { shareTrust: false },
    );
    const r = await askBeta(trustPath('bob'));
    assert.equal(r.status, 404);
    assert.equal(codeOf(r), 'trust_not_shared');
    offsetMs += 11 * 60_000;
    assert.ok(!(await contactPi()).includes('federation.account_pi'));
  });

  test('unauthenticated, wrongly signed and unlabelled callers are refused with stable codes', async () => {
    ok(await b.api('PUT', '/api/v1/privacy/sharing', { token: bob.token, body: { shareTrust: true } }));
    for (const path of [keyDirectoryPath('bob'), trustPath('bob')]) {
      let r = await askBeta(path, { sign: false });
      assert.deepEqual([r.status, codeOf(r)], [401, 'request_signature_missing'], path);
      r = await askBeta(path, { destination: 'gamma.test' });
      assert.deepEqual([r.status, codeOf(r)], [401, 'request_signature_wrong_destination'], path);
      r = await askBeta(path, { signer: await generateEd25519KeyPair() });
      assert.deepEqual([r.status, codeOf(r)], [401, 'request_signature_bad'], path);
      // A signature for another path.
      const other = await signRequest(
        {
          instance: 'alpha.test',
          method: 'GET',
          path: keyDirectoryPath('carol'),
          destination: 'beta.test',
          created: nowSeconds(),
        },
        signingKeyOf(alphaId),
      );
      r = await peerRequest({
        url: `${betaUrl}${path}`,
        method: 'GET',
        headers: { [REQUEST_SIGNATURE_HEADER]: other },
        pinSha256: betaId.tls.fingerprintSha256,
        clientCert: { certPem: alphaId.tls.certPem, keyPem: alphaId.tls.keyPem },
      });
      assert.deepEqual([r.status, codeOf(r)], [401, 'request_signature_bad'], path);
      // Signed properly, but without alpha's client certificate.
      const signature = await signRequest(
        { instance: 'alpha.test', method: 'GET', path, destination: 'beta.test', created: nowSeconds() },
        signingKeyOf(alphaId),
      );
      const bare = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpsRequest(
          `${betaUrl}${path}`,
          { method: 'GET', rejectUnauthorized: false, headers: { [REQUEST_SIGNATURE_HEADER]: signature } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.deepEqual([bare.status, JSON.parse(bare.body).code], [403, 'peer_certificate_mismatch'], path);
      // alpha's label lapses.
      directory.setLabel('alpha.test', false);
      try {
        r = await askBeta(path);
        assert.deepEqual([r.status, codeOf(r)], [403, 'peer_not_labelled'], path);
      } finally {
        directory.setLabel('alpha.test', true);
      }
    }
    // Nothing in these answers carries bob's key or PI.
    const r = await askBeta(trustPath('bob'), { sign: false });
    assert.ok(!r.body.toString().includes('eyJ'));
  });

  test('the sharing preference is per account and needs a session', async () => {
    assert.equal((await b.api('GET', '/api/v1/privacy/sharing')).status, 401);
    assert.equal((await b.api('PUT', '/api/v1/privacy/sharing', { body: { shareTrust: true } })).status, 401);
    const carol = await b.user('carol2');
    assert.deepEqual(ok(await b.api('GET', '/api/v1/privacy/sharing', { token: carol.token })), { shareTrust: false });
  });
  test("content end to end: alice writes to dave, whose key alpha learns at send time from beta's key directory only", async () => {
    const dave = await b.user('dave');
    const daveKey = ok(
      await b.api('POST', '/api/v1/keys', { token: dave.token, body: { mode: 'server', password: dave.password } }),
      201,
    ).key;
    const davePublic = await openpgp.readKey({
      binaryKey: (await b.running.services.storage.accountKeys.get(dave.id, daveKey.fingerprint))!.publicKey,
    });
    const daveEncryptionKeyId = (await davePublic.getEncryptionKey(undefined, clock())).getKeyID().toHex();
    ok(
      await a.api('POST', '/api/v1/keys', {
        token: alice.token,
        body: { mode: 'server', password: `pw-alice-0123456789` },
      }),
      201,
    );
    // Nothing at alpha knows dave's key yet (no preview, no contact, no mail from him: no Autocrypt), and WKD and DNS
    // lookups are off: only beta's key directory can give it.
    assert.deepEqual(await a.running.services.storage.keys.listByAddress(alice.id, 'dave@beta.test'), []);

    const marker = `plaintext-marker-${Math.random().toString(36).slice(2)}`;
    const sent = ok(
      await a.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: {
          to: [{ address: 'dave@beta.test' }],
          subject: 'through the key directory',
          text: `for dave only: ${marker}`,
          encryption: 'require',
        },
      }),
      202,
    );
    assert.equal(sent.encrypted, true);
    assert.deepEqual(
      sent.recipients.map((r: any) => [r.address, r.route, r.encrypted]),
      [['dave@beta.test', 'federation', true]],
    );
    const filed = await a.running.services.storage.keys.listByAddress(alice.id, 'dave@beta.test');
    assert.deepEqual(
      filed.map((k) => [k.fingerprint.toLowerCase(), k.source]),
      [[daveKey.fingerprint.toLowerCase(), 'federation']],
    );

    let got: any = null;
    await waitFor(async () => {
      for (const d of ok(await b.api('GET', '/api/v1/discussions?limit=200', { token: dave.token })).items) {
        got =
          ok(await b.api('GET', `/api/v1/discussions/${d.id}/messages?limit=200`, { token: dave.token })).items.find(
            (m: any) => m.direction === 'inbound' && m.subject === 'through the key directory',
          ) ?? got;
      }
      return got !== null;
    }, 20_000);
    // On beta's disk: PGP/MIME, encrypted to dave's key, the plaintext nowhere.
    const stored = await b.running.services.storage.messages.get(dave.id, got.id);
    const raw = (await b.running.services.blobs.get(stored!.rawRef!))!;
    const head = raw.subarray(0, raw.indexOf('\r\n\r\n')).toString('latin1');
    assert.match(head, /^content-type:[ \t]*multipart\/encrypted;[\s\S]*application\/pgp-encrypted/im);
    assert.ok(!raw.includes(marker), 'the plaintext marker is not in the raw message');
    const armored = /-----BEGIN PGP MESSAGE-----[\s\S]*?-----END PGP MESSAGE-----/.exec(raw.toString('latin1'));
    assert.ok(armored, 'an armored OpenPGP message');
    const encryptedTo = (await openpgp.readMessage({ armoredMessage: armored[0] }))
      .getEncryptionKeyIDs()
      .map((k) => k.toHex());
    assert.ok(
      encryptedTo.includes(daveEncryptionKeyId),
      `encrypted to dave's key ${daveEncryptionKeyId}: ${encryptedTo.join()}`,
    );

    // Dave reads it (server-side key mode), delivered over the federation, and its PI counts E2E.
    const detail = ok(await b.api('GET', `/api/v1/messages/${got.id}`, { token: dave.token }));
    assert.equal(detail.facts.transport.via, 'federation');
    assert.equal(detail.facts.openpgp.encrypted, true);
    assert.equal(detail.facts.openpgp.decrypted, true);
    assert.match(detail.body.text, new RegExp(`for dave only: ${marker}`));
    const factors = new Map<string, number>(detail.pi.factors.map((f: any) => [f.id, f.contribution]));
    assert.ok((factors.get('e2e.openpgp') ?? 0) > 0, factorIds(detail.pi).join());
    assert.ok((factors.get('federation.sealed') ?? 0) > 0, factorIds(detail.pi).join());
    console.log(
      `# dave's PI for alice's message, key from the federated directory: ${detail.pi.score} (${detail.pi.factors.map((f: any) => `${f.id}=${f.contribution}`).join(', ')})`,
    );
  });
});
