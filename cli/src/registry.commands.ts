import type { RegistryInitOptions, RegistryLocation } from '@caliopen/registry/app/registry.admin.ts';
import type { Command } from 'commander';
import { implementation } from './lazy-import.ts';

/*
 * The `caliopen registry ...` commands: the wiring only. What they do is registry.actions.ts, over the registry's
 * operator API (@caliopen/registry/app/registry.admin.ts) and its server, imported when a command runs.
 */

type CommonOptions = RegistryLocation;

const actions = () => implementation<typeof import('./registry.actions.ts')>('registry.actions.ts');

export function registerRegistryCommands(program: Command): void {
  const registry = program
    .command('registry')
    .description("run the association's registry: applications, audits, labels, log and feed");

  registry
    .command('init')
    .description('create a registry: configuration, master key and the first signing key')
    .option(
      '--data-dir <dir>',
      'where the registry keeps its data (default .data/registry or $CALIOPEN_REGISTRY_DATA_DIR)',
    )
    .option(
      '--origin <name>',
      "the registry's name: issuer of its labels, name of its feed and log (default registry.localhost or $CALIOPEN_REGISTRY_ORIGIN)",
    )
    .option('--http-host <host>', 'address the HTTP API listens on', '127.0.0.1')
    .option('--http-port <port>', 'port of the HTTP API', '8090')
    .option('--approvals <k>', 'approvals needed for a decision (default 2)')
    .action(async (opts: RegistryInitOptions) => (await actions()).init(opts));

  registry
    .command('start')
    .description('run the registry (HTTP API and the maintenance worker) until Ctrl-C')
    .option('--data-dir <dir>', 'the registry data directory')
    .option('--config <file>', 'config file (default <data-dir>/registry.json)')
    .action(async (opts: CommonOptions) => (await actions()).start(opts));

  const auditor = registry.command('auditor').description("manage the association's auditor accounts");
  auditor
    .command('add <name>')
    .description('create an auditor account (a random password is generated and printed unless --password-stdin)')
    .option('--password-stdin', 'read the password from standard input instead of generating one')
    .option('--json', 'print the result as JSON')
    .option('--data-dir <dir>', 'the registry data directory')
    .option('--config <file>', 'config file')
    .action(async (name: string, opts: CommonOptions & { passwordStdin?: boolean; json?: boolean }) =>
      (await actions()).addAuditor(name, opts),
    );
  auditor
    .command('list')
    .description('list auditor accounts')
    .option('--data-dir <dir>', 'the registry data directory')
    .option('--config <file>', 'config file')
    .action(async (opts: CommonOptions) => (await actions()).listAuditors(opts));

  const keys = registry.command('keys').description("the registry's signing keys");
  keys
    .command('rotate')
    .description('add a new signing key; the current one retires after an overlap, so labels it signed stay verifiable')
    .option(
      '--activate-in-hours <h>',
      'hours before the new key starts signing (peers fetch the new key set meanwhile)',
      '24',
    )
    .option(
      '--overlap-days <d>',
      'days the old key stays valid after the new one starts (at least the label lifetime; default twice it)',
    )
    .option('--data-dir <dir>', 'the registry data directory')
    .option('--config <file>', 'config file')
    .action(async (opts: CommonOptions & { activateInHours: string; overlapDays?: string }) =>
      (await actions()).rotateKeys(opts),
    );
  keys
    .command('list')
    .description('print the published key set')
    .option('--data-dir <dir>', 'the registry data directory')
    .option('--config <file>', 'config file')
    .option('--json', 'print the key set document as JSON')
    .action(async (opts: CommonOptions & { json?: boolean }) => (await actions()).listKeys(opts));
}
