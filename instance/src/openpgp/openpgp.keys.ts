import { createHash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { normaliseEmailAddress } from '../mail/address.normalise.ts';
import { errorText, OPENPGP_CONFIG, OPENPGP_LIMITS } from './openpgp.config.ts';

/**
 * Reading correspondents' public keys: one transferable public key, armoured or binary, checked at a given time
 * (not revoked, not expired, usable, carrying the expected address) and re-serialised without anything private.
 * Pure functions over bytes (openpgp.js v6); every failure is a KeyError with a stable code.
 */

export type KeyErrorCode =
  | 'key_malformed'
  | 'key_too_large'
  | 'key_private'
  | 'key_expired'
  | 'key_revoked'
  | 'key_address_mismatch'
  | 'key_unusable';

/** Why a key was refused. The codes are also the API's error codes (instance/src/shared/errors.ts). */
export class KeyError extends Error {
  readonly code: KeyErrorCode;

  constructor(code: KeyErrorCode, message: string) {
    super(message);
    this.name = 'KeyError';
    this.code = code;
  }
}

export function isKeyError(e: unknown): e is KeyError {
  return e instanceof KeyError;
}

export interface ParsedPublicKey {
  /** Primary key fingerprint, lowercase hex (40 chars for v4, 64 for v6). */
  fingerprint: string;
  /** Primary key ID, lowercase hex (16 chars). */
  keyId: string;
  version: 4 | 6;
  /** e.g. 'ed25519', 'rsa3072', 'ecdsa-nistp256' (keyAlgorithmName). */
  algorithm: string;
  created: Date;
  /** When the key stops being usable: the primary key's expiry, or its encryption subkey's when earlier. */
  expires: Date | null;
  /** User IDs with a valid, unrevoked self-certification at `now` (others are ignored: anyone can append one). */
  userIds: string[];
  /** The email addresses of those user IDs, normalised (mail/address.normalise.ts), without repeats. */
  addresses: string[];
  /** Whether a valid encryption (sub)key exists at `now`. */
  canEncrypt: boolean;
  /** The transferable public key, re-serialised from what was parsed (binary packets; never private material). */
  publicKey: Uint8Array;
  armored: string;
}

export interface ParsePublicKeyOptions {
  /** The time at which the key must be valid. */
  now: Date;
  /** When given, a valid user ID must carry this address (compared normalised). */
  address?: string;
  /** Input size cap in bytes (default OPENPGP_LIMITS.keyBytes). */
  maxBytes?: number;
}

const ARMOR_BEGIN = /-----BEGIN PGP ([A-Z ,/0-9]{1,40})-----/g;

/** A readable name for a key algorithm: 'ed25519', 'x25519', 'rsa3072', 'ecdsa-nistp256', ... */
export function keyAlgorithmName(info: openpgp.AlgorithmInfo): string {
  const a = String(info.algorithm);
  if (a.startsWith('rsa')) return `rsa${info.bits ?? ''}`;
  if (a === 'eddsaLegacy') return 'ed25519';
  if (a === 'ecdh' && info.curve === 'curve25519Legacy') return 'curve25519';
  if ((a === 'ecdsa' || a === 'ecdh') && info.curve) return `${a}-${String(info.curve).toLowerCase()}`;
  return a.toLowerCase();
}

/**
 * Armoured text of an input, or null when the input is binary: OpenPGP packets always start with a byte that has its
 * high bit set, armour (7-bit text) never does. Latin-1 reads armour exactly.
 */
function armorOf(input: string | Uint8Array): string | null {
  if (typeof input === 'string') return input;
  if (input.length > 0 && (input[0]! & 0x80) !== 0) return null;
  return Buffer.from(input.buffer, input.byteOffset, input.length).toString('latin1');
}

async function readOneKey(input: string | Uint8Array): Promise<openpgp.Key> {
  const armor = armorOf(input);
  let keys: openpgp.Key[];
  if (armor !== null) {
    const blocks = [...armor.matchAll(ARMOR_BEGIN)].map((m) => m[1]!);
    if (blocks.some((b) => b.includes('PRIVATE KEY'))) {
      throw new KeyError(
        'key_private',
        'This is a private key; give the public key only (the private key must never leave its owner).',
      );
    }
    if (blocks.length === 0)
      throw new KeyError('key_malformed', 'No OpenPGP armour (-----BEGIN PGP PUBLIC KEY BLOCK-----) found.');
    if (blocks.length > 1) throw new KeyError('key_malformed', 'Several armoured blocks: one key expected.');
    if (blocks[0] !== 'PUBLIC KEY BLOCK')
      throw new KeyError('key_malformed', `This is a PGP ${blocks[0]!.toLowerCase()}, not a public key.`);
    try {
      // Text around the block (a greeting, indentation) is not part of the key.
      keys = await openpgp.readKeys({
        armoredKeys: armor.slice(armor.indexOf('-----BEGIN PGP')),
        config: OPENPGP_CONFIG,
      });
    } catch (e) {
      throw new KeyError('key_malformed', `The key cannot be read: ${errorText(e)}.`);
    }
  } else {
    try {
      keys = await openpgp.readKeys({ binaryKeys: input as Uint8Array, config: OPENPGP_CONFIG });
    } catch (e) {
      throw new KeyError('key_malformed', `The key cannot be read: ${errorText(e)}.`);
    }
  }
  if (keys.length !== 1) throw new KeyError('key_malformed', `${keys.length} keys given: one key expected.`);
  const key = keys[0]!;
  if (key.isPrivate()) {
    throw new KeyError(
      'key_private',
      'This is a private key; give the public key only (the private key must never leave its owner).',
    );
  }
  return key;
}

const earliest = (a: Date | null, b: Date | null): Date | null => (a === null ? b : b === null ? a : a < b ? a : b);

/** An openpgp.js expiration time as a date or null (Infinity = never; null = no valid self-signature). */
const expiryOf = (t: Date | number | null): Date | null => (t instanceof Date ? t : null);

/**
 * Reads and checks one public key. Throws KeyError: key_too_large, key_private, key_malformed (bad armour, truncated
 * packets, not a key, several keys), key_revoked, key_expired, key_address_mismatch, key_unusable (no valid
 * self-signature, or neither an encryption nor a signing capability at `now`).
 */
export async function parsePublicKey(
  input: string | Uint8Array,
  options: ParsePublicKeyOptions,
): Promise<ParsedPublicKey> {
  const { now } = options;
  const maxBytes = options.maxBytes ?? OPENPGP_LIMITS.keyBytes;
  const size = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.length;
  if (size > maxBytes)
    throw new KeyError('key_too_large', `The key is ${size} bytes; at most ${maxBytes} are accepted.`);
  if (size === 0) throw new KeyError('key_malformed', 'The key is empty.');

  const key = await readOneKey(input);
  const version = key.keyPacket.version;
  if (version !== 4 && version !== 6)
    throw new KeyError('key_malformed', `OpenPGP key version ${version} is not supported (4 or 6).`);

  let revoked = false;
  try {
    revoked = await key.isRevoked(undefined, undefined, now, fullConfig());
  } catch {
    revoked = false;
  }
  if (revoked) throw new KeyError('key_revoked', 'The key has been revoked by its owner.');
  try {
    await key.verifyPrimaryKey(now, undefined, fullConfig());
  } catch (e) {
    const message = errorText(e);
    if (/revoked/i.test(message)) throw new KeyError('key_revoked', 'The key has been revoked by its owner.');
    let expiry: Date | null = null;
    try {
      expiry = expiryOf(await key.getExpirationTime(undefined, fullConfig()));
    } catch {
      expiry = null;
    }
    if (/expired/i.test(message) || (expiry !== null && expiry <= now)) {
      throw new KeyError(
        'key_expired',
        expiry ? `The key expired on ${expiry.toISOString()}.` : 'The key has expired.',
      );
    }
    throw new KeyError('key_unusable', `The key has no valid self-signature: ${message}.`);
  }

  const userIds: string[] = [];
  const addresses: string[] = [];
  for (const user of key.users) {
    if (!user.userID) continue;
    try {
      await user.verify(now, fullConfig());
    } catch {
      continue; // unsigned, badly signed, revoked or expired user ID: not the key owner's word
    }
    userIds.push(user.userID.userID);
    const address = user.userID.email ? normaliseEmailAddress(user.userID.email) : null;
    if (address !== null && !addresses.includes(address)) addresses.push(address);
  }

  if (options.address !== undefined) {
    const wanted = normaliseEmailAddress(options.address);
    if (wanted === null || !addresses.includes(wanted)) {
      throw new KeyError(
        'key_address_mismatch',
        addresses.length === 0
          ? `The key carries no email address; ${options.address} expected.`
          : `The key is for ${addresses.join(', ')}, not for ${options.address}.`,
      );
    }
  }

  let expires = expiryOf(await key.getExpirationTime(undefined, fullConfig()).catch(() => null));
  let canEncrypt = false;
  try {
    const enc = await key.getEncryptionKey(undefined, now, undefined, fullConfig());
    canEncrypt = true;
    if (enc !== key)
      expires = earliest(
        expires,
        expiryOf(await (enc as openpgp.Subkey).getExpirationTime(now, fullConfig()).catch(() => null)),
      );
  } catch {
    canEncrypt = false;
  }
  let canSign = false;
  try {
    await key.getSigningKey(undefined, now, undefined, fullConfig());
    canSign = true;
  } catch {
    canSign = false;
  }
  if (!canEncrypt && !canSign)
    throw new KeyError('key_unusable', 'The key has no valid encryption or signing (sub)key.');

  const publicKey = key.toPublic();
  return {
    fingerprint: publicKey.getFingerprint().toLowerCase(),
    keyId: publicKey.getKeyID().toHex().toLowerCase(),
    version,
    algorithm: keyAlgorithmName(publicKey.getAlgorithmInfo()),
    created: publicKey.getCreationTime(),
    expires,
    userIds,
    addresses,
    canEncrypt,
    publicKey: publicKey.write(),
    armored: publicKey.armor(fullConfig()),
  };
}

/**
 * A stored public key (binary, as parsePublicKey re-serialised it) as an openpgp.js key, for verification and
 * encryption. Resolves null for anything that is not exactly one public key.
 */
export async function loadPublicKey(bytes: Uint8Array): Promise<openpgp.PublicKey | null> {
  if (bytes.length === 0 || bytes.length > OPENPGP_LIMITS.keyBytes * 2) return null;
  try {
    const keys = await openpgp.readKeys({ binaryKeys: bytes, config: OPENPGP_CONFIG });
    if (keys.length !== 1 || keys[0]!.isPrivate()) return null;
    return keys[0] as openpgp.PublicKey;
  } catch {
    return null;
  }
}

/** How many parsed keys sharedPublicKey keeps (least recently used dropped first). */
const SHARED_KEYS = 512;
const sharedKeys = new Map<string, Promise<openpgp.PublicKey | null>>();

/**
 * loadPublicKey, memoised by the key's bytes, for the paths that only read the key (encrypting to it, verifying with
 * it): the same key object serves every message. openpgp.js verifies a key's self-signatures (its binding to its
 * user IDs and subkeys, one Ed25519 or RSA verification each) the first time a key object is used, and remembers
 * that on the object; parsed afresh for every message, a key was verified afresh for every message, several times
 * per message (compose, arrival, Privacy Index). Time-dependent checks (expiry, revocation at a date) are still made
 * at every use. The object is shared: callers never modify it (openpgp.js's `update`, `revoke`, … return copies, but
 * anything that changes a key takes loadPublicKey's own object).
 */
export function sharedPublicKey(bytes: Uint8Array): Promise<openpgp.PublicKey | null> {
  const id = createHash('sha256').update(bytes).digest('base64');
  let key = sharedKeys.get(id);
  if (key !== undefined) {
    sharedKeys.delete(id);
  } else {
    key = loadPublicKey(bytes);
    if (sharedKeys.size >= SHARED_KEYS) sharedKeys.delete(sharedKeys.keys().next().value!);
  }
  sharedKeys.set(id, key);
  return key;
}

/** The key IDs (lowercase hex) of a key and of its subkeys: what signatures and PKESK packets name. */
export function keyIdsOf(key: openpgp.Key): string[] {
  return key.getKeys().map((k) => k.getKeyID().toHex().toLowerCase());
}

/** openpgp.js methods below the top-level functions take a full Config: ours over the library's defaults. */
export function fullConfig(): openpgp.Config {
  return { ...openpgp.config, ...OPENPGP_CONFIG } as openpgp.Config;
}
