import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCheckpoint, parseFeed, type Checkpoint } from '@caliopen/federation-protocol';
import { decodeJwt } from 'jose';
import { type PeerDirectoryOptions, STATE_FILE, type StoredState } from './peer-directory.types.ts';

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

/**
 * Persistence of the peer directory: one JSON file, `<dataDir>/federation/peer-directory.json`, written atomically
 * (temporary file, then rename), reloaded at start. Part of PeerDirectory (peer-directory.ts), split out by
 * responsibility.
 */
export class PeerDirectoryStore {
  readonly file: string;

  constructor(private readonly options: PeerDirectoryOptions) {
    this.file = join(options.dataDir, 'federation', STATE_FILE);
  }

  async persist(state: StoredState | null): Promise<void> {
    if (state === null) return;
    await mkdir(join(this.options.dataDir, 'federation'), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp`;
    await writeFile(tmp, `${JSON.stringify(state)}\n`, { mode: 0o600 });
    await rename(tmp, this.file);
  }

  /** Reloads the last accepted feed; a damaged file is reported and ignored (the next sync starts afresh). */
  load(): { state: StoredState; checkpoint: Checkpoint } | null {
    if (!existsSync(this.file)) return null;
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
      const state: StoredState = {
        version: 1,
        registryUrl: typeof raw.registryUrl === 'string' ? raw.registryUrl : this.options.registryUrl,
        feed: feed.value,
        checkpoint: raw.checkpoint,
        etag: typeof raw.etag === 'string' ? raw.etag : null,
        lastSyncAt: typeof raw.lastSyncAt === 'string' ? raw.lastSyncAt : null,
        fork: raw.fork ?? null,
        keyStatements:
          Array.isArray(raw.keyStatements) && raw.keyStatements.every((x) => typeof x === 'string')
            ? raw.keyStatements
            : [],
      };
      return { state, checkpoint: checkpoint.value };
    } catch (e) {
      this.options.logger?.error(
        { file: this.file, reason: (e as Error).message },
        'the stored registry feed is unreadable; it is ignored',
      );
      return null;
    }
  }
}
