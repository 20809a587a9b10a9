import * as openpgp from 'openpgp';
import { errorText, OPENPGP_CONFIG, OPENPGP_LIMITS } from '../openpgp/openpgp.config.ts';
import { fullConfig, KeyError, loadPublicKey, parsePublicKey } from '../openpgp/openpgp.keys.ts';
import { AppError } from '../shared/errors.ts';

/**
 * Reading the account's own private keys (imports, uploads when moving to server mode) and revocation
 * certificates: bounded, every failure an AppError with a stable code. Pure functions over their input.
 */

/** An armoured private key is larger than its public key; several (an export of old keys) more so. */
export const MAX_PRIVATE_ARMOR_BYTES = 4 * OPENPGP_LIMITS.keyBytes;
/** A revocation certificate is one signature (a few hundred bytes). */
export const MAX_REVOCATION_BYTES = 16 * 1024;
/** Keys read from one upload. */
export const MAX_PRIVATE_KEYS = 16;

const ARMOR_BEGIN = /-----BEGIN PGP ([A-Z ,/0-9]{1,40})-----/g;

type Validating = openpgp.PrivateKey & { validate(config?: openpgp.Config): Promise<void> };

/**
 * The private keys of an armoured text, decrypted with `passphrase` when protected, each checked (its secret parts
 * match its public parts, it is no stub). Refusals: key_too_large, key_malformed, key_not_private (a public key
 * where a private one is expected), key_passphrase_wrong, key_unusable.
 */
export async function readPrivateKeys(
  armored: string,
  passphrase: string | undefined,
  options: { max?: number; now: Date },
): Promise<openpgp.PrivateKey[]> {
  const size = Buffer.byteLength(armored, 'utf8');
  if (size > MAX_PRIVATE_ARMOR_BYTES)
    throw new AppError('key_too_large', `The key is ${size} bytes; at most ${MAX_PRIVATE_ARMOR_BYTES} are accepted.`);
  const blocks = [...armored.matchAll(ARMOR_BEGIN)].map((m) => m[1]!);
  if (blocks.length === 0)
    throw new AppError('key_malformed', 'No OpenPGP armour (-----BEGIN PGP PRIVATE KEY BLOCK-----) found.');
  if (!blocks.includes('PRIVATE KEY BLOCK')) {
    if (blocks.includes('PUBLIC KEY BLOCK'))
      throw new AppError('key_not_private', 'This is a public key: the private key is needed here.');
    throw new AppError('key_malformed', `This is a PGP ${blocks[0]!.toLowerCase()}, not a private key.`);
  }
  if (blocks.length > 1)
    throw new AppError('key_malformed', 'Several armoured blocks: put every private key in one block.');
  let keys: openpgp.PrivateKey[];
  try {
    keys = await openpgp.readPrivateKeys({
      armoredKeys: armored.slice(armored.indexOf('-----BEGIN PGP')),
      config: OPENPGP_CONFIG,
    });
  } catch (e) {
    throw new AppError('key_malformed', `The private key cannot be read: ${errorText(e)}.`);
  }
  const max = options.max ?? 1;
  if (keys.length === 0 || keys.length > max)
    throw new AppError(
      'key_malformed',
      `${keys.length} keys given: ${max === 1 ? 'one key' : `1 to ${max} keys`} expected.`,
    );
  const out: openpgp.PrivateKey[] = [];
  for (const key of keys) {
    const version = key.keyPacket.version;
    if (version !== 4 && version !== 6)
      throw new AppError('key_malformed', `OpenPGP key version ${version} is not supported (4 or 6).`);
    if ((key.keyPacket as openpgp.SecretKeyPacket).isDummy?.()) {
      throw new AppError(
        'key_unusable',
        'This private key is a stub (its primary secret key is elsewhere, e.g. on a smartcard): export the whole key.',
      );
    }
    let open = key;
    if (!key.isDecrypted()) {
      if (passphrase === undefined || passphrase === '')
        throw new AppError(
          'key_passphrase_wrong',
          'The private key is protected by a passphrase: give it as `passphrase`.',
        );
      try {
        open = await openpgp.decryptKey({ privateKey: key, passphrase, config: OPENPGP_CONFIG });
      } catch (e) {
        if (/passphrase/i.test(errorText(e)))
          throw new AppError('key_passphrase_wrong', 'The passphrase does not open this private key.');
        throw new AppError('key_unusable', `The private key cannot be opened: ${errorText(e)}.`);
      }
    } else {
      try {
        await (key as Validating).validate(fullConfig());
      } catch (e) {
        throw new AppError('key_unusable', `The private key does not match its public key: ${errorText(e)}.`);
      }
    }
    // Revoked, expired or unsigned keys are refused with the codes public keys get.
    try {
      await parsePublicKey(open.toPublic().write(), { now: options.now });
    } catch (e) {
      throw asAppError(e);
    }
    let canDecrypt = false;
    try {
      canDecrypt = (await open.getDecryptionKeys(undefined, options.now, undefined, fullConfig())).some(
        (k) => !(k.keyPacket as openpgp.SecretKeyPacket).isDummy(),
      );
    } catch {
      canDecrypt = false;
    }
    if (!canDecrypt) throw new AppError('key_unusable', 'This private key has no usable decryption (sub)key.');
    out.push(open);
  }
  return out;
}

/** The armoured revocation certificate for a private key (openpgp.js makes one when it generates a key). */
export async function revocationCertificateOf(key: openpgp.PrivateKey, now: Date): Promise<string | null> {
  try {
    const { publicKey } = await openpgp.revokeKey({ key, format: 'object', date: now, config: OPENPGP_CONFIG });
    const cert = await publicKey.getRevocationCertificate(now, fullConfig());
    return typeof cert === 'string' ? cert : null;
  } catch {
    return null;
  }
}

/**
 * The public key with the revocation certificate merged in, checked to be revoked by it. Refusals:
 * key_revocation_invalid (unreadable, oversize, or not a revocation of this key).
 */
export async function applyRevocation(publicKey: Uint8Array, certificate: string, now: Date): Promise<Uint8Array> {
  if (Buffer.byteLength(certificate, 'utf8') > MAX_REVOCATION_BYTES)
    throw new AppError(
      'key_revocation_invalid',
      `The revocation certificate is larger than ${MAX_REVOCATION_BYTES} bytes.`,
    );
  const key = await loadPublicKey(publicKey);
  if (key === null) throw new AppError('internal_error', 'The stored public key cannot be read.');
  let revoked: openpgp.PublicKey;
  try {
    ({ publicKey: revoked } = await openpgp.revokeKey({
      key,
      revocationCertificate: certificate,
      format: 'object',
      date: now,
      config: OPENPGP_CONFIG,
    }));
  } catch (e) {
    throw new AppError(
      'key_revocation_invalid',
      `The revocation certificate does not apply to this key: ${errorText(e)}.`,
    );
  }
  let isRevoked = false;
  try {
    isRevoked = await revoked.isRevoked(undefined, undefined, now, fullConfig());
  } catch {
    isRevoked = false;
  }
  if (!isRevoked) throw new AppError('key_revocation_invalid', 'The certificate does not revoke this key.');
  return revoked.write();
}

/** A KeyError from openpgp.keys.ts as the API's error (same code). */
export function asAppError(e: unknown): unknown {
  return e instanceof KeyError ? new AppError(e.code, e.message) : e;
}
