import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ErrorCode, Result } from './errors.ts';
import { RECEIPT_JWS_TYPE, signReceipt, verifyReceipt } from './receipt.ts';
import type { Receipt } from './receipt.ts';
import { alpha, beta, flipBase64UrlChar, signWithHeader } from './testing/federation-fixtures.ts';
import { T0 } from './testing/fixtures.ts';

const receipt: Receipt = {
  envelopeId: 'cYFfyk8IktXuJJJ8hbga2g',
  to: { instance: beta.domain, local: 'bob' },
  receivedAt: T0 + 5,
  status: 'delivered',
};
const options = {
  signingKeys: [beta.signingKey.publicJwk],
  expectedEnvelopeId: receipt.envelopeId,
  expectedTo: receipt.to,
};

function assertCode(result: Result<unknown>, code: ErrorCode): void {
  assert.ok(!result.ok, `expected ${code}, got a valid result`);
  assert.equal(result.error.code, code, result.error.message);
}

describe('receipts', () => {
  it('are signed by the recipient instance and verified by the sender', async () => {
    const jws = await signReceipt(receipt, beta.signingKey);
    const verified = await verifyReceipt(jws, options);
    assert.ok(verified.ok, verified.ok ? '' : verified.error.message);
    assert.deepEqual(verified.value, receipt);
    assert.ok((await verifyReceipt(jws, { signingKeys: [beta.signingKey.publicJwk] })).ok, 'expectations are optional');
  });

  it('refuse a receipt by another instance, for another envelope or recipient', async () => {
    const jws = await signReceipt(receipt, beta.signingKey);
    assertCode(await verifyReceipt(await signReceipt(receipt, alpha.signingKey), options), 'receipt_bad_signature');
    assertCode(
      await verifyReceipt(jws, { ...options, expectedEnvelopeId: 'AAAAAAAAAAAAAAAAAAAAAA' }),
      'receipt_mismatch',
    );
    assertCode(
      await verifyReceipt(jws, { ...options, expectedTo: { instance: beta.domain, local: 'carol' } }),
      'receipt_mismatch',
    );
    assertCode(
      await verifyReceipt(jws, { ...options, expectedTo: { instance: alpha.domain, local: 'bob' } }),
      'receipt_mismatch',
    );
  });

  it('refuse malformed receipts, and any changed character', async () => {
    const header = { alg: 'EdDSA', kid: beta.signingKey.kid, typ: RECEIPT_JWS_TYPE };
    for (const claims of [
      { ...receipt, status: 'read' },
      { ...receipt, envelopeId: 'x' },
      { ...receipt, extra: 1 },
      { ...receipt, receivedAt: -1 },
      { ...receipt, to: 'bob@beta' },
    ]) {
      assertCode(
        await verifyReceipt(await signWithHeader(header, claims, beta.signingKey), options),
        'receipt_malformed',
      );
    }
    assertCode(
      await verifyReceipt(
        await signWithHeader({ ...header, typ: 'caliopen-prekey+jws' }, receipt, beta.signingKey),
        options,
      ),
      'receipt_malformed',
    );
    await assert.rejects(signReceipt({ ...receipt, status: 'read' as 'delivered' }, beta.signingKey), {
      code: 'receipt_malformed',
    });
    const jws = await signReceipt(receipt, beta.signingKey);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: jws.length - 1 }), async (index) => {
        const tampered = flipBase64UrlChar(jws, index);
        fc.pre(tampered !== jws);
        assert.ok(!(await verifyReceipt(tampered, options)).ok, `accepted with character ${index} changed`);
      }),
      { numRuns: 100 },
    );
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const result = await verifyReceipt(value, options);
        assert.ok(!result.ok);
        assert.match(result.error.code, /^receipt_/);
      }),
      { numRuns: 100 },
    );
  });
});
