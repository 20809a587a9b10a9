import { noEvents, type EventPublisher } from '../shared/event-bus.ts';
import type { KeyEvents } from './key.events.ts';
import type { Contact } from '../contacts/contact.entity.ts';
import { normaliseEmailAddress } from '../mail/address.normalise.ts';
import { MailboxLocks } from '../mail/mailbox-lock.ts';
import {
  fullConfig,
  isKeyError,
  loadPublicKey,
  parsePublicKey,
  type ParsedPublicKey,
} from '../openpgp/openpgp.keys.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { AppError } from '../shared/errors.ts';
import { KEY_SOURCES, type CorrespondentKey, type KeySource } from './public-key.entity.ts';
import type { CorrespondentKeyRepository } from './public-key.repository.ts';

/**
 * A fingerprint in a form that can be read aloud and compared over the phone: uppercase hex in groups of four,
 * two spaces in the middle (as GnuPG prints v4 fingerprints), e.g.
 * `5C7F 5369 5DBD B462 954C  0A51 587C EEE7 DB32 4C89` (10 groups for v4, 16 for v6, 8 on each side).
 * Comparing the groups one by one compares the whole fingerprint.
 */
export function fingerprintWords(fingerprint: string): string {
  const groups =
    fingerprint
      .toUpperCase()
      .replace(/[^0-9A-F]/g, '')
      .match(/.{1,4}/g) ?? [];
  const half = Math.ceil(groups.length / 2);
  return `${groups.slice(0, half).join(' ')}  ${groups.slice(half).join(' ')}`.trim();
}

/** 'new': first key seen for the address, or one the user chose; 'known': seen before; 'conflict': TOFU alert. */
export type AddKeyOutcome = 'new' | 'known' | 'conflict';

export interface CorrespondentKeyServiceDeps {
  keys: CorrespondentKeyRepository;
  clock: Clock;
  /**
   * Told `keys.changed` after the keys of an address changed (a key added, replaced, verified, rejected; not a mere
   * "seen again"): what depends on them (the contact's and the messages' Privacy Index) is recomputed there.
   */
  events?: EventPublisher<KeyEvents>;
}

const strength = (s: KeySource) => KEY_SOURCES.indexOf(s);

/**
 * Correspondents' OpenPGP public keys, with trust on first use (TOFU):
 * - the first key seen for an address is pinned (`active`);
 * - the same key seen again is `known`: last seen moves, its source is upgraded when the new evidence is stronger
 *   (KEY_SOURCES order), and its material is merged (new subkeys, extended expiry, revocations);
 * - a different key while one is pinned is kept as `conflict` (an alert: not used until the user decides), unless
 *   the user added it by hand (`attached`: the user's own choice) or the pinned key has expired (a rotation): then
 *   it becomes active and the old one `superseded`. A known key the user adds by hand becomes active too;
 * - verify: the user compared fingerprints; the key becomes active and verified, other active keys of the address
 *   superseded, conflicting ones rejected;
 * - reject: the user refuses the key.
 * Writes for one address are serialised within this process.
 */
export class CorrespondentKeyService {
  private readonly repo: CorrespondentKeyRepository;
  private readonly clock: Clock;
  private readonly events: EventPublisher<KeyEvents>;
  private readonly locks = new MailboxLocks();

  constructor(deps: CorrespondentKeyServiceDeps) {
    this.repo = deps.keys;
    this.clock = deps.clock;
    this.events = deps.events ?? noEvents();
  }

  private keysChanged(accountId: string, address: string): Promise<void> {
    return this.events.publish('keys.changed', { accountId, address });
  }

  /** Parses, checks and files a key for an address (TOFU, above). Refusals are AppErrors with the key_* codes. */
  async addKey(
    accountId: string,
    address: string,
    input: string | Uint8Array,
    source: KeySource,
  ): Promise<{ key: CorrespondentKey; outcome: AddKeyOutcome }> {
    const normalised = this.address(address);
    const now = this.clock();
    let parsed: ParsedPublicKey;
    try {
      parsed = await parsePublicKey(input, { now, address: normalised });
    } catch (e) {
      if (isKeyError(e)) throw new AppError(e.code, e.message);
      throw e;
    }
    const result = await this.locks.run(`${accountId}\n${normalised}`, () =>
      this.file(accountId, normalised, parsed, source, now),
    );
    if (result.changed) await this.keysChanged(accountId, normalised);
    return { key: result.key, outcome: result.outcome };
  }

  private async file(
    accountId: string,
    address: string,
    parsed: ParsedPublicKey,
    source: KeySource,
    now: Date,
  ): Promise<{ key: CorrespondentKey; outcome: AddKeyOutcome; changed: boolean }> {
    const existing = await this.repo.listByAddress(accountId, address);
    const byUser = source === 'attached';
    const same = existing.find((k) => k.fingerprint === parsed.fingerprint);
    if (same) {
      // A key known so far only by its fingerprint (a signature's issuer: source 'signature') gets its material now.
      const keyless = same.publicKey.length === 0;
      const merged = await mergeKeyMaterial(same.publicKey, parsed, now);
      // A key the user adds by hand is their choice: it becomes the active one, whatever it was.
      const promote = byUser && same.status !== 'active';
      const key: CorrespondentKey = {
        ...same,
        ...(keyless ? { version: parsed.version, algorithm: parsed.algorithm, keyCreatedAt: parsed.created } : {}),
        publicKey: merged.bytes,
        keyExpiresAt: merged.expires,
        source: strength(source) > strength(same.source) ? source : same.source,
        status: promote ? 'active' : same.status,
        lastSeenAt: now,
      };
      if (promote) await this.supersedeActive(existing, key.fingerprint);
      await this.repo.put(key);
      const changed =
        promote ||
        key.source !== same.source ||
        !sameBytes(key.publicKey, same.publicKey) ||
        key.keyExpiresAt?.getTime() !== same.keyExpiresAt?.getTime();
      return { key, outcome: 'known', changed };
    }
    const active = existing.find((k) => k.status === 'active');
    const rotation = active !== undefined && active.keyExpiresAt !== null && active.keyExpiresAt <= now;
    const status = active === undefined || byUser || rotation ? 'active' : 'conflict';
    if (status === 'active') await this.supersedeActive(existing, parsed.fingerprint);
    const key: CorrespondentKey = {
      accountId,
      address,
      fingerprint: parsed.fingerprint,
      version: parsed.version,
      algorithm: parsed.algorithm,
      publicKey: parsed.publicKey,
      source,
      status,
      keyCreatedAt: parsed.created,
      keyExpiresAt: parsed.expires,
      verifiedAt: null,
      firstSeenAt: now,
      lastSeenAt: now,
    };
    await this.repo.put(key);
    return { key, outcome: status === 'active' ? 'new' : 'conflict', changed: true };
  }

  /**
   * A message from the address was signed by a key that is not one of its keys while one is pinned (point 11 of the
   * TOFU review): the signer's fingerprint is kept as a `conflict` without key material (source `signature`), so the
   * contact shows the key alert as when the other key arrives in a header. Nothing is filed when no key is pinned
   * (trust on first use pins keys, not fingerprints) or when the fingerprint is already one of the address's keys
   * (a rejected one stays rejected). Such a key can be rejected, never verified or used (`key_material_unknown`)
   * until its material arrives (Autocrypt, WKD, by hand: then it is an ordinary key in conflict).
   */
  async recordSignerConflict(
    accountId: string,
    address: string,
    fingerprint: string,
  ): Promise<{ key: CorrespondentKey; outcome: 'conflict' } | null> {
    const normalised = this.address(address);
    const fp = fingerprint.toLowerCase();
    if (!/^(?:[0-9a-f]{40}|[0-9a-f]{64})$/.test(fp))
      throw new AppError('key_malformed', 'A key fingerprint is 40 (v4) or 64 (v6) hexadecimal digits.');
    const filed = await this.locks.run(`${accountId}\n${normalised}`, async () => {
      const existing = await this.repo.listByAddress(accountId, normalised);
      if (!existing.some((k) => k.status === 'active') || existing.some((k) => k.fingerprint === fp)) return null;
      const now = this.clock();
      const key: CorrespondentKey = {
        accountId,
        address: normalised,
        fingerprint: fp,
        version: fp.length === 64 ? 6 : 4,
        algorithm: 'unknown',
        publicKey: new Uint8Array(0),
        source: 'signature',
        status: 'conflict',
        keyCreatedAt: now,
        keyExpiresAt: null,
        verifiedAt: null,
        firstSeenAt: now,
        lastSeenAt: now,
      };
      await this.repo.put(key);
      return key;
    });
    if (filed === null) return null;
    await this.keysChanged(accountId, normalised);
    return { key: filed, outcome: 'conflict' };
  }

  private async supersedeActive(existing: CorrespondentKey[], except: string): Promise<void> {
    for (const k of existing) {
      if (k.status === 'active' && k.fingerprint !== except)
        await this.repo.setStatus(k.accountId, k.address, k.fingerprint, 'superseded');
    }
  }

  /** Keys of an address, newest first. */
  async keysForAddress(accountId: string, address: string): Promise<CorrespondentKey[]> {
    const normalised = normaliseEmailAddress(address);
    return normalised === null ? [] : this.repo.listByAddress(accountId, normalised);
  }

  /** Keys of all the email identities of a contact, newest first. */
  async keysForContact(contact: Contact): Promise<CorrespondentKey[]> {
    const addresses = contact.identities.filter((i) => i.protocol === 'email').map((i) => i.address);
    return this.repo.listByAddresses(contact.accountId, addresses);
  }

  /**
   * The user compared the fingerprint out of band: the key becomes active and verified; the address's other active
   * key is superseded, its conflicting keys rejected (the alert is resolved).
   */
  async verify(accountId: string, address: string, fingerprint: string): Promise<CorrespondentKey> {
    const normalised = this.address(address);
    const key = await this.locks.run(`${accountId}\n${normalised}`, async () => {
      const existing = await this.repo.listByAddress(accountId, normalised);
      const target = existing.find((k) => k.fingerprint === fingerprint.toLowerCase());
      if (!target) throw new AppError('not_found', 'No such key for this address.');
      if (target.publicKey.length === 0)
        throw new AppError(
          'key_material_unknown',
          'Only this key’s fingerprint is known, from a signature: add the key itself (ask the contact) before verifying it.',
        );
      const now = this.clock();
      for (const k of existing) {
        if (k === target) continue;
        if (k.status === 'active') await this.repo.setStatus(accountId, normalised, k.fingerprint, 'superseded');
        else if (k.status === 'conflict') await this.repo.setStatus(accountId, normalised, k.fingerprint, 'rejected');
      }
      await this.repo.setStatus(accountId, normalised, target.fingerprint, 'active', now);
      return { ...target, status: 'active' as const, verifiedAt: now };
    });
    await this.keysChanged(accountId, normalised);
    return key;
  }

  /** The user refuses the key: it is never used (a rejected active key leaves the address without one). */
  async reject(accountId: string, address: string, fingerprint: string): Promise<CorrespondentKey> {
    const normalised = this.address(address);
    const key = await this.locks.run(`${accountId}\n${normalised}`, async () => {
      const target = await this.repo.get(accountId, normalised, fingerprint.toLowerCase());
      if (!target) throw new AppError('not_found', 'No such key for this address.');
      await this.repo.setStatus(accountId, normalised, target.fingerprint, 'rejected', null);
      return { ...target, status: 'rejected' as const, verifiedAt: null };
    });
    await this.keysChanged(accountId, normalised);
    return key;
  }

  private address(address: string): string {
    const normalised = normaliseEmailAddress(address);
    if (normalised === null)
      throw new AppError('identity_address_invalid', `Not a usable email address: ${address.slice(0, 100)}.`);
    return normalised;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.length === b.length &&
    Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0
  );
}

/**
 * The stored key updated with what a new copy of the same key brings (openpgp.js Key.update: new valid signatures,
 * subkeys, user IDs, revocations), re-checked; the new copy alone when the merge fails.
 */
async function mergeKeyMaterial(
  stored: Uint8Array,
  fresh: ParsedPublicKey,
  now: Date,
): Promise<{ bytes: Uint8Array; expires: Date | null }> {
  try {
    const old = await loadPublicKey(stored);
    const incoming = await loadPublicKey(fresh.publicKey);
    if (old === null || incoming === null) return { bytes: fresh.publicKey, expires: fresh.expires };
    const merged = await old.update(incoming, now, fullConfig());
    const checked = await parsePublicKey(merged.write(), { now });
    return { bytes: checked.publicKey, expires: checked.expires };
  } catch {
    return { bytes: fresh.publicKey, expires: fresh.expires };
  }
}
