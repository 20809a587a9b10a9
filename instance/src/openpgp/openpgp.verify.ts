import * as openpgp from 'openpgp';
import { errorText, OPENPGP_CONFIG, OPENPGP_LIMITS } from './openpgp.config.ts';
import type { OpenPgpPart } from './openpgp.detect.ts';
import { keyIdsOf, sharedPublicKey } from './openpgp.keys.ts';

/**
 * Checking what detectOpenPgp found: signatures against the keys we hold for the sender, and the recipients of
 * encrypted messages. Never throws; every failure is a status with a reason.
 */

export type SignatureStatus = 'none' | 'valid' | 'invalid' | 'unknown_key' | 'unverifiable';

export interface SignatureCheck {
  /**
   * - none: no signature;
   * - valid: signed by one of the given keys, and the signature matches the content;
   * - invalid: signed by one of the given keys but it does not match (tampered content), or the signature is
   *   malformed (unreadable, names no signer, broken structure);
   * - unknown_key: signed by a key we were not given (it may still be genuine: we cannot tell);
   * - unverifiable: the message is encrypted, so a signature inside it cannot be checked without decrypting it.
   */
  status: SignatureStatus;
  /** Key ID (lowercase hex) the signature names, when it names one. */
  signerKeyId: string | null;
  /** Fingerprint of the given key that made a valid or invalid signature. */
  signerFingerprint: string | null;
  /**
   * unknown_key: the full fingerprint the signature names for its issuer (Issuer Fingerprint subpacket, RFC 9580
   * §5.2.3.35: always in v6 signatures, in v4 ones from GnuPG 2.2 and openpgp.js), lowercase hex; null when it names only
   * a 64-bit key ID. What a key alert without key material shows.
   */
  issuerFingerprint?: string | null;
  reason: string | null;
}

export interface VerificationKey {
  fingerprint: string;
  publicKey: Uint8Array;
}

const result = (
  status: SignatureStatus,
  reason: string | null,
  signerKeyId: string | null = null,
  signerFingerprint: string | null = null,
): SignatureCheck => ({
  status,
  signerKeyId,
  signerFingerprint,
  reason,
});

type VerificationResult = openpgp.VerifyMessageResult['signatures'][number];

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

/** Something openpgp.js can verify: a detached signature over bytes, a cleartext message, or a signed message. */
type Signed = (
  | { form: 'detached'; content: Uint8Array; signature: openpgp.Signature }
  | { form: 'cleartext'; message: openpgp.CleartextMessage }
  | { form: 'message'; message: openpgp.Message<Uint8Array> }
) & { keyIds: string[]; fingerprints: string[] };

const hexIds = (ids: openpgp.KeyID[]) => [...new Set(ids.map((id) => id.toHex().toLowerCase()))];

/** The issuer fingerprints the signature packets name (lowercase hex, 40 or 64 digits), in order, once each. */
function issuerFingerprints(packets: Iterable<unknown>): string[] {
  const out: string[] = [];
  for (const p of packets) {
    if (!(p instanceof openpgp.SignaturePacket)) continue;
    const fp = (p as { issuerFingerprint?: Uint8Array | null }).issuerFingerprint;
    if (!(fp instanceof Uint8Array) || (fp.length !== 20 && fp.length !== 32)) continue;
    const hex = Buffer.from(fp).toString('hex');
    if (!out.includes(hex)) out.push(hex);
  }
  return out;
}

/** Reads the signed structure of a part; throws (with openpgp.js's message) when it is malformed. */
async function readSigned(part: OpenPgpPart): Promise<Signed> {
  const config = OPENPGP_CONFIG;
  if (part.kind === 'pgp-mime-signed') {
    if (part.signedContent === undefined || part.signature === undefined)
      throw new Error(part.problem ?? 'the signed part or the signature is missing');
    const signature =
      typeof part.signature === 'string'
        ? await openpgp.readSignature({ armoredSignature: part.signature, config })
        : await openpgp.readSignature({ binarySignature: part.signature, config });
    return {
      form: 'detached',
      content: part.signedContent,
      signature,
      keyIds: hexIds(signature.getSigningKeyIDs()),
      fingerprints: issuerFingerprints(signature.packets),
    };
  }
  if (part.cleartext !== undefined) {
    const message = await openpgp.readCleartextMessage({ cleartextMessage: part.cleartext, config });
    return {
      form: 'cleartext',
      message,
      keyIds: hexIds(message.getSigningKeyIDs()),
      // The runtime object holds its Signature; openpgp.js's typings do not declare it.
      fingerprints: issuerFingerprints(
        (message as unknown as { signature?: openpgp.Signature }).signature?.packets ?? [],
      ),
    };
  }
  if (part.signature === undefined) throw new Error(part.problem ?? 'the signed message is missing');
  if ((typeof part.signature === 'string' ? part.signature.length : part.signature.length) > OPENPGP_LIMITS.armorBytes)
    throw new Error('the signed message is too large');
  const message =
    typeof part.signature === 'string'
      ? await openpgp.readMessage({ armoredMessage: part.signature, config })
      : await openpgp.readMessage({ binaryMessage: part.signature, config });
  // A compressed signed message names its signers inside the compressed packet.
  const inner = message.packets.some((p) => p instanceof openpgp.CompressedDataPacket)
    ? message.unwrapCompressed()
    : message;
  return {
    form: 'message',
    message: message as openpgp.Message<Uint8Array>,
    keyIds: hexIds(inner.getSigningKeyIDs()),
    fingerprints: issuerFingerprints(inner.packets),
  };
}

async function runVerify(signed: Signed, keys: openpgp.PublicKey[], now: Date): Promise<VerificationResult[]> {
  // Signatures made up to clockSkewMs ahead of our clock are accepted (the sender's clock may be ahead of ours).
  const date = new Date(now.getTime() + OPENPGP_LIMITS.clockSkewMs);
  const common = { verificationKeys: keys, date, config: OPENPGP_CONFIG };
  if (signed.form === 'detached') {
    const message = await openpgp.createMessage({ binary: signed.content });
    return (await openpgp.verify({ ...common, message, signature: signed.signature, format: 'binary' })).signatures;
  }
  if (signed.form === 'cleartext') return (await openpgp.verify({ ...common, message: signed.message })).signatures;
  return (await openpgp.verify({ ...common, message: signed.message, format: 'binary' })).signatures;
}

/** Checks the signature of a detected part against the sender's keys, at `now`. */
export async function verifySignature(
  part: OpenPgpPart,
  keys: readonly VerificationKey[],
  now: Date,
): Promise<SignatureCheck> {
  try {
    if (part.kind === 'none') return result('none', null);
    if (part.kind === 'pgp-mime-encrypted' || part.kind === 'inline-encrypted') {
      return result(
        'unverifiable',
        'The message is encrypted: a signature inside it cannot be checked without decrypting it.',
      );
    }
    let signed: Signed;
    try {
      signed = await readSigned(part);
    } catch (e) {
      return result('invalid', `The signature is malformed: ${errorText(e)}.`);
    }
    if (signed.keyIds.length === 0) return result('invalid', 'The signature names no signing key.');
    const loaded = await loadKeys(keys);
    const matching = loaded.filter((k) => k.keyIds.some((id) => signed.keyIds.includes(id)));
    if (matching.length === 0) return unknownKey(signed);
    let signatures: VerificationResult[];
    try {
      signatures = await runVerify(
        signed,
        matching.map((m) => m.key),
        now,
      );
    } catch (e) {
      return result(
        'invalid',
        `The signed message is malformed: ${errorText(e)}.`,
        signed.keyIds[0]!,
        matching[0]!.fingerprint,
      );
    }
    let failure: SignatureCheck | null = null;
    for (const s of signatures) {
      const keyId = s.keyID.toHex().toLowerCase();
      const signer = matching.find((m) => m.keyIds.includes(keyId));
      if (!signer) continue; // a co-signature by a key we do not hold
      try {
        await s.verified;
        return result('valid', null, keyId, signer.fingerprint);
      } catch (e) {
        failure ??= result('invalid', reasonFor(e), keyId, signer.fingerprint);
      }
    }
    return failure ?? unknownKey(signed);
  } catch (e) {
    return result('invalid', `The signature could not be checked: ${errorText(e)}.`);
  }
}

/**
 * Who a signed part says signed it, without checking anything: the key IDs (lowercase hex) and the issuer
 * fingerprints its signatures name. null when the part is not signed or its signature cannot be read.
 */
export async function signatureIssuers(
  part: OpenPgpPart,
): Promise<{ keyIds: string[]; fingerprints: string[] } | null> {
  if (part.kind !== 'pgp-mime-signed' && part.kind !== 'inline-signed') return null;
  try {
    const signed = await readSigned(part);
    return { keyIds: signed.keyIds, fingerprints: signed.fingerprints };
  } catch {
    return null;
  }
}

/** Signed by a key we were not given: its key ID, and its fingerprint when the signature names it. */
function unknownKey(signed: Signed): SignatureCheck {
  const keyId = signed.keyIds[0]!;
  // The fingerprint of the first signer: a v4 key ID is the fingerprint's last 16 digits, a v6 one its first 16.
  const fingerprint =
    signed.fingerprints.find((fp) => (fp.length === 40 ? fp.endsWith(keyId) : fp.startsWith(keyId))) ?? null;
  return {
    ...result('unknown_key', `Signed by key ${fingerprint ?? keyId}, which is not a known key of the sender.`, keyId),
    issuerFingerprint: fingerprint,
  };
}

function reasonFor(e: unknown): string {
  const text = errorText(e);
  if (/digest did not match|signature (?:is )?invalid|verification failed/i.test(text)) {
    return 'The signature does not match the content (tampered?).';
  }
  return `The signature does not verify: ${text}.`;
}

export interface EncryptedInspection {
  /** A well-formed OpenPGP encrypted message: session key packets and integrity-protected encrypted data parse. */
  wellFormed: boolean;
  /** Key IDs (lowercase hex) the session key is encrypted to; `0000000000000000` is an anonymous recipient. */
  recipients: string[];
  problem: string | null;
}

function encryptedData(part: OpenPgpPart): string | Uint8Array | null {
  if (part.encryptedData === undefined) return null;
  const size = typeof part.encryptedData === 'string' ? part.encryptedData.length : part.encryptedData.length;
  return size > OPENPGP_LIMITS.armorBytes ? null : part.encryptedData;
}

/** Parses the encrypted message of a part (without decrypting it). */
export async function inspectEncrypted(part: OpenPgpPart): Promise<EncryptedInspection> {
  const data = encryptedData(part);
  if (data === null) return { wellFormed: false, recipients: [], problem: part.problem ?? 'No encrypted data.' };
  let message: openpgp.Message<string | Uint8Array>;
  try {
    message =
      typeof data === 'string'
        ? await openpgp.readMessage({ armoredMessage: data, config: OPENPGP_CONFIG })
        : await openpgp.readMessage({ binaryMessage: data, config: OPENPGP_CONFIG });
  } catch (e) {
    return { wellFormed: false, recipients: [], problem: `The encrypted message is malformed: ${errorText(e)}.` };
  }
  const packets = [...message.packets];
  const sessionKeys = packets.filter(
    (p) => p instanceof openpgp.PublicKeyEncryptedSessionKeyPacket || p instanceof openpgp.SymEncryptedSessionKeyPacket,
  );
  const protectedData = packets.filter(
    (p) =>
      p instanceof openpgp.SymEncryptedIntegrityProtectedDataPacket || p instanceof openpgp.AEADEncryptedDataPacket,
  );
  const legacy = packets.some((p) => p instanceof openpgp.SymmetricallyEncryptedDataPacket);
  const recipients = hexIds(message.getEncryptionKeyIDs());
  if (legacy)
    return {
      wellFormed: false,
      recipients,
      problem: 'The message uses obsolete encryption without integrity protection.',
    };
  if (sessionKeys.length === 0 || protectedData.length !== 1) {
    return {
      wellFormed: false,
      recipients,
      problem: 'The OpenPGP message is not an encrypted message (no session key or no encrypted data).',
    };
  }
  return { wellFormed: true, recipients, problem: part.problem ?? null };
}

/** Key IDs (lowercase hex) of the PKESK packets of an encrypted part; [] when there are none or it is malformed. */
export async function encryptionRecipients(part: OpenPgpPart): Promise<string[]> {
  try {
    return (await inspectEncrypted(part)).recipients;
  } catch {
    return [];
  }
}
