import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registryStorageConformance } from './registry-storage.conformance.ts';
import { SqliteRegistryStorage } from './registry-storage.sqlite.ts';

registryStorageConformance('SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'registry-storage-'));
  let current = SqliteRegistryStorage.inDataDir(dir);
  return {
    storage: current,
    reopen: async () => {
      await current.close();
      current = SqliteRegistryStorage.inDataDir(dir);
      return current;
    },
    cleanup: async () => {
      await current.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
