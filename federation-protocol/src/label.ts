import { randomUUID } from 'node:crypto';
import { isDomain, normalizeDomain } from './domain.ts';
import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';
import { signJws, verifyJws } from './jws.ts';
import type { JwsErrorCodes } from './jws.ts';
import type { Ed25519KeyPair, KeySet } from './keys.ts';
import { parsePiSummary } from './pi.types.ts';
import type { PiSummary } from './pi.types.ts';
import { isRecord, isTimestamp, isToken, SHA256_BASE64URL, SHA256_HEX } from './validate.ts';

/**
 * Labels: the registry's short-lived statement that an instance passed its checks and audit. A label is a compact
 * JWS (JWT claims, typ `caliopen-label+jwt`) signed by a registry key; peers verify it offline against the key set
 * they pinned, and refuse to federate with an unlabelled, expired or revoked peer.
 *
 * Wire claims (JWT names for the registered ones): `iss`, `sub` (domain), `jti`, `iat`, `exp`, `charterVersion`,
 * `instanceKeys { signing, encryption }` (RFC 7638 thumbprints), `certFingerprint` (SHA-256 of the certificate DER,
 * lowercase hex), `pi { score, level, modelVersion }`. Inside the code, `LabelClaims` uses our own names.
 */

export interface LabelClaims {
  /** Unique label id (`jti`); what revocation lists and the transparency log name. */
  readonly id: string;
  /** The registry that issued it (`iss`). */
  readonly issuer: string;
  /** The labelled instance (`sub`), normalised. */
  readonly domain: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  readonly charterVersion: string;
  /** RFC 7638 thumbprints of the instance's Ed25519 signing key and X25519 encryption key. */
  readonly instanceKeys: { readonly signing: string; readonly encryption: string };
  /** SHA-256 of the instance TLS certificate (DER), lowercase hex. */
  readonly certFingerprint: string;
  readonly pi: PiSummary;
}

export interface IssueLabelInput extends Omit<LabelClaims, 'id' | 'expiresAt'> {
  /** Defaults to a random UUID. */
  readonly id?: string;
  /** Defaults to issuedAt + DEFAULT_LABEL_LIFETIME_SECONDS. */
  readonly expiresAt?: number;
}

export interface VerifyLabelOptions {
  readonly keySet: KeySet;
  /** The domain the label is presented for (the peer's authenticated domain). */
  readonly expectedDomain: string;
  /** NumericDate (seconds) of the verification. */
  readonly now: number;
  readonly expectedIssuer?: string;
  /** Revoked label ids, e.g. a Set from the feed and the log. */
  readonly revokedIds?: { has(id: string): boolean };
  /** Clock skew tolerated on iat and exp, in seconds (default 60). */
  readonly clockToleranceSeconds?: number;
}

export const LABEL_JWS_TYPE = 'caliopen-label+jwt';
export const DEFAULT_LABEL_LIFETIME_SECONDS = 7 * 24 * 3600;
/** Labels are short-lived ("days, not months"); a verifier refuses a longer one as malformed. */
export const MAX_LABEL_LIFETIME_SECONDS = 14 * 24 * 3600;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;

const LABEL_CODES: JwsErrorCodes = {
  malformed: 'label_malformed',
  unknownKey: 'label_unknown_key',
  keyOutsideValidity: 'label_key_outside_validity',
  badSignature: 'label_bad_signature',
};

export async function issueLabel(
  input: IssueLabelInput,
  keyPair: Ed25519KeyPair,
): Promise<{ readonly jws: string; readonly claims: LabelClaims }> {
  const claims = parseWireClaims(
    toWireClaims({
      ...input,
      id: input.id ?? randomUUID(),
      domain: normalizeDomain(input.domain),
      expiresAt: input.expiresAt ?? input.issuedAt + DEFAULT_LABEL_LIFETIME_SECONDS,
    }),
  );
  if (!claims.ok) throw claims.error;
  return { jws: await signJws(toWireClaims(claims.value), keyPair, LABEL_JWS_TYPE), claims: claims.value };
}

/**
 * Verifies a label presented by `expectedDomain`. Checks run in this order and the first failure is the code:
 * shape (`label_malformed`), key (`label_unknown_key`, `label_key_outside_validity`), signature
 * (`label_bad_signature`), claims (`label_malformed`), issuer, domain, revocation, then time
 * (`label_not_yet_valid`, `label_expired`).
 */
export async function verifyLabel(jws: unknown, options: VerifyLabelOptions): Promise<Result<LabelClaims>> {
  const verified = await verifyJws(jws, {
    keySet: options.keySet,
    now: options.now,
    typ: LABEL_JWS_TYPE,
    codes: LABEL_CODES,
  });
  if (!verified.ok) return verified;
  const parsed = parseWireClaims(verified.value.payload);
  if (!parsed.ok) return parsed;
  const claims = parsed.value;

  if (options.expectedIssuer !== undefined && claims.issuer !== options.expectedIssuer) {
    return fail('label_wrong_issuer', `The label was issued by "${claims.issuer}", not "${options.expectedIssuer}".`);
  }
  const expectedDomain = normalizeDomain(options.expectedDomain);
  if (claims.domain !== expectedDomain) {
    return fail('label_wrong_domain', `The label is for "${claims.domain}", not "${expectedDomain}".`);
  }
  if (options.revokedIds?.has(claims.id)) return fail('label_revoked', `Label ${claims.id} has been revoked.`);
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (options.now + tolerance < claims.issuedAt) {
    return fail('label_not_yet_valid', `The label is valid from ${claims.issuedAt}; it is ${options.now}.`);
  }
  if (options.now - tolerance >= claims.expiresAt) {
    return fail('label_expired', `The label expired at ${claims.expiresAt}; it is ${options.now}.`);
  }
  return ok(claims);
}

interface WireLabelClaims {
  readonly iss: string;
  readonly sub: string;
  readonly jti: string;
  readonly iat: number;
  readonly exp: number;
  readonly charterVersion: string;
  readonly instanceKeys: { readonly signing: string; readonly encryption: string };
  readonly certFingerprint: string;
  readonly pi: PiSummary;
}

function toWireClaims(claims: LabelClaims): WireLabelClaims {
  return {
    iss: claims.issuer,
    sub: claims.domain,
    jti: claims.id,
    iat: claims.issuedAt,
    exp: claims.expiresAt,
    charterVersion: claims.charterVersion,
    instanceKeys: { signing: claims.instanceKeys.signing, encryption: claims.instanceKeys.encryption },
    certFingerprint: claims.certFingerprint,
    pi: { score: claims.pi.score, level: claims.pi.level, modelVersion: claims.pi.modelVersion },
  };
}

function parseWireClaims(input: unknown): Result<LabelClaims> {
  if (!isRecord(input)) return claimsMalformed('the payload is not an object');
  const { iss, sub, jti, iat, exp, charterVersion, instanceKeys, certFingerprint } = input;
  if (!isToken(iss)) return claimsMalformed('iss is not a registry name');
  if (!isDomain(sub)) return claimsMalformed('sub is not a normalised domain name');
  if (!isToken(jti, 128)) return claimsMalformed('jti is not 1 to 128 printable ASCII characters');
  if (!isTimestamp(iat) || !isTimestamp(exp)) return claimsMalformed('iat and exp must be integer seconds');
  if (exp <= iat || exp - iat > MAX_LABEL_LIFETIME_SECONDS) {
    return claimsMalformed(`the lifetime must be more than 0 and at most ${MAX_LABEL_LIFETIME_SECONDS} seconds`);
  }
  if (!isToken(charterVersion, 32)) return claimsMalformed('charterVersion is not a version string');
  if (
    !isRecord(instanceKeys) ||
    typeof instanceKeys['signing'] !== 'string' ||
    typeof instanceKeys['encryption'] !== 'string' ||
    !SHA256_BASE64URL.test(instanceKeys['signing']) ||
    !SHA256_BASE64URL.test(instanceKeys['encryption'])
  ) {
    return claimsMalformed('instanceKeys needs the signing and encryption key thumbprints');
  }
  if (typeof certFingerprint !== 'string' || !SHA256_HEX.test(certFingerprint)) {
    return claimsMalformed('certFingerprint is not a lowercase hex SHA-256');
  }
  const pi = parsePiSummary(input['pi']);
  if (!pi.ok) return claimsMalformed(`pi: ${pi.error.message}`);
  return ok({
    id: jti,
    issuer: iss,
    domain: sub,
    issuedAt: iat,
    expiresAt: exp,
    charterVersion,
    instanceKeys: { signing: instanceKeys['signing'], encryption: instanceKeys['encryption'] },
    certFingerprint,
    pi: pi.value,
  });
}

function claimsMalformed(reason: string) {
  return fail('label_malformed', `Malformed label claims: ${reason}.`);
}
