import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CONFIG_FILE_NAME, ConfigError } from '../config/config.loader.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { createInstanceIdentity, dnsRecords, type InstanceIdentity } from '../identity/instance-identity.ts';
import { createMasterKey, loadMasterKey } from '@caliopen/platform/crypto/master-key.store.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';

/*
 * Creating an instance (what `caliopen instance init` and the local federation do): published for the CLI
 * (@caliopen/cli) and the tests. Bad input is a ConfigError (`caliopen` exits 2 with its message).
 */

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/;

export interface InitOptions {
  /** Default .data/instance or $CALIOPEN_DATA_DIR. */
  dataDir?: string;
  domain: string;
  httpHost?: string;
  httpPort?: string;
  cert?: string;
  key?: string;
  /** Obtain and renew the certificate from an ACME CA (HTTP-01 on the HTTP port) once the instance starts. */
  acme?: boolean;
  /** The ACME directory (default Let's Encrypt production). */
  acmeDirectory?: string;
  /** The contact address given to the CA. */
  acmeEmail?: string;
  /** Extra authorities trusted for the ACME directory's own TLS (a private or test CA). */
  acmeCaFile?: string;
}

/** Creates a new instance in a data directory: config, master key, instance keys and certificate, empty store. */
export async function initInstance(
  opts: InitOptions,
  print: (line: string) => void = console.log,
): Promise<InstanceIdentity> {
  const domain = opts.domain.trim().toLowerCase();
  if (!DOMAIN.test(domain)) throw new ConfigError(`"${opts.domain}" is not a domain name (e.g. mail.example.org).`);
  if ((opts.cert === undefined) !== (opts.key === undefined))
    throw new ConfigError('--cert and --key go together (PEM files).');
  const dataDir = resolve(opts.dataDir ?? process.env.CALIOPEN_DATA_DIR ?? '.data/instance');
  const configFile = join(dataDir, CONFIG_FILE_NAME);
  if (existsSync(configFile))
    throw new ConfigError(`${configFile} exists: this directory already holds an instance. Use another --data-dir.`);
  const port = opts.httpPort === undefined ? 8080 : Number(opts.httpPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`--http-port must be a port number, got "${opts.httpPort}".`);
  if (opts.acme && opts.cert !== undefined)
    throw new ConfigError('--acme obtains the certificate: leave --cert and --key out (or --acme out to use them).');
  if (!opts.acme && (opts.acmeDirectory ?? opts.acmeEmail ?? opts.acmeCaFile) !== undefined)
    throw new ConfigError('--acme-directory, --acme-email and --acme-ca-file go with --acme.');
  if (opts.acmeDirectory !== undefined && !/^https:\/\/[^\s?#]+$/.test(opts.acmeDirectory))
    throw new ConfigError(`--acme-directory must be an https:// URL, got "${opts.acmeDirectory}".`);
  if (opts.acmeEmail !== undefined && !/^[^@\s]+@[^@\s]+$/.test(opts.acmeEmail))
    throw new ConfigError(`--acme-email must be an email address, got "${opts.acmeEmail}".`);
  if (opts.acmeCaFile !== undefined && !existsSync(opts.acmeCaFile))
    throw new ConfigError(`--acme-ca-file: ${opts.acmeCaFile} does not exist.`);
  const acme = opts.acme
    ? {
        acme: {
          enabled: true,
          ...(opts.acmeDirectory ? { directoryUrl: opts.acmeDirectory } : {}),
          ...(opts.acmeEmail ? { email: opts.acmeEmail } : {}),
          ...(opts.acmeCaFile ? { caFile: resolve(opts.acmeCaFile) } : {}),
        },
      }
    : {};
  const given =
    opts.cert && opts.key
      ? { certPem: readFileSync(opts.cert, 'utf8'), keyPem: readFileSync(opts.key, 'utf8') }
      : undefined;

  const box = new SecretBox(process.env.CALIOPEN_MASTER_KEY ? loadMasterKey(dataDir) : createMasterKey(dataDir));
  const identity = await createInstanceIdentity(dataDir, domain, box, given);
  const config = { domain, http: { host: opts.httpHost ?? '127.0.0.1', port }, ...acme };
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  const storage = SqliteStorage.inDataDir(dataDir);
  await storage.close();

  print(`Instance ${domain} created in ${dataDir}`);
  print(`  signing key (Ed25519)    ${identity.signing.thumbprint}`);
  print(`  encryption key (X25519)  ${identity.encryption.thumbprint}`);
  print(
    `  TLS certificate          ${given ? 'given' : 'self-signed'}, SHA-256 ${identity.tls.fingerprintSha256}${
      opts.acme
        ? `\n                           replaced from ${opts.acmeDirectory ?? "Let's Encrypt"} (ACME, HTTP-01 on port ${port}: forward port 80 to it) when the instance starts, renewed at 2/3 of its lifetime`
        : ''
    }`,
  );
  print(
    `  DKIM key (RSA-2048)      selector ${identity.dkim.selector} (publish the ${identity.dkim.selector}._domainkey TXT record below)`,
  );
  print('');
  printDns(identity, print);
  print('');
  print('Next: create an account with `caliopen admin user add <name> --data-dir ' + dataDir + '`,');
  print('      then start with `caliopen instance start --data-dir ' + dataDir + '`.');
  return identity;
}

export function printDns(identity: InstanceIdentity, print: (line: string) => void): void {
  print('Publish these DNS records:');
  for (const r of dnsRecords(identity))
    print(`  ${r.name.padEnd(30)} ${r.type.padEnd(7)} ${r.value}\n  ${''.padEnd(30)} ; ${r.why}`);
}
