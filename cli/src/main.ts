import { Command, CommanderError } from 'commander';
import { registerAdminCommands } from './admin.commands.ts';
import { registerBackupCommands } from './backup.commands.ts';
import { registerFederationCommand } from './federation.command.ts';
import { registerImportCommands } from './import.commands.ts';
import { registerInstanceCommands } from './instance.commands.ts';
import { implementation } from './lazy-import.ts';
import { registerRegistryClientCommands } from './registry-client.commands.ts';
import { registerRegistryCommands } from './registry.commands.ts';

/*
 * The command tree imports commander and nothing else that runs: every action imports its implementation when it
 * runs (lazy-import.ts), so `--help` and bad usage answer without loading the instance or the registry
 * (docs/adr/0011-cli-package-and-fast-start.md).
 */

/**
 * `caliopen` — one entry, subcommands, `--help` on each. Exit codes: 0 success, 1 the operation failed,
 * 2 bad usage or configuration (the message says what to change).
 */
export function buildProgram(): Command {
  const program = new Command('caliopen')
    .description('Caliopen: a privacy-first messaging hub for organisations')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerInstanceCommands(program);
  registerRegistryClientCommands(program);
  registerAdminCommands(program);
  registerBackupCommands(program);
  registerFederationCommand(program);
  registerImportCommands(program);
  registerRegistryCommands(program);
  program.commands.forEach(function exitOverride(c) {
    c.exitOverride();
    c.commands.forEach(exitOverride);
  });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    // An action failed: its error classes are the implementations' own, so they are told apart there.
    const { exitCodeOf } = await implementation<typeof import('./failure.ts')>('failure.ts');
    return exitCodeOf(e);
  }
}
