import {
  canonicalJson,
  checkpointOf,
  leafHash,
  MerkleTree,
  signCheckpoint,
  utf8Encode,
  type EntryBinding,
  type Hash,
  type JsonValue,
} from '@caliopen/federation-protocol';
import type { RegistryKeyService } from '../keys/registry-keys.service.ts';
import { RegistryError } from '../shared/errors.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import type { LogEntry, StoredCheckpoint, StoredLogEntry } from './log.entity.ts';

const MAX_APPEND_ATTEMPTS = 8;
/** Longest range `entries` serves at once. */
export const MAX_LOG_RANGE = 1000;

/**
 * The registry's transparency log: an RFC 9162 Merkle tree over the canonical JSON of every label issue, renewal,
 * lapse and revocation and every instance-PI change. Leaf hashes are persisted; the tree is rebuilt from them at
 * start and caught up from storage before every answer, so several processes can serve it. Each append batch is
 * followed by a signed checkpoint.
 */
export class TransparencyLogService {
  private constructor(
    private readonly storage: RegistryStorage,
    private readonly keys: RegistryKeyService,
    readonly origin: string,
    private readonly tree: MerkleTree,
  ) {}

  static async open(
    storage: RegistryStorage,
    keys: RegistryKeyService,
    origin: string,
  ): Promise<TransparencyLogService> {
    return new TransparencyLogService(
      storage,
      keys,
      origin,
      MerkleTree.fromLeafHashes(await storage.log.leafHashesFrom(0)),
    );
  }

  /** Catches the in-memory tree up with what storage holds (another process may have appended). */
  async sync(): Promise<number> {
    for (const hash of await this.storage.log.leafHashesFrom(this.tree.size)) this.tree.appendLeafHash(hash);
    return this.tree.size;
  }

  get size(): number {
    return this.tree.size;
  }

  /** Appends the entries in order, then signs and stores a checkpoint of the new tree. */
  async append(
    entries: readonly (LogEntry | EntryBinding)[],
    now: Date,
  ): Promise<{ firstIndex: number; checkpoint: StoredCheckpoint }> {
    const texts = entries.map((e) => canonicalJson(stripUndefined(e)));
    for (let attempt = 0; attempt < MAX_APPEND_ATTEMPTS; attempt++) {
      const start = await this.sync();
      const stored: StoredLogEntry[] = texts.map((entry, i) => ({
        index: start + i,
        entry,
        leafHash: leafHash(utf8Encode(entry)),
      }));
      if (await this.storage.log.append(stored, start)) {
        for (const s of stored) this.tree.appendLeafHash(s.leafHash);
        return { firstIndex: start, checkpoint: await this.checkpoint(now, start + stored.length) };
      }
    }
    throw new RegistryError('service_unavailable', 'The transparency log is contended; retry.');
  }

  /** Signs and stores the checkpoint of the tree at `size` (default: now). */
  async checkpoint(now: Date, size?: number): Promise<StoredCheckpoint> {
    await this.sync();
    const treeSize = size ?? this.tree.size;
    const timestamp = Math.floor(now.getTime() / 1000);
    const jws = await signCheckpoint(
      checkpointOf(this.tree, { origin: this.origin, timestamp, size: treeSize }),
      await this.keys.signingKey(now),
    );
    const stored = { treeSize, jws, timestamp };
    await this.storage.log.putCheckpoint(stored);
    return stored;
  }

  /** The latest signed checkpoint; the empty log's is signed on first demand. */
  async latestCheckpoint(now: Date): Promise<StoredCheckpoint> {
    return (await this.storage.log.latestCheckpoint()) ?? this.checkpoint(now, 0);
  }

  async entries(start: number, end: number): Promise<{ index: number; entry: unknown; leafHash: Uint8Array }[]> {
    const size = await this.sync();
    if (!(start >= 0 && end > start && end <= size && end - start <= MAX_LOG_RANGE)) {
      throw new RegistryError(
        'log_range_invalid',
        `Entries are 0 to ${size}, at most ${MAX_LOG_RANGE} at once; asked [${start}, ${end}).`,
      );
    }
    return (await this.storage.log.range(start, end)).map((s) => ({
      index: s.index,
      entry: JSON.parse(s.entry) as unknown,
      leafHash: s.leafHash,
    }));
  }

  async inclusionProof(index: number, size: number): Promise<{ leafHash: Hash; proof: Hash[] }> {
    const current = await this.sync();
    if (!(size >= 1 && size <= current && index >= 0 && index < size)) {
      throw new RegistryError(
        'log_range_invalid',
        `The log has ${current} entries; index must be below size, size at most ${current}.`,
      );
    }
    return { leafHash: this.tree.leafHash(index), proof: this.tree.inclusionProof(index, size) };
  }

  /** Inclusion proofs of several entries in the tree of `size` entries (a peer checking a feed's new entries). */
  async inclusionProofs(
    indices: readonly number[],
    size: number,
  ): Promise<{ index: number; leafHash: Hash; proof: Hash[] }[]> {
    const current = await this.sync();
    if (!(size >= 1 && size <= current && indices.every((i) => Number.isSafeInteger(i) && i >= 0 && i < size))) {
      throw new RegistryError(
        'log_range_invalid',
        `The log has ${current} entries; every index must be below size, size at most ${current}.`,
      );
    }
    return indices.map((index) => ({
      index,
      leafHash: this.tree.leafHash(index),
      proof: this.tree.inclusionProof(index, size),
    }));
  }

  async consistencyProof(from: number, to: number): Promise<Hash[]> {
    const current = await this.sync();
    if (!(from >= 0 && from <= to && to <= current)) {
      throw new RegistryError(
        'log_range_invalid',
        `The log has ${current} entries; need 0 <= from <= to <= ${current}.`,
      );
    }
    return this.tree.consistencyProof(from, to);
  }

  /** The leaf hash at `index` as of the last `sync()`, or undefined past the end. */
  leafHashAt(index: number): Hash | undefined {
    return Number.isSafeInteger(index) && index >= 0 && index < this.tree.size ? this.tree.leafHash(index) : undefined;
  }
}

function stripUndefined(entry: LogEntry | EntryBinding): JsonValue {
  return JSON.parse(JSON.stringify(entry)) as JsonValue;
}
