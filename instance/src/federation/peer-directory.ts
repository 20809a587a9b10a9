import type { EventPublisher } from '../shared/event-bus.ts';
import type { FederationEvents } from './federation.events.ts';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  applyDelta,
  decodeProof,
  parseCheckpoint,
  parseFeed,
  parseKeySet,
  verifyConsistentWith,
  verifyFeed,
  verifyFeedDelta,
  verifyLabel,
  type Checkpoint,
  type Ed25519PublicJwk,
  type Feed,
  type FeedEndpoints,
  type FeedInstance,
  type KeySet,
  type PrivacyIndex,
  type X25519PublicJwk,
} from '@caliopen/federation-protocol';
import { decodeJwt } from 'jose';
import type { Logger } from 'pino';
import { ConfigError } from '../config/config.loader.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import type { InstanceStanding } from '../pi-model/instance-standing.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';

/**
 * The instance's copy of the registry's signed feed: who is labelled, with which keys, certificate and PI. Synced on
 * a schedule (the full feed once, then `?since=SERIAL` deltas), verified against the pinned registry key set and
 * against the last checkpoint accepted (a consistency proof from the registry's log links them; a checkpoint that
 * does not extend the last one is a forked log: the feed is refused, the last good one kept, the incident recorded).
 * Kept in `<dataDir>/federation/peer-directory.json`, reloaded at start. Peers are answered from memory: no
 * per-message call to the registry (which would tell it who talks to whom).
 */

export const FEED_FORK_DETECTED = 'feed_fork_detected';
/** The feed's entry for this instance lists keys or a certificate that are not its own (SPEC.md §3). */
export const FEED_OWN_ENTRY_MISMATCH = 'feed_own_entry_mismatch';

/** What this instance holds, which the feed's entry for it must list (SPEC.md §3). */
export interface OwnKeys {
  /** `x` of the Ed25519 signing public JWK. */
  readonly signingX: string;
  /** `x` of the X25519 encryption public JWK. */
  readonly encryptionX: string;
  /** SHA-256 of the instance TLS certificate (DER), hex. */
  readonly certFingerprint: string;
}

export interface PeerInfo {
  readonly domain: string;
  readonly status: FeedInstance['status'];
  /** Status `labelled` and the label unexpired now. */
  readonly labelValid: boolean;
  readonly labelId: string;
  /** NumericDate (seconds). */
  readonly labelExpiresAt: number;
  /** The instance PI score the registry published. */
  readonly instancePi: number;
  readonly pi: PrivacyIndex;
  /** SHA-256 of the peer's TLS certificate (DER), lowercase hex. */
  readonly certificateSha256: string;
  readonly keys: { readonly signing: Ed25519PublicJwk; readonly encryption: X25519PublicJwk };
  readonly endpoints: FeedEndpoints;
}

export interface ForkIncident {
  readonly code: typeof FEED_FORK_DETECTED;
  /** ISO time of detection. */
  readonly at: string;
  readonly message: string;
  readonly accepted: Checkpoint;
  readonly offered: Checkpoint;
}

export interface PeerDirectoryStatus {
  readonly enabled: true;
  readonly registryUrl: string;
  /** ISO time of the last sync that reached the registry and ended well (a feed accepted or nothing new). */
  readonly lastSyncAt: string | null;
  readonly lastAttemptAt: string | null;
  readonly serial: number | null;
  readonly checkpointSize: number | null;
  readonly instances: number;
  readonly lastError: { readonly code: string; readonly message: string; readonly at: string } | null;
  /** The last forked log detected (kept until the operator looks into it; a restart does not clear it). */
  readonly fork: ForkIncident | null;
  /**
   * Why the registry revoked this instance, as its public record says (`GET /v1/instances/:domain`; words for users,
   * not part of the signed feed, which alone decides the standing). Null unless revoked and the record was read.
   */
  readonly ownRevocation: { readonly reason: string | null; readonly at: string | null } | null;
  /** The feed's entry for this instance lists other keys or another certificate than its own (which fields). */
  readonly ownEntryMismatch: {
    readonly code: typeof FEED_OWN_ENTRY_MISMATCH;
    readonly at: string;
    readonly fields: readonly string[];
  } | null;
}

export type SyncOutcome = 'full' | 'delta' | 'unchanged' | 'refused' | 'failed';

export interface PeerDirectoryOptions {
  /** Base URL of the registry API (its `/v1/index`, `/v1/log/...` routes). */
  registryUrl: string;
  /** The pinned registry key set: everything must be signed by one of its keys. */
  keySet: KeySet;
  dataDir: string;
  /** This instance's domain: `standing()` reads its entry. */
  ownDomain: string;
  clock: Clock;
  syncSeconds: number;
  logger?: Logger;
  /** Per request (default 30 s). */
  timeoutMs?: number;
  /**
   * Told `standing.changed` when this instance's own standing changes: a feed accepted whose entry for `ownDomain`
   * differs, or the label lapsing with time (checked at every sync tick).
   */
  events?: EventPublisher<FederationEvents>;
}

/**
 * This instance's own entry in the feed, in words a user can be told: `not_synced` (no feed yet), `absent` (the feed
 * does not list it), `labelled`, `expired` (listed, label past its expiry), `suspended`, `revoked`.
 */
export interface OwnStanding {
  readonly status: 'not_synced' | 'absent' | FeedInstance['status'] | 'expired';
  readonly labelValid: boolean;
  readonly instancePi: number | null;
  /** NumericDate (seconds), null when not listed. */
  readonly labelExpiresAt: number | null;
  /** The feed serial that says so (null before the first feed). */
  readonly serial: number | null;
}

interface StoredState {
  version: 1;
  registryUrl: string;
  feed: Feed;
  /** The checkpoint JWS of the accepted feed (also `feed.checkpoint`). */
  checkpoint: string;
  etag: string | null;
  lastSyncAt: string | null;
  fork: ForkIncident | null;
}

class SyncError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STATE_FILE = 'peer-directory.json';
/** The registry could not be asked (down, unreachable, odd answer): nothing was refused, the sync is retried. */
const TRANSPORT_FAILURES = new Set([
  'feed_unreachable',
  'feed_unavailable',
  'feed_consistency_proof_unavailable',
  'feed_sync_failed',
]);

/**
 * The domains labelled at `now` in the copy of the registry's feed an instance keeps in `dataDir` (what its peer
 * directory last accepted, written atomically by each sync), read without starting the instance: for a supervisor
 * of several instances (`caliopen federation`) to tell when they see each other. Empty when there is no copy (yet).
 */
export function labelledInStoredFeed(dataDir: string, now: Date = new Date()): string[] {
  try {
    const raw = JSON.parse(readFileSync(join(dataDir, 'federation', STATE_FILE), 'utf8')) as Partial<StoredState>;
    const feed = parseFeed(raw.feed);
    if (raw.version !== 1 || !feed.ok) return [];
    const seconds = now.getTime() / 1000;
    return feed.value.instances
      .filter((e) => e.status === 'labelled' && e.labelExpiresAt > seconds)
      .map((e) => e.domain);
  } catch {
    return [];
  }
}

export class PeerDirectory implements InstanceStanding {
  private state: StoredState | null = null;
  private byDomain = new Map<string, FeedInstance>();
  private lastCheckpoint: Checkpoint | null = null;
  private lastAttemptAt: string | null = null;
  private lastError: PeerDirectoryStatus['lastError'] = null;
  private fork: ForkIncident | null = null;
  private inFlight: Promise<SyncOutcome> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly file: string;
  /** The own standing last told as `standing.changed` (initially what the stored feed says). */
  private reported: OwnStanding;
  private expectedOwn: OwnKeys | null = null;
  private ownRevocation: PeerDirectoryStatus['ownRevocation'] = null;
  private transportFailures = 0;
  private ownMismatch: PeerDirectoryStatus['ownEntryMismatch'] = null;

  constructor(private readonly options: PeerDirectoryOptions) {
    this.file = join(options.dataDir, 'federation', STATE_FILE);
    this.load();
    this.reported = this.standing();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Queries (from memory)

  peer(domain: string): PeerInfo | null {
    const entry = this.byDomain.get(domain.toLowerCase());
    if (entry === undefined) return null;
    const now = this.nowSeconds();
    return {
      domain: entry.domain,
      status: entry.status,
      labelValid: entry.status === 'labelled' && entry.labelExpiresAt > now,
      labelId: entry.labelId,
      labelExpiresAt: entry.labelExpiresAt,
      instancePi: entry.pi.score,
      pi: entry.pi,
      certificateSha256: entry.certFingerprint,
      keys: entry.keys,
      endpoints: entry.endpoints,
    };
  }

  /** This instance's own standing, as the verified feed says: the account PI is capped by it. */
  standing(): OwnStanding {
    const serial = this.state?.feed.serial ?? null;
    if (this.state === null)
      return { status: 'not_synced', labelValid: false, instancePi: null, labelExpiresAt: null, serial };
    const own = this.peer(this.options.ownDomain);
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

  private checkOwnEntry(): void {
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

  /** Reports a change of own standing since the last report (a new feed, or the label lapsing with time). */
  private checkStanding(): void {
    const now = this.standing();
    const before = this.reported;
    this.reported = now;
    if (before.status !== now.status || before.labelValid !== now.labelValid || before.instancePi !== now.instancePi) {
      void this.options.events?.publish('standing.changed', { now, before });
    }
  }

  /** InstanceStanding. */
  current(): { labelValid: boolean; instancePi: number | null } {
    return this.standing();
  }

  status(): PeerDirectoryStatus {
    return {
      enabled: true,
      registryUrl: this.options.registryUrl,
      lastSyncAt: this.state?.lastSyncAt ?? null,
      lastAttemptAt: this.lastAttemptAt,
      serial: this.state?.feed.serial ?? null,
      checkpointSize: this.lastCheckpoint?.treeSize ?? null,
      instances: this.byDomain.size,
      lastError: this.lastError,
      fork: this.fork,
      ownRevocation: this.ownRevocation,
      ownEntryMismatch: this.ownMismatch,
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Schedule

  /** Syncs now, then every `syncSeconds`. Errors are recorded in `status()`, never thrown. */
  start(): void {
    this.stopped = false;
    // Revoked when stopped: the users' explanation gets the registry's published reason again.
    if (this.standing().status === 'revoked') void this.fetchOwnRevocation();
    const tick = async () => {
      this.timer = null;
      await this.sync();
      this.checkStanding();
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

  private async syncOnce(): Promise<SyncOutcome> {
    this.lastAttemptAt = this.options.clock().toISOString();
    try {
      const outcome = await this.fetchAndAccept();
      this.lastError = null;
      this.transportFailures = 0;
      if (this.state) {
        this.state.lastSyncAt = this.options.clock().toISOString();
        if (outcome === 'unchanged') await this.persist();
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

  private async fetchAndAccept(): Promise<'full' | 'delta' | 'unchanged'> {
    if (this.state === null) return this.syncFull();
    const res = await this.get(`/v1/index?since=${this.state.feed.serial}`);
    if (res.status === 304) return 'unchanged';
    if (res.status !== 200) {
      // A registry that no longer knows our serial (feed_serial_unknown): the full feed, which must still be
      // newer than ours and extend our checkpoint.
      this.options.logger?.info({ status: res.status }, 'registry answered no delta; fetching the full feed');
      return this.syncFull();
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const state = this.state;
    const verified = await verifyFeedDelta(bytes, {
      keySet: this.options.keySet,
      now: this.nowSeconds(),
      lastSerial: state.feed.serial,
    });
    if (!verified.ok) throw new SyncError(verified.error.code, verified.error.message);
    await this.checkExtendsLog(verified.value.checkpoint.checkpoint);
    const { delta } = verified.value;
    for (const entry of delta.changed) await this.checkLabel(entry, delta.registry, delta.issuedAt);
    const next = applyDelta(state.feed, delta, { checkResultDigest: true });
    if (!next.ok) {
      if (next.error.code === 'feed_delta_base_mismatch') return this.syncFull();
      throw new SyncError(next.error.code, next.error.message);
    }
    await this.accept(next.value, verified.value.checkpoint.checkpoint, state.etag);
    return 'delta';
  }

  private async syncFull(): Promise<'full' | 'unchanged'> {
    const headers: Record<string, string> = {};
    if (this.state?.etag) headers['if-none-match'] = this.state.etag;
    const res = await this.get('/v1/index', headers);
    if (res.status === 304 && this.state) return 'unchanged';
    if (res.status !== 200)
      throw new SyncError('feed_unavailable', `The registry answered ${res.status} for its feed.`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    const verified = await verifyFeed(bytes, {
      keySet: this.options.keySet,
      now: this.nowSeconds(),
      verifyLabels: true,
      ...(this.state ? { lastSerial: this.state.feed.serial } : {}),
    });
    if (!verified.ok) throw new SyncError(verified.error.code, verified.error.message);
    if (this.state && verified.value.feed.registry !== this.state.feed.registry) {
      throw new SyncError(
        'feed_wrong_registry',
        `The feed is from "${verified.value.feed.registry}", not "${this.state.feed.registry}".`,
      );
    }
    await this.checkExtendsLog(verified.value.checkpoint.checkpoint);
    await this.accept(verified.value.feed, verified.value.checkpoint.checkpoint, res.headers.get('etag'));
    return 'full';
  }

  /** The offered checkpoint must extend the last accepted one; otherwise the log forked: recorded and refused. */
  private async checkExtendsLog(offered: Checkpoint): Promise<void> {
    const last = this.lastCheckpoint;
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
    this.fork = incident;
    if (this.state) {
      this.state.fork = incident;
      await this.persist();
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

  /** A changed `labelled` entry of a delta: its label verifies and matches it (the full feed checks every label). */
  private async checkLabel(entry: FeedInstance, registry: string, issuedAt: number): Promise<void> {
    if (entry.status !== 'labelled') return;
    const label = await verifyLabel(entry.label, {
      keySet: this.options.keySet,
      expectedDomain: entry.domain,
      expectedIssuer: registry,
      now: issuedAt,
    });
    if (!label.ok)
      throw new SyncError('feed_invalid_label', `The label of ${entry.domain} does not verify: ${label.error.message}`);
    if (
      label.value.id !== entry.labelId ||
      label.value.expiresAt !== entry.labelExpiresAt ||
      label.value.certFingerprint !== entry.certFingerprint
    ) {
      throw new SyncError('feed_invalid_label', `The label of ${entry.domain} does not match its entry.`);
    }
  }

  private async accept(feed: Feed, checkpoint: Checkpoint, etag: string | null): Promise<void> {
    this.state = {
      version: 1,
      registryUrl: this.options.registryUrl,
      feed,
      checkpoint: feed.checkpoint,
      etag,
      lastSyncAt: this.state?.lastSyncAt ?? null,
      fork: this.fork,
    };
    this.lastCheckpoint = checkpoint;
    this.byDomain = new Map(feed.instances.map((entry) => [entry.domain, entry]));
    this.state.lastSyncAt = this.options.clock().toISOString();
    await this.persist();
    this.options.logger?.info(
      { serial: feed.serial, instances: feed.instances.length, treeSize: checkpoint.treeSize },
      'registry feed accepted',
    );
    this.checkOwnEntry();
    this.checkStanding();
  }

  /**
   * Reads the reason the registry gives for this instance's revocation from its public record (a request about
   * ourselves: it tells the registry nothing about whom we talk to). Kept for `status()`; null when not revoked, or
   * when the record cannot be read (the revocation itself stands: it comes from the signed feed).
   */
  async fetchOwnRevocation(): Promise<PeerDirectoryStatus['ownRevocation']> {
    if (this.standing().status !== 'revoked') return (this.ownRevocation = null);
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

  private async get(path: string, headers: Record<string, string> = {}): Promise<Response> {
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

  private nowSeconds(): number {
    return Math.floor(this.options.clock().getTime() / 1000);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Persistence: one JSON file, written atomically (temporary file, then rename).

  private async persist(): Promise<void> {
    if (this.state === null) return;
    await mkdir(join(this.options.dataDir, 'federation'), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.state)}\n`, { mode: 0o600 });
    await rename(tmp, this.file);
  }

  /** Reloads the last accepted feed; a damaged file is reported and ignored (the next sync starts afresh). */
  private load(): void {
    if (!existsSync(this.file)) return;
    try {
      const raw = JSON.parse(readFileSync(this.file, 'utf8')) as Partial<StoredState>;
      if (raw.version !== 1) throw new Error(`unknown version ${String(raw.version)}`);
      const feed = parseFeed(raw.feed);
      if (!feed.ok) throw new Error(feed.error.message);
      if (typeof raw.checkpoint !== 'string' || raw.checkpoint !== feed.value.checkpoint)
        throw new Error("the checkpoint is not the feed's");
      // Verified when accepted; its claims are read back as they were signed.
      const checkpoint = parseCheckpoint(decodeJwt(raw.checkpoint));
      if (!checkpoint.ok) throw new Error(checkpoint.error.message);
      this.state = {
        version: 1,
        registryUrl: typeof raw.registryUrl === 'string' ? raw.registryUrl : this.options.registryUrl,
        feed: feed.value,
        checkpoint: raw.checkpoint,
        etag: typeof raw.etag === 'string' ? raw.etag : null,
        lastSyncAt: typeof raw.lastSyncAt === 'string' ? raw.lastSyncAt : null,
        fork: raw.fork ?? null,
      };
      this.lastCheckpoint = checkpoint.value;
      this.fork = this.state.fork;
      this.byDomain = new Map(feed.value.instances.map((entry) => [entry.domain, entry]));
    } catch (e) {
      this.options.logger?.error(
        { file: this.file, reason: (e as Error).message },
        'the stored registry feed is unreadable; it is ignored',
      );
    }
  }
}

/**
 * The peer directory the configuration asks for (`federation.*`), or null when federation is off (no registryUrl).
 * Reads the stored feed; syncing starts with `start()`. A missing or invalid pinned key set stops the start.
 */
export function peerDirectoryFromConfig(
  config: Pick<InstanceConfig, 'domain' | 'dataDir'> & {
    federation: Pick<InstanceConfig['federation'], 'registryUrl' | 'registryKeys' | 'syncSeconds'>;
  },
  deps: Pick<PeerDirectoryOptions, 'clock' | 'logger' | 'events'>,
): PeerDirectory | null {
  const { registryUrl, registryKeys, syncSeconds } = config.federation;
  if (registryUrl === null) return null;
  if (registryKeys === null) {
    throw new ConfigError(
      'federation.registryKeys (CALIOPEN_FEDERATION_REGISTRY_KEYS) is required with federation.registryUrl: pin the registry key set.',
    );
  }
  let keySet: KeySet;
  try {
    keySet = readPinnedKeySet(registryKeys);
  } catch (e) {
    throw new ConfigError(`${(e as Error).message} (CALIOPEN_FEDERATION_REGISTRY_KEYS)`);
  }
  return new PeerDirectory({
    registryUrl,
    keySet,
    dataDir: config.dataDir,
    ownDomain: config.domain,
    syncSeconds,
    ...deps,
  });
}

/**
 * The pinned registry key set from configuration: the key set document as JSON (`{"keys":[...]}`, what the
 * registry's `GET /v1/keys` publishes), or the path of a file holding it. Throws a plain message on any flaw.
 */
export function readPinnedKeySet(value: string): KeySet {
  const text = value.trim().startsWith('{') ? value : readKeyFile(value);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('federation.registryKeys is not a JSON key set document.');
  }
  const parsed = parseKeySet(json);
  if (!parsed.ok) throw new Error(`federation.registryKeys: ${parsed.error.message}`);
  return parsed.value;
}

function readKeyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(
      `federation.registryKeys: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`,
    );
  }
}

/**
 * What a change of this instance's standing (label gained or lost, instance PI moved) sets off: every account's PI
 * summary is recomputed through the 'pi' queue, since the instance standing caps it. Pages through the accounts.
 */
export async function rescoreAccountSummaries(
  accounts: {
    list(options: { limit: number; afterUsername?: string }): Promise<readonly { id: string; username: string }[]>;
  },
  enqueue: (job: { kind: 'summary'; accountId: string }) => Promise<void>,
): Promise<number> {
  let queued = 0;
  let afterUsername: string | undefined;
  for (;;) {
    const page = await accounts.list({ limit: 500, ...(afterUsername ? { afterUsername } : {}) });
    for (const account of page) {
      await enqueue({ kind: 'summary', accountId: account.id });
      queued++;
    }
    if (page.length < 500) return queued;
    afterUsername = page[page.length - 1]!.username;
  }
}
