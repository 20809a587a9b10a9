import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BLOB_KEY, type BlobStore } from './blob-store.port.ts';

/**
 * Blobs as files: written to a temporary name, fsynced, renamed into place, directory fsynced. A group (`putMany`,
 * fresh keys) is written straight to its names and synced concurrently (the file system commits them in a few
 * journal commits, not one each), each directory once.
 */
export class FsBlobStore implements BlobStore {
  /**
   * Directories this store made or found: not asked to `mkdir` again for every blob (a message's raw bytes go to its
   * account's directory, made once). A directory removed meanwhile (deletePrefix, or another process) makes the
   * open fail with ENOENT: it is made again and the write retried.
   */
  private readonly made = new Set<string>();

  constructor(private readonly root: string) {}

  private async ensureDir(dir: string): Promise<void> {
    if (this.made.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.made.add(dir);
  }

  /** Opens `path` for writing; a directory removed behind the store (ENOENT) is made again and the open retried. */
  private async openIn(path: string, flags: 'w' | 'wx'): Promise<FileHandle> {
    try {
      return await open(path, flags, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const dir = dirname(path);
      this.made.delete(dir);
      await this.ensureDir(dir);
      return open(path, flags, 0o600);
    }
  }

  /** Writes `data` to a temporary file beside `target`, fsynced, then renamed into place (its directory not synced). */
  private async writeFile(target: string, data: Uint8Array): Promise<void> {
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await this.openIn(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
  }

  /**
   * Writes a blob under a fresh key straight to its name (exclusive create), data-synced: no temporary name, no
   * rename. Safe because nothing refers to a fresh key until the write is durable (BlobStore.putMany); a crash midway
   * leaves an unreferenced file, as a crash before a rename would. A key that exists after all is replaced the
   * atomic way (writeFile).
   */
  private async writeFresh(target: string, data: Uint8Array): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await this.openIn(target, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return this.writeFile(target, data);
      throw e;
    }
    try {
      await fh.writeFile(data);
      // The size is part of what fdatasync makes durable; the name is, once the directory is synced.
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  private path(key: string): string {
    if (!BLOB_KEY.test(key)) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
    return join(this.root, key);
  }

  async put(key: string, data: Uint8Array): Promise<number> {
    const target = this.path(key);
    const dir = dirname(target);
    await this.ensureDir(dir);
    await this.writeFile(target, data);
    await syncDirectory(dir);
    return data.byteLength;
  }

  async putMany(blobs: readonly { key: string; data: Uint8Array }[]): Promise<void> {
    const targets = blobs.map((b) => ({ target: this.path(b.key), data: b.data }));
    const dirs = [...new Set(targets.map((t) => dirname(t.target)))];
    await Promise.all(dirs.map((d) => this.ensureDir(d)));
    await Promise.all(targets.map(({ target, data }) => this.writeFresh(target, data)));
    await Promise.all(dirs.map((d) => syncDirectory(d)));
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.path(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      await unlink(this.path(key));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  /** The prefix's directory goes whole (`rm -r`), then its parent is synced. */
  async deletePrefix(prefix: string): Promise<number> {
    if (prefix.endsWith('/')) throw new Error(`invalid blob prefix ${JSON.stringify(prefix)}`);
    const dir = this.path(prefix);
    let count = 0;
    try {
      const entries = await readdir(dir, { recursive: true, withFileTypes: true });
      count = entries.filter((e) => e.isFile()).length;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw e;
    }
    for (const d of this.made) if (d === dir || d.startsWith(`${dir}/`)) this.made.delete(d);
    await rm(dir, { recursive: true, force: true });
    await syncDirectory(dirname(dir));
    return count;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
