import { Command, CommanderError } from 'commander';
import { ConfigError } from '@caliopen/instance/config/config.loader.ts';
import { isAppError } from '@caliopen/instance/shared/errors.ts';
import { registerAdminCommands } from './admin.commands.ts';
import { CliError } from './cli-error.ts';
import { registerFederationCommand } from './federation.command.ts';
import { registerImportCommands } from './import.commands.ts';
import { registerInstanceCommands } from './instance.commands.ts';
import { registerRegistryClientCommands } from './registry-client.commands.ts';
// The registry's commands declare themselves without loading the registry (what they run is imported when they run).
import { registerRegistryCommands } from './registry.commands.ts';

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
    if (e instanceof CliError) {
      console.error(`caliopen: ${e.message}`);
      return e.exitCode;
    }
    if (e instanceof ConfigError) {
      console.error(`caliopen: ${e.message}`);
      return 2;
    }
    if (isAppError(e)) {
      console.error(`caliopen: ${e.detail ?? e.message}`);
      return e.status >= 500 ? 1 : 2;
    }
    console.error(`caliopen: ${(e as Error).message}`);
    return 1;
  }
}
