import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ErrorCode, Result } from './errors.ts';
import {
  KEY_DIRECTORY_JWS_TYPE,
  MAX_KEY_DIRECTORY_LIFETIME_SECONDS,
  MAX_OPENPGP_KEY_BYTES,
  keyDirectoryPath,
  signKeyDirectoryEntry,
  verifyKeyDirectoryEntry,
} from './key-directory.ts';
import { alpha, beta, flipBase64UrlChar, signWithHeader } from './testing/federation-fixtures.ts';
import { T0 } from './testing/fixtures.ts';

const openpgpKey = Uint8Array.from({ length: 600 }, (_, i) => (i * 7) % 256);
const entry = { domain: beta.domain, local: 'bob', openpgpKey, fingerprint: 'a'.repeat(40), issuedAt: T0 };
const options = {
  signingKeys: [beta.signingKey.publicJwk],
  expectedDomain: beta.domain,
  expectedLocal: 'bob',
  now: T0 + 60,
};

function assertCode(result: Result<unknown>, code: ErrorCode): void {
  assert.ok(!result.ok, `expected ${code}, got a valid result`);
  assert.equal(result.error.code, code, result.error.message);
}

describe('key directory', () => {
  it('answers with the user key signed by the instance', async () => {
    const jws = await signKeyDirectoryEntry(entry, beta.signingKey);
    const verified = await verifyKeyDirectoryEntry(jws, options);
    assert.ok(verified.ok, verified.ok ? '' : verified.error.message);
    assert.deepEqual(verified.value, { ...entry, expiresAt: T0 + 24 * 3600 });
    assert.equal(keyDirectoryPath('bob.smith+tag'), '/federation/v1/keys/bob.smith%2Btag');
    assert.equal(keyDirectoryPath('a/b'), '/federation/v1/keys/a%2Fb');
  });

  it('refuses an answer by another instance, for another user, or outside its window', async () => {
    const jws = await signKeyDirectoryEntry(entry, beta.signingKey);
    assertCode(
      await verifyKeyDirectoryEntry(await signKeyDirectoryEntry(entry, alpha.signingKey), options),
      'key_directory_bad_signature',
    );
    assertCode(await verifyKeyDirectoryEntry(jws, { ...options, expectedLocal: 'carol' }), 'key_directory_mismatch');
    assertCode(await verifyKeyDirectoryEntry(jws, { ...options, expectedLocal: 'Bob' }), 'key_directory_mismatch');
    assertCode(
      await verifyKeyDirectoryEntry(jws, { ...options, expectedDomain: alpha.domain }),
      'key_directory_mismatch',
    );
    assertCode(await verifyKeyDirectoryEntry(jws, { ...options, now: T0 + 24 * 3600 + 60 }), 'key_directory_expired');
    assertCode(await verifyKeyDirectoryEntry(jws, { ...options, now: T0 - 61 }), 'key_directory_expired');
  });

  it('refuses malformed answers and any changed character', async () => {
    const header = { alg: 'EdDSA', kid: beta.signingKey.kid, typ: KEY_DIRECTORY_JWS_TYPE };
    const wire = {
      domain: beta.domain,
      local: 'bob',
      openpgpKey: Buffer.from(openpgpKey).toString('base64url'),
      fingerprint: 'a'.repeat(40),
      issuedAt: T0,
      expiresAt: T0 + 3600,
    };
    for (const claims of [
      { ...wire, fingerprint: 'A'.repeat(40) },
      { ...wire, fingerprint: 'a'.repeat(50) },
      { ...wire, openpgpKey: '' },
      { ...wire, openpgpKey: Buffer.from(openpgpKey).toString('base64') + '==' },
      { ...wire, expiresAt: T0 + MAX_KEY_DIRECTORY_LIFETIME_SECONDS + 1 },
      { ...wire, local: 'bob smith' },
      { ...wire, extra: true },
    ]) {
      assertCode(
        await verifyKeyDirectoryEntry(await signWithHeader(header, claims, beta.signingKey), options),
        'key_directory_malformed',
      );
    }
    await assert.rejects(
      signKeyDirectoryEntry({ ...entry, openpgpKey: new Uint8Array(MAX_OPENPGP_KEY_BYTES + 1) }, beta.signingKey),
      { code: 'key_directory_malformed' },
    );
    const jws = await signKeyDirectoryEntry(entry, beta.signingKey);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: jws.length - 1 }), async (index) => {
        const tampered = flipBase64UrlChar(jws, index);
        fc.pre(tampered !== jws);
        assert.ok(!(await verifyKeyDirectoryEntry(tampered, options)).ok, `accepted with character ${index} changed`);
      }),
      { numRuns: 100 },
    );
  });
});
