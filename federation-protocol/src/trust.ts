import { isLocalPart } from './address.ts';
import { isDomain, normalizeDomain } from './domain.ts';
import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';
import { hasOnlyMembers, verifyInstanceJws } from './instance-jws.ts';
import { signJws } from './jws.ts';
import type { Ed25519KeyPair, Ed25519PublicJwk } from './keys.ts';
import { parsePiSummary } from './pi.types.ts';
import type { PiSummary } from './pi.types.ts';
import { isTimestamp } from './validate.ts';

/**
 * Trust sharing (SPEC.md, "Trust sharing"): `GET /federation/v1/trust/:local` answers a labelled peer with the
 * user's account Privacy Index, when the user allows it, signed by the instance (body: the compact JWS,
 * `application/jose`). Typ `caliopen-trust+jws`, payload `{ domain, local, pi: { score, level, modelVersion },
 * issuedAt, expiresAt }`. Only the summary crosses: the breakdown of a user's PI would tell a peer about the user's
 * other correspondents and devices.
 */

export const TRUST_JWS_TYPE = 'caliopen-trust+jws';
export const TRUST_PATH_PREFIX = '/federation/v1/trust/';
export const DEFAULT_TRUST_LIFETIME_SECONDS = 24 * 3600;
export const MAX_TRUST_LIFETIME_SECONDS = 7 * 24 * 3600;
const MAX_TRUST_JWS_LENGTH = 2048;
const DEFAULT_CLOCK_TOLERANCE_SECONDS = 60;

export interface TrustStatement {
  readonly domain: string;
  readonly local: string;
  /** The user's account PI. */
  readonly pi: PiSummary;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

/** The path of a user's trust answer: the local part percent-encoded as one segment. */
export function trustPath(local: string): string {
  return `${TRUST_PATH_PREFIX}${encodeURIComponent(local)}`;
}

export interface SignTrustInput extends Omit<TrustStatement, 'expiresAt'> {
  /** Defaults to issuedAt + DEFAULT_TRUST_LIFETIME_SECONDS. */
  readonly expiresAt?: number;
}

/** Signs a trust answer with the instance signing key. Throws a `ProtocolError` on a malformed statement. */
export async function signTrustStatement(input: SignTrustInput, signingKey: Ed25519KeyPair): Promise<string> {
  const wire = {
    domain: normalizeDomain(input.domain),
    local: input.local,
    pi: { score: input.pi.score, level: input.pi.level, modelVersion: input.pi.modelVersion },
    issuedAt: input.issuedAt,
    expiresAt: input.expiresAt ?? input.issuedAt + DEFAULT_TRUST_LIFETIME_SECONDS,
  };
  const parsed = parseStatement(wire);
  if (!parsed.ok) throw parsed.error;
  return signJws(parsed.value, signingKey, TRUST_JWS_TYPE);
}

export interface VerifyTrustOptions {
  /** The instance's signing keys, from the feed. */
  readonly signingKeys: readonly Ed25519PublicJwk[];
  readonly expectedDomain: string;
  readonly expectedLocal: string;
  readonly now: number;
  readonly clockToleranceSeconds?: number;
}

/**
 * Verifies a trust answer. Order: shape (`trust_malformed`), key and signature (`trust_bad_signature`), claims
 * (`trust_malformed`), user (`trust_mismatch`), time (`trust_expired`).
 */
export async function verifyTrustStatement(jws: unknown, options: VerifyTrustOptions): Promise<Result<TrustStatement>> {
  const verified = await verifyInstanceJws(jws, {
    keys: options.signingKeys,
    typ: TRUST_JWS_TYPE,
    codes: { malformed: 'trust_malformed', badSignature: 'trust_bad_signature' },
    maxLength: MAX_TRUST_JWS_LENGTH,
    what: 'trust answer',
  });
  if (!verified.ok) return verified;
  const parsed = parseStatement(verified.value.payload);
  if (!parsed.ok) return parsed;
  const statement = parsed.value;
  const domain = normalizeDomain(options.expectedDomain);
  if (statement.domain !== domain || statement.local !== options.expectedLocal) {
    return fail(
      'trust_mismatch',
      `The answer is for ${statement.local}@${statement.domain}, not ${options.expectedLocal}@${domain}.`,
    );
  }
  const tolerance = options.clockToleranceSeconds ?? DEFAULT_CLOCK_TOLERANCE_SECONDS;
  if (statement.issuedAt > options.now + tolerance || options.now - tolerance >= statement.expiresAt) {
    return fail(
      'trust_expired',
      `The answer is valid from ${statement.issuedAt} to ${statement.expiresAt}; it is ${options.now}.`,
    );
  }
  return ok(statement);
}

function parseStatement(input: unknown): Result<TrustStatement> {
  if (!hasOnlyMembers(input, ['domain', 'local', 'pi', 'issuedAt', 'expiresAt'])) {
    return malformed('the claims are not { domain, local, pi, issuedAt, expiresAt }');
  }
  const { domain, local, issuedAt, expiresAt } = input;
  if (!isDomain(domain)) return malformed('domain is not a normalised domain name');
  if (!isLocalPart(local)) return malformed('local is not a local part');
  if (!hasOnlyMembers(input['pi'], ['score', 'level', 'modelVersion']))
    return malformed('pi must be { score, level, modelVersion }');
  const pi = parsePiSummary(input['pi']);
  if (!pi.ok) return malformed(`pi: ${pi.error.message}`);
  if (!isTimestamp(issuedAt) || !isTimestamp(expiresAt))
    return malformed('issuedAt and expiresAt must be integer seconds');
  if (expiresAt <= issuedAt || expiresAt - issuedAt > MAX_TRUST_LIFETIME_SECONDS) {
    return malformed(`the lifetime must be more than 0 and at most ${MAX_TRUST_LIFETIME_SECONDS} seconds`);
  }
  return ok({ domain, local, pi: pi.value, issuedAt, expiresAt });
}

function malformed(reason: string) {
  return fail('trust_malformed', `Malformed trust answer: ${reason}.`);
}
