import * as openpgp from 'openpgp';
import { errorText, OPENPGP_CONFIG, OPENPGP_LIMITS } from './openpgp.config.ts';
import { detectOpenPgp, type OpenPgpPart } from './openpgp.detect.ts';
import { keyIdsOf, sharedPublicKey } from './openpgp.keys.ts';
import { type SignatureCheck, type VerificationKey, verifySignature } from './openpgp.verify.ts';

/**
 * Decrypting incoming OpenPGP mail with a private key the account unlocked (server-side key mode): PGP/MIME
 * (RFC 3156 §4) and inline `-----BEGIN PGP MESSAGE-----` blocks. Bounded like everything in this folder: the encrypted
 * data is size-capped before openpgp.js reads it, decompression is capped inside openpgp.js
 * (OPENPGP_LIMITS.decompressedBytes: a compression bomb fails, it does not fill memory), the whole run has a time
 * budget, and integrity protection is required (no non-MDC messages). Never throws: every failure is an outcome with
 * a stable code and a one-line problem (never the content).
 *
 * The signature inside is checked against the sender's keys given: a one-pass signature inside the encryption
 * (RFC 3156 §6.2, what most clients send), or, when there is none, a multipart/signed entity inside (§6.1).
 */

export type DecryptionErrorCode =
  /** Nothing encrypted in the message (or the part). */
  | 'not_encrypted'
  /** The OpenPGP structure cannot be read (bad armour, truncated packets, obsolete unprotected encryption). */
  | 'malformed'
  /** The message is not encrypted to this key. */
  | 'not_for_this_key'
  /** The ciphertext was altered (integrity check failed). */
  | 'integrity'
  /** Too large to decrypt here, or a decompression bomb. */
  | 'too_large'
  /** The private key is locked (not decrypted) or is not a private key. */
  | 'key_locked'
  /** Took longer than the time budget. */
  | 'timeout'
  | 'failed';

export interface DecryptedContent {
  /** PGP/MIME: the decrypted MIME entity; inline: the decrypted text wrapped as a text/plain entity. */
  form: 'pgp-mime' | 'inline';
  /** A MIME entity (headers, blank line, body): what a mail parser reads as a message. */
  mime: Buffer;
}

export type DecryptionOutcome =
  | { ok: true; content: DecryptedContent; signature: SignatureCheck }
  | { ok: false; code: DecryptionErrorCode; problem: string };

const fail = (code: DecryptionErrorCode, problem: string): DecryptionOutcome => ({ ok: false, code, problem });

const check = (
  status: SignatureCheck['status'],
  reason: string | null,
  signerKeyId: string | null = null,
  signerFingerprint: string | null = null,
): SignatureCheck => ({
  status,
  reason,
  signerKeyId,
  signerFingerprint,
});

const WILDCARD = '0000000000000000';

function classify(e: unknown): DecryptionOutcome {
  const text = errorText(e);
  if (/decompress|maximum.*size/i.test(text))
    return fail(
      'too_large',
      `The decrypted content is larger than ${OPENPGP_LIMITS.decompressedBytes} bytes (a compression bomb?).`,
    );
  if (/modification detected|mdc|authentication tag|integrity|tag.*(?:mismatch|invalid)|message digest/i.test(text)) {
    return fail('integrity', 'The encrypted content was altered on the way (its integrity check fails).');
  }
  if (/session key decryption failed|no decryption key|decryption key|not decrypted/i.test(text))
    return fail('not_for_this_key', 'The message is not encrypted to this key.');
  if (/unexpected end|truncat|premature|malformed|invalid packet|armor|base64|unknown packet|grammar/i.test(text)) {
    return fail('malformed', `The encrypted message is malformed: ${text}.`);
  }
  return fail('failed', `The message could not be decrypted: ${text}.`);
}

interface LoadedKey {
  fingerprint: string;
  key: openpgp.PublicKey;
  keyIds: string[];
}

async function loadKeys(keys: readonly VerificationKey[]): Promise<LoadedKey[]> {
  const out: LoadedKey[] = [];
  for (const k of keys.slice(0, OPENPGP_LIMITS.verificationKeys)) {
    const key = await sharedPublicKey(k.publicKey);
    if (key !== null) out.push({ fingerprint: key.getFingerprint().toLowerCase(), key, keyIds: keyIdsOf(key) });
  }
  return out;
}

/** The signature statuses of the one-pass signatures openpgp.js found while decrypting. */
async function signatureOf(
  signatures: openpgp.DecryptMessageResult['signatures'],
  loaded: LoadedKey[],
): Promise<SignatureCheck | null> {
  if (signatures.length === 0) return null;
  let failure: SignatureCheck | null = null;
  let unknown: string | null = null;
  for (const s of signatures.slice(0, OPENPGP_LIMITS.verificationKeys)) {
    const keyId = s.keyID.toHex().toLowerCase();
    const signer = loaded.find((k) => k.keyIds.includes(keyId));
    if (!signer) {
      unknown ??= keyId;
      // openpgp.js rejects this promise (no key to check it with): settle it so that it is not an unhandled rejection.
      s.verified.catch(() => undefined);
      continue;
    }
    try {
      await s.verified;
      return check('valid', null, keyId, signer.fingerprint);
    } catch (e) {
      const text = errorText(e);
      failure ??= check(
        'invalid',
        /digest did not match|signature (?:is )?invalid|verification failed/i.test(text)
          ? 'The signature does not match the content (tampered?).'
          : `The signature does not verify: ${text}.`,
        keyId,
        signer.fingerprint,
      );
    }
  }
  if (failure) return failure;
  return check('unknown_key', `Signed by key ${unknown}, which is not a known key of the sender.`, unknown);
}

/** Text made a text/plain MIME entity, CRLF. */
function textEntity(text: string): Buffer {
  return Buffer.from(
    `Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n${text.replace(/\r?\n/g, '\r\n')}`,
    'utf8',
  );
}

/** One private key, or several (the active one and those it replaced: mail encrypted before a rotation). */
export type DecryptionKeys = openpgp.PrivateKey | readonly openpgp.PrivateKey[];

/** The keys as a list (null: none). */
export function decryptionKeyList(keys: DecryptionKeys | null): openpgp.PrivateKey[] {
  if (keys === null) return [];
  return Array.isArray(keys) ? [...(keys as readonly openpgp.PrivateKey[])] : [keys as openpgp.PrivateKey];
}

/**
 * Decrypts the encrypted part detectOpenPgp found, with `keys` (those the message is encrypted to are used), checking
 * the signature inside against `senderKeys`.
 */
/**
 * Whether `keys` would decrypt a message encrypted to `recipients` (key IDs, lowercase hex, as inspectEncrypted gives
 * them): an unlocked private key named among them. Anonymous recipients name none: only trying tells then.
 */
export function encryptedToKey(recipients: readonly string[], keys: DecryptionKeys): boolean {
  return decryptionKeyList(keys)
    .slice(0, OPENPGP_LIMITS.verificationKeys)
    .some((k) => k.isPrivate() && k.isDecrypted() && keyIdsOf(k).some((id) => recipients.includes(id)));
}

export async function decryptPart(
  part: OpenPgpPart,
  keys: DecryptionKeys,
  senderKeys: readonly VerificationKey[],
  now: Date,
): Promise<DecryptionOutcome> {
  try {
    if (part.kind !== 'pgp-mime-encrypted' && part.kind !== 'inline-encrypted')
      return fail('not_encrypted', 'The message is not encrypted.');
    const data = part.encryptedData;
    if (data === undefined) return fail('malformed', part.problem ?? 'No encrypted data.');
    if (data.length > OPENPGP_LIMITS.armorBytes)
      return fail('too_large', 'The encrypted part is too large to be decrypted here.');
    const given = decryptionKeyList(keys).slice(0, OPENPGP_LIMITS.verificationKeys);
    const usable = given.filter((k) => k.isPrivate() && k.isDecrypted());
    if (usable.length === 0)
      return fail('key_locked', given.length === 0 ? 'No private key to decrypt with.' : 'The private key is locked.');

    let message: openpgp.Message<Uint8Array | string>;
    try {
      message =
        typeof data === 'string'
          ? await openpgp.readMessage({ armoredMessage: data, config: OPENPGP_CONFIG })
          : await openpgp.readMessage({ binaryMessage: data, config: OPENPGP_CONFIG });
    } catch (e) {
      return fail('malformed', `The encrypted message is malformed: ${errorText(e)}.`);
    }
    const recipients = message.getEncryptionKeyIDs().map((id) => id.toHex().toLowerCase());
    if (recipients.length === 0) return fail('malformed', 'The OpenPGP message has no session key for anyone.');
    const anonymous = recipients.includes(WILDCARD);
    const matching = anonymous ? usable : usable.filter((k) => keyIdsOf(k).some((id) => recipients.includes(id)));
    if (matching.length === 0) return fail('not_for_this_key', 'The message is not encrypted to this key.');

    const loaded = await loadKeys(senderKeys);
    let result: Awaited<ReturnType<typeof openpgp.decrypt<Uint8Array>>>;
    try {
      result = await openpgp.decrypt({
        message: message as openpgp.Message<Uint8Array>,
        decryptionKeys: matching,
        verificationKeys: loaded.map((k) => k.key),
        // Signatures made up to clockSkewMs ahead of our clock are accepted (the sender's clock may be ahead of ours).
        date: new Date(now.getTime() + OPENPGP_LIMITS.clockSkewMs),
        format: 'binary',
        config: OPENPGP_CONFIG,
      });
    } catch (e) {
      return classify(e);
    }
    const bytes = Buffer.from(result.data.buffer, result.data.byteOffset, result.data.length);
    if (bytes.length > OPENPGP_LIMITS.decompressedBytes)
      return fail('too_large', `The decrypted content is larger than ${OPENPGP_LIMITS.decompressedBytes} bytes.`);

    const form = part.kind === 'pgp-mime-encrypted' ? 'pgp-mime' : 'inline';
    const mime = form === 'pgp-mime' ? bytes : textEntity(bytes.toString('utf8'));
    let signature = await signatureOf(result.signatures, loaded);
    if (signature === null && form === 'pgp-mime') {
      // Signed, then encrypted separately (RFC 3156 §6.1): a multipart/signed entity inside.
      const inner = detectOpenPgp(mime);
      if (inner.kind === 'pgp-mime-signed' || inner.kind === 'inline-signed')
        signature = await verifySignature(inner, senderKeys, now);
    }
    return { ok: true, content: { form, mime }, signature: signature ?? check('none', null) };
  } catch (e) {
    return classify(e);
  }
}

/** Detects the OpenPGP of a raw message and decrypts it (decryptPart), within the time budget. Never throws. */
export async function decryptMessage(
  raw: Buffer,
  keys: DecryptionKeys,
  senderKeys: readonly VerificationKey[],
  now: Date,
): Promise<DecryptionOutcome> {
  const part = detectOpenPgp(raw);
  if (part.kind !== 'pgp-mime-encrypted' && part.kind !== 'inline-encrypted')
    return fail('not_encrypted', part.problem ?? 'The message is not encrypted.');
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<DecryptionOutcome>((resolve) => {
    timer = setTimeout(
      () => resolve(fail('timeout', 'Decryption took too long and was abandoned.')),
      OPENPGP_LIMITS.timeBudgetMs,
    );
    timer.unref();
  });
  try {
    return await Promise.race([decryptPart(part, keys, senderKeys, now), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
