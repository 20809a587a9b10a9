import { compactVerify, decodeProtectedHeader, importJWK } from 'jose';
import type { Ed25519PublicJwk } from '@caliopen/federation-protocol';
import { RegistryError } from '../shared/errors.ts';

/**
 * The signed charter declaration of an application: a compact JWS (RFC 7515), `alg: EdDSA`,
 * `typ: caliopen-declaration+jws`, optionally `kid` = the RFC 7638 thumbprint of the signing key, signed by the
 * instance's Ed25519 signing key (the one in the application), whose payload is `{ declaration, nonce, iat }`:
 * - declaration: the charter declaration (charter/ DeclarationSchema);
 * - nonce: 16–128 base64url characters, never used before (a second submission is a replay);
 * - iat: NumericDate of the signature, within ±10 minutes of the registry clock.
 */
export const DECLARATION_JWS_TYPE = 'caliopen-declaration+jws';
export const MAX_DECLARATION_JWS_LENGTH = 32 * 1024;
export const DECLARATION_MAX_SKEW_SECONDS = 600;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const NONCE = /^[A-Za-z0-9_-]{16,128}$/;

export interface SignedDeclaration {
  declaration: unknown;
  nonce: string;
  iat: number;
}

export async function verifyDeclarationJws(
  jws: string,
  signingJwk: Ed25519PublicJwk,
  signingThumbprint: string,
): Promise<SignedDeclaration> {
  if (jws.length > MAX_DECLARATION_JWS_LENGTH || !COMPACT_JWS.test(jws))
    throw new RegistryError('declaration_malformed', 'The declaration is not a compact JWS.');
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new RegistryError('declaration_malformed', 'The JWS protected header is not base64url JSON.');
  }
  if (header['alg'] !== 'EdDSA')
    throw new RegistryError('declaration_malformed', `The JWS algorithm must be EdDSA, not ${String(header['alg'])}.`);
  if (header['typ'] !== DECLARATION_JWS_TYPE)
    throw new RegistryError('declaration_malformed', `The JWS type must be "${DECLARATION_JWS_TYPE}".`);
  if (header['kid'] !== undefined && header['kid'] !== signingThumbprint) {
    throw new RegistryError(
      'declaration_bad_signature',
      'The declaration names another key (kid) than the signing key of the application.',
    );
  }
  let payloadBytes: Uint8Array;
  try {
    const key = await importJWK({ kty: signingJwk.kty, crv: signingJwk.crv, x: signingJwk.x }, 'EdDSA');
    ({ payload: payloadBytes } = await compactVerify(jws, key, { algorithms: ['EdDSA'] }));
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') {
      throw new RegistryError(
        'declaration_bad_signature',
        'The signature does not verify with the signing key of the application.',
      );
    }
    throw new RegistryError('declaration_malformed', 'The JWS cannot be verified (malformed parts).');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payloadBytes));
  } catch {
    throw new RegistryError('declaration_malformed', 'The JWS payload is not UTF-8 JSON.');
  }
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload))
    throw new RegistryError('declaration_malformed', 'The payload is not an object.');
  const record = payload as Record<string, unknown>;
  const extra = Object.keys(record).filter((k) => !['declaration', 'nonce', 'iat'].includes(k));
  if (extra.length > 0)
    throw new RegistryError(
      'declaration_malformed',
      `The payload has unknown members: ${extra.slice(0, 5).join(', ')}.`,
    );
  const { declaration, nonce, iat } = record;
  if (typeof nonce !== 'string' || !NONCE.test(nonce))
    throw new RegistryError('declaration_malformed', 'nonce must be 16 to 128 base64url characters.');
  if (!Number.isSafeInteger(iat) || (iat as number) < 0)
    throw new RegistryError('declaration_malformed', 'iat must be integer seconds since the epoch.');
  if (typeof declaration !== 'object' || declaration === null || Array.isArray(declaration))
    throw new RegistryError('declaration_malformed', 'declaration must be an object.');
  return { declaration, nonce, iat: iat as number };
}
