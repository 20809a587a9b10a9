import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BLOB_KEY, type BlobStore } from './blob-store.port.ts';

/**
 * Blobs as files: written to a temporary name, fsynced, renamed into place, directory fsynced. A group (`putMany`)
 * syncs its files concurrently (the file system commits them in a few journal commits, not one each) and each
 * directory once.
 */
export class FsBlobStore implements BlobStore {
  constructor(private readonly root: string) {}

  private path(key: string): string {
    if (!BLOB_KEY.test(key)) throw new Error(`invalid blob key ${JSON.stringify(key)}`);
    return join(this.root, key);
  }

  async put(key: string, data: Uint8Array): Promise<number> {
    const target = this.path(key);
    const dir = dirname(target);
    await mkdir(dir, { recursive: true });
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
    await syncDirectory(dir);
    return data.byteLength;
  }

  async putMany(blobs: readonly { key: string; data: Uint8Array }[]): Promise<void> {
    const targets = blobs.map((b) => ({ target: this.path(b.key), data: b.data }));
    const dirs = [...new Set(targets.map((t) => dirname(t.target)))];
    await Promise.all(dirs.map((d) => mkdir(d, { recursive: true })));
    await Promise.all(
      targets.map(async ({ target, data }) => {
        const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
        const fh = await open(tmp, 'w', 0o600);
        try {
          await fh.writeFile(data);
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, target);
      }),
    );
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
