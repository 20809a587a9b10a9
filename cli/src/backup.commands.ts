import type { Command } from 'commander';
import type { BackupCreateOptions, BackupRestoreOptions, SecretOptions } from './backup.actions.ts';
import { implementation } from './lazy-import.ts';

const actions = () => implementation<typeof import('./backup.actions.ts')>('backup.actions.ts');

const SECRET_HELP =
  'The backup is encrypted with a passphrase (--passphrase-file, or $CALIOPEN_BACKUP_PASSPHRASE) or a key file (--key-file, 32+ random bytes).';

function secretOptions(c: Command): Command {
  return c
    .option('--passphrase-file <file>', 'read the passphrase (12+ characters) from this file')
    .option('--key-file <file>', 'use this key file (at least 32 bytes, e.g. `head -c 32 /dev/urandom`)');
}

export function registerBackupCommands(program: Command): void {
  const backup = program
    .command('backup')
    .description('encrypted backups of an instance on the embedded engines (SQLite), taken while it runs')
    .addHelpText('after', `\n${SECRET_HELP}\nCassandra deployments: see docs/ops/backup.md (native snapshots).`);

  secretOptions(
    backup
      .command('create <file>')
      .description('write a consistent encrypted backup of the data directory (the instance may be running)')
      .option('--data-dir <dir>', 'the instance data directory')
      .option('--config <file>', 'config file')
      .option(
        '--include-master-key',
        'also put the master key in the backup (otherwise keep secrets/master.key apart)',
      ),
  ).action(async (file: string, opts: BackupCreateOptions) => (await actions()).create(file, opts));

  secretOptions(
    backup
      .command('verify <file>')
      .description('check a backup without restoring it: decrypt, every checksum, each database integrity check'),
  ).action(async (file: string, opts: SecretOptions) => (await actions()).verify(file, opts));

  secretOptions(
    backup
      .command('restore <file>')
      .description('restore a backup into an EMPTY data directory, then rebuild the search index')
      .requiredOption('--data-dir <dir>', 'the empty (or new) directory to restore into')
      .option('--master-key-file <file>', 'the original secrets/master.key, when the backup does not hold it'),
  ).action(async (file: string, opts: BackupRestoreOptions) => (await actions()).restore(file, opts));
}
