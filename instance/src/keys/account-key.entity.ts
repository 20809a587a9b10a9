/**
 * The account's own OpenPGP keys (not correspondents': those are public-key.entity.ts). One row per key of an
 * account; at most one is `active` (published, used to sign and to be encrypted to). See account-key.port.ts for
 * what the rest of the instance may ask, and docs/adr/0006-openpgp-key-version.md for the kind of key generated.
 */

/**
 * - `active`: the account's current key: published (DNS OPENPGPKEY, WKD), given to correspondents, used to sign;
 * - `retired`: replaced by a newer key (rotation); no longer published, kept to read mail encrypted to it;
 * - `revoked`: its owner revoked it (the revocation signature is merged into `publicKey`); never published again.
 */
export type AccountKeyStatus = 'active' | 'retired' | 'revoked';

export const ACCOUNT_KEY_STATUSES: readonly AccountKeyStatus[] = ['active', 'retired', 'revoked'];

/**
 * How the key-encryption key (KEK) that wraps a server-held private key is derived from the user's password:
 * argon2id with its own random salt (not the password hash's), 32 bytes of output.
 */
export interface KekDerivation {
  algorithm: 'argon2id';
  /** KiB. */
  memoryCost: number;
  timeCost: number;
  parallelism: number;
  /** 16 random bytes, one per account (every server-held key of an account shares it, see the service). */
  salt: Uint8Array;
}

/**
 * A private key held by the server (`server` mode), in two layers:
 * 1. AES-256-GCM under the KEK derived from the user's password (account-key.wrap.ts), bound by its additional data
 *    to the account and the fingerprint, over the binary transferable secret key;
 * 2. the result sealed with the instance SecretBox (master key), purpose `account-key:<accountId>:<fingerprint>`.
 * A copy of the database alone opens neither layer; the master key alone does not open the first.
 */
export interface WrappedPrivateKey {
  /** SecretBox-sealed `k1.<iv>.<ciphertext+tag>` (base64url). */
  sealed: string;
  kek: KekDerivation;
}

export interface AccountKey {
  accountId: string;
  /** Primary key fingerprint, lowercase hex (40 chars for v4, 64 for v6). */
  fingerprint: string;
  /** OpenPGP key version (4 or 6). */
  version: number;
  /** e.g. 'ed25519', 'rsa3072' (openpgp.keys.ts keyAlgorithmName). */
  algorithm: string;
  /** The transferable public key (binary packets, no private parts); carries the revocation once revoked. */
  publicKey: Uint8Array;
  status: AccountKeyStatus;
  keyCreatedAt: Date;
  /** When the key stops being usable; null = no expiry. */
  keyExpiresAt: Date | null;
  /** Armoured revocation certificate (public: it can only revoke the key), when the instance holds one. */
  revocationCertificate: string | null;
  /** The server-held private key (`server` mode); null when the private key lives on the user's devices only. */
  privateKey: WrappedPrivateKey | null;
  /** When the key was added to the account (generated, imported, uploaded). */
  addedAt: Date;
  updatedAt: Date;
}

/** The stored form of a KekDerivation (one JSON text column in every engine). */
export function kekToJson(k: KekDerivation): string {
  return JSON.stringify({
    algorithm: k.algorithm,
    memoryCost: k.memoryCost,
    timeCost: k.timeCost,
    parallelism: k.parallelism,
    salt: Buffer.from(k.salt.buffer, k.salt.byteOffset, k.salt.length).toString('base64url'),
  });
}

/** Reads the stored form back; null for anything that is not one (the key then counts as not server-held). */
export function kekFromJson(text: string | null): KekDerivation | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    const ints = [v['memoryCost'], v['timeCost'], v['parallelism']];
    if (
      v['algorithm'] !== 'argon2id' ||
      typeof v['salt'] !== 'string' ||
      !ints.every((n) => Number.isInteger(n) && (n as number) > 0)
    )
      return null;
    return {
      algorithm: 'argon2id',
      memoryCost: v['memoryCost'] as number,
      timeCost: v['timeCost'] as number,
      parallelism: v['parallelism'] as number,
      salt: new Uint8Array(Buffer.from(v['salt'], 'base64url')),
    };
  } catch {
    return null;
  }
}
