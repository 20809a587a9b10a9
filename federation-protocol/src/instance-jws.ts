import { CompactSign, compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import { canonicalJsonBytes } from './canonical-json.ts';
import type { CryptoKey } from 'jose';
import { decodeBase64Url, utf8Decode } from './encoding.ts';
import { fail, ok } from './errors.ts';
import type { ErrorCode, Result } from './errors.ts';
import { jwkThumbprint, parseOkpPublicJwk, privateCryptoKey } from './keys.ts';
import type { Ed25519KeyPair, Ed25519PublicJwk } from './keys.ts';
import { COMPACT_JWS, isRecord, SHA256_BASE64URL } from './validate.ts';

/**
 * Verification of what an instance signs (prekeys, envelopes' inner payloads, request signatures, receipts, key
 * directory and trust answers) against the signing keys the feed (or the descriptor) lists for that instance.
 * Signing goes through `signJws` (jws.ts): compact JWS, EdDSA, header exactly `{ alg, kid, typ }`, canonical JSON.
 * Internal to the package.
 */

export interface InstanceJwsCodes {
  readonly malformed: ErrorCode;
  /** A kid that names none of the instance's keys, or a signature that does not verify. */
  readonly badSignature: ErrorCode;
}

export interface VerifiedInstanceJws {
  /** The payload, parsed from JSON but not yet validated. */
  readonly payload: unknown;
  /** RFC 7638 thumbprint of the key that signed. */
  readonly kid: string;
  readonly header: Readonly<Record<string, unknown>>;
}

const ED25519_SIGNATURE_LENGTH = 64;
const MAX_HEADER_LENGTH = 1024;
const HEADER_MEMBERS = new Set(['alg', 'kid', 'typ']);

/** Like `signJws`, with extra protected header members (e.g. `iss`, so a verifier finds the keys before parsing). */
export async function signInstanceJws(
  payload: unknown,
  keyPair: Ed25519KeyPair,
  typ: string,
  extraHeader: Readonly<Record<string, string>>,
): Promise<string> {
  return signInstanceJwsBytes(canonicalJsonBytes(payload), keyPair, typ, extraHeader);
}

/** `signInstanceJws` over payload bytes already serialised. */
export async function signInstanceJwsBytes(
  payload: Uint8Array,
  keyPair: Ed25519KeyPair,
  typ: string,
  extraHeader: Readonly<Record<string, string>>,
): Promise<string> {
  return new CompactSign(payload)
    .setProtectedHeader({ alg: 'EdDSA', ...extraHeader, kid: keyPair.kid, typ })
    .sign(await privateCryptoKey(keyPair));
}

/** Checks the shape and the header of a compact JWS; returns its kid, or the reason it is malformed. */
export function checkInstanceJwsShape(
  jws: unknown,
  typ: string,
  maxLength: number,
  extraHeaderMembers: readonly string[] = [],
): { kid: string; header: Record<string, unknown> } | { reason: string } {
  if (typeof jws !== 'string' || jws.length > maxLength)
    return { reason: `not a string of at most ${maxLength} characters` };
  if (!COMPACT_JWS.test(jws)) return { reason: 'not a compact JWS' };
  const headerPart = jws.slice(0, jws.indexOf('.'));
  if (headerPart.length > MAX_HEADER_LENGTH) return { reason: 'the protected header is too long' };
  if (decodeBase64Url(jws.slice(jws.lastIndexOf('.') + 1))?.byteLength !== ED25519_SIGNATURE_LENGTH) {
    return { reason: 'the signature is not 64 bytes of canonical base64url' };
  }
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return { reason: 'the protected header is not base64url JSON' };
  }
  if (Object.keys(header).some((member) => !HEADER_MEMBERS.has(member) && !extraHeaderMembers.includes(member))) {
    return { reason: `the header has members other than ${[...HEADER_MEMBERS, ...extraHeaderMembers].join(', ')}` };
  }
  if (header['alg'] !== 'EdDSA') return { reason: 'the algorithm is not EdDSA' };
  if (header['typ'] !== typ) return { reason: `the type is not "${typ}"` };
  const kid = header['kid'];
  if (typeof kid !== 'string' || !SHA256_BASE64URL.test(kid)) return { reason: 'the kid is not a key thumbprint' };
  return { kid, header };
}

/** The payload of a compact JWS read without verifying it (to learn which instance claims to have signed). */
export function unverifiedJwsPayload(jws: string): unknown {
  const first = jws.indexOf('.');
  const bytes = decodeBase64Url(jws.slice(first + 1, jws.indexOf('.', first + 1)));
  const text = bytes === undefined ? undefined : utf8Decode(bytes);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Verifies a compact JWS of type `typ` signed by one of `keys` (an instance's Ed25519 signing keys). Order: shape
 * and header (`malformed`), key and signature (`badSignature`), JSON payload (`malformed`). Never throws.
 */
export async function verifyInstanceJws(
  jws: unknown,
  options: {
    /** The instance's keys, or a function finding them from the (integrity-protected) header. */
    keys:
      | readonly Ed25519PublicJwk[]
      | ((header: Record<string, unknown>) => Promise<Result<readonly Ed25519PublicJwk[]>>);
    typ: string;
    codes: InstanceJwsCodes;
    maxLength: number;
    what: string;
    extraHeaderMembers?: readonly string[];
  },
): Promise<Result<VerifiedInstanceJws>> {
  const { codes, what } = options;
  const shape = checkInstanceJwsShape(jws, options.typ, options.maxLength, options.extraHeaderMembers);
  if ('reason' in shape) return fail(codes.malformed, `Malformed ${what}: ${shape.reason}.`);
  const { kid, header } = shape;
  let keys: readonly Ed25519PublicJwk[];
  if (typeof options.keys === 'function') {
    const found = await options.keys(header);
    if (!found.ok) return found;
    keys = found.value;
  } else {
    keys = options.keys;
  }
  const jwk = keys.find((candidate) => safeThumbprint(candidate) === kid);
  if (jwk === undefined)
    return fail(codes.badSignature, `The ${what} is signed by key ${kid}, which is not a signing key of the instance.`);
  let payloadBytes: Uint8Array;
  try {
    ({ payload: payloadBytes } = await compactVerify(jws as string, await importedKey(jwk), { algorithms: ['EdDSA'] }));
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
      return fail(codes.badSignature, `The ${what} signature does not verify with key ${kid}.`);
    }
    return fail(codes.malformed, `Malformed ${what}: ${(error as Error).message}.`);
  }
  const text = utf8Decode(payloadBytes);
  if (text === undefined) return fail(codes.malformed, `Malformed ${what}: the payload is not UTF-8.`);
  try {
    return ok({ payload: JSON.parse(text) as unknown, kid, header });
  } catch {
    return fail(codes.malformed, `Malformed ${what}: the payload is not JSON.`);
  }
}

function safeThumbprint(jwk: Ed25519PublicJwk): string | undefined {
  const parsed = parseOkpPublicJwk(jwk, 'Ed25519');
  return parsed === undefined ? undefined : jwkThumbprint(parsed);
}

// Imported public keys, by their x: a peer verifies many requests and envelopes with the same few keys.
const MAX_CACHED_KEYS = 4096;
const importedKeys = new Map<string, Promise<CryptoKey>>();

function importedKey(jwk: Ed25519PublicJwk): Promise<CryptoKey> {
  let key = importedKeys.get(jwk.x);
  if (key === undefined) {
    if (importedKeys.size >= MAX_CACHED_KEYS) importedKeys.clear();
    key = importJWK({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }, 'EdDSA') as Promise<CryptoKey>;
    importedKeys.set(jwk.x, key);
  }
  return key;
}

/** True when `value` is a plain object holding only the `allowed` members. */
export function hasOnlyMembers(value: unknown, allowed: readonly string[]): value is Record<string, unknown> {
  return isRecord(value) && Object.keys(value).every((member) => allowed.includes(member));
}
