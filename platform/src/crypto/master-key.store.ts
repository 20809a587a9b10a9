import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

/**
 * A server's master key (32 bytes) seals every secret it keeps at rest (the instance's private keys, TOTP seeds,
 * remote-mailbox credentials; the registry's signing keys). It comes from `CALIOPEN_MASTER_KEY` (base64) when set — so
 * an operator can keep it out of the data directory, in a secret manager — else from `<dataDir>/secrets/master.key`
 * (mode 0600), written by the server's `init`. The missing-key message names the instance's `init`; the registry
 * checks first and names its own (loadRegistryMasterKey).
 */
export function masterKeyPath(dataDir: string): string {
  return join(dataDir, 'secrets', 'master.key');
}

export function loadMasterKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): Buffer {
  const fromEnv = env.CALIOPEN_MASTER_KEY;
  if (fromEnv) {
    const key = Buffer.from(fromEnv, 'base64');
    if (key.length !== 32)
      throw new Error('CALIOPEN_MASTER_KEY must be 32 bytes, base64-encoded (e.g. `openssl rand -base64 32`).');
    return key;
  }
  const path = masterKeyPath(dataDir);
  if (!existsSync(path)) {
    throw new Error(
      `No master key at ${path} and CALIOPEN_MASTER_KEY is not set: run \`caliopen instance init --domain <domain> --data-dir ${dataDir}\` first.`,
    );
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  if (key.length !== 32) throw new Error(`${path} does not hold a 32-byte base64 key.`);
  return key;
}

export function createMasterKey(dataDir: string): Buffer {
  const path = masterKeyPath(dataDir);
  if (existsSync(path))
    throw new Error(`${path} already exists; refusing to overwrite the key that opens this instance's secrets.`);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  writeFileSync(path, `${key.toString('base64')}\n`, { mode: 0o600 });
  chmodSync(path, 0o600);
  return key;
}
