import { readFileSync } from 'node:fs';
import { parseKeySet, type KeySet } from '@caliopen/federation-protocol';
import { ConfigError } from '../config/config.loader.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import type { InstanceStanding } from '../pi-model/instance-standing.ts';
import { PeerFeed } from './peer-directory.lookup.ts';
import { StandingWatch } from './peer-directory.standing.ts';
import { PeerDirectoryStore } from './peer-directory.store.ts';
import { PeerFeedSync } from './peer-directory.sync.ts';
import type {
  OwnKeys,
  OwnStanding,
  PeerDirectoryOptions,
  PeerDirectoryStatus,
  PeerInfo,
  SyncOutcome,
} from './peer-directory.types.ts';

export {
  FEED_FORK_DETECTED,
  FEED_OWN_ENTRY_MISMATCH,
  FEED_STALE,
  type ForkIncident,
  type OwnKeys,
  type OwnStanding,
  type PeerDirectoryOptions,
  type PeerDirectoryStatus,
  type PeerInfo,
  type SyncOutcome,
} from './peer-directory.types.ts';
export { rescoreAccountSummaries } from './peer-directory.standing.ts';
export { labelledInStoredFeed } from './peer-directory.store.ts';

/**
 * The instance's copy of the registry's signed feed: who is labelled, with which keys, certificate and PI. Synced on
 * a schedule (the full feed once, then `?since=SERIAL` deltas), verified against the pinned registry key set and
 * against the last checkpoint accepted (a consistency proof from the registry's log links them; a checkpoint that
 * does not extend the last one is a forked log: the feed is refused, the last good one kept, the incident recorded).
 * Kept in `<dataDir>/federation/peer-directory.json`, reloaded at start. Peers are answered from memory: no
 * per-message call to the registry (which would tell it who talks to whom).
 *
 * A facade over its parts, one file each (issue 11): lookup of the feed held in memory (peer-directory.lookup.ts),
 * sync with the registry on a schedule (peer-directory.sync.ts), persistence (peer-directory.store.ts), and the
 * standing changes that set off rescoring (peer-directory.standing.ts); their shapes in peer-directory.types.ts.
 */
export class PeerDirectory implements InstanceStanding {
  private readonly feed: PeerFeed;
  private readonly store: PeerDirectoryStore;
  private readonly watch: StandingWatch;
  private readonly syncer: PeerFeedSync;

  constructor(private readonly options: PeerDirectoryOptions) {
    checkRegistryUrl(options.registryUrl);
    this.store = new PeerDirectoryStore(options);
    this.feed = new PeerFeed(options);
    const loaded = this.store.load();
    if (loaded !== null) {
      this.feed.state = loaded.state;
      this.feed.lastCheckpoint = loaded.checkpoint;
      this.feed.fork = loaded.state.fork;
      if (loaded.state.keyStatements?.length) this.feed.pendingStatements = loaded.state.keyStatements;
      this.feed.byDomain = new Map(loaded.state.feed.instances.map((entry) => [entry.domain, entry]));
    }
    this.watch = new StandingWatch(this.feed, options);
    this.syncer = new PeerFeedSync(options, this.feed, this.store, this.watch);
  }

  // -------------------------------------------------------------------------------------------------------------
  // Queries (from memory)

  peer(domain: string): PeerInfo | null {
    return this.feed.peer(domain);
  }

  /** Every instance the verified feed lists (the operator's console). */
  peers(): PeerInfo[] {
    return [...this.feed.byDomain.keys()].map((d) => this.feed.peer(d)).filter((p): p is PeerInfo => p !== null);
  }

  /** This instance's own standing, as the verified feed says: the account PI is capped by it. */
  standing(): OwnStanding {
    return this.feed.standing();
  }

  /** See PeerFeed.expectOwn: the feed's entry for this instance is compared with the keys it holds. */
  expectOwn(own: OwnKeys): void {
    this.feed.expectOwn(own);
  }

  /** InstanceStanding. */
  current(): { labelValid: boolean; instancePi: number | null } {
    return this.standing();
  }

  status(): PeerDirectoryStatus {
    return {
      enabled: true,
      registryUrl: this.options.registryUrl,
      lastSyncAt: this.feed.state?.lastSyncAt ?? null,
      lastAttemptAt: this.syncer.lastAttemptAt,
      serial: this.feed.state?.feed.serial ?? null,
      feedIssuedAt: this.feed.state?.feed.issuedAt ?? null,
      stale: this.feed.state !== null && !this.feed.fresh(),
      checkpointSize: this.feed.lastCheckpoint?.treeSize ?? null,
      registryKeys: {
        sequence: this.feed.keyStatements.length,
        kids: this.feed.keySet.document.keys.map((k) => k.kid),
      },
      instances: this.feed.byDomain.size,
      lastError: this.syncer.lastError,
      fork: this.feed.fork,
      ownRevocation: this.syncer.ownRevocation,
      ownEntryMismatch: this.feed.ownMismatch,
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // Schedule and sync

  /** Syncs now, then every `syncSeconds`. Errors are recorded in `status()`, never thrown. */
  start(): void {
    this.syncer.start();
  }

  stop(): Promise<void> {
    return this.syncer.stop();
  }

  /** One sync (concurrent callers share it). Never throws: the outcome says what happened, `status()` why. */
  sync(): Promise<SyncOutcome> {
    return this.syncer.sync();
  }

  /** The registry's name, the issuer of the labels in the feed (null before the first feed). */
  registryName(): string | null {
    return this.feed.state?.feed.registry ?? null;
  }

  /** See PeerFeedSync.fetchRevocation: the registry's published reason for a peer's revocation. */
  fetchRevocation(domain: string): Promise<PeerDirectoryStatus['ownRevocation']> {
    return this.syncer.fetchRevocation(domain);
  }

  /** See PeerFeedSync.fetchOwnRevocation: the registry's published reason for this instance's revocation. */
  fetchOwnRevocation(): Promise<PeerDirectoryStatus['ownRevocation']> {
    return this.syncer.fetchOwnRevocation();
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
  try {
    checkRegistryUrl(registryUrl);
  } catch (e) {
    throw new ConfigError(`${(e as Error).message} (CALIOPEN_FEDERATION_REGISTRY_URL)`);
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
 * The registry is reached over HTTPS: a feed fetched over plain HTTP could be withheld or replayed by anyone on the
 * path (its signature stops forgery, not that). Plain http:// only to a loopback address, for a local federation.
 * Throws a plain message otherwise.
 */
export function checkRegistryUrl(value: string): void {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`federation.registryUrl is not a URL: ${JSON.stringify(value.slice(0, 200))}.`);
  }
  if (url.username !== '' || url.password !== '') throw new Error('federation.registryUrl must not carry credentials.');
  if (url.protocol === 'https:') return;
  const host = url.hostname;
  const loopback =
    host === 'localhost' || host.endsWith('.localhost') || /^127(\.\d{1,3}){3}$/.test(host) || host === '[::1]';
  if (url.protocol === 'http:' && loopback) return;
  throw new Error(
    `federation.registryUrl must be https:// (plain http:// only to a loopback address), not ${url.protocol}//${host}.`,
  );
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
