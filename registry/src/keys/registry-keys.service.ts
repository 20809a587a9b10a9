import {
  generateEd25519KeyPair,
  keySetEntry,
  parseKeySet,
  rotateKeySet,
  signKeySetStatement,
  signingEntryAt,
  unwrap,
  type Ed25519KeyPair,
  type Ed25519PrivateJwk,
  type KeySet,
  type KeySetDocument,
} from '@caliopen/federation-protocol';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { RegistryError } from '../shared/errors.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { RegistryKeyRecord } from './registry-key.entity.ts';

const DAY = 24 * 3600;
const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
const purpose = (kid: string) => `registry-key:${kid}`;

/**
 * The registry's signing keys (Ed25519): labels, checkpoints, feeds and deltas are all signed with the key the
 * published key set names for the moment (`signingEntryAt`). Private halves are sealed with the master key. Rotation
 * adds a key that starts later (so peers can fetch the new set before it signs anything) and retires the old one an
 * overlap after that (at least the longest label lifetime, so every label it signed stays verifiable until it expires).
 */
export class RegistryKeyService {
  private readonly opened = new Map<string, Ed25519KeyPair>();

  constructor(
    private readonly storage: RegistryStorage,
    private readonly box: SecretBox,
    /** The registry's name, the `iss` of its labels and the `registry` of its rotation statements. */
    private readonly registry: string,
  ) {}

  async records(): Promise<RegistryKeyRecord[]> {
    return this.storage.keys.list();
  }

  /** The key set document peers pin, from the stored keys. */
  async document(): Promise<KeySetDocument> {
    const records = await this.records();
    return { keys: records.map((r) => keySetEntry(r.publicJwk, { notBefore: r.notBefore, notAfter: r.notAfter })) };
  }

  async keySet(): Promise<KeySet> {
    return unwrap(parseKeySet(await this.document()));
  }

  /** Creates the first key when there is none (registry init); resolves its kid, or null when keys exist. */
  async ensureInitialKey(now: Date, lifetimeDays: number): Promise<string | null> {
    if ((await this.records()).length > 0) return null;
    // Valid from a minute ago: peers tolerate that much skew, and the first checkpoint is signed at once.
    return this.addKey(seconds(now) - 60, seconds(now) + lifetimeDays * DAY, now);
  }

  /**
   * Rotation with overlap: a new key valid from `now + activateInSeconds` for `lifetimeDays`; every key valid then
   * retires `overlapSeconds` after the new key starts.
   */
  async rotate(
    now: Date,
    options: { activateInSeconds: number; overlapSeconds: number; lifetimeDays: number },
  ): Promise<{ kid: string; document: KeySetDocument }> {
    const current = await this.document();
    const notBefore = seconds(now) + options.activateInSeconds;
    const pair = generateEd25519KeyPair();
    const entry = keySetEntry(pair.publicJwk, { notBefore, notAfter: notBefore + options.lifetimeDays * DAY });
    const next = rotateKeySet(current, entry, { overlapSeconds: options.overlapSeconds });
    // The statement chaining the new set to the current one, signed by the key valid now (SPEC.md §3): peers that
    // pinned an earlier set follow it; stored first, so a rotation racing another one stops here.
    const sequence = (await this.storage.keys.statements()).length + 1;
    const jws = await signKeySetStatement(
      { registry: this.registry, sequence, issuedAt: seconds(now), keys: next.keys },
      await this.signingKey(now),
    );
    if (!(await this.storage.keys.addStatement({ sequence, jws, createdAt: now }))) {
      throw new RegistryError('service_unavailable', 'Another key rotation was recorded at the same time; retry.');
    }
    for (const before of current.keys) {
      const after = next.keys.find((k) => k.kid === before.kid);
      if (after && after.notAfter !== before.notAfter) await this.storage.keys.setNotAfter(before.kid, after.notAfter);
    }
    await this.store(pair, entry.notBefore, entry.notAfter, now);
    return { kid: pair.kid, document: next };
  }

  /** The rotation statements from the first set on, in order (`GET /v1/keys/statements`). */
  async statements(): Promise<string[]> {
    return (await this.storage.keys.statements()).map((st) => st.jws);
  }

  /** The key pair to sign with at `now`; registry_key_unavailable when none is valid (rotate the keys). */
  async signingKey(now: Date): Promise<Ed25519KeyPair> {
    const records = await this.records();
    const document: KeySetDocument = {
      keys: records.map((r) => keySetEntry(r.publicJwk, { notBefore: r.notBefore, notAfter: r.notAfter })),
    };
    const entry = signingEntryAt(document, seconds(now));
    if (entry === undefined)
      throw new RegistryError(
        'registry_key_unavailable',
        `No registry key is valid at ${now.toISOString()}: rotate the keys (caliopen registry keys rotate).`,
      );
    let pair = this.opened.get(entry.kid);
    if (pair === undefined) {
      const record = records.find((r) => r.kid === entry.kid)!;
      const privateJwk = JSON.parse(this.box.open(record.privateSealed, purpose(record.kid))) as Ed25519PrivateJwk;
      pair = { kid: record.kid, publicJwk: record.publicJwk, privateJwk };
      this.opened.set(entry.kid, pair);
    }
    return pair;
  }

  private async addKey(notBefore: number, notAfter: number, now: Date): Promise<string> {
    const pair = generateEd25519KeyPair();
    await this.store(pair, notBefore, notAfter, now);
    return pair.kid;
  }

  private async store(pair: Ed25519KeyPair, notBefore: number, notAfter: number, now: Date): Promise<void> {
    await this.storage.keys.add({
      kid: pair.kid,
      publicJwk: pair.publicJwk,
      privateSealed: this.box.seal(JSON.stringify(pair.privateJwk), purpose(pair.kid)),
      notBefore,
      notAfter,
      createdAt: now,
    });
  }
}
