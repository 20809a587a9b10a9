import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { CompactSign, calculateJwkThumbprint, compactVerify, importJWK } from 'jose';
import { decodeBase64Url } from './encoding.ts';
import { unwrap } from './errors.ts';
import {
  ed25519KeyPairFromSeed,
  generateEd25519KeyPair,
  jwkThumbprint,
  keySetEntry,
  parseKeySet,
  parseOkpPublicJwk,
  privateCryptoKey,
  rotateKeySet,
  signingEntryAt,
  x25519PublicJwkFromPrivate,
} from './keys.ts';
import { signJws } from './jws.ts';
import { DAY, T0, keySetDocument, registryKey, retiredRegistryKey, seedOf, strangerKey } from './testing/fixtures.ts';

/** RFC 8037 appendix A.1 key. */
const RFC8037_D = 'nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A';
const RFC8037_X = '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo';

describe('keys', () => {
  it('derives the RFC 8037 A.1 public key from its seed, and its A.3 thumbprint', () => {
    const pair = ed25519KeyPairFromSeed(decodeBase64Url(RFC8037_D)!);
    assert.equal(pair.publicJwk.x, RFC8037_X);
    assert.equal(pair.privateJwk.d, RFC8037_D);
    assert.equal(pair.kid, 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k');
  });

  it('signs as RFC 8037 A.4 does (Ed25519 is deterministic)', async () => {
    const pair = ed25519KeyPairFromSeed(decodeBase64Url(RFC8037_D)!);
    const expected =
      'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.' +
      'hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';
    const signed = await new CompactSign(new TextEncoder().encode('Example of Ed25519 signing'))
      .setProtectedHeader({ alg: 'EdDSA' })
      .sign(await privateCryptoKey(pair));
    assert.equal(signed, expected);
    const verified = await compactVerify(expected, await importJWK({ ...pair.publicJwk }, 'EdDSA'));
    assert.equal(new TextDecoder().decode(verified.payload), 'Example of Ed25519 signing');
  });

  it('computes thumbprints as jose does, ignoring optional members', async () => {
    for (const jwk of [registryKey.publicJwk, x25519PublicJwkFromPrivate(seedOf('x'))]) {
      assert.equal(jwkThumbprint(jwk), await calculateJwkThumbprint({ ...jwk }));
      const withOptionalMembers = { ...jwk, alg: 'EdDSA', use: 'sig', kid: 'whatever' };
      assert.equal(jwkThumbprint(withOptionalMembers), jwkThumbprint(jwk));
    }
    const ec = {
      kty: 'EC',
      crv: 'P-256',
      x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
      y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
    };
    assert.equal(jwkThumbprint(ec), await calculateJwkThumbprint(ec));
    assert.throws(() => jwkThumbprint({ kty: 'XYZ' }), TypeError);
  });

  it('generates fresh key pairs whose kid is their thumbprint', () => {
    const a = generateEd25519KeyPair();
    const b = generateEd25519KeyPair();
    assert.notEqual(a.kid, b.kid);
    assert.equal(a.kid, jwkThumbprint(a.publicJwk));
  });

  it('reads only public OKP keys of the expected curve', () => {
    assert.deepEqual(parseOkpPublicJwk({ ...registryKey.publicJwk, use: 'sig' }, 'Ed25519'), registryKey.publicJwk);
    assert.equal(parseOkpPublicJwk(registryKey.privateJwk, 'Ed25519'), undefined);
    assert.equal(parseOkpPublicJwk(registryKey.publicJwk, 'X25519'), undefined);
    assert.equal(parseOkpPublicJwk({ ...registryKey.publicJwk, x: 'AAAA' }, 'Ed25519'), undefined);
  });

  describe('registry key set', () => {
    const keySet = unwrap(parseKeySet(keySetDocument));

    it('finds a key by kid inside its window, and says why otherwise', () => {
      assert.equal(keySet.lookup(registryKey.kid, T0).status, 'valid');
      assert.equal(keySet.lookup(retiredRegistryKey.kid, T0).status, 'outside_validity');
      assert.equal(keySet.lookup(retiredRegistryKey.kid, T0 - 100 * DAY).status, 'valid');
      assert.equal(keySet.lookup(registryKey.kid, T0 + 365 * DAY).status, 'outside_validity', 'notAfter is exclusive');
      assert.equal(keySet.lookup(strangerKey.kid, T0).status, 'unknown');
    });

    it('imports a key once and verifies with it', async () => {
      const lookup = keySet.lookup(registryKey.kid, T0);
      assert.equal(lookup.status, 'valid');
      if (lookup.status !== 'valid') return;
      assert.equal(lookup.key(), lookup.key());
      const jws = await signJws({ hello: 'world' }, registryKey, 'test');
      assert.ok(await compactVerify(jws, await lookup.key()));
    });

    it('refuses malformed documents with key_set_malformed', () => {
      const entry = keySetDocument.keys[1]!;
      const cases: [unknown, RegExp][] = [
        [{}, /no "keys" array/],
        [{ keys: [] }, /no key/],
        [{ keys: [{ ...entry, kid: strangerKey.kid }] }, /thumbprint/],
        [{ keys: [{ ...entry, jwk: registryKey.privateJwk }] }, /public Ed25519/],
        [{ keys: [entry, entry] }, /twice/],
        [{ keys: [{ ...entry, notAfter: entry.notBefore }] }, /notBefore < notAfter/],
      ];
      for (const [input, reason] of cases) {
        const parsed = parseKeySet(input);
        assert.ok(!parsed.ok);
        assert.equal(parsed.error.code, 'key_set_malformed');
        assert.match(parsed.error.message, reason);
      }
    });

    it('rotates with overlap: both keys verify during the overlap, then only the new one', () => {
      const next = ed25519KeyPairFromSeed(seedOf('registry key 2027'));
      const start = T0 + 300 * DAY;
      const rotated = rotateKeySet(
        { keys: [keySetDocument.keys[1]!] },
        keySetEntry(next.publicJwk, { notBefore: start, notAfter: start + 365 * DAY }),
        { overlapSeconds: 14 * DAY },
      );
      const set = unwrap(parseKeySet(rotated));
      assert.equal(set.lookup(registryKey.kid, start + 13 * DAY).status, 'valid');
      assert.equal(set.lookup(next.kid, start + 13 * DAY).status, 'valid');
      assert.equal(set.lookup(registryKey.kid, start + 14 * DAY).status, 'outside_validity');
      assert.equal(signingEntryAt(rotated, start - 1)?.kid, registryKey.kid);
      assert.equal(signingEntryAt(rotated, start)?.kid, next.kid, 'the newest valid key signs');
      assert.throws(() => rotateKeySet(rotated, rotated.keys[1]!, { overlapSeconds: DAY }), RangeError);
    });
  });
});
