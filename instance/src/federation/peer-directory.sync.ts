import {
  applyDelta,
  canonicalJson,
  followKeySetChain,
  MAX_FEED_AGE_SECONDS,
  decodeProof,
  verifyConsistentWith,
  verifyFeed,
  verifyEntryLabel,
  verifyFeedDelta,
  verifyEntryInLog,
  type Checkpoint,
  type Feed,
  type FeedInstance,
} from '@caliopen/federation-protocol';
import type { PeerFeed } from './peer-directory.lookup.ts';
import type { StandingWatch } from './peer-directory.standing.ts';
import type { PeerDirectoryStore } from './peer-directory.store.ts';
import {
  FEED_FORK_DETECTED,
  FEED_STALE,
  type ForkIncident,
  type PeerDirectoryOptions,
  type PeerDirectoryStatus,
  SyncError,
  type SyncOutcome,
} from './peer-directory.types.ts';

/** The registry could not be asked (down, unreachable, odd answer): nothing was refused, the sync is retried. */
const TRANSPORT_FAILURES = new Set([
  'feed_unreachable',
  'feed_unavailable',
  'feed_consistency_proof_unavailable',
  'feed_inclusion_proof_unavailable',
  'feed_sync_failed',
]);

/** A signature by a key the trusted set does not hold valid: the registry may have rotated its keys. */
const KEY_FAILURES = new Set([
  'feed_unknown_key',
  'feed_key_outside_validity',
  'checkpoint_unknown_key',
  'checkpoint_key_outside_validity',
]);

/** Inclusion proofs asked in one request when a feed brings many new entries (the registry answers up to 256). */
const PROOF_BATCH = 256;

/**
 * Sync: the full feed once, then `?since=SERIAL` deltas, on a schedule; each verified against the pinned registry key
 * set and against the last checkpoint accepted (a checkpoint that does not extend it is a forked log: refused, the
 * incident recorded). Part of PeerDirectory (peer-directory.ts), split out by responsibility.
 */
export class PeerFeedSync {
  lastAttemptAt: string | null = null;
  lastError: PeerDirectoryStatus['lastError'] = null;
  ownRevocation: PeerDirectoryStatus['ownRevocation'] = null;
  private inFlight: Promise<SyncOutcome> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private transportFailures = 0;
  private staleReported = false;

  constructor(
    private readonly options: PeerDirectoryOptions,
    private readonly feed: PeerFeed,
    private readonly store: PeerDirectoryStore,
    private readonly watch: StandingWatch,
  ) {}

  /** Syncs now, then every `syncSeconds`. Errors are recorded in `status()`, never thrown. */
  start(): void {
    this.stopped = false;
    // Revoked when stopped: the users' explanation gets the registry's published reason again.
    if (this.feed.standing().status === 'revoked') void this.fetchOwnRevocation();
    const tick = async () => {
      this.timer = null;
      await this.sync();
      this.watch.check();
      if (!this.stopped) {
        this.timer = setTimeout(() => void tick(), this.options.syncSeconds * 1000);
        this.timer.unref();
      }
    };
    void tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight?.catch(() => undefined);
  }

  /** One sync (concurrent callers share it). Never throws: the outcome says what happened, `status()` why. */
  sync(): Promise<SyncOutcome> {
    this.inFlight ??= this.syncOnce().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  // -------------------------------------------------------------------------------------------------------------
  // Sync

  async syncOnce(): Promise<SyncOutcome> {
    const outcome = await this.syncAttempt();
    this.checkFreshness();
    return outcome;
  }

  /**
   * Tells the operator, once per episode, that the newest verified feed is older than MAX_FEED_AGE_SECONDS: no peer is
   * trusted from it any more (a registry out of reach too long, or a feed withheld), until a fresh one is accepted.
   */
  private checkFreshness(): void {
    const stale = this.feed.state !== null && !this.feed.fresh();
    if (stale && !this.staleReported) {
      this.options.logger?.error(
        {
          code: FEED_STALE,
          feedIssuedAt: this.feed.state?.feed.issuedAt,
          maxAgeSeconds: MAX_FEED_AGE_SECONDS,
          registry: this.options.registryUrl,
        },
        'the registry feed is stale: no peer is trusted from it until a fresh feed is accepted',
      );
    } else if (!stale && this.staleReported) {
      this.options.logger?.info({ serial: this.feed.state?.feed.serial }, 'the registry feed is fresh again');
    }
    this.staleReported = stale;
  }

  async syncAttempt(): Promise<SyncOutcome> {
    this.lastAttemptAt = this.options.clock().toISOString();
    try {
      const outcome = await this.fetchAndAccept();
      this.lastError = null;
      this.transportFailures = 0;
      if (this.feed.state) {
        this.feed.state.lastSyncAt = this.options.clock().toISOString();
        if (outcome === 'unchanged') await this.store.persist(this.feed.state);
      }
      return outcome;
    } catch (e) {
      const error = e instanceof SyncError ? e : new SyncError('feed_sync_failed', (e as Error).message);
      this.lastError = { code: error.code, message: error.message, at: this.options.clock().toISOString() };
      if (error.code === FEED_FORK_DETECTED) return 'refused';
      // A registry out of reach for a sync or two (it restarts, or starts after us) is routine: a warning from the
      // third failure in a row. A refused feed is always one.
      const transport = TRANSPORT_FAILURES.has(error.code);
      this.transportFailures = transport ? this.transportFailures + 1 : 0;
      const level = transport && this.transportFailures < 3 ? 'info' : 'warn';
      this.options.logger?.[level](
        {
          code: error.code,
          reason: error.message,
          registry: this.options.registryUrl,
          failuresInARow: this.transportFailures,
        },
        'registry feed refused or unreachable',
      );
      return TRANSPORT_FAILURES.has(error.code) ? 'failed' : 'refused';
    }
  }

  /**
   * One sync. A feed signed by a key the trusted set does not hold (or no longer holds valid) makes the directory
   * look for registry key rotation statements chained from its pinned set (SPEC.md §3, "Registry key rotation"): if
   * they lead to a newer set, it is adopted and the feed verified once more; a key no chain leads to stays refused.
   */
  async fetchAndAccept(): Promise<'full' | 'delta' | 'unchanged'> {
    await this.restoreChain();
    try {
      return await this.fetchAndAcceptOnce();
    } catch (e) {
      if (e instanceof SyncError && KEY_FAILURES.has(e.code) && (await this.followRotation())) {
        return this.fetchAndAcceptOnce();
      }
      throw e;
    }
  }

  /** The statements kept from an earlier sync, verified again from the pinned set (never trusted from disk). */
  private async restoreChain(): Promise<void> {
    const kept = this.feed.pendingStatements;
    if (kept === null) return;
    this.feed.pendingStatements = null;
    const followed = await followKeySetChain(this.options.keySet, kept, {
      now: this.feed.nowSeconds(),
      ...(this.feed.state ? { registry: this.feed.state.feed.registry } : {}),
    });
    if (!followed.ok) {
      this.options.logger?.error(
        { code: followed.error.code, reason: followed.error.message },
        'the stored registry key rotation statements do not chain from the pinned key set; they are ignored',
      );
      return;
    }
    this.feed.keySet = followed.value.keySet;
    this.feed.keyStatements = [...followed.value.statements];
  }

  /** Fetches the rotation statements and adopts the set they lead to; true when that set is newer than ours. */
  private async followRotation(): Promise<boolean> {
    const res = await this.get('/v1/keys/statements', { accept: 'application/json' });
    if (res.status !== 200) return false;
    const body = (await res.json().catch(() => null)) as { statements?: unknown } | null;
    const statements = body?.statements;
    if (!Array.isArray(statements) || statements.length <= this.feed.keyStatements.length) return false;
    const followed = await followKeySetChain(this.options.keySet, statements, {
      now: this.feed.nowSeconds(),
      ...(this.feed.state ? { registry: this.feed.state.feed.registry } : {}),
    });
    if (!followed.ok) throw new SyncError(followed.error.code, followed.error.message);
    this.feed.keySet = followed.value.keySet;
    this.feed.keyStatements = [...followed.value.statements];
    if (this.feed.state) {
      this.feed.state.keyStatements = this.feed.keyStatements;
      await this.store.persist(this.feed.state);
    }
    this.options.logger?.info(
      { sequence: followed.value.sequence, kids: followed.value.keySet.document.keys.map((k) => k.kid) },
      'registry key rotation followed from the pinned key set',
    );
    return true;
  }

  async fetchAndAcceptOnce(): Promise<'full' | 'delta' | 'unchanged'> {
    if (this.feed.state === null) return this.syncFull();
    const res = await this.get(`/v1/index?since=${this.feed.state.feed.serial}`);
    if (res.status === 304) return 'unchanged';
    if (res.status !== 200) {
      // A registry that no longer knows our serial (feed_serial_unknown): the full feed, which must still be
      // newer than ours and extend our checkpoint.
      this.options.logger?.info({ status: res.status }, 'registry answered no delta; fetching the full feed');
      return this.syncFull();
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const state = this.feed.state;
    const verified = await verifyFeedDelta(bytes, {
      keySet: this.feed.keySet,
      now: this.feed.nowSeconds(),
      lastSerial: state.feed.serial,
    });
    if (!verified.ok) throw new SyncError(verified.error.code, verified.error.message);
    await this.checkExtendsLog(verified.value.checkpoint.checkpoint);
    const { delta } = verified.value;
    for (const entry of delta.changed) await this.checkLabel(entry, delta.registry, delta.issuedAt);
    await this.checkBound(delta.changed, verified.value.checkpoint.checkpoint);
    const next = applyDelta(state.feed, delta, { checkResultDigest: true });
    if (!next.ok) {
      if (next.error.code === 'feed_delta_base_mismatch') return this.syncFull();
      throw new SyncError(next.error.code, next.error.message);
    }
    await this.accept(next.value, verified.value.checkpoint.checkpoint, state.etag);
    return 'delta';
  }

  async syncFull(): Promise<'full' | 'unchanged'> {
    const headers: Record<string, string> = {};
    if (this.feed.state?.etag) headers['if-none-match'] = this.feed.state.etag;
    const res = await this.get('/v1/index', headers);
    if (res.status === 304 && this.feed.state) return 'unchanged';
    if (res.status !== 200)
      throw new SyncError('feed_unavailable', `The registry answered ${res.status} for its feed.`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const verified = await verifyFeed(bytes, {
      keySet: this.feed.keySet,
      now: this.feed.nowSeconds(),
      verifyLabels: true,
      ...(this.feed.state ? { lastSerial: this.feed.state.feed.serial } : {}),
    });
    if (!verified.ok) throw new SyncError(verified.error.code, verified.error.message);
    if (this.feed.state && verified.value.feed.registry !== this.feed.state.feed.registry) {
      throw new SyncError(
        'feed_wrong_registry',
        `The feed is from "${verified.value.feed.registry}", not "${this.feed.state.feed.registry}".`,
      );
    }
    await this.checkExtendsLog(verified.value.checkpoint.checkpoint);
    await this.checkBound(verified.value.feed.instances, verified.value.checkpoint.checkpoint);
    await this.accept(verified.value.feed, verified.value.checkpoint.checkpoint, res.headers.get('etag'));
    return 'full';
  }

  /** The offered checkpoint must extend the last accepted one; otherwise the log forked: recorded and refused. */
  async checkExtendsLog(offered: Checkpoint): Promise<void> {
    const last = this.feed.lastCheckpoint;
    if (last === null) return;
    let proof: Uint8Array[] = [];
    if (offered.treeSize > last.treeSize) {
      const res = await this.get(`/v1/log/proof/consistency?from=${last.treeSize}&to=${offered.treeSize}`);
      if (res.status !== 200)
        throw new SyncError(
          'feed_consistency_proof_unavailable',
          `The registry answered ${res.status} for a consistency proof.`,
        );
      const body = (await res.json().catch(() => null)) as { proof?: unknown } | null;
      const decoded = decodeProof(body?.proof);
      if (decoded === undefined)
        throw new SyncError('feed_consistency_proof_unavailable', 'The consistency proof is malformed.');
      proof = decoded;
    }
    const linked = verifyConsistentWith(last, offered, proof);
    if (linked.ok) return;
    if (linked.error.code !== 'checkpoint_inconsistent' && linked.error.code !== 'checkpoint_wrong_origin') {
      throw new SyncError(linked.error.code, linked.error.message);
    }
    const incident: ForkIncident = {
      code: FEED_FORK_DETECTED,
      at: this.options.clock().toISOString(),
      message: linked.error.message,
      accepted: last,
      offered,
    };
    this.feed.fork = incident;
    if (this.feed.state) {
      this.feed.state.fork = incident;
      await this.store.persist(this.feed.state);
    }
    this.options.logger?.error(
      {
        code: FEED_FORK_DETECTED,
        registry: this.options.registryUrl,
        accepted: { treeSize: last.treeSize, rootHash: last.rootHash },
        offered: { treeSize: offered.treeSize, rootHash: offered.rootHash },
      },
      'registry log forked: feed refused, the last accepted feed is kept',
    );
    throw new SyncError(FEED_FORK_DETECTED, linked.error.message);
  }

  /**
   * Every entry this peer does not hold yet, as it is, must be bound to the log of the offered checkpoint (SPEC.md,
   * "Entries bound to the log"): its binding leaf at `logIndex`, shown by an inclusion proof from the registry's log
   * API. An entry held unchanged was checked against an earlier checkpoint, which the offered one extends. The proofs
   * are asked for every new entry of a feed, never per message: they tell the registry nothing about whom we talk to.
   */
  async checkBound(entries: readonly FeedInstance[], checkpoint: Checkpoint): Promise<void> {
    const held = this.feed.byDomain;
    const fresh = entries.filter((entry) => {
      const before = held.get(entry.domain);
      return before === undefined || canonicalJson(before) !== canonicalJson(entry);
    });
    const inTree = [...new Set(fresh.map((e) => e.logIndex).filter((i) => i < checkpoint.treeSize))].sort(
      (a, b) => a - b,
    );
    const proofs = new Map<number, Uint8Array[]>();
    for (let start = 0; start < inTree.length; start += PROOF_BATCH) {
      const indices = inTree.slice(start, start + PROOF_BATCH);
      const res = await this.get(`/v1/log/proof/inclusions?size=${checkpoint.treeSize}&indices=${indices.join(',')}`);
      if (res.status !== 200)
        throw new SyncError(
          'feed_inclusion_proof_unavailable',
          `The registry answered ${res.status} for inclusion proofs.`,
        );
      const body = (await res.json().catch(() => null)) as { proofs?: unknown } | null;
      for (const item of Array.isArray(body?.proofs) ? body.proofs : []) {
        const index = (item as { index?: unknown }).index;
        const proof = decodeProof((item as { proof?: unknown }).proof);
        if (typeof index === 'number' && indices.includes(index) && proof !== undefined) proofs.set(index, proof);
      }
    }
    for (const entry of fresh) {
      const proof = entry.logIndex < checkpoint.treeSize ? proofs.get(entry.logIndex) : [];
      if (proof === undefined) {
        throw new SyncError(
          'feed_inclusion_proof_unavailable',
          `The registry gave no inclusion proof for ${entry.domain}.`,
        );
      }
      const bound = verifyEntryInLog(entry, checkpoint, proof);
      if (!bound.ok) {
        this.options.logger?.error(
          { code: bound.error.code, domain: entry.domain, logIndex: entry.logIndex, treeSize: checkpoint.treeSize },
          'a feed entry is not bound to the registry log: feed refused, the last accepted feed is kept',
        );
        throw new SyncError(bound.error.code, bound.error.message);
      }
    }
  }

  /** A changed entry of a delta gets the check every entry of a full feed gets (verifyEntryLabel). */
  async checkLabel(entry: FeedInstance, registry: string, issuedAt: number): Promise<void> {
    const checked = await verifyEntryLabel(entry, { keySet: this.feed.keySet, registry, issuedAt });
    if (!checked.ok) throw new SyncError(checked.error.code, checked.error.message);
  }

  async accept(feed: Feed, checkpoint: Checkpoint, etag: string | null): Promise<void> {
    this.feed.state = {
      version: 1,
      registryUrl: this.options.registryUrl,
      feed,
      checkpoint: feed.checkpoint,
      etag,
      lastSyncAt: this.feed.state?.lastSyncAt ?? null,
      fork: this.feed.fork,
      keyStatements: this.feed.keyStatements,
    };
    this.feed.lastCheckpoint = checkpoint;
    this.feed.byDomain = new Map(feed.instances.map((entry) => [entry.domain, entry]));
    this.feed.state.lastSyncAt = this.options.clock().toISOString();
    await this.store.persist(this.feed.state);
    this.options.logger?.info(
      { serial: feed.serial, instances: feed.instances.length, treeSize: checkpoint.treeSize },
      'registry feed accepted',
    );
    this.feed.checkOwnEntry();
    this.watch.check();
  }

  /**
   * Reads the reason the registry gives for this instance's revocation from its public record (a request about
   * ourselves: it tells the registry nothing about whom we talk to). Kept for `status()`; null when not revoked, or
   * when the record cannot be read (the revocation itself stands: it comes from the signed feed).
   */
  async fetchOwnRevocation(): Promise<PeerDirectoryStatus['ownRevocation']> {
    if (this.feed.standing().status !== 'revoked') return (this.ownRevocation = null);
    try {
      const res = await this.get(`/v1/instances/${encodeURIComponent(this.options.ownDomain)}`, {
        accept: 'application/json',
      });
      if (res.status !== 200) return this.ownRevocation;
      const body = (await res.json().catch(() => null)) as {
        revocation?: { reason?: unknown; at?: unknown } | null;
      } | null;
      const clean = (v: unknown, max: number) =>
        typeof v === 'string'
          ? v
              .replace(/[\u0000-\u001f\u007f]+/g, ' ')
              .trim()
              .slice(0, max) || null
          : null;
      this.ownRevocation = body?.revocation
        ? { reason: clean(body.revocation.reason, 500), at: clean(body.revocation.at, 40) }
        : null;
    } catch {
      // unreachable: the reason stays unknown
    }
    return this.ownRevocation;
  }

  private readonly revocations = new Map<
    string,
    { serial: number | null; value: PeerDirectoryStatus['ownRevocation'] }
  >();

  /**
   * Why the registry revoked a peer, from its public record (`GET /v1/instances/:domain`): words for users, read only
   * for a peer the signed feed says is revoked, once per feed serial (cached; bounded). The revocation itself comes
   * from the feed; null when the record cannot be read.
   */
  async fetchRevocation(domain: string): Promise<PeerDirectoryStatus['ownRevocation']> {
    const peer = this.feed.peer(domain);
    if (peer === null || peer.status !== 'revoked') return null;
    const serial = this.feed.state?.feed.serial ?? null;
    const hit = this.revocations.get(peer.domain);
    if (hit !== undefined && hit.serial === serial && hit.value !== null) return hit.value;
    let value: PeerDirectoryStatus['ownRevocation'] = null;
    try {
      const res = await this.get(`/v1/instances/${encodeURIComponent(peer.domain)}`, { accept: 'application/json' });
      if (res.status === 200) {
        const body = (await res.json().catch(() => null)) as {
          revocation?: { reason?: unknown; at?: unknown } | null;
        } | null;
        value = body?.revocation
          ? { reason: cleanText(body.revocation.reason, 500), at: cleanText(body.revocation.at, 40) }
          : null;
      }
    } catch {
      // unreachable: the reason stays unknown
    }
    this.revocations.set(peer.domain, { serial, value });
    while (this.revocations.size > 1000) this.revocations.delete(this.revocations.keys().next().value!);
    return value;
  }

  async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
    const url = `${this.options.registryUrl.replace(/\/+$/, '')}${path}`;
    try {
      return await fetch(url, {
        headers,
        redirect: 'error',
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (e) {
      throw new SyncError('feed_unreachable', `The registry could not be reached: ${(e as Error).message}`);
    }
  }
}

/** A string from the registry's public record, fit to show: control characters out, bounded; else null. */
function cleanText(v: unknown, max: number): string | null {
  return typeof v === 'string'
    ? v
        .replace(/[\u0000-\u001f\u007f]+/g, ' ')
        .trim()
        .slice(0, max) || null
    : null;
}
