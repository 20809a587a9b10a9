import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';

/**
 * `<dataDir>/keys/acme.json`: the ACME account key of each directory this instance used, sealed with the master key
 * like the instance's own keys, and the fingerprint of the last certificate obtained (what tells an ACME certificate
 * from the self-signed or given one `init` put in place). Nothing here is readable without the master key.
 */
interface StoredAcme {
  version: 1;
  accounts: Record<string, { keySealed: string }>;
  lastCertificateSha256: string | null;
}

const SEAL_PURPOSE = 'acme:account';
const path = (dataDir: string) => join(dataDir, 'keys', 'acme.json');

function read(dataDir: string): StoredAcme {
  if (!existsSync(path(dataDir))) return { version: 1, accounts: {}, lastCertificateSha256: null };
  return JSON.parse(readFileSync(path(dataDir), 'utf8')) as StoredAcme;
}

function write(dataDir: string, stored: StoredAcme): void {
  mkdirSync(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
  writeFileSync(`${path(dataDir)}.tmp`, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${path(dataDir)}.tmp`, path(dataDir));
}

export class AcmeAccountStore {
  constructor(
    private readonly dataDir: string,
    private readonly box: SecretBox,
  ) {}

  /** The account key for a directory, created (and sealed) on first use. */
  async accountKey(directoryUrl: string, create: () => Promise<string>): Promise<string> {
    const stored = read(this.dataDir);
    const known = stored.accounts[directoryUrl];
    if (known) return this.box.open(known.keySealed, SEAL_PURPOSE);
    const pem = await create();
    write(this.dataDir, {
      ...stored,
      accounts: { ...stored.accounts, [directoryUrl]: { keySealed: this.box.seal(pem, SEAL_PURPOSE) } },
    });
    return pem;
  }

  lastCertificate(): string | null {
    return read(this.dataDir).lastCertificateSha256;
  }

  /** The certificate now in place came from the CA (null: it must be replaced at the next check). */
  recordCertificate(fingerprintSha256: string | null): void {
    write(this.dataDir, { ...read(this.dataDir), lastCertificateSha256: fingerprintSha256 });
  }
}
