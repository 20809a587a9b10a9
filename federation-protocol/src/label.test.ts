import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { CompactSign } from 'jose';
import fc from 'fast-check';
import { canonicalJsonBytes } from './canonical-json.ts';
import { decodeBase64Url, encodeBase64Url } from './encoding.ts';
import type { ErrorCode, Result } from './errors.ts';
import { privateCryptoKey } from './keys.ts';
import { LABEL_JWS_TYPE, MAX_LABEL_LIFETIME_SECONDS, issueLabel, verifyLabel } from './label.ts';
import type { LabelClaims } from './label.ts';
import { CHECKPOINT_JWS_TYPE, signCheckpoint } from './checkpoint.ts';
import {
  DAY,
  LOG_ORIGIN,
  REGISTRY,
  T0,
  instanceFixture,
  keySet,
  labelFor,
  registryKey,
  retiredRegistryKey,
  strangerKey,
} from './testing/fixtures.ts';

const alpha = instanceFixture('alpha.caliopen.test');
const options = { keySet, expectedDomain: alpha.domain, now: T0 + DAY };

function assertCode(result: Result<unknown>, code: ErrorCode): void {
  assert.ok(!result.ok, `expected ${code}, got a valid result`);
  assert.equal(result.error.code, code, result.error.message);
}

/** A JWS over arbitrary claims with the label header, signed by the registry key: tests the claims checks. */
async function signRawLabel(claims: unknown, typ = LABEL_JWS_TYPE): Promise<string> {
  return new CompactSign(canonicalJsonBytes(claims))
    .setProtectedHeader({ alg: 'EdDSA', kid: registryKey.kid, typ })
    .sign(await privateCryptoKey(registryKey));
}

function tamperSignature(jws: string): string {
  const [header, payload, signature] = jws.split('.') as [string, string, string];
  const bytes = decodeBase64Url(signature)!;
  bytes[10]! ^= 0x01;
  return `${header}.${payload}.${encodeBase64Url(bytes)}`;
}

describe('labels', () => {
  it('issues a label that verifies and returns its claims', async () => {
    const { jws, claims } = await labelFor(alpha, { issuedAt: T0 });
    const verified = await verifyLabel(jws, options);
    assert.ok(verified.ok, verified.ok ? '' : verified.error.message);
    assert.deepEqual(verified.value, claims);
    const expected: LabelClaims = {
      id: `label-alpha.caliopen.test-${T0}`,
      issuer: REGISTRY,
      domain: 'alpha.caliopen.test',
      issuedAt: T0,
      expiresAt: T0 + 7 * DAY,
      charterVersion: '1.0',
      instanceKeys: claims.instanceKeys,
      certFingerprint: alpha.certFingerprint,
      pi: { score: 90, level: 'sealed', modelVersion: 'instance-pi/1' },
    };
    assert.deepEqual(claims, expected);
  });

  it('uses JWT claim names on the wire and an explicit typ', async () => {
    const { jws } = await labelFor(alpha, { issuedAt: T0 });
    const [header, payload] = jws.split('.') as [string, string];
    assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), {
      alg: 'EdDSA',
      kid: registryKey.kid,
      typ: LABEL_JWS_TYPE,
    });
    assert.deepEqual(Object.keys(JSON.parse(Buffer.from(payload, 'base64url').toString()) as object).sort(), [
      'certFingerprint',
      'charterVersion',
      'exp',
      'iat',
      'instanceKeys',
      'iss',
      'jti',
      'pi',
      'sub',
    ]);
  });

  it('gives a random id when none is given, and normalises the domain', async () => {
    const input = {
      issuer: REGISTRY,
      domain: 'Alpha.Caliopen.Test.',
      issuedAt: T0,
      charterVersion: '1.0',
      instanceKeys: { signing: registryKey.kid, encryption: registryKey.kid },
      certFingerprint: alpha.certFingerprint,
      pi: { score: 5, level: 'exposed' as const, modelVersion: 'm/1' },
    };
    const a = await issueLabel(input, registryKey);
    const b = await issueLabel(input, registryKey);
    assert.notEqual(a.claims.id, b.claims.id);
    assert.equal(a.claims.domain, 'alpha.caliopen.test');
  });

  it('refuses to issue a label that peers would refuse', async () => {
    await assert.rejects(labelFor(alpha, { issuedAt: T0, expiresAt: T0 + MAX_LABEL_LIFETIME_SECONDS + 1 }), {
      code: 'label_malformed',
    });
    await assert.rejects(labelFor(alpha, { issuedAt: T0, expiresAt: T0 }), { code: 'label_malformed' });
  });

  it('never accepts a label with any one character changed', async () => {
    const { jws } = await labelFor(alpha, { issuedAt: T0 });
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: jws.length - 1 }), fc.constantFrom(...alphabet), async (at, replacement) => {
        fc.pre(jws[at] !== replacement);
        const forged = jws.slice(0, at) + replacement + jws.slice(at + 1);
        const result = await verifyLabel(forged, options);
        assert.ok(!result.ok, `accepted ${forged}`);
      }),
      { numRuns: 300 },
    );
  });

  describe('rejections, each with its stable code', () => {
    it('label_bad_signature: a flipped signature bit, or a payload swapped under a valid signature', async () => {
      const { jws } = await labelFor(alpha, { issuedAt: T0 });
      assertCode(await verifyLabel(tamperSignature(jws), options), 'label_bad_signature');
      const other = await labelFor(instanceFixture('beta.caliopen.test'), { issuedAt: T0 });
      const [header, , signature] = jws.split('.');
      const swapped = `${header}.${other.jws.split('.')[1]}.${signature}`;
      assertCode(await verifyLabel(swapped, options), 'label_bad_signature');
    });

    it('label_unknown_key: signed by a key outside the pinned set', async () => {
      const { jws } = await labelFor(alpha, { issuedAt: T0, key: strangerKey });
      assertCode(await verifyLabel(jws, options), 'label_unknown_key');
    });

    it('label_key_outside_validity: signed by a retired registry key', async () => {
      const { jws } = await labelFor(alpha, { issuedAt: T0, key: retiredRegistryKey });
      assertCode(await verifyLabel(jws, options), 'label_key_outside_validity');
    });

    it('label_expired and label_not_yet_valid, with the clock tolerance', async () => {
      const { jws, claims } = await labelFor(alpha, { issuedAt: T0 });
      assertCode(await verifyLabel(jws, { ...options, now: claims.expiresAt + 60 }), 'label_expired');
      assert.ok((await verifyLabel(jws, { ...options, now: claims.expiresAt + 59 })).ok);
      assertCode(
        await verifyLabel(jws, { ...options, now: claims.expiresAt, clockToleranceSeconds: 0 }),
        'label_expired',
      );
      assertCode(await verifyLabel(jws, { ...options, now: T0 - 61 }), 'label_not_yet_valid');
      assert.ok((await verifyLabel(jws, { ...options, now: T0 - 60 })).ok);
    });

    it('label_wrong_domain: presented by another instance; domains compare normalised', async () => {
      const { jws } = await labelFor(alpha, { issuedAt: T0 });
      assertCode(await verifyLabel(jws, { ...options, expectedDomain: 'mallory.example' }), 'label_wrong_domain');
      assert.ok((await verifyLabel(jws, { ...options, expectedDomain: 'ALPHA.caliopen.test.' })).ok);
    });

    it('label_wrong_issuer and label_revoked', async () => {
      const { jws, claims } = await labelFor(alpha, { issuedAt: T0 });
      assertCode(await verifyLabel(jws, { ...options, expectedIssuer: 'other.registry' }), 'label_wrong_issuer');
      assertCode(await verifyLabel(jws, { ...options, revokedIds: new Set([claims.id]) }), 'label_revoked');
      assert.ok((await verifyLabel(jws, { ...options, expectedIssuer: REGISTRY, revokedIds: new Set(['x']) })).ok);
    });

    it('label_malformed: not a JWS, another typ, another alg, bad claims', async () => {
      const { jws } = await labelFor(alpha, { issuedAt: T0 });
      for (const input of [undefined, 42, '', 'a.b', 'a.b.c.d', `${jws}x!`, 'x'.repeat(20_000)]) {
        assertCode(await verifyLabel(input, options), 'label_malformed');
      }
      const checkpoint = await signCheckpoint(
        { origin: LOG_ORIGIN, treeSize: 0, rootHash: '47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', timestamp: T0 },
        registryKey,
      );
      assertCode(await verifyLabel(checkpoint, options), 'label_malformed');
      assert.equal(JSON.parse(Buffer.from(checkpoint.split('.')[0]!, 'base64url').toString()).typ, CHECKPOINT_JWS_TYPE);

      const payload = JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
      const badClaims: Record<string, unknown>[] = [
        { ...payload, sub: 'Not A Domain' },
        { ...payload, exp: payload['iat'] },
        { ...payload, exp: (payload['iat'] as number) + 30 * DAY },
        { ...payload, certFingerprint: 'AB' },
        { ...payload, instanceKeys: { signing: 'x' } },
        { ...payload, pi: { score: 90, level: 'exposed', modelVersion: 'm' } },
        { ...payload, jti: '' },
        { ...payload, iss: 42 },
      ];
      for (const claims of badClaims)
        assertCode(await verifyLabel(await signRawLabel(claims), options), 'label_malformed');
      const none = `${Buffer.from('{"alg":"none","typ":"caliopen-label+jwt"}').toString('base64url')}.${jws.split('.')[1]}.`;
      assertCode(await verifyLabel(none, options), 'label_malformed');
    });

    it('label_malformed: a protected header with any member beyond { alg, kid, typ }, even correctly signed', async () => {
      const { jws } = await labelFor(alpha, { issuedAt: T0 });
      const claims = JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString()) as unknown;
      // The control: the same claims under the exact header verify.
      assert.ok((await verifyLabel(await signRawLabel(claims), options)).ok);
      for (const extra of [
        { jku: 'https://evil.example/keys.json' },
        { jwk: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' } },
        { x5u: 'https://evil.example/cert.pem' },
        { x5c: ['MIIB'] },
        { crit: ['exp'] },
        { b64: false, crit: ['b64'] },
        { cty: 'JWT' },
        { zzz: 1 },
      ]) {
        // Signed by hand: jose itself refuses to sign some of these headers (an unknown `crit`).
        const header = encodeBase64Url(
          new TextEncoder().encode(
            JSON.stringify({ alg: 'EdDSA', kid: registryKey.kid, typ: LABEL_JWS_TYPE, ...extra }),
          ),
        );
        const body = encodeBase64Url(canonicalJsonBytes(claims));
        const signature = await crypto.subtle.sign(
          'Ed25519',
          await privateCryptoKey(registryKey),
          new TextEncoder().encode(`${header}.${body}`),
        );
        const signed = `${header}.${body}.${encodeBase64Url(new Uint8Array(signature))}`;
        const r = await verifyLabel(signed, options);
        assertCode(r, 'label_malformed');
        assert.ok(!r.ok && /exactly \{ alg, kid, typ \}/.test(r.error.message), JSON.stringify(extra));
      }
    });
  });
});
