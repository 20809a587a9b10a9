import { CompactSign, compactVerify, decodeProtectedHeader } from 'jose';
import { canonicalJsonBytes } from './canonical-json.ts';
import { decodeBase64Url, utf8Decode } from './encoding.ts';
import { fail, ok } from './errors.ts';
import type { ErrorCode, Result } from './errors.ts';
import { privateCryptoKey } from './keys.ts';
import type { Ed25519KeyPair, KeySet } from './keys.ts';
import { COMPACT_JWS } from './validate.ts';

/**
 * The one way this protocol signs and verifies: a compact JWS (RFC 7515) with EdDSA over Ed25519 (RFC 8037),
 * the payload being canonical JSON, the header `{ alg, kid, typ }`.
 *
 * `typ` is explicit for every object (RFC 8725 §3.11): a checkpoint can never be replayed as a label, nor a delta
 * as a feed, even though the same registry key signs them all.
 */

/** The codes one kind of signed object reports, so each reports in its own vocabulary. */
export interface JwsErrorCodes {
  readonly malformed: ErrorCode;
  readonly unknownKey: ErrorCode;
  readonly keyOutsideValidity: ErrorCode;
  readonly badSignature: ErrorCode;
}

export interface VerifiedJws {
  /** The payload, parsed from JSON but not yet validated. */
  readonly payload: unknown;
  readonly kid: string;
}

/** Longest JWS accepted: signed objects here are small, a feed's signature covers a digest, not the feed. */
export const MAX_JWS_LENGTH = 16 * 1024;

const ED25519_SIGNATURE_LENGTH = 64;
const HEADER_MEMBERS: ReadonlySet<string> = new Set(['alg', 'kid', 'typ']);

export async function signJws(payload: unknown, keyPair: Ed25519KeyPair, typ: string): Promise<string> {
  return new CompactSign(canonicalJsonBytes(payload))
    .setProtectedHeader({ alg: 'EdDSA', kid: keyPair.kid, typ })
    .sign(await privateCryptoKey(keyPair));
}

/**
 * Verifies a compact JWS of type `typ` against the key set at time `now`, in a fixed order whose first failure
 * names the code: shape and header, then key, then signature, then JSON payload.
 */
export async function verifyJws(
  jws: unknown,
  options: { keySet: KeySet; now: number; typ: string; codes: JwsErrorCodes },
): Promise<Result<VerifiedJws>> {
  const { keySet, now, typ, codes } = options;
  if (typeof jws !== 'string' || jws.length > MAX_JWS_LENGTH || !COMPACT_JWS.test(jws)) {
    return fail(codes.malformed, 'Not a compact JWS.');
  }
  // One spelling per signature: a lenient decoder would accept variants of the last character.
  if (decodeBase64Url(jws.slice(jws.lastIndexOf('.') + 1))?.byteLength !== ED25519_SIGNATURE_LENGTH) {
    return fail(codes.malformed, 'The JWS signature is not 64 bytes of canonical base64url.');
  }
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return fail(codes.malformed, 'The JWS protected header is not base64url JSON.');
  }
  // Exactly { alg, kid, typ } (SPEC §2): a `jku`, `jwk`, `x5u`, `x5c`, `crit`, `b64` or any other member could steer a
  // verifier elsewhere (another key, unencoded payloads), so its presence alone refuses the object.
  const extra = Object.keys(header).filter((k) => !HEADER_MEMBERS.has(k));
  if (extra.length > 0)
    return fail(
      codes.malformed,
      `The JWS protected header must be exactly { alg, kid, typ }; it also has ${extra.map((k) => JSON.stringify(k)).join(', ')}.`,
    );
  if (header['alg'] !== 'EdDSA')
    return fail(codes.malformed, `The JWS algorithm must be EdDSA, not ${String(header['alg'])}.`);
  if (header['typ'] !== typ)
    return fail(codes.malformed, `The JWS type must be "${typ}", not "${String(header['typ'])}".`);
  const kid = header['kid'];
  if (typeof kid !== 'string') return fail(codes.malformed, 'The JWS header has no kid.');

  const lookup = keySet.lookup(kid, now);
  if (lookup.status === 'unknown') return fail(codes.unknownKey, `Key ${kid} is not in the registry key set.`);
  if (lookup.status === 'outside_validity') {
    const { notBefore, notAfter } = lookup.entry;
    return fail(codes.keyOutsideValidity, `Key ${kid} is valid from ${notBefore} to ${notAfter}, not at ${now}.`);
  }

  let payloadBytes: Uint8Array;
  try {
    ({ payload: payloadBytes } = await compactVerify(jws, await lookup.key(), { algorithms: ['EdDSA'] }));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
      return fail(codes.badSignature, `The signature does not verify with key ${kid}.`);
    }
    return fail(codes.malformed, `The JWS is malformed: ${(error as Error).message}`, error);
  }

  const text = utf8Decode(payloadBytes);
  if (text === undefined) return fail(codes.malformed, 'The JWS payload is not UTF-8.');
  try {
    return ok({ payload: JSON.parse(text) as unknown, kid });
  } catch {
    return fail(codes.malformed, 'The JWS payload is not JSON.');
  }
}
