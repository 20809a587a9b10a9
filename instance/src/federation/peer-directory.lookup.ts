import {
  isFeedFresh,
  MAX_FEED_AGE_SECONDS,
  signingKeysAt,
  type Checkpoint,
  type FeedInstance,
  type KeySet,
} from '@caliopen/federation-protocol';
import {
  FEED_OWN_ENTRY_MISMATCH,
  type OwnKeys,
  type OwnStanding,
  type PeerDirectoryOptions,
  type PeerDirectoryStatus,
  type PeerInfo,
  type ForkIncident,
  type StoredState,
} from './peer-directory.types.ts';

/**
 * Lookup: the accepted feed held in memory, and what is read from it without asking anyone (a peer's entry, this
 * instance's own standing, whether the feed's entry for this instance lists its own keys). Part of PeerDirectory
 * (peer-directory.ts), split out by responsibility; the sync part replaces the feed it holds.
 */
export class PeerFeed {
  state: StoredState | null = null;
  byDomain = new Map<string, FeedInstance>();
  lastCheckpoint: Checkpoint | null = null;
  fork: ForkIncident | null = null;
  /** The registry key set trusted now: the pinned one, or where rotation statements chained from it lead. */
  keySet: KeySet;
  /** The rotation statements that lead from the pinned set to `keySet` (SPEC.md §3). */
  keyStatements: string[] = [];
  /** Statements read from disk, verified again from the pinned set before the next sync uses them. */
  pendingStatements: string[] | null = null;
  ownMismatch: PeerDirectoryStatus['ownEntryMismatch'] = null;
  private expectedOwn: OwnKeys | null = null;

  constructor(private readonly options: PeerDirectoryOptions) {
    this.keySet = options.keySet;
  }

  /**
   * A peer's entry. A peer is trusted from a fresh feed only: a feed withheld (304s, an old copy replayed) stops
   * vouching for anyone MAX_FEED_AGE_SECONDS after it was signed (SPEC.md, "Freshness").
   */
  peer(domain: string): PeerInfo | null {
    return this.entryInfo(domain, true);
  }

  private entryInfo(domain: string, requireFresh: boolean): PeerInfo | null {
    const entry = this.byDomain.get(domain.toLowerCase());
    if (entry === undefined) return null;
    const now = this.nowSeconds();
    return {
      domain: entry.domain,
      status: entry.status,
      labelValid: entry.status === 'labelled' && entry.labelExpiresAt > now && (!requireFresh || this.fresh()),
      labelId: entry.labelId,
      labelExpiresAt: entry.labelExpiresAt,
      instancePi: entry.pi.score,
      pi: entry.pi,
      certificateSha256: entry.certFingerprint,
      keys: { signing: entry.keys.signing, encryption: entry.keys.encryption },
      signingKeys: signingKeysAt(entry, now),
      endpoints: entry.endpoints,
    };
  }

  /** This instance's own standing, as the verified feed says: the account PI is capped by it. */
  standing(): OwnStanding {
    const serial = this.state?.feed.serial ?? null;
    if (this.state === null)
      return { status: 'not_synced', labelValid: false, instancePi: null, labelExpiresAt: null, serial };
    // Our own label, as the registry signed it: a stale feed stops us trusting peers, it does not unlabel us.
    const own = this.entryInfo(this.options.ownDomain, false);
    if (own === null) return { status: 'absent', labelValid: false, instancePi: null, labelExpiresAt: null, serial };
    const status = own.status === 'labelled' && !own.labelValid ? 'expired' : own.status;
    return {
      status,
      labelValid: own.labelValid,
      instancePi: own.instancePi,
      labelExpiresAt: own.labelExpiresAt,
      serial,
    };
  }

  /**
   * The keys and certificate this instance holds: from now on, every accepted feed's entry for it is compared with
   * them (SPEC.md §3). A registry substituting them — to impersonate this instance to its peers — shows there first:
   * the operator is alerted (an error log with FEED_OWN_ENTRY_MISMATCH, `status().ownEntryMismatch`,
   * GET /api/v1/federation). A certificate or key rotated here and not yet re-labelled shows the same way.
   */
  expectOwn(own: OwnKeys): void {
    this.expectedOwn = own;
    this.checkOwnEntry();
  }

  /** Compares the feed's entry for this instance with the keys it holds (expectOwn); logs a new mismatch. */
  checkOwnEntry(): void {
    const expected = this.expectedOwn;
    const entry = this.byDomain.get(this.options.ownDomain.toLowerCase());
    if (expected === null || entry === undefined) {
      this.ownMismatch = null;
      return;
    }
    const fields: string[] = [];
    if (entry.keys.signing.x !== expected.signingX) fields.push('keys.signing');
    if (entry.keys.encryption.x !== expected.encryptionX) fields.push('keys.encryption');
    if (entry.certFingerprint.toLowerCase() !== expected.certFingerprint.toLowerCase()) fields.push('certFingerprint');
    if (fields.length === 0) {
      this.ownMismatch = null;
      return;
    }
    const known = this.ownMismatch?.fields.join() === fields.join();
    this.ownMismatch = {
      code: FEED_OWN_ENTRY_MISMATCH,
      at: known ? this.ownMismatch!.at : this.options.clock().toISOString(),
      fields,
    };
    if (!known) {
      this.options.logger?.error(
        {
          code: FEED_OWN_ENTRY_MISMATCH,
          fields,
          serial: this.state?.feed.serial ?? null,
          registry: this.options.registryUrl,
        },
        "the registry's feed lists keys or a certificate for this instance that are not its own: peers will trust those, not ours",
      );
    }
  }

  /** The newest verified feed was signed less than MAX_FEED_AGE_SECONDS ago (false before any feed). */
  fresh(): boolean {
    return this.state !== null && isFeedFresh(this.state.feed.issuedAt, this.nowSeconds(), MAX_FEED_AGE_SECONDS);
  }

  nowSeconds(): number {
    return Math.floor(this.options.clock().getTime() / 1000);
  }
}
