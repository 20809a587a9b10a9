import type { Command } from 'commander';
import type { CommonOptions } from './context.ts';
import type { FileImportOptions } from './file-import.actions.ts';
import type { AddOptions } from './import.actions.ts';
import { implementation } from './lazy-import.ts';

const actions = () => implementation<typeof import('./import.actions.ts')>('import.actions.ts');
const fileActions = () => implementation<typeof import('./file-import.actions.ts')>('file-import.actions.ts');

/**
 * `caliopen import ...`: remote mailboxes (IMAP) of an account, and importing them now with progress; Maildir trees
 * and mbox files (Thunderbird exports...) into an account.
 */
export function registerImportCommands(program: Command): void {
  const imp = program
    .command('import')
    .description("import users' remote mailboxes (IMAP), Maildir trees and mbox files into this instance");

  for (const kind of ['maildir', 'mbox'] as const) {
    imp
      .command(`${kind} <path>`)
      .description(
        kind === 'maildir'
          ? 'import a Maildir tree (INBOX at its root, folders below; tmp/ left alone) into an account'
          : 'import an mbox file (mboxo/mboxrd, LF or CRLF) into an account',
      )
      .requiredOption('--account <name>', 'the account (username) to import into')
      .option('--restart', 'start from the beginning, ignoring where an earlier run stopped')
      .option('--no-wait-index', 'return once the messages are filed, before the search index catches up')
      .option('--json', 'print the summary as JSON')
      .option('--data-dir <dir>', 'the instance data directory')
      .option('--config <file>', 'config file')
      .action(async (path: string, opts: FileImportOptions & { waitIndex?: boolean }) => {
        const a = await fileActions();
        const o = { ...opts, noWaitIndex: opts.waitIndex === false };
        return kind === 'maildir' ? a.importMaildir(path, o) : a.importMbox(path, o);
      });
  }

  imp
    .command('add <username>')
    .description('add a remote IMAP mailbox to an account (the login is tested first; the password is stored sealed)')
    .requiredOption('--host <host>', 'the IMAP server, e.g. imap.example.org')
    .option('--port <port>', 'the IMAP port (default 993 with --tls implicit, 143 otherwise)')
    .option('--tls <mode>', 'implicit (IMAPS), starttls, or none', 'implicit')
    .requiredOption('--login <name>', 'the username on the remote server')
    .option('--label <text>', 'a name for this mailbox')
    .option(
      '--password-stdin',
      'read the remote password from standard input (required: passwords never go on the command line)',
    )
    .option('--json', 'print the result as JSON')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (username: string, opts: AddOptions) => (await actions()).addImport(username, opts));

  imp
    .command('list <username>')
    .description('list the remote mailboxes of an account and the state of their last import')
    .option('--json', 'print JSON lines')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (username: string, opts: CommonOptions & { json?: boolean }) =>
      (await actions()).listImports(username, opts),
    );

  imp
    .command('run <username> [identity-id]')
    .description(
      'import now, in this process, showing progress (every remote mailbox of the account when no id is given)',
    )
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (username: string, identityId: string | undefined, opts: CommonOptions) =>
      (await actions()).runImport(username, identityId, opts),
    );
}
