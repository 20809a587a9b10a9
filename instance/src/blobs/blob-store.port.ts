/**
 * Port: immutable blobs (raw messages, attachments) addressed by key. Writes are durable when `put` resolves.
 * Adapters: blob-store.sqlite.ts (the embedded engine: packed in `<dataDir>/blobs.db`, large ones as files; ADR 0027),
 * blob-store.fs.ts (files under `<dataDir>/blobs`, fsynced: a scaled deployment mounts a shared volume), or an
 * object-store adapter behind the same port.
 */
export interface BlobStore {
  /** Writes the blob durably (committed, or file + directory fsync) and resolves its size. Writing an existing key replaces it. */
  put(key: string, data: Uint8Array): Promise<number>;
  /**
   * Writes several blobs durably as a group (what a batch of ingested messages keeps): every file is synced, each
   * directory once for the lot. Resolves when all are durable; on failure some may have been written (the caller
   * deletes them: keys are fresh, nothing refers to them yet).
   */
  putMany(blobs: readonly { key: string; data: Uint8Array }[]): Promise<void>;
  /** Resolves the bytes, or null when there is no such blob. */
  get(key: string): Promise<Buffer | null>;
  /** Removes the blob; resolves false when there was none. */
  delete(key: string): Promise<boolean>;
  /**
   * Removes every blob whose key starts with `prefix/` (an account's raw messages, `raw/<accountId>`, at its
   * deletion); durable when it resolves; nothing to remove is no error. Resolves how many blobs went.
   */
  deletePrefix(prefix: string): Promise<number>;
}

/** Keys are path-like (`raw/<accountId>/<messageId>`): letters, digits, `-`, `_`, `.` and `/`, no `..`. */
export const BLOB_KEY = /^(?!.*\.\.)[A-Za-z0-9_-][A-Za-z0-9_./-]{0,255}$/;
