import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import type { PasswordHasherOptions } from '@caliopen/platform/crypto/password.hasher.ts';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import type { KekDerivation } from './account-key.entity.ts';

/**
 * How a server-held private key is kept at rest (server mode), two layers:
 *
 * 1. **Password layer.** A 32-byte key-encryption key (KEK) is derived from the user's password with argon2id and a
 *    salt of its own (16 random bytes, not the password hash's; the argon2 associated data names the purpose, so the
 *    KEK is never the password hash's output). The binary transferable secret key (openpgp.js `write()` of the
 *    decrypted key) is encrypted with AES-256-GCM under the KEK, with the account id and the fingerprint as
 *    additional data (a wrapped key copied into another row does not open).
 *    Why not openpgp.js `encryptKey` with the KEK as passphrase: its S2K would stretch an already random 256-bit key
 *    a second time (iterated SHA or another argon2 run at every unlock) and leave the key's own structure (key ids,
 *    public parameters) in clear around the encrypted secret parts; one AEAD over the whole key is simpler to check.
 *    The OpenPGP passphrase protection is used where it belongs: the export handed to the user (account-key.service.ts).
 * 2. **Instance layer.** The result is sealed with the instance SecretBox (master key, AES-256-GCM), purpose
 *    `account-key:<accountId>:<fingerprint>`.
 *
 * Stolen database: neither layer opens (guessing the password costs what guessing it from its hash costs, and the
 * master key is needed too). Stolen database and master key: an offline argon2id guess per password candidate.
 * The KEK lives only in process memory, for the sessions that derived it (key-unlock.cache.ts).
 */

export const KEK_BYTES = 32;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'k1';
const KDF_CONTEXT = Buffer.from('caliopen account private-key KEK v1', 'utf8');

/** The seal purpose and AEAD additional data of one account's key. */
export const wrapPurpose = (accountId: string, fingerprint: string) => `account-key:${accountId}:${fingerprint}`;

/** A fresh derivation (new random salt) with the given argon2id cost. */
export function newKekDerivation(cost: PasswordHasherOptions): KekDerivation {
  return {
    algorithm: 'argon2id',
    memoryCost: cost.memoryCost,
    timeCost: cost.timeCost,
    parallelism: cost.parallelism,
    salt: new Uint8Array(randomBytes(SALT_BYTES)),
  };
}

/** The KEK for a password under a derivation. Costs one argon2id run (tens of milliseconds, ~19 MiB by default). */
export async function deriveKek(password: string, kdf: KekDerivation): Promise<Buffer> {
  return argon2.hash(password, {
    type: argon2.argon2id,
    raw: true,
    hashLength: KEK_BYTES,
    memoryCost: kdf.memoryCost,
    timeCost: kdf.timeCost,
    parallelism: kdf.parallelism,
    salt: Buffer.from(kdf.salt.buffer, kdf.salt.byteOffset, kdf.salt.length),
    associatedData: KDF_CONTEXT,
  });
}

/** Same salt bytes: the KEK derived for one derivation opens the keys wrapped under it. */
export function sameSalt(a: KekDerivation, b: KekDerivation): boolean {
  return Buffer.compare(Buffer.from(a.salt), Buffer.from(b.salt)) === 0;
}

/** Wraps the binary secret key under the KEK, then seals it with the instance box (both layers above). */
export function wrapPrivateKey(secretKey: Uint8Array, kek: Buffer, box: SecretBox, purpose: string): string {
  if (kek.length !== KEK_BYTES) throw new Error('a KEK is 32 bytes');
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', kek, iv);
  cipher.setAAD(Buffer.from(purpose, 'utf8'));
  const body = Buffer.concat([cipher.update(secretKey), cipher.final(), cipher.getAuthTag()]);
  return box.seal(`${FORMAT}.${iv.toString('base64url')}.${body.toString('base64url')}`, purpose);
}

/**
 * The binary secret key, or null when this KEK (or this instance's master key, or the purpose) does not open it.
 * The caller wipes the result (`fill(0)`) once it has parsed it.
 */
export function unwrapPrivateKey(sealed: string, kek: Buffer, box: SecretBox, purpose: string): Uint8Array | null {
  let inner: string;
  try {
    inner = box.open(sealed, purpose);
  } catch {
    return null;
  }
  const [format, ivText, bodyText] = inner.split('.');
  if (format !== FORMAT || !ivText || !bodyText) return null;
  const iv = Buffer.from(ivText, 'base64url');
  const body = Buffer.from(bodyText, 'base64url');
  if (iv.length !== IV_BYTES || body.length <= TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', kek, iv);
    decipher.setAAD(Buffer.from(purpose, 'utf8'));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return new Uint8Array(
      Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]),
    );
  } catch {
    return null;
  }
}
