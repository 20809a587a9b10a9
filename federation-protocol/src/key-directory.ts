import { isLocalPart } from './address.ts';
import { isDomain, normalizeDomain } from './domain.ts';
import { decodeBase64Url, encodeBase64Url } from './encoding.ts';
import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';
import { hasOnlyMembers, verifyInstanceJws } from './instance-jws.ts';
import { signJws } from './jws.ts';
import type { Ed25519KeyPair, Ed25519PublicJwk } from './keys.ts';
import { isTimestamp } from './validate.ts';

/**
 * The federated key directory (SPEC.md, "Key directory"): `GET /federation/v1/keys/:local` answers a labelled peer
 * with the user's OpenPGP public key, signed by the instance (body: the compact JWS, `application/jose`). Typ
 * `caliopen-key-directory+jws`, payload `{ domain, local, openpgpKey, fingerprint, issuedAt, expiresAt }`:
 * `openpgpKey` the binary transferable public key (RFC 9580), base64url; `fingerprint` its primary key fingerprint,
 * lowercase hex (40 digits for v4, 64 for v6). This library does not parse OpenPGP: the caller checks that the
 * fingerprint is the key's (the instance does, with openpgp.js) before using the key.
 */

export const KEY_DIRECTORY_JWS_TYPE = 'caliopen-key-directory+jws';
export const KEY_DIRECTORY_PATH_PREFIX = '/federation/v1/keys/';
export const DEFAULT_KEY_DIRECTORY_LIFETIME_SECONDS = 24 * 3600;
export const MAX_KEY_DIRECTORY_LIFETIME_SECONDS = 7 * 24 * 3600;
/** Largest OpenPGP key served (binary), as for OPENPGPKEY and WKD lookups. */
export const MAX_OPENPGP_KEY_BYTES = 64 * 1024;
const MAX_KEY_DIRECTORY_JWS_LENGTH = 128 * 1024;
const FINGERPRINT = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;

export interface KeyDirectoryEntry {
  readonly domain: string;
  readonly local: string;
  /** Binary transferable public key. */
  readonly openpgpKey: Uint8Array;
  /** Primary key fingerprint, lowercase hex. */
  readonly fingerprint: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** The path of a user's entry: the local part percent-encoded as one segment. */
export function keyDirectoryPath(local: string): string {
  return `${KEY_DIRECTORY_PATH_PREFIX}${encodeURIComponent(local)}`;
}

export interface SignKeyDirectoryInput extends Omit<KeyDirectoryEntry, 'expiresAt'> {
  /** Defaults to issuedAt + DEFAULT_KEY_DIRECTORY_LIFETIME_SECONDS. */
  readonly expiresAt?: number;
}

/** Signs a key directory answer with the instance signing key. Throws a `ProtocolError` on a malformed entry. */
export async function signKeyDirectoryEntry(entry: SignKeyDirectoryInput, signingKey: Ed25519KeyPair): Promise<string> {
  const wire = {
    domain: normalizeDomain(entry.domain),
    local: entry.local,
    openpgpKey: encodeBase64Url(entry.openpgpKey),
    fingerprint: entry.fingerprint,
    issuedAt: entry.issuedAt,
    expiresAt: entry.expiresAt ?? entry.issuedAt + DEFAULT_KEY_DIRECTORY_LIFETIME_SECONDS,
  };
  const parsed = parseEntry(wire);
  if (!parsed.ok) throw parsed.error;
  return signJws(wire, signingKey, KEY_DIRECTORY_JWS_TYPE);
}

export interface VerifyKeyDirectoryOptions {
  /** The instance's signing keys, from the feed. */
  readonly signingKeys: readonly Ed25519PublicJwk[];
  /** The instance and the local part asked for. */
  readonly expectedDomain: string;
  readonly expectedLocal: string;
  readonly now: number;
  readonly clockToleranceSeconds?: number;
}

/**
 * Verifies a key directory answer. Order: shape (`key_directory_malformed`), key and signature
 * (`key_directory_bad_signature`), claims (`key_directory_malformed`), user (`key_directory_mismatch`), time
 * (`key_directory_expired`).
 */
export async function verifyKeyDirectoryEntry(
  jws: unknown,
  options: VerifyKeyDirectoryOptions,
): Promise<Result<KeyDirectoryEntry>> {
  const verified = await verifyInstanceJws(jws, {
    keys: options.signingKeys,
    typ: KEY_DIRECTORY_JWS_TYPE,
    codes: { malformed: 'key_directory_malformed', badSignature: 'key_directory_bad_signature' },
    maxLength: MAX_KEY_DIRECTORY_JWS_LENGTH,
    what: 'key directory answer',
  });
  if (!verified.ok) return verified;
  const parsed = parseEntry(verified.value.payload);
  if (!parsed.ok) return parsed;
  const entry = parsed.value;
  const domain = normalizeDomain(options.expectedDomain);
  if (entry.domain !== domain || entry.local !== options.expectedLocal) {
    return fail(
      'key_directory_mismatch',
      `The answer is for ${entry.local}@${entry.domain}, not ${options.expectedLocal}@${domain}.`,
    );
  }
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (entry.issuedAt > options.now + tolerance || options.now - tolerance >= entry.expiresAt) {
    return fail(
      'key_directory_expired',
      `The answer is valid from ${entry.issuedAt} to ${entry.expiresAt}; it is ${options.now}.`,
    );
  }
  return ok(entry);
}

function parseEntry(input: unknown): Result<KeyDirectoryEntry> {
  if (!hasOnlyMembers(input, ['domain', 'local', 'openpgpKey', 'fingerprint', 'issuedAt', 'expiresAt'])) {
    return malformed('the claims are not { domain, local, openpgpKey, fingerprint, issuedAt, expiresAt }');
  }
  const { domain, local, openpgpKey, fingerprint, issuedAt, expiresAt } = input;
  if (!isDomain(domain)) return malformed('domain is not a normalised domain name');
  if (!isLocalPart(local)) return malformed('local is not a local part');
  const key = typeof openpgpKey === 'string' ? decodeBase64Url(openpgpKey) : undefined;
  if (key === undefined || key.byteLength === 0 || key.byteLength > MAX_OPENPGP_KEY_BYTES) {
    return malformed(`openpgpKey is not 1 to ${MAX_OPENPGP_KEY_BYTES} bytes of base64url`);
  }
  if (typeof fingerprint !== 'string' || !FINGERPRINT.test(fingerprint))
    return malformed('fingerprint is not 40 or 64 lowercase hex digits');
  if (!isTimestamp(issuedAt) || !isTimestamp(expiresAt))
    return malformed('issuedAt and expiresAt must be integer seconds');
  if (expiresAt <= issuedAt || expiresAt - issuedAt > MAX_KEY_DIRECTORY_LIFETIME_SECONDS) {
    return malformed(`the lifetime must be more than 0 and at most ${MAX_KEY_DIRECTORY_LIFETIME_SECONDS} seconds`);
  }
  return ok({ domain, local, openpgpKey: key, fingerprint, issuedAt, expiresAt });
}

function malformed(reason: string) {
  return fail('key_directory_malformed', `Malformed key directory answer: ${reason}.`);
}
