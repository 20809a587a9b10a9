import { readFileSync } from 'node:fs';
import { rebuildSearchIndex } from '@caliopen/instance/app/search-rebuild.ts';
import { BackupError, createBackup, restoreBackup, verifyBackup } from '@caliopen/instance/backup/backup.archive.ts';
import { BackupCipherError, type BackupSecret, checkSecret } from '@caliopen/instance/backup/backup.cipher.ts';
import { CliError } from './cli-error.ts';
import { configFrom, type CommonOptions } from './context.ts';

/** What `caliopen backup create | verify | restore` do (declared in backup.commands.ts). */

export interface SecretOptions {
  passphraseFile?: string;
  keyFile?: string;
}

export interface BackupCreateOptions extends CommonOptions, SecretOptions {
  includeMasterKey?: boolean;
}

export interface BackupRestoreOptions extends SecretOptions {
  dataDir: string;
  masterKeyFile?: string;
}

function read(file: string, flag: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new CliError(`${flag}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? 'error'}).`, 2);
  }
}

function secretFrom(opts: SecretOptions): BackupSecret {
  const env = process.env.CALIOPEN_BACKUP_PASSPHRASE;
  const given = [opts.passphraseFile, opts.keyFile, env].filter((x) => x !== undefined && x !== '').length;
  if (given === 0)
    throw new CliError(
      'a backup needs a secret: --passphrase-file <file>, --key-file <file>, or $CALIOPEN_BACKUP_PASSPHRASE.',
      2,
    );
  if (opts.passphraseFile && opts.keyFile)
    throw new CliError('--passphrase-file and --key-file exclude each other.', 2);
  const secret: BackupSecret = opts.keyFile
    ? { keyFile: read(opts.keyFile, '--key-file') }
    : opts.passphraseFile
      ? {
          passphrase: read(opts.passphraseFile, '--passphrase-file')
            .toString('utf8')
            .replace(/\r?\n$/, ''),
        }
      : { passphrase: env! };
  return secret;
}

/** Runs a backup operation, turning its failures into the CLI's exit codes (2: fix the request, 1: it failed). */
async function run<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof BackupError) throw new CliError(e.message, e.kind === 'usage' ? 2 : 1);
    if (e instanceof BackupCipherError) throw new CliError(e.message, e.kind === 'secret' ? 2 : 1);
    throw e;
  }
}

const human = (bytes: number) =>
  bytes < 1024 * 1024 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export async function create(file: string, opts: BackupCreateOptions): Promise<void> {
  const secret = secretFrom(opts);
  await run(async () => {
    checkSecret(secret);
    const config = configFrom(opts);
    if (config.storage.engine !== 'sqlite')
      throw new CliError(
        'this instance stores its data in Cassandra: back it up with Cassandra snapshots (docs/ops/backup.md).',
        2,
      );
    const manifest = await createBackup({
      dataDir: config.dataDir,
      domain: config.domain,
      out: file,
      secret,
      includeMasterKey: opts.includeMasterKey ?? false,
    });
    const bytes = manifest.files.reduce((s, f) => s + f.bytes, 0);
    console.log(`Backup of ${config.domain} written to ${file}: ${manifest.files.length} files, ${human(bytes)}.`);
    if (!manifest.includesMasterKey)
      console.log(
        `The master key is NOT in it: keep ${config.dataDir}/secrets/master.key (or CALIOPEN_MASTER_KEY) safe, apart from the backup.`,
      );
  });
}

export async function verify(file: string, opts: SecretOptions): Promise<void> {
  const secret = secretFrom(opts);
  await run(async () => {
    const r = await verifyBackup(file, secret);
    console.log(
      `Backup ${file} is sound: ${r.header.domain}, made ${r.header.createdAt}, ${r.files} files (${human(r.bytes)}), ${r.databases} databases pass their integrity check${r.header.includesMasterKey ? ', master key included' : ''}.`,
    );
  });
}

export async function restore(file: string, opts: BackupRestoreOptions): Promise<void> {
  const secret = secretFrom(opts);
  await run(async () => {
    const { header } = await restoreBackup({
      file,
      secret,
      dataDir: opts.dataDir,
      ...(opts.masterKeyFile ? { masterKeyFile: opts.masterKeyFile } : {}),
    });
    const config = configFrom({ dataDir: opts.dataDir });
    const rebuilt = await rebuildSearchIndex(config);
    console.log(
      `Restored ${header.domain} (backup of ${header.createdAt}) into ${config.dataDir}; search index rebuilt: ${rebuilt.messages} messages of ${rebuilt.accounts} accounts.`,
    );
    console.log(`Start it with \`caliopen instance start --data-dir ${config.dataDir}\`.`);
  });
}
