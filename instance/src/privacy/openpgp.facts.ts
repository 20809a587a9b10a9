import type { CorrespondentKey, KeySource } from '../keys/public-key.entity.ts';
import { errorText, OPENPGP_LIMITS } from '../openpgp/openpgp.config.ts';
import {
  encryptedToKey,
  type DecryptedContent,
  decryptionKeyList,
  type DecryptionKeys,
  decryptPart,
} from '../openpgp/openpgp.decrypt.ts';
import { detectOpenPgp, type OpenPgpPart } from '../openpgp/openpgp.detect.ts';
import { keyIdsOf, sharedPublicKey } from '../openpgp/openpgp.keys.ts';
import { inspectEncrypted, type SignatureCheck, verifySignature } from '../openpgp/openpgp.verify.ts';

export type { DecryptedContent } from '../openpgp/openpgp.decrypt.ts';

/**
 * The OpenPGP facts recorded on a message (MessageFacts.openpgp): what the Privacy Index scores. Verified facts only:
 * `encrypted` means the OpenPGP structure parses as an encrypted message (we cannot know more without decrypting);
 * `signature: 'valid'` means it verified against a key the account holds for the sender, active or superseded
 * (never one in conflict or rejected).
 */
export interface OpenPgpFacts {
  kind: OpenPgpPart['kind'];
  /** A well-formed OpenPGP encrypted message (PKESK + integrity-protected encrypted data parse). */
  encrypted: boolean;
  /** Key IDs the session key is encrypted to (lowercase hex). */
  encryptedTo: string[];
  signature: SignatureCheck['status'];
  /** Key ID the signature names (lowercase hex), whatever its status: lets the PI suggest adding that key. */
  signerKeyId: string | null;
  signerFingerprint: string | null;
  /** How the signer's key is known to the account, when the signature is valid: the key's source, or 'verified'. */
  signerKeyTrust: 'verified' | KeySource | null;
  /** Human-readable, e.g. "The signature does not match the content (tampered?)." */
  problem: string | null;
  /**
   * Present (true) when the content was decrypted here with the account's own key (server-side key mode): the
   * signature fields are then those of the signature inside the encryption, checked like any other.
   */
  decrypted?: true;
  /**
   * Present (true) when the signature is by another key than the one pinned for the sender (a key in conflict, or a
   * key none of the sender's keys is, while one is pinned): trust on first use's alert, on the message (point 11).
   */
  keyConflict?: true;
}

export const NO_OPENPGP: OpenPgpFacts = {
  kind: 'none',
  encrypted: false,
  encryptedTo: [],
  signature: 'none',
  signerKeyId: null,
  signerFingerprint: null,
  signerKeyTrust: null,
  problem: null,
};

/** The examination of a message without OpenPGP (kind 'none'): the same whatever the keys, inbound or outbound. */
export function withoutOpenPgp(part: Readonly<OpenPgpPart>): OpenPgpExamination {
  return { facts: { ...NO_OPENPGP, problem: part.problem ?? null }, content: null };
}

/** Keys that may make a signature valid: the address's pinned key and the ones it replaced. */
const usable = (k: CorrespondentKey) => k.status === 'active' || k.status === 'superseded';

/** The facts, and the decrypted content when the message was decrypted here. */
export interface OpenPgpExamination {
  facts: OpenPgpFacts;
  content: DecryptedContent | null;
}

async function gather(
  part: OpenPgpPart,
  senderKeys: readonly CorrespondentKey[],
  now: Date,
  decryptionKey: DecryptionKeys | null,
  /** What the message decrypts to, known beforehand (a message of the account's own, encrypted here). */
  plaintext: Buffer | null,
): Promise<OpenPgpExamination> {
  if (part.kind === 'none') return withoutOpenPgp(part);
  const facts: OpenPgpFacts = { ...NO_OPENPGP, kind: part.kind };
  const problems: string[] = [];
  const accepted = senderKeys.filter(usable);
  const verificationKeys = accepted.map((k) => ({ fingerprint: k.fingerprint, publicKey: k.publicKey }));
  let inner: { content: DecryptedContent; check: SignatureCheck } | null = null;

  if (part.kind === 'pgp-mime-encrypted' || part.kind === 'inline-encrypted') {
    const inspection = await inspectEncrypted(part);
    facts.encrypted = inspection.wellFormed;
    facts.encryptedTo = inspection.recipients;
    if (inspection.problem) problems.push(inspection.problem);
    if (inspection.wellFormed && decryptionKeyList(decryptionKey).length > 0) {
      // Known beforehand: what decrypting it would give, when it names the key as a recipient (no signature is read
      // from it: only an own message comes with its plaintext, and its signature is not recorded).
      const outcome =
        plaintext !== null &&
        part.kind === 'pgp-mime-encrypted' &&
        encryptedToKey(inspection.recipients, decryptionKey!)
          ? ({
              ok: true,
              content: { form: 'pgp-mime', mime: plaintext },
              signature: { status: 'none', signerKeyId: null, signerFingerprint: null, reason: null },
            } as const)
          : await decryptPart(part, decryptionKey!, verificationKeys, now);
      if (outcome.ok) {
        facts.decrypted = true;
        inner = { content: outcome.content, check: outcome.signature };
      } else {
        problems.push(`Not decrypted: ${outcome.problem}`);
      }
    }
  } else if (part.problem) {
    problems.push(part.problem);
  }

  const check = inner?.check ?? (await verifySignature(part, verificationKeys, now));
  facts.signature = check.status;
  facts.signerKeyId = check.signerKeyId;
  facts.signerFingerprint = check.signerFingerprint;
  if (check.status === 'valid') {
    const key = accepted.find((k) => k.fingerprint === check.signerFingerprint);
    facts.signerKeyTrust = key ? (key.verifiedAt !== null ? 'verified' : key.source) : null;
  } else if (check.status === 'invalid' && check.reason) {
    // The structure's own problem, when there is one, already says why the signature could not be read.
    const reason = check.reason;
    if (!problems.some((p) => reason.includes(p.replace(/\.$/, '')))) problems.unshift(reason);
  } else if (check.status === 'unknown_key' && check.signerKeyId) {
    const refused = await refusedKeyNamed(senderKeys, check.signerKeyId, check.issuerFingerprint ?? null);
    if (refused) {
      problems.push(
        `Signed by a key of the sender that is not accepted (${refused.status}): ${refused.fingerprint}${refused.publicKey.length === 0 ? ', an unknown key known only by its fingerprint' : ''}.`,
      );
      if (refused.status === 'conflict') facts.keyConflict = true;
    } else if (senderKeys.some((k) => k.status === 'active')) {
      // Not a key of the sender's at all, while one is pinned: a conflict, whether or not an alert could be filed.
      facts.keyConflict = true;
      problems.push(
        `Signed by an unknown key ${check.issuerFingerprint ?? check.signerKeyId}, not the key pinned for the sender (conflict).`,
      );
    }
  }
  facts.problem = problems.length > 0 ? problems.join(' ') : null;
  return { facts, content: inner?.content ?? null };
}

/**
 * The sender's key in conflict or rejected that has this key ID, if any (a signature by it stays unknown_key). A key
 * known only by its fingerprint (no material: source `signature`) matches by the issuer fingerprint, or by the key ID
 * that fingerprint gives (a v4 key ID is its last 16 digits, a v6 one its first 16).
 */
async function refusedKeyNamed(
  keys: readonly CorrespondentKey[],
  keyId: string,
  issuerFingerprint: string | null,
): Promise<CorrespondentKey | null> {
  for (const k of keys.filter((x) => !usable(x)).slice(0, OPENPGP_LIMITS.verificationKeys)) {
    if (k.publicKey.length === 0) {
      const idOf = k.fingerprint.length === 40 ? k.fingerprint.slice(-16) : k.fingerprint.slice(0, 16);
      if (k.fingerprint === issuerFingerprint || idOf === keyId) return k;
      continue;
    }
    const key = await sharedPublicKey(k.publicKey);
    if (key && keyIdsOf(key).includes(keyId)) return k;
  }
  return null;
}

/**
 * Detects and checks the OpenPGP of a raw message against the sender's keys (all of them, whatever their status:
 * only active and superseded ones can make a signature valid), at `now`. Never throws: hostile input gives facts
 * with a `problem`, never a valid signature. The work has a time budget (OPENPGP_LIMITS.timeBudgetMs).
 */
export async function gatherOpenPgpFacts(
  raw: Buffer,
  senderKeys: readonly CorrespondentKey[],
  now: Date,
): Promise<OpenPgpFacts> {
  return (await examineOpenPgp(raw, senderKeys, now, null)).facts;
}

/**
 * gatherOpenPgpFacts, decrypting on the way when `decryptionKey` (the recipient account's unlocked private key) is
 * given and the message is encrypted to it: the facts then say `decrypted: true` and carry the status of the
 * signature inside, and the decrypted content comes back for the mailbox (subject, snippet, search). A message that
 * cannot be decrypted (not for this key, altered, a compression bomb, truncated) keeps the facts of the ciphertext,
 * with the reason in `problem`: never a better signature status than without the key. Never throws; time-budgeted.
 */
export async function examineOpenPgp(
  raw: Buffer,
  senderKeys: readonly CorrespondentKey[],
  now: Date,
  decryptionKey: DecryptionKeys | null,
  plaintext: Buffer | null = null,
): Promise<OpenPgpExamination> {
  // Detection is synchronous and bounded; the cryptography after it runs under the time budget.
  const part = detectOpenPgp(raw);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<OpenPgpExamination>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          facts: {
            ...NO_OPENPGP,
            kind: part.kind,
            signature: 'unverifiable',
            problem: 'The OpenPGP checks took too long and were abandoned.',
          },
          content: null,
        }),
      OPENPGP_LIMITS.timeBudgetMs,
    );
    timer.unref();
  });
  try {
    return await Promise.race([gather(part, senderKeys, now, decryptionKey, plaintext), timeout]);
  } catch (e) {
    return {
      facts: {
        ...NO_OPENPGP,
        kind: part.kind,
        problem: `The OpenPGP structure could not be checked: ${errorText(e)}.`,
      },
      content: null,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The OpenPGP facts of a message of the account's own (a Sent copy): what the structure is (encrypted, and to whom),
 * decrypted with the account's key when given (for its subject and search), and no signature status — the account
 * signed it itself; a signature is a fact about a correspondent, not about us. Never throws. `plaintext`: what it
 * decrypts to, when it was encrypted here (the composer's Sent copy): taken as the decrypted content, without
 * decrypting, whenever the key would have decrypted it — the same facts and content, one decryption less.
 */
export async function examineOwnOpenPgp(
  raw: Buffer,
  now: Date,
  decryptionKey: DecryptionKeys | null,
  plaintext: Buffer | null = null,
): Promise<OpenPgpExamination> {
  const examined = await examineOpenPgp(raw, [], now, decryptionKey, plaintext);
  const { facts } = examined;
  return {
    facts: {
      ...facts,
      signature: 'none',
      signerKeyId: null,
      signerFingerprint: null,
      signerKeyTrust: null,
      problem: facts.encrypted || facts.kind === 'none' ? facts.problem : null,
    },
    content: examined.content,
  };
}

const SIGNATURE_STATUSES = new Set<string>(['none', 'valid', 'invalid', 'unknown_key', 'unverifiable']);

/**
 * The stored facts of a message that was decrypted at arrival, brought up to date with the keys the account holds now,
 * without decrypting again (the key may be locked by then): a valid signature stays valid only while the key that made
 * it (same fingerprint: the cryptographic check was done with exactly that key) is still active or superseded, and its
 * trust is that key's current one. Null when the stored facts are not of a decrypted message. Pure.
 */
export function carryDecryptedFacts(stored: unknown, senderKeys: readonly CorrespondentKey[]): OpenPgpFacts | null {
  if (typeof stored !== 'object' || stored === null) return null;
  const f = stored as Record<string, unknown>;
  if (f['decrypted'] !== true || f['encrypted'] !== true) return null;
  const text = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 && v.length <= 1024 ? v : null);
  const kind = f['kind'] === 'inline-encrypted' ? 'inline-encrypted' : 'pgp-mime-encrypted';
  const signature = SIGNATURE_STATUSES.has(f['signature'] as string)
    ? (f['signature'] as SignatureCheck['status'])
    : 'unverifiable';
  const facts: OpenPgpFacts = {
    kind,
    encrypted: true,
    encryptedTo: Array.isArray(f['encryptedTo'])
      ? f['encryptedTo'].filter((x): x is string => typeof x === 'string' && /^[0-9a-f]{16}$/.test(x)).slice(0, 64)
      : [],
    signature,
    signerKeyId: text(f['signerKeyId']),
    signerFingerprint: text(f['signerFingerprint']),
    signerKeyTrust: null,
    problem: text(f['problem']),
    decrypted: true,
  };
  if (signature === 'valid') {
    const key = senderKeys.filter(usable).find((k) => k.fingerprint === facts.signerFingerprint);
    if (key) facts.signerKeyTrust = key.verifiedAt !== null ? 'verified' : key.source;
    else {
      facts.signature = 'unknown_key';
      facts.problem = 'The key that made the signature is no longer one you accept for the sender.';
    }
  }
  return facts;
}
