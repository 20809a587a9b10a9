import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { RegistryKeyService } from '../keys/registry-keys.service.ts';
import { TransparencyLogService } from '../log/transparency-log.service.ts';
import { SqliteRegistryStorage } from '../storage/registry-storage.sqlite.ts';

/** For unit tests: a registry store in a temporary directory with a fresh master key and a first signing key. */
export async function unitRegistry(now = new Date()) {
  const dir = mkdtempSync(join(tmpdir(), 'registry-unit-'));
  let storage = SqliteRegistryStorage.inDataDir(dir);
  const box = new SecretBox(randomBytes(32));
  const keys = new RegistryKeyService(storage, box, 'registry.unit.test');
  await keys.ensureInitialKey(now, 365);
  return {
    dir,
    box,
    get storage() {
      return storage;
    },
    keys,
    log: await TransparencyLogService.open(storage, keys, 'registry.unit.test/log'),
    async reopen() {
      await storage.close();
      storage = SqliteRegistryStorage.inDataDir(dir);
      return storage;
    },
    async close() {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
