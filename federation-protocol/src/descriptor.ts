import { CompactSign, compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import { canonicalJsonBytes } from './canonical-json.ts';
import { isDomain, normalizeDomain } from './domain.ts';
import { decodeBase64Url, utf8Decode } from './encoding.ts';
import { jwkThumbprint, parseOkpPublicJwk } from './keys.ts';
import type { Ed25519PrivateJwk, Ed25519PublicJwk, X25519PublicJwk } from './keys.ts';
import { COMPACT_JWS, isRecord, isText, isTimestamp, SHA256_BASE64URL, SHA256_HEX } from './validate.ts';

/**
 * The instance descriptor: what an instance says about itself at `https://<domain>/.well-known/caliopen`.
 *
 * `{ version: 1, domain, keys: { signing, encryption }, endpoints: { https, smtp? }, certificateSha256, issuedAt }`,
 * signed as a compact JWS (EdDSA, header `{ alg, kid, typ: "caliopen-descriptor+jws" }`, payload canonical JSON) by
 * the Ed25519 signing key it carries; `kid` is that key's RFC 7638 thumbprint. Being self-signed, a descriptor
 * proves only that whoever serves it holds the key it names: its trust comes from matching the thumbprints the
 * registry's application, label and feed list, and the certificate fingerprint they pin.
 *
 * Verifying (`verifyDescriptor`) checks, in this order, and the first failure is the code: shape and header
 * (`descriptor_malformed`), the kid naming the carried key (`descriptor_key_mismatch`), the signature
 * (`descriptor_bad_signature`), the payload (`descriptor_malformed`), the domain (`descriptor_wrong_domain`), the
 * expected thumbprints if given (`descriptor_unexpected_keys`), then time (`descriptor_not_yet_valid`,
 * `descriptor_too_old`). It never throws on hostile input.
 */

/**
 * The codes descriptor verification reports. Same rules as `ERROR_CODES` in errors.ts (add, never rename or
 * reuse); they belong in that table and will move there.
 */
export const DESCRIPTOR_ERROR_CODES = {
  descriptor_malformed:
    'The instance descriptor is not a well-formed compact JWS with the expected header and payload ' +
    '(version, domain, keys, endpoints, certificateSha256, issuedAt).',
  descriptor_key_mismatch: 'The descriptor JWS names (kid) another key than the signing key the descriptor carries.',
  descriptor_bad_signature: 'The descriptor signature does not verify with the signing key it carries.',
  descriptor_wrong_domain: 'The descriptor is for another domain than the one it was fetched from.',
  descriptor_unexpected_keys: 'The descriptor keys are not the ones the registry or the feed lists for the domain.',
  descriptor_not_yet_valid: 'The descriptor was issued in the future.',
  descriptor_too_old: 'The descriptor was issued longer ago than the verifier accepts.',
} as const;

export type DescriptorErrorCode = keyof typeof DESCRIPTOR_ERROR_CODES;

export class DescriptorError extends Error {
  override readonly name = 'DescriptorError';
  readonly code: DescriptorErrorCode;

  constructor(code: DescriptorErrorCode, message: string = DESCRIPTOR_ERROR_CODES[code]) {
    super(message);
    this.code = code;
  }
}

export type DescriptorResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: DescriptorError };

export const DESCRIPTOR_VERSION = 1;
export const DESCRIPTOR_JWS_TYPE = 'caliopen-descriptor+jws';
/** Where an instance serves its descriptor (the compact JWS, `application/jose`), relative to its HTTPS base URL. */
export const DESCRIPTOR_WELL_KNOWN_PATH = '/.well-known/caliopen';
/** Longest descriptor JWS accepted: a descriptor is a few hundred bytes. */
export const MAX_DESCRIPTOR_LENGTH = 8 * 1024;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;
const ED25519_SIGNATURE_LENGTH = 64;
const MAX_URL_LENGTH = 2048;

export interface InstanceDescriptor {
  readonly version: 1;
  /** The instance domain, normalised. */
  readonly domain: string;
  readonly keys: { readonly signing: Ed25519PublicJwk; readonly encryption: X25519PublicJwk };
  readonly endpoints: {
    /** Base URL of the instance's HTTPS endpoint (`https:`, no query or fragment). */
    readonly https: string;
    /** SMTP endpoint `host:port`, when the instance does email. */
    readonly smtp?: string;
  };
  /** SHA-256 of the DER of the instance's TLS certificate, lowercase hex. */
  readonly certificateSha256: string;
  /** NumericDate (seconds). */
  readonly issuedAt: number;
}

export interface VerifiedDescriptor {
  readonly descriptor: InstanceDescriptor;
  /** RFC 7638 thumbprints of the descriptor's keys, the names the registry and the feed use. */
  readonly thumbprints: { readonly signing: string; readonly encryption: string };
}

export interface VerifyDescriptorOptions {
  /** The domain the descriptor was fetched from. */
  readonly expectedDomain: string;
  /** NumericDate (seconds) of the verification. */
  readonly now: number;
  /** Thumbprints the registry or feed lists for the domain; when given, the descriptor's keys must be these. */
  readonly expectedThumbprints?: { readonly signing: string; readonly encryption: string };
  /** Refuse a descriptor issued longer ago than this (no limit by default: the keys, not the date, carry trust). */
  readonly maxAgeSeconds?: number;
  /** Clock skew tolerated on issuedAt, in seconds (default 60). */
  readonly clockToleranceSeconds?: number;
}

/**
 * Signs a descriptor with the instance's Ed25519 private key, which must be the key the descriptor carries.
 * Throws a `DescriptorError` (`descriptor_malformed`, `descriptor_key_mismatch`) rather than sign what verifiers refuse.
 */
export async function signDescriptor(descriptor: InstanceDescriptor, privateJwk: Ed25519PrivateJwk): Promise<string> {
  const parsed = parseDescriptorPayload({ ...descriptor, domain: normalizeDomain(String(descriptor.domain)) });
  if (!parsed.ok) throw parsed.error;
  const value = parsed.value;
  if (privateJwk.kty !== 'OKP' || privateJwk.crv !== 'Ed25519' || typeof privateJwk.d !== 'string') {
    throw new DescriptorError('descriptor_malformed', 'The signing key must be a private Ed25519 JWK.');
  }
  if (privateJwk.x !== value.keys.signing.x) {
    throw new DescriptorError(
      'descriptor_key_mismatch',
      'The private key is not the signing key the descriptor carries.',
    );
  }
  const key = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: privateJwk.x, d: privateJwk.d }, 'EdDSA');
  return new CompactSign(canonicalJsonBytes(value))
    .setProtectedHeader({ alg: 'EdDSA', kid: jwkThumbprint(value.keys.signing), typ: DESCRIPTOR_JWS_TYPE })
    .sign(key);
}

/** Verifies a descriptor fetched from `expectedDomain`. See the module comment for the order of the checks. */
export async function verifyDescriptor(
  jws: unknown,
  options: VerifyDescriptorOptions,
): Promise<DescriptorResult<VerifiedDescriptor>> {
  if (typeof jws !== 'string' || jws.length > MAX_DESCRIPTOR_LENGTH || !COMPACT_JWS.test(jws)) {
    return failure('descriptor_malformed', 'Not a compact JWS (or longer than 8 KiB).');
  }
  if (decodeBase64Url(jws.slice(jws.lastIndexOf('.') + 1))?.byteLength !== ED25519_SIGNATURE_LENGTH) {
    return failure('descriptor_malformed', 'The JWS signature is not 64 bytes of canonical base64url.');
  }
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    return failure('descriptor_malformed', 'The JWS protected header is not base64url JSON.');
  }
  if (header['alg'] !== 'EdDSA')
    return failure('descriptor_malformed', `The JWS algorithm must be EdDSA, not ${String(header['alg'])}.`);
  if (header['typ'] !== DESCRIPTOR_JWS_TYPE) {
    return failure(
      'descriptor_malformed',
      `The JWS type must be "${DESCRIPTOR_JWS_TYPE}", not "${String(header['typ'])}".`,
    );
  }
  const kid = header['kid'];
  if (typeof kid !== 'string' || !SHA256_BASE64URL.test(kid))
    return failure('descriptor_malformed', 'The JWS header has no thumbprint kid.');
  if (header['crit'] !== undefined) return failure('descriptor_malformed', 'The JWS header has a "crit" member.');

  // The key is inside the payload: read it unverified, check the kid names it, then verify with it.
  const payloadPart = jws.slice(jws.indexOf('.') + 1, jws.lastIndexOf('.'));
  const unverifiedBytes = decodeBase64Url(payloadPart);
  const unverifiedText = unverifiedBytes === undefined ? undefined : utf8Decode(unverifiedBytes);
  if (unverifiedText === undefined) return failure('descriptor_malformed', 'The JWS payload is not base64url UTF-8.');
  let unverified: unknown;
  try {
    unverified = JSON.parse(unverifiedText);
  } catch {
    return failure('descriptor_malformed', 'The JWS payload is not JSON.');
  }
  const signingJwk =
    isRecord(unverified) && isRecord(unverified['keys'])
      ? parseOkpPublicJwk(unverified['keys']['signing'], 'Ed25519')
      : undefined;
  if (signingJwk === undefined)
    return failure('descriptor_malformed', 'The payload carries no public Ed25519 signing key (keys.signing).');
  const signingThumbprint = jwkThumbprint(signingJwk);
  if (kid !== signingThumbprint) {
    return failure(
      'descriptor_key_mismatch',
      `The JWS kid ${kid} is not the thumbprint ${signingThumbprint} of the carried signing key.`,
    );
  }
  try {
    const key = await importJWK({ ...signingJwk }, 'EdDSA');
    await compactVerify(jws, key, { algorithms: ['EdDSA'] });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
      return failure('descriptor_bad_signature', `The signature does not verify with the carried signing key ${kid}.`);
    }
    return failure('descriptor_malformed', `The JWS is malformed: ${(error as Error).message}`);
  }

  const parsed = parseDescriptorPayload(unverified);
  if (!parsed.ok) return parsed;
  const descriptor = parsed.value;
  const thumbprints = { signing: signingThumbprint, encryption: jwkThumbprint(descriptor.keys.encryption) };

  const expectedDomain = normalizeDomain(options.expectedDomain);
  if (descriptor.domain !== expectedDomain) {
    return failure('descriptor_wrong_domain', `The descriptor is for "${descriptor.domain}", not "${expectedDomain}".`);
  }
  const expected = options.expectedThumbprints;
  if (expected !== undefined) {
    const differences: string[] = [];
    if (thumbprints.signing !== expected.signing)
      differences.push(`signing key ${thumbprints.signing}, expected ${expected.signing}`);
    if (thumbprints.encryption !== expected.encryption) {
      differences.push(`encryption key ${thumbprints.encryption}, expected ${expected.encryption}`);
    }
    if (differences.length > 0)
      return failure('descriptor_unexpected_keys', `The descriptor carries ${differences.join('; ')}.`);
  }
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (descriptor.issuedAt > options.now + tolerance) {
    return failure(
      'descriptor_not_yet_valid',
      `The descriptor was issued at ${descriptor.issuedAt}; it is ${options.now}.`,
    );
  }
  if (options.maxAgeSeconds !== undefined && options.now - descriptor.issuedAt > options.maxAgeSeconds + tolerance) {
    return failure(
      'descriptor_too_old',
      `The descriptor was issued at ${descriptor.issuedAt}, more than ${options.maxAgeSeconds} s before ${options.now}.`,
    );
  }
  return { ok: true, value: { descriptor, thumbprints } };
}

/** Validates an untrusted descriptor payload; returns a copy with only the members of the format. */
export function parseDescriptorPayload(input: unknown): DescriptorResult<InstanceDescriptor> {
  if (!isRecord(input)) return malformed('the payload is not an object');
  const allowed = new Set(['version', 'domain', 'keys', 'endpoints', 'certificateSha256', 'issuedAt']);
  const unknown = Object.keys(input).filter((member) => !allowed.has(member));
  if (unknown.length > 0)
    return malformed(`unknown member ${unknown.map((m) => JSON.stringify(m.slice(0, 40))).join(', ')}`);
  const { version, domain, keys, endpoints, certificateSha256, issuedAt } = input;
  if (version !== DESCRIPTOR_VERSION) return malformed(`version must be ${DESCRIPTOR_VERSION}`);
  if (!isDomain(domain)) return malformed('domain is not a normalised domain name');
  if (!isRecord(keys) || Object.keys(keys).some((member) => member !== 'signing' && member !== 'encryption')) {
    return malformed('keys must hold exactly "signing" and "encryption"');
  }
  const signing = parseOkpPublicJwk(keys['signing'], 'Ed25519');
  if (signing === undefined) return malformed('keys.signing is not a public Ed25519 JWK');
  const encryption = parseOkpPublicJwk(keys['encryption'], 'X25519');
  if (encryption === undefined) return malformed('keys.encryption is not a public X25519 JWK');
  if (!isRecord(endpoints) || Object.keys(endpoints).some((member) => member !== 'https' && member !== 'smtp')) {
    return malformed('endpoints may hold only "https" and "smtp"');
  }
  const https = endpoints['https'];
  if (!isHttpsBaseUrl(https)) return malformed('endpoints.https is not an https:// base URL without query or fragment');
  const smtp = endpoints['smtp'];
  if (smtp !== undefined && !isHostPort(smtp)) return malformed('endpoints.smtp is not host:port');
  if (typeof certificateSha256 !== 'string' || !SHA256_HEX.test(certificateSha256)) {
    return malformed('certificateSha256 is not a lowercase hex SHA-256');
  }
  if (!isTimestamp(issuedAt)) return malformed('issuedAt is not integer seconds');
  return {
    ok: true,
    value: {
      version: DESCRIPTOR_VERSION,
      domain,
      keys: { signing, encryption },
      endpoints: smtp === undefined ? { https } : { https, smtp },
      certificateSha256,
      issuedAt,
    },
  };
}

function isHttpsBaseUrl(value: unknown): value is string {
  if (!isText(value, MAX_URL_LENGTH)) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (
    url.protocol === 'https:' && url.search === '' && url.hash === '' && url.username === '' && url.password === ''
  );
}

function isHostPort(value: unknown): value is string {
  if (!isText(value, 260)) return false;
  const match = /^(.+):(\d{1,5})$/.exec(value);
  if (match === null) return false;
  const port = Number(match[2]);
  const host = match[1]!;
  const isIpv6 = /^\[[0-9a-f:.]+\]$/i.test(host);
  const isIpv4 = /^\d{1,3}(?:\.\d{1,3}){3}$/.test(host);
  return port >= 1 && port <= 65535 && (isIpv6 || isIpv4 || isDomain(host));
}

function failure(code: DescriptorErrorCode, message: string): { ok: false; error: DescriptorError } {
  return { ok: false, error: new DescriptorError(code, message) };
}

function malformed(reason: string): { ok: false; error: DescriptorError } {
  return failure('descriptor_malformed', `Malformed descriptor: ${reason}.`);
}
