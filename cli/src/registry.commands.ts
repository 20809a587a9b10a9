import type { Command } from 'commander';
import type { RegistryInitOptions, RegistryLocation } from '@caliopen/registry/app/registry.admin.ts';
import { CliError } from './cli-error.ts';

/*
 * The `caliopen registry ...` commands: the wiring only. What they do is the registry's operator API
 * (@caliopen/registry/app/registry.admin.ts) and its server (registry.app.ts), imported when a command runs, so that
 * `caliopen instance ...` does not pay for loading the registry.
 */

type CommonOptions = RegistryLocation;

/** Registry failures as the `caliopen` program reports them: 2 when the fix is on the caller's side, 1 otherwise. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      const { RegistryConfigError } = await import('@caliopen/registry/config/registry-config.ts');
      const { isRegistryError } = await import('@caliopen/registry/shared/errors.ts');
      if (error instanceof RegistryConfigError) throw new CliError(error.message, 2);
      if (isRegistryError(error)) throw new CliError(error.detail ?? error.message, error.status >= 500 ? 1 : 2);
      throw error;
    }
  };
}

const admin = () => import('@caliopen/registry/app/registry.admin.ts');

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
    .action(
      action(async (opts: RegistryInitOptions) => {
        await (await admin()).initRegistry(opts);
      }),
    );

  registry
    .command('start')
    .description('run the registry (HTTP API and the maintenance worker) until Ctrl-C')
    .option('--data-dir <dir>', 'the registry data directory')
    .option('--config <file>', 'config file (default <data-dir>/registry.json)')
    .action(
      action(async (opts: CommonOptions) => {
        const { startRegistry } = await import('@caliopen/registry/app/registry.app.ts');
        const { untilSignal } = await import('./instance.commands.ts');
        const running = await startRegistry((await admin()).registryConfigAt(opts));
        console.log(
          `Caliopen registry ${running.services.config.origin} listening on ${running.url} (feed ${running.url}/v1/index, keys ${running.url}/v1/keys, API docs ${running.url}/docs)`,
        );
        await untilSignal();
        await running.stop();
      }),
    );

  const auditor = registry.command('auditor').description("manage the association's auditor accounts");
  auditor
    .command('add <name>')
    .description('create an auditor account (a random password is generated and printed unless --password-stdin)')
    .option('--password-stdin', 'read the password from standard input instead of generating one')
    .option('--json', 'print the result as JSON')
    .option('--data-dir <dir>', 'the registry data directory')
    .option('--config <file>', 'config file')
    .action(
      action(async (name: string, opts: CommonOptions & { passwordStdin?: boolean; json?: boolean }) => {
        const { generatePassword, readStdinSecret } = await import('./prompt.ts');
        const password = opts.passwordStdin ? await readStdinSecret() : generatePassword();
        const created = await (await admin()).addAuditor(opts, name, password);
        if (opts.json) {
          console.log(
            JSON.stringify({ id: created.id, name: created.name, ...(opts.passwordStdin ? {} : { password }) }),
          );
        } else {
          console.log(`Created auditor ${created.name} (id ${created.id}).`);
          if (!opts.passwordStdin) console.log(`Password: ${password}\n(shown once; log in with POST /v1/auth/login)`);
        }
      }),
    );
  auditor
    .command('list')
    .description('list auditor accounts')
    .option('--data-dir <dir>', 'the registry data directory')
    .option('--config <file>', 'config file')
    .action(
      action(async (opts: CommonOptions) => {
        const auditors = await (await admin()).listAuditors(opts);
        if (auditors.length === 0) console.log('No auditors yet: add one with `caliopen registry auditor add <name>`.');
        for (const a of auditors)
          console.log(`${a.name.padEnd(24)} ${a.disabled ? 'disabled' : 'active'}  since ${a.createdAt.toISOString()}`);
      }),
    );

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
    .action(
      action(async (opts: CommonOptions & { activateInHours: string; overlapDays?: string }) => {
        const { kid, document } = await (await admin()).rotateRegistryKey(opts, {
          activateInHours: opts.activateInHours,
          ...(opts.overlapDays !== undefined ? { overlapDays: opts.overlapDays } : {}),
        });
        console.log(`New registry key ${kid}; the key set is now:`);
        for (const k of document.keys) {
          console.log(
            `  ${k.kid}  valid ${new Date(k.notBefore * 1000).toISOString()} .. ${new Date(k.notAfter * 1000).toISOString()}`,
          );
        }
        console.log('Peers refresh it from GET /v1/keys; a running registry signs with the new key once it starts.');
      }),
    );
  keys
    .command('list')
    .description('print the published key set')
    .option('--data-dir <dir>', 'the registry data directory')
    .option('--config <file>', 'config file')
    .option('--json', 'print the key set document as JSON')
    .action(
      action(async (opts: CommonOptions & { json?: boolean }) => {
        const document = await (await admin()).registryKeySet(opts);
        if (opts.json) return console.log(JSON.stringify(document));
        for (const k of document.keys)
          console.log(
            `${k.kid}  valid ${new Date(k.notBefore * 1000).toISOString()} .. ${new Date(k.notAfter * 1000).toISOString()}`,
          );
      }),
    );
}
