import {
  migrateSqlite,
  openSqlite,
  type Migration,
  type SqliteDb,
} from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { SqliteWriterThread, type WriterOp } from '@caliopen/platform/sqlite/sqlite.writer-thread.ts';
import { BLOB_KEY, type BlobStore } from './blob-store.port.ts';

/** Schema of `blobs.db` (its own file, its own versions). Append; never edit a released migration. */
export const BLOB_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'blobs',
    sql: `
      CREATE TABLE blobs (
        key  TEXT PRIMARY KEY,
        data BLOB NOT NULL
      ) STRICT;
    `,
  },
];

/** Blobs up to this size go into the database; larger ones (big attachments) to the file store. */
export const DEFAULT_MAX_PACKED_BYTES = 1024 * 1024;

/**
 * Blobs packed in one SQLite file (`<dataDir>/blobs.db`) on the embedded engine, ADR 0027. A batch of ingested
 * messages (`putMany`) is one transaction — one fsync — instead of a file each (create, write, fdatasync, close,
 * then the directory synced): the file system's cost of creating ten thousand small files (its directory lock, its
 * inode allocation) was a fifth of the CPU of SMTP ingest. Writes run on a writer thread (the commit's fsync waits
 * there); reads use a connection of the calling thread.
 *
 * Blobs larger than `maxPackedBytes` go to `files` (the file store), and `files` is also read for keys the database
 * does not have: blobs written as files before this store existed stay readable where they are.
 *
 * Deleted content is overwritten (`secure_delete`): a deleted message's bytes do not linger in free pages. After a
 * whole prefix goes (an account's deletion), the write-ahead log is truncated as well.
 */
export class SqliteBlobStore implements BlobStore {
  private readonly reads;
  private readonly maxPackedBytes: number;

  private constructor(
    private readonly db: SqliteDb,
    private readonly writer: SqliteWriterThread,
    private readonly files: BlobStore,
    options: { maxPackedBytes?: number },
  ) {
    this.maxPackedBytes = options.maxPackedBytes ?? DEFAULT_MAX_PACKED_BYTES;
    this.reads = {
      get: db.prepare<[string], { data: Buffer }>('SELECT data FROM blobs WHERE key = ?'),
      has: db.prepare<[string], { n: number }>('SELECT 1 AS n FROM blobs WHERE key = ?'),
    };
  }

  /** Opens (creating and migrating when needed) `path`; `files` keeps large blobs and those written before. */
  static open(path: string, files: BlobStore, options: { maxPackedBytes?: number } = {}): SqliteBlobStore {
    const db = openSqlite(path);
    migrateSqlite(db, BLOB_MIGRATIONS, 'blobs');
    const writer = SqliteWriterThread.open(path, {
      label: 'blob store',
      pragmas: ['secure_delete = ON'],
      statements: {
        put: 'INSERT INTO blobs (key, data) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET data = excluded.data',
        delete: 'DELETE FROM blobs WHERE key = ?',
        // Keys under `prefix/`: from `prefix/` (inclusive) to `prefix0` ('0' follows '/').
        deleteRange: 'DELETE FROM blobs WHERE key >= ? AND key < ?',
      },
    });
    return new SqliteBlobStore(db, writer, files, options);
  }

  private packed(data: Uint8Array): boolean {
    return data.byteLength <= this.maxPackedBytes;
  }

  async put(key: string, data: Uint8Array): Promise<number> {
    checkKey(key);
    if (this.packed(data)) {
      await this.writer.transaction([{ run: 'put', params: [key, data] }]);
      await this.files.delete(key); // an older version written as a file would be stale
    } else {
      await this.files.put(key, data);
      await this.writer.transaction([{ run: 'delete', params: [key] }]); // ...and so would a packed one
    }
    return data.byteLength;
  }

  /** The packed ones in one transaction, the large ones as a group of files, both at once. */
  async putMany(blobs: readonly { key: string; data: Uint8Array }[]): Promise<void> {
    for (const b of blobs) checkKey(b.key);
    const packed: WriterOp[] = [];
    const large: { key: string; data: Uint8Array }[] = [];
    for (const b of blobs) {
      if (this.packed(b.data)) packed.push({ run: 'put', params: [b.key, b.data] });
      else large.push(b);
    }
    await Promise.all([this.writer.transaction(packed), large.length > 0 ? this.files.putMany(large) : undefined]);
  }

  async get(key: string): Promise<Buffer | null> {
    checkKey(key);
    return this.reads.get.get(key)?.data ?? this.files.get(key);
  }

  async delete(key: string): Promise<boolean> {
    checkKey(key);
    const [changes] = await this.writer.transaction([{ run: 'delete', params: [key] }]);
    const file = await this.files.delete(key);
    return changes! > 0 || file;
  }

  async deletePrefix(prefix: string): Promise<number> {
    if (prefix.endsWith('/') || !BLOB_KEY.test(prefix))
      throw new Error(`invalid blob prefix ${JSON.stringify(prefix)}`);
    const [changes] = await this.writer.transaction([{ run: 'deleteRange', params: [`${prefix}/`, `${prefix}0`] }]);
    // What was deleted is overwritten in the database (secure_delete); its copy in the log goes with the log.
    if (changes! > 0) await this.writer.pragma('wal_checkpoint(TRUNCATE)');
    return changes! + (await this.files.deletePrefix(prefix));
  }

  /** Whether the key is packed in the database (not in the file store). */
  isPacked(key: string): boolean {
    return this.reads.has.get(key) !== undefined;
  }

  async close(): Promise<void> {
    await this.writer.close();
    if (this.db.open) this.db.close();
  }
}

function checkKey(key: string): void {
  if (!BLOB_KEY.test(key)) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
}
