import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ErrorCode, Result } from './errors.ts';
import { TRUST_JWS_TYPE, signTrustStatement, trustPath, verifyTrustStatement } from './trust.ts';
import { alpha, beta, flipBase64UrlChar, signWithHeader } from './testing/federation-fixtures.ts';
import { T0 } from './testing/fixtures.ts';

const statement = {
  domain: beta.domain,
  local: 'bob',
  pi: { score: 82, level: 'private' as const, modelVersion: 'account-pi/1' },
  issuedAt: T0,
};
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

describe('trust sharing', () => {
  it('answers with the user account PI summary, signed by the instance', async () => {
    const jws = await signTrustStatement(statement, beta.signingKey);
    const verified = await verifyTrustStatement(jws, options);
    assert.ok(verified.ok, verified.ok ? '' : verified.error.message);
    assert.deepEqual(verified.value, { ...statement, expiresAt: T0 + 24 * 3600 });
    assert.equal(trustPath('bob'), '/federation/v1/trust/bob');
    // Only the summary crosses, even when given a full PI.
    const full = {
      ...statement,
      pi: { ...statement.pi, factors: [{ id: 'x', contribution: 1, evidence: 'secret' }], suggestions: [] },
    };
    const summaryOnly = await verifyTrustStatement(await signTrustStatement(full, beta.signingKey), options);
    assert.ok(summaryOnly.ok);
    assert.deepEqual(Object.keys(summaryOnly.value.pi).sort(), ['level', 'modelVersion', 'score']);
  });

  it('refuses an answer by another instance, for another user, or outside its window', async () => {
    const jws = await signTrustStatement(statement, beta.signingKey);
    assertCode(
      await verifyTrustStatement(await signTrustStatement(statement, alpha.signingKey), options),
      'trust_bad_signature',
    );
    assertCode(await verifyTrustStatement(jws, { ...options, expectedLocal: 'carol' }), 'trust_mismatch');
    assertCode(await verifyTrustStatement(jws, { ...options, expectedDomain: alpha.domain }), 'trust_mismatch');
    assertCode(await verifyTrustStatement(jws, { ...options, now: T0 + 24 * 3600 + 60 }), 'trust_expired');
  });

  it('refuses malformed answers and any changed character', async () => {
    const header = { alg: 'EdDSA', kid: beta.signingKey.kid, typ: TRUST_JWS_TYPE };
    const wire = { ...statement, expiresAt: T0 + 3600 };
    for (const claims of [
      { ...wire, pi: { ...wire.pi, level: 'sealed' } },
      { ...wire, pi: { ...wire.pi, score: 101 } },
      { ...wire, pi: { ...wire.pi, factors: [] } },
      { ...wire, expiresAt: T0 },
      { ...wire, domain: 'Beta.Caliopen.Test' },
    ]) {
      assertCode(
        await verifyTrustStatement(await signWithHeader(header, claims, beta.signingKey), options),
        'trust_malformed',
      );
    }
    const jws = await signTrustStatement(statement, beta.signingKey);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: jws.length - 1 }), async (index) => {
        const tampered = flipBase64UrlChar(jws, index);
        fc.pre(tampered !== jws);
        assert.ok(!(await verifyTrustStatement(tampered, options)).ok, `accepted with character ${index} changed`);
      }),
      { numRuns: 100 },
    );
  });
});
