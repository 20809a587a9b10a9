import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ErrorCode, Result } from './errors.ts';
import { jwkThumbprint, x25519PublicJwkFromPrivate } from './keys.ts';
import { decodeBase64Url } from './encoding.ts';
import {
  DEFAULT_PREKEY_GRACE_SECONDS,
  DEFAULT_PREKEY_OVERLAP_SECONDS,
  DEFAULT_PREKEY_WINDOW_SECONDS,
  MAX_PREKEY_WINDOW_SECONDS,
  PREKEY_JWS_TYPE,
  choosePrekey,
  generatePrekey,
  isExpired,
  planPrekeyRotation,
  signPrekey,
  verifyPrekey,
  verifyPrekeyList,
} from './prekeys.ts';
import type { Prekey } from './prekeys.ts';
import {
  alpha,
  beta,
  flipBase64UrlChar,
  prekeyFixture,
  seededRandom,
  signWithHeader,
} from './testing/federation-fixtures.ts';
import { DAY, T0 } from './testing/fixtures.ts';

const { prekey, privateKey } = prekeyFixture(beta.domain);
const options = { signingKeys: [beta.signingKey.publicJwk], expectedDomain: beta.domain, now: T0 + 3600 };

function assertCode(result: Result<unknown>, code: ErrorCode): void {
  assert.ok(!result.ok, `expected ${code}, got a valid result`);
  assert.equal(result.error.code, code, result.error.message);
}

describe('prekeys', () => {
  it('generates an X25519 prekey whose kid is its thumbprint and whose private half matches it', () => {
    assert.equal(prekey.kid, jwkThumbprint(prekey.publicJwk));
    assert.equal(prekey.notAfter - prekey.notBefore, DEFAULT_PREKEY_WINDOW_SECONDS);
    assert.deepEqual(x25519PublicJwkFromPrivate(decodeBase64Url(privateKey.privateJwk.d)!), prekey.publicJwk);
    assert.equal(privateKey.kid, prekey.kid);
    assert.equal('d' in prekey.publicJwk, false, 'the published part carries no private key');
    // Deterministic from the randomness, different for different randomness.
    assert.deepEqual(
      generatePrekey({ domain: beta.domain, notBefore: T0, randomBytes: seededRandom(`${beta.domain} prekey ${T0}`) })
        .prekey,
      prekey,
    );
    assert.notEqual(generatePrekey({ domain: beta.domain, notBefore: T0 }).prekey.kid, prekey.kid);
  });

  it('refuses to generate or sign what verifiers refuse', async () => {
    assert.throws(() => generatePrekey({ domain: 'not a domain', notBefore: T0 }), { code: 'prekey_malformed' });
    assert.throws(
      () => generatePrekey({ domain: beta.domain, notBefore: T0, windowSeconds: MAX_PREKEY_WINDOW_SECONDS + 1 }),
      { code: 'prekey_malformed' },
    );
    await assert.rejects(signPrekey({ ...prekey, kid: alpha.signingKey.kid }, beta.signingKey), {
      code: 'prekey_malformed',
    });
  });

  it('verifies a prekey signed by the instance, for its domain, inside its window', async () => {
    const jws = await signPrekey(prekey, beta.signingKey);
    const verified = await verifyPrekey(jws, options);
    assert.ok(verified.ok, verified.ok ? '' : verified.error.message);
    assert.deepEqual(verified.value, prekey);
  });

  it('refuses a prekey signed by another instance, for another domain, or outside its window', async () => {
    const jws = await signPrekey(prekey, beta.signingKey);
    assertCode(await verifyPrekey(await signPrekey(prekey, alpha.signingKey), options), 'prekey_bad_signature');
    assertCode(
      await verifyPrekey(jws, { ...options, signingKeys: [alpha.signingKey.publicJwk] }),
      'prekey_bad_signature',
    );
    assertCode(await verifyPrekey(jws, { ...options, expectedDomain: alpha.domain }), 'prekey_wrong_domain');
    assertCode(await verifyPrekey(jws, { ...options, now: prekey.notAfter }), 'prekey_expired');
    assertCode(await verifyPrekey(jws, { ...options, now: prekey.notBefore - 61 }), 'prekey_not_yet_valid');
    assert.ok((await verifyPrekey(jws, { ...options, now: prekey.notBefore - 60 })).ok, 'clock skew tolerated');
  });

  it('refuses malformed prekeys: other types, algorithms, header members, claims', async () => {
    const key = beta.signingKey;
    const header = { alg: 'EdDSA', kid: key.kid, typ: PREKEY_JWS_TYPE };
    const cases: [string, Promise<string> | string][] = [
      ['label type', signWithHeader({ ...header, typ: 'caliopen-label+jwt' }, prekey, key)],
      ['extra header member', signWithHeader({ ...header, jku: 'https://attacker.test/keys' }, prekey, key)],
      [
        'window too long',
        signWithHeader(header, { ...prekey, notAfter: prekey.notBefore + MAX_PREKEY_WINDOW_SECONDS + 1 }, key),
      ],
      ['empty window', signWithHeader(header, { ...prekey, notAfter: prekey.notBefore }, key)],
      ['private key published', signWithHeader(header, { ...prekey, publicJwk: privateKey.privateJwk }, key)],
      ['kid not the thumbprint', signWithHeader(header, { ...prekey, kid: key.kid }, key)],
      [
        'Ed25519 instead of X25519',
        signWithHeader(header, { ...prekey, publicJwk: { ...prekey.publicJwk, crv: 'Ed25519' } }, key),
      ],
      ['unknown member', signWithHeader(header, { ...prekey, extra: 1 }, key)],
      ['not a JWS', 'hello'],
      [
        'alg none',
        `${Buffer.from(JSON.stringify({ alg: 'none', kid: key.kid, typ: PREKEY_JWS_TYPE })).toString('base64url')}.${Buffer.from(JSON.stringify(prekey)).toString('base64url')}.`,
      ],
    ];
    for (const [name, jws] of cases) {
      const verdict = await verifyPrekey(await jws, options);
      assert.ok(!verdict.ok, `${name} is refused`);
      assertCode(verdict, 'prekey_malformed');
    }
    for (const value of [undefined, null, 42, {}, [], 'a'.repeat(5000)])
      assertCode(await verifyPrekey(value, options), 'prekey_malformed');
  });

  it('never accepts a prekey with one character changed, and never throws on random input', async () => {
    const jws = await signPrekey(prekey, beta.signingKey);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: jws.length - 1 }), async (index) => {
        const tampered = flipBase64UrlChar(jws, index);
        fc.pre(tampered !== jws);
        const result = await verifyPrekey(tampered, options);
        assert.ok(!result.ok, `accepted with character ${index} changed`);
      }),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.stringMatching(/^[A-Za-z0-9_-]{1,60}\.[A-Za-z0-9_-]{0,60}\.[A-Za-z0-9_-]{1,90}$/),
          fc.jsonValue(),
        ),
        async (input) => {
          const result = await verifyPrekey(input, options);
          assert.ok(!result.ok);
          assert.match(result.error.code, /^prekey_/);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('verifies a prekey list: drops prekeys outside their window, fails on a forged one', async () => {
    const old = prekeyFixture(beta.domain, T0 - DAY);
    const list = {
      prekeys: [await signPrekey(old.prekey, beta.signingKey), await signPrekey(prekey, beta.signingKey)],
    };
    const verified = await verifyPrekeyList(list, { ...options, now: T0 + 3600 });
    assert.ok(verified.ok);
    assert.deepEqual(
      verified.value.map((p) => p.kid),
      [prekey.kid],
    );
    assertCode(await verifyPrekeyList(list, { ...options, now: T0 + 2 * DAY }), 'prekey_expired');
    assertCode(
      await verifyPrekeyList({ prekeys: [...list.prekeys, await signPrekey(prekey, alpha.signingKey)] }, options),
      'prekey_bad_signature',
    );
    assertCode(await verifyPrekeyList({ prekeys: [] }, options), 'prekey_malformed');
    assertCode(await verifyPrekeyList({ prekeys: Array(17).fill(list.prekeys[1]) }, options), 'prekey_malformed');
    assertCode(await verifyPrekeyList({ prekeys: list.prekeys, more: 1 }, options), 'prekey_malformed');
    assertCode(await verifyPrekeyList(list.prekeys, options), 'prekey_malformed');
  });

  it('chooses the newest prekey with enough time left', () => {
    const window = (notBefore: number, notAfter: number, kid: string) => ({ kid, notBefore, notAfter });
    const prekeys = [
      window(T0, T0 + DAY, 'a'),
      window(T0 + 18 * 3600, T0 + 42 * 3600, 'b'),
      window(T0 + 2 * DAY, T0 + 3 * DAY, 'future'),
    ];
    assert.equal(choosePrekey(prekeys, T0 + 3600)?.kid, 'a');
    assert.equal(choosePrekey(prekeys, T0 + 18 * 3600)?.kid, 'b', 'moves to the successor as soon as it starts');
    assert.equal(choosePrekey([prekeys[0]!], T0 + DAY - 299), undefined, 'not with less than 5 minutes left');
    assert.equal(choosePrekey([prekeys[0]!], T0 + DAY - 300)?.kid, 'a');
    assert.equal(choosePrekey([], T0), undefined);
  });

  it('says when a private half must be gone', () => {
    assert.equal(isExpired(prekey, prekey.notAfter + DEFAULT_PREKEY_GRACE_SECONDS - 1), false);
    assert.equal(isExpired(prekey, prekey.notAfter + DEFAULT_PREKEY_GRACE_SECONDS), true);
    assert.equal(isExpired(prekey, prekey.notAfter, 0), true);
  });

  it('plans a rotation that always offers a prekey and deletes private halves after the grace period', () => {
    const held: Pick<Prekey, 'kid' | 'notBefore' | 'notAfter'>[] = [];
    let generated = 0;
    for (let now = T0; now < T0 + 10 * DAY; now += 600) {
      const plan = planPrekeyRotation(held, now);
      if (plan.generate) held.push({ kid: `k${generated++}`, ...plan.generate });
      for (const kid of plan.delete)
        held.splice(
          held.findIndex((p) => p.kid === kid),
          1,
        );
      const after = planPrekeyRotation(held, now);
      assert.equal(after.generate, null, 'one generation per step suffices');
      const published = held.filter((p) => after.publish.includes(p.kid));
      const chosen = choosePrekey(published, now);
      assert.ok(chosen, `a sender finds a prekey at ${now - T0}`);
      assert.ok(chosen.notAfter - now > DEFAULT_PREKEY_OVERLAP_SECONDS - 600, 'the chosen prekey has hours left');
      assert.ok(published.length <= 2, 'at most two prekeys published');
      for (const p of held)
        assert.ok(now < p.notAfter + DEFAULT_PREKEY_GRACE_SECONDS, 'nothing kept past the grace period');
    }
    // One new prekey every window minus overlap.
    assert.equal(generated, Math.ceil((10 * DAY) / (DEFAULT_PREKEY_WINDOW_SECONDS - DEFAULT_PREKEY_OVERLAP_SECONDS)));
    assert.throws(() => planPrekeyRotation([], T0, { windowSeconds: 3600, overlapSeconds: 3600 }), RangeError);
  });
});
