import { isLocalPart } from './address.ts';
import { isDomain, normalizeDomain } from './domain.ts';
import { decodeBase64Url } from './encoding.ts';
import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';
import { hasOnlyMembers, verifyInstanceJws } from './instance-jws.ts';
import { signJws } from './jws.ts';
import type { Ed25519KeyPair, Ed25519PublicJwk } from './keys.ts';
import { isTimestamp } from './validate.ts';

/**
 * Delivery receipts (SPEC.md, "Receipts"): the recipient instance's signed statement that it stored an envelope for
 * one of its users, returned in the answer to `POST /federation/v1/inbox` (`{ "receipt": <jws> }`). Compact JWS,
 * typ `caliopen-receipt+jws`, signed by the recipient instance, payload
 * `{ envelopeId, to: { instance, local }, receivedAt, status: "delivered" }`.
 */

export const RECEIPT_JWS_TYPE = 'caliopen-receipt+jws';
export const RECEIPT_STATUSES = ['delivered'] as const;
export type ReceiptStatus = (typeof RECEIPT_STATUSES)[number];
const MAX_RECEIPT_JWS_LENGTH = 2048;

export interface Receipt {
  readonly envelopeId: string;
  readonly to: { readonly instance: string; readonly local: string };
  /** NumericDate at which the recipient instance stored the envelope. */
  readonly receivedAt: number;
  readonly status: ReceiptStatus;
}

/** Signs a receipt with the recipient instance's signing key. Throws a `ProtocolError` on a malformed receipt. */
export async function signReceipt(receipt: Receipt, signingKey: Ed25519KeyPair): Promise<string> {
  const parsed = parseReceipt({
    ...receipt,
    to: { instance: normalizeDomain(receipt.to.instance), local: receipt.to.local },
  });
  if (!parsed.ok) throw parsed.error;
  return signJws(parsed.value, signingKey, RECEIPT_JWS_TYPE);
}

export interface VerifyReceiptOptions {
  /** The recipient instance's signing keys, from the feed. */
  readonly signingKeys: readonly Ed25519PublicJwk[];
  /** The id of the envelope sent. */
  readonly expectedEnvelopeId?: string;
  /** The recipient the envelope was for. */
  readonly expectedTo?: { readonly instance: string; readonly local: string };
}

/**
 * Verifies a receipt. Order: shape (`receipt_malformed`), key and signature (`receipt_bad_signature`), claims
 * (`receipt_malformed`), envelope and recipient (`receipt_mismatch`).
 */
export async function verifyReceipt(jws: unknown, options: VerifyReceiptOptions): Promise<Result<Receipt>> {
  const verified = await verifyInstanceJws(jws, {
    keys: options.signingKeys,
    typ: RECEIPT_JWS_TYPE,
    codes: { malformed: 'receipt_malformed', badSignature: 'receipt_bad_signature' },
    maxLength: MAX_RECEIPT_JWS_LENGTH,
    what: 'receipt',
  });
  if (!verified.ok) return verified;
  const parsed = parseReceipt(verified.value.payload);
  if (!parsed.ok) return parsed;
  const receipt = parsed.value;
  if (options.expectedEnvelopeId !== undefined && receipt.envelopeId !== options.expectedEnvelopeId) {
    return fail(
      'receipt_mismatch',
      `The receipt is for envelope ${receipt.envelopeId}, not ${options.expectedEnvelopeId}.`,
    );
  }
  const to = options.expectedTo;
  if (to !== undefined && (receipt.to.instance !== normalizeDomain(to.instance) || receipt.to.local !== to.local)) {
    return fail(
      'receipt_mismatch',
      `The receipt is for ${receipt.to.local}@${receipt.to.instance}, not ${to.local}@${to.instance}.`,
    );
  }
  return ok(receipt);
}

function parseReceipt(input: unknown): Result<Receipt> {
  if (!hasOnlyMembers(input, ['envelopeId', 'to', 'receivedAt', 'status'])) {
    return malformed('the claims are not { envelopeId, to, receivedAt, status }');
  }
  const { envelopeId, to, receivedAt, status } = input;
  if (typeof envelopeId !== 'string' || decodeBase64Url(envelopeId)?.byteLength !== 16)
    return malformed('envelopeId is not an envelope id');
  if (!hasOnlyMembers(to, ['instance', 'local']) || !isDomain(to['instance']) || !isLocalPart(to['local'])) {
    return malformed('to must be { instance, local }');
  }
  if (!isTimestamp(receivedAt)) return malformed('receivedAt is not integer seconds');
  if (!RECEIPT_STATUSES.includes(status as ReceiptStatus))
    return malformed(`status must be one of ${RECEIPT_STATUSES.join(', ')}`);
  return ok({
    envelopeId,
    to: { instance: to['instance'], local: to['local'] },
    receivedAt,
    status: status as ReceiptStatus,
  });
}

function malformed(reason: string) {
  return fail('receipt_malformed', `Malformed receipt: ${reason}.`);
}
