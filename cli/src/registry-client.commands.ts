import type { ApplyOptions } from '@caliopen/instance/registry-client/registry-application.ts';
import type { Command } from 'commander';
import type { CommonOptions } from './context.ts';
import { implementation } from './lazy-import.ts';

const actions = () => implementation<typeof import('./registry-client.actions.ts')>('registry-client.actions.ts');

/** `caliopen instance apply` and `caliopen instance label`: joining the association's registry. */
export function registerRegistryClientCommands(program: Command): void {
  const instance = program.commands.find((c) => c.name() === 'instance');
  if (!instance) throw new Error('the instance command must be registered first');

  instance
    .command('apply')
    .description(
      'apply to a registry for the label: signs the charter declaration, publishes the challenge, asks for verification',
    )
    .requiredOption('--registry <url>', 'the registry base URL, e.g. https://registry.example.org')
    .option(
      '--declaration <file>',
      'the charter declaration (default <data-dir>/declaration.json; created for review when missing)',
    )
    .option('--jurisdiction <code>', 'ISO country code for a new declaration (e.g. FR)')
    .option('--admin-email <email>', 'admin contact for a new declaration')
    .option('--admin-name <name>', 'admin contact name for a new declaration', 'Instance administrators')
    .option('--https-url <url>', 'the URL the registry reaches this instance by (default from the configuration)')
    .option('--unlisted', 'be in the signed feed for peers but hidden from the public directory')
    .option('--yes', 'apply with a declaration just created from the defaults, without stopping for review')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (opts: ApplyOptions) => (await actions()).apply(opts));

  instance
    .command('label')
    .description("show this instance's application and label at its registry (and re-run the checks with --verify)")
    .option('--verify', 'ask the registry to run its checks again now')
    .option('--json', 'print the registry answer as JSON')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (opts: CommonOptions & { verify?: boolean; json?: boolean }) => (await actions()).label(opts));
}
