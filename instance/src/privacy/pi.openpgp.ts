import type { DecryptionKeys } from '../openpgp/openpgp.decrypt.ts';
import type { CorrespondentKey } from '../keys/public-key.entity.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { detectOpenPgp } from '../openpgp/openpgp.detect.ts';
import {
  carryDecryptedFacts,
  examineOpenPgp,
  examineOwnOpenPgp,
  type OpenPgpExamination,
  withoutOpenPgp,
} from './openpgp.facts.ts';

/** What the OpenPGP examination needs (part of PiService's dependencies). */
export interface PiOpenPgpDeps {
  clock: Clock;
  /** Correspondents' keys for some addresses (storage.keys once it exists). */
  keysFor?: (accountId: string, addresses: readonly string[]) => Promise<CorrespondentKey[]>;
  /**
   * The account's private key when the server may use it (server-side key mode, unlocked by a session); null
   * otherwise. Encrypted mail is then decrypted to check the signature inside (openpgp.facts.ts examineOpenPgp).
   */
  decryptionKeyOf?: (accountId: string) => Promise<DecryptionKeys | null>;
}

/**
 * The OpenPGP side of the Privacy Index: a message's OpenPGP facts, checked against the sender's keys, decrypting
 * with the account's key when the server may use it. Part of PiService (pi.service.ts), split out by responsibility.
 */
export class PiOpenPgp {
  constructor(private readonly deps: PiOpenPgpDeps) {}

  /**
   * The OpenPGP facts of raw bytes, checked against the keys the account holds for the sender (decrypting with the
   * account's key when the server may use it). `stored`: the facts recorded before; a message decrypted at arrival
   * whose key is now locked keeps them, brought up to date with the keys held now (carryDecryptedFacts).
   */
  async openPgpFacts(
    accountId: string,
    sender: string,
    raw: Buffer,
    stored?: unknown,
  ): Promise<Record<string, unknown>> {
    const keys = sender === '' || !this.deps.keysFor ? [] : await this.deps.keysFor(accountId, [sender]);
    const { facts } = await this.examineOpenPgp(accountId, sender, raw, 'inbound', keys);
    if (facts.decrypted !== true && stored !== undefined) {
      const carried = carryDecryptedFacts(stored, keys);
      if (carried !== null) return { ...carried };
    }
    return { ...facts };
  }

  /**
   * What ingest records about a message's OpenPGP: inbound, checked against the sender's keys; outbound (a Sent copy),
   * the structure only. Decrypted with the account's key when the server may use it; the content comes back then.
   */
  async examineOpenPgp(
    accountId: string,
    sender: string,
    raw: Buffer,
    direction: 'inbound' | 'outbound',
    senderKeys?: CorrespondentKey[],
    /** An outbound message encrypted here: what it decrypts to (examineOwnOpenPgp). */
    plaintext?: Buffer,
  ): Promise<OpenPgpExamination> {
    // Most mail has no OpenPGP at all: then nothing depends on keys, and none is looked up.
    const part = detectOpenPgp(raw);
    if (part.kind === 'none') return withoutOpenPgp(part);
    const now = this.deps.clock();
    const key = this.deps.decryptionKeyOf ? await this.deps.decryptionKeyOf(accountId).catch(() => null) : null;
    if (direction === 'outbound') return examineOwnOpenPgp(raw, now, key, plaintext ?? null);
    const keys =
      senderKeys ?? (sender === '' || !this.deps.keysFor ? [] : await this.deps.keysFor(accountId, [sender]));
    return examineOpenPgp(raw, keys, now, key);
  }
}
