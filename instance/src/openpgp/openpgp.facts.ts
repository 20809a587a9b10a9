import type { CorrespondentKey, KeySource } from '../keys/public-key.entity.ts';
import { errorText, OPENPGP_LIMITS } from './openpgp.config.ts';
import { detectOpenPgp, type OpenPgpPart } from './openpgp.detect.ts';
import { keyIdsOf, loadPublicKey } from './openpgp.keys.ts';
import { inspectEncrypted, type SignatureCheck, verifySignature } from './openpgp.verify.ts';

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

/** Keys that may make a signature valid: the address's pinned key and the ones it replaced. */
const usable = (k: CorrespondentKey) => k.status === 'active' || k.status === 'superseded';

async function gather(part: OpenPgpPart, senderKeys: readonly CorrespondentKey[], now: Date): Promise<OpenPgpFacts> {
  if (part.kind === 'none') return { ...NO_OPENPGP, problem: part.problem ?? null };
  const facts: OpenPgpFacts = { ...NO_OPENPGP, kind: part.kind };
  const problems: string[] = [];

  if (part.kind === 'pgp-mime-encrypted' || part.kind === 'inline-encrypted') {
    const inspection = await inspectEncrypted(part);
    facts.encrypted = inspection.wellFormed;
    facts.encryptedTo = inspection.recipients;
    if (inspection.problem) problems.push(inspection.problem);
  } else if (part.problem) {
    problems.push(part.problem);
  }

  const accepted = senderKeys.filter(usable);
  const check = await verifySignature(part, accepted.map((k) => ({ fingerprint: k.fingerprint, publicKey: k.publicKey })), now);
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
    const refused = await refusedKeyNamed(senderKeys, check.signerKeyId);
    if (refused) problems.push(`Signed by a key of the sender that is not accepted (${refused.status}): ${refused.fingerprint}.`);
  }
  facts.problem = problems.length > 0 ? problems.join(' ') : null;
  return facts;
}

/** The sender's key in conflict or rejected that has this key ID, if any (a signature by it stays unknown_key). */
async function refusedKeyNamed(keys: readonly CorrespondentKey[], keyId: string): Promise<CorrespondentKey | null> {
  for (const k of keys.filter((x) => !usable(x)).slice(0, OPENPGP_LIMITS.verificationKeys)) {
    const key = await loadPublicKey(k.publicKey);
    if (key && keyIdsOf(key).includes(keyId)) return k;
  }
  return null;
}

/**
 * Detects and checks the OpenPGP of a raw message against the sender's keys (all of them, whatever their status:
 * only active and superseded ones can make a signature valid), at `now`. Never throws: hostile input gives facts
 * with a `problem`, never a valid signature. The work has a time budget (OPENPGP_LIMITS.timeBudgetMs).
 */
export async function gatherOpenPgpFacts(raw: Buffer, senderKeys: readonly CorrespondentKey[], now: Date): Promise<OpenPgpFacts> {
  // Detection is synchronous and bounded; the cryptography after it runs under the time budget.
  const part = detectOpenPgp(raw);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<OpenPgpFacts>((resolve) => {
    timer = setTimeout(
      () => resolve({ ...NO_OPENPGP, kind: part.kind, signature: 'unverifiable', problem: 'The OpenPGP checks took too long and were abandoned.' }),
      OPENPGP_LIMITS.timeBudgetMs,
    );
    timer.unref();
  });
  try {
    return await Promise.race([gather(part, senderKeys, now), timeout]);
  } catch (e) {
    return { ...NO_OPENPGP, kind: part.kind, problem: `The OpenPGP structure could not be checked: ${errorText(e)}.` };
  } finally {
    clearTimeout(timer);
  }
}
