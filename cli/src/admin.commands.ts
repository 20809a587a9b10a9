import type { Command } from 'commander';
import type { AddOptions } from './admin.actions.ts';
import type { CommonOptions } from './context.ts';
import { implementation } from './lazy-import.ts';

const actions = () => implementation<typeof import('./admin.actions.ts')>('admin.actions.ts');

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description("manage this instance's accounts");
  const user = admin.command('user').description('create, list and change accounts');

  user
    .command('add <username>')
    .description('create an account (a random password is generated and printed unless --password-stdin)')
    .option('--admin', 'make it an instance administrator')
    .option('--display-name <name>', 'the name shown to correspondents')
    .option('--quota <size>', 'storage quota, e.g. 5GiB (default from the configuration)')
    .option('--password-stdin', 'read the password from standard input instead of generating one')
    .option('--json', 'print the result as JSON')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (username: string, opts: AddOptions) => (await actions()).addUser(username, opts));

  user
    .command('list')
    .description('list accounts')
    .option('--limit <n>', 'how many', '100')
    .option('--json', 'print JSON lines')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (opts: CommonOptions & { limit: string; json?: boolean }) => (await actions()).listUsers(opts));

  user
    .command('passwd <username>')
    .description("set a new password (ends the account's sessions); random unless --password-stdin")
    .option('--password-stdin', 'read the password from standard input')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (username: string, opts: CommonOptions & { passwordStdin?: boolean }) =>
      (await actions()).changePassword(username, opts),
    );
}
