import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageConformance } from './storage.conformance.ts';
import { SqliteStorage } from './storage.sqlite.ts';

storageConformance('SQLite (embedded)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'caliopen-storage-'));
  let current = SqliteStorage.inDataDir(dir);
  return {
    storage: current,
    reopen: async () => {
      await current.close();
      current = SqliteStorage.inDataDir(dir);
      return current;
    },
    another: async () => SqliteStorage.inDataDir(dir),
    cleanup: async () => {
      await current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
