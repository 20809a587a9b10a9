import {
  buildFeed,
  bytesEqual,
  decodeBase64Url,
  entryBinding,
  entryLeafHash,
  FEED_HEARTBEAT_SECONDS,
  FEED_VERSION,
  signFeed,
  signFeedDelta,
  utf8Decode,
  type FeedDelta,
  type FeedInstance,
} from '@caliopen/federation-protocol';
import type { RegistryKeyService } from '../keys/registry-keys.service.ts';
import type { TransparencyLogService } from '../log/transparency-log.service.ts';
import type { FeedPublication } from '../log/log.entity.ts';
import { RegistryError } from '../shared/errors.ts';
import type { Exclusive } from '../shared/exclusive.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { Member } from '../labels/label.entity.ts';

const MAX_PUBLISH_ATTEMPTS = 8;
/** How long a process trusts its cached feed before asking storage whether another process published. */
const CACHE_REVALIDATE_MS = 2000;

export interface CurrentFeed {
  serial: number;
  issuedAt: number;
  envelope: Uint8Array;
  digest: string;
  checkpointJws: string;
  etag: string;
}

/**
 * The registry's signed feed: every instance that holds or held a label (labelled, suspended, revoked), with serial,
 * ETag and deltas. A new serial is published each time an entry changes; entries never leave the feed (a revoked
 * instance stays, marked revoked, so peers learn of it). A delta since serial S carries the current entries of every
 * domain changed after S, and the digest of the full feed it leads to.
 */
export class FeedService {
  private cache: { feed: CurrentFeed; checkedAt: number } | null = null;
  private readonly deltas = new Map<string, Uint8Array>();

  constructor(
    private readonly storage: RegistryStorage,
    private readonly keys: RegistryKeyService,
    private readonly log: TransparencyLogService,
    readonly registry: string,
    /** The registry's publication lock: members change and feeds publish under it, so reads see published states. */
    private readonly exclusive: Exclusive,
  ) {}

  /**
   * Publishes a new serial from the members' current entries, tied to the latest log checkpoint. Callers hold the
   * publication lock (they changed the members just before).
   */
  async publish(changedDomains: readonly string[], now: Date): Promise<CurrentFeed> {
    for (let attempt = 0; attempt < MAX_PUBLISH_ATTEMPTS; attempt++) {
      const latest = await this.storage.feed.latest();
      const serial = (latest?.serial ?? 0) + 1;
      const { members, rebound } = await this.bindToLog(await this.storage.members.list(), now);
      const checkpoint = await this.log.latestCheckpoint(now);
      const issuedAt = Math.floor(now.getTime() / 1000);
      const feed = buildFeed({
        serial,
        issuedAt,
        registry: this.registry,
        checkpoint: checkpoint.jws,
        instances: members.map((m) => m.entry),
      });
      const envelope = await signFeed(feed, await this.keys.signingKey(now));
      const publication: FeedPublication = {
        serial,
        issuedAt,
        envelope,
        digest: signedBodyDigest(envelope),
        checkpointJws: checkpoint.jws,
        changedDomains: [...new Set([...changedDomains, ...rebound])].sort(),
      };
      if (await this.storage.feed.publish(publication)) {
        const current = toCurrent(publication);
        this.cache = { feed: current, checkedAt: Date.now() };
        this.deltas.clear();
        return current;
      }
    }
    throw new RegistryError('service_unavailable', 'Another process keeps publishing the feed; retry.');
  }

  /**
   * Every entry bound to a log leaf (SPEC.md, "Entries bound to the log"): an entry whose `logIndex` does not hold its
   * binding leaf (new, changed, or stored before bindings existed) gets one appended, in one batch with one signed
   * checkpoint, and is stored with its new index. Returns the members as they will be published, and the domains
   * whose entry was rebound (their entry changed: deltas carry them).
   */
  private async bindToLog(members: Member[], now: Date): Promise<{ members: Member[]; rebound: string[] }> {
    await this.log.sync();
    const unbound = members.filter((m) => {
      const at = this.log.leafHashAt(m.entry.logIndex ?? -1);
      return at === undefined || !bytesEqual(at, entryLeafHash({ ...m.entry, logIndex: m.entry.logIndex ?? 0 }));
    });
    if (unbound.length === 0) return { members, rebound: [] };
    const { firstIndex } = await this.log.append(
      unbound.map((m) => entryBinding({ ...m.entry, logIndex: 0 })),
      now,
    );
    const updated = new Map<string, Member>();
    for (const [i, m] of unbound.entries()) {
      const next: Member = { ...m, entry: { ...m.entry, logIndex: firstIndex + i } };
      await this.storage.members.put(next);
      updated.set(m.domain, next);
    }
    return { members: members.map((m) => updated.get(m.domain) ?? m), rebound: [...updated.keys()] };
  }

  /**
   * The feed being served; publishes the first (empty) one when none exists yet, and a new serial with the same
   * entries (a heartbeat) when the latest is FEED_HEARTBEAT_SECONDS old: its signed `issuedAt` is the freshness peers
   * rely on (SPEC.md, "Freshness").
   */
  current(now: Date): Promise<CurrentFeed> {
    return this.exclusive.run(() => this.currentLocked(now));
  }

  private async currentLocked(now: Date): Promise<CurrentFeed> {
    const due = (issuedAt: number) => Math.floor(now.getTime() / 1000) - issuedAt >= FEED_HEARTBEAT_SECONDS;
    if (this.cache && Date.now() - this.cache.checkedAt < CACHE_REVALIDATE_MS && !due(this.cache.feed.issuedAt))
      return this.cache.feed;
    const latest = await this.storage.feed.latest();
    if (latest === null || due(latest.issuedAt)) return this.publish([], now);
    if (this.cache?.feed.serial !== latest.serial) this.deltas.clear();
    const feed = this.cache?.feed.serial === latest.serial ? this.cache.feed : toCurrent(latest);
    this.cache = { feed, checkedAt: Date.now() };
    return feed;
  }

  /** The signed delta from `since` to the current serial; null when `since` is the current serial. */
  delta(since: number, now: Date): Promise<{ envelope: Uint8Array; current: CurrentFeed } | null> {
    return this.exclusive.run(() => this.deltaLocked(since, now));
  }

  private async deltaLocked(since: number, now: Date): Promise<{ envelope: Uint8Array; current: CurrentFeed } | null> {
    const current = await this.currentLocked(now);
    if (since === current.serial) return null;
    if (!Number.isSafeInteger(since) || since < 0 || since > current.serial) {
      throw new RegistryError(
        'feed_serial_unknown',
        `The feed is at serial ${current.serial}; no delta from ${since}.`,
      );
    }
    const key = `${since}->${current.serial}`;
    const cached = this.deltas.get(key);
    if (cached) return { envelope: cached, current };
    const domains = await this.storage.feed.changedSince(since);
    const changed: FeedInstance[] = (await this.storage.members.getMany(domains)).map((m) => m.entry);
    const delta: FeedDelta = {
      version: FEED_VERSION,
      registry: this.registry,
      fromSerial: since,
      serial: current.serial,
      issuedAt: current.issuedAt,
      checkpoint: current.checkpointJws,
      changed: changed.sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : 0)),
      removed: [],
      resultSha256: current.digest,
    };
    const envelope = await signFeedDelta(delta, await this.keys.signingKey(now));
    this.deltas.set(key, envelope);
    return { envelope, current };
  }
}

function toCurrent(p: FeedPublication): CurrentFeed {
  return {
    serial: p.serial,
    issuedAt: p.issuedAt,
    envelope: p.envelope,
    digest: p.digest,
    checkpointJws: p.checkpointJws,
    etag: `"${p.serial}-${p.digest.slice(0, 16).replace(/[^A-Za-z0-9]/g, '_')}"`,
  };
}

/** The bodySha256 the envelope's signed head carries (the canonical feed's digest), read without re-hashing the body. */
function signedBodyDigest(envelope: Uint8Array): string {
  const newline = envelope.indexOf(0x0a);
  const jws = utf8Decode(envelope.subarray(0, newline)) ?? '';
  const payload = decodeBase64Url(jws.split('.')[1] ?? '');
  const head = JSON.parse(utf8Decode(payload ?? new Uint8Array()) ?? '{}') as { bodySha256?: string };
  if (typeof head.bodySha256 !== 'string') throw new Error('signed feed head without bodySha256');
  return head.bodySha256;
}
