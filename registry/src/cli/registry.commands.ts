import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError } from '@caliopen/instance/cli/cli-error.ts';
import type { Command } from 'commander';
import type { RegistryConfig } from '../config/registry-config.ts';
import type { RegistryStorage } from '../storage/registry-storage.port.ts';
import type { SecretBox } from '@caliopen/instance/crypto/secret-box.ts';

/*
 * The `caliopen registry ...` commands. Registered in the one `caliopen` program (instance/src/cli/main.ts), so this
 * module stays light: what a command needs is imported when that command runs, and `caliopen instance ...` does not
 * pay for loading the registry.
 */

const REGISTRY_CONFIG_FILE = 'registry.json';

interface CommonOptions {
  dataDir?: string;
  config?: string;
}

const ORIGIN = /^[\x21-\x7e]{1,200}$/;

async function configFrom(opts: CommonOptions, overrides: Record<string, unknown> = {}): Promise<RegistryConfig> {
  const { loadRegistryConfig } = await import('../config/registry-config.ts');
  return loadRegistryConfig({
    ...(opts.config ? { configFile: opts.config } : {}),
    overrides: { ...(opts.dataDir ? { dataDir: opts.dataDir } : {}), ...overrides },
  });
}

/** Registry failures as the `caliopen` program reports them: 2 when the fix is on the caller's side, 1 otherwise. */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (error) {
      const { RegistryConfigError } = await import('../config/registry-config.ts');
      const { isRegistryError } = await import('../shared/errors.ts');
      if (error instanceof RegistryConfigError) throw new CliError(error.message, 2);
      if (isRegistryError(error)) throw new CliError(error.detail ?? error.message, error.status >= 500 ? 1 : 2);
      throw error;
    }
  };
}

async function withStorage<T>(
  opts: CommonOptions,
  fn: (ctx: { config: RegistryConfig; storage: RegistryStorage; box: SecretBox }) => Promise<T>,
): Promise<T> {
  const config = await configFrom(opts);
  const { SecretBox } = await import('@caliopen/instance/crypto/secret-box.ts');
  const { loadRegistryMasterKey, openRegistryStorage } = await import('../app/registry.services.ts');
  const box = new SecretBox(loadRegistryMasterKey(config));
  const storage = await openRegistryStorage(config);
  try {
    return await fn({ config, storage, box });
  } finally {
    await storage.close();
  }
}

export interface RegistryInitOptions extends CommonOptions {
  origin?: string;
  httpHost?: string;
  httpPort?: string;
  approvals?: string;
}

/** Creates a registry in a data directory: configuration, master key, the first registry signing key, empty store. */
export async function initRegistry(
  opts: RegistryInitOptions,
  print: (line: string) => void = console.log,
): Promise<{ dataDir: string; kid: string }> {
  const origin = opts.origin ?? process.env.CALIOPEN_REGISTRY_ORIGIN ?? 'registry.localhost';
  if (!ORIGIN.test(origin))
    throw new CliError(
      `--origin must be a registry name without spaces (e.g. registry.example.org), got "${origin}".`,
      2,
    );
  const dataDir = resolve(opts.dataDir ?? process.env.CALIOPEN_REGISTRY_DATA_DIR ?? '.data/registry');
  const configFile = join(dataDir, REGISTRY_CONFIG_FILE);
  if (existsSync(configFile))
    throw new CliError(`${configFile} exists: this directory already holds a registry. Use another --data-dir.`, 2);
  const port = opts.httpPort === undefined ? 8090 : Number(opts.httpPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliError(`--http-port must be a port number, got "${opts.httpPort}".`, 2);
  const approvals = opts.approvals === undefined ? undefined : Number(opts.approvals);
  if (approvals !== undefined && (!Number.isInteger(approvals) || approvals < 1 || approvals > 100)) {
    throw new CliError(`--approvals must be an integer from 1 to 100, got "${opts.approvals}".`, 2);
  }

  const { loadRegistryConfig } = await import('../config/registry-config.ts');
  const { SecretBox } = await import('@caliopen/instance/crypto/secret-box.ts');
  const { createMasterKey, loadMasterKey } = await import('@caliopen/instance/identity/master-key.ts');
  const { openRegistryStorage } = await import('../app/registry.services.ts');
  const { RegistryKeyService } = await import('../keys/registry-keys.service.ts');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const fileConfig = {
    origin,
    http: { host: opts.httpHost ?? '127.0.0.1', port },
    ...(approvals ? { audit: { approvalsRequired: approvals } } : {}),
  };
  // Validate before anything is written: a bad environment variable stops init with its name.
  const config = loadRegistryConfig({ overrides: { ...fileConfig, dataDir } });
  const box = new SecretBox(process.env.CALIOPEN_MASTER_KEY ? loadMasterKey(dataDir) : createMasterKey(dataDir));
  writeFileSync(configFile, `${JSON.stringify(fileConfig, null, 2)}\n`, { mode: 0o600 });
  const storage = await openRegistryStorage(config);
  let kid: string;
  try {
    const keys = new RegistryKeyService(storage, box);
    kid =
      (await keys.ensureInitialKey(new Date(), config.labels.keyLifetimeDays)) ??
      (await keys.signingKey(new Date())).kid;
  } finally {
    await storage.close();
  }
  print(`Registry ${origin} created in ${dataDir}`);
  print(`  signing key (Ed25519)  ${kid}  (sealed with the master key; valid ${config.labels.keyLifetimeDays} days)`);
  print(
    `  decisions need ${config.audit.approvalsRequired} approvals and no standing objection; labels live ${config.labels.lifetimeDays} days`,
  );
  print('');
  print(`Next: add auditors with \`caliopen registry auditor add <name> --data-dir ${dataDir}\`,`);
  print(`      then start with \`caliopen registry start --data-dir ${dataDir}\`.`);
  print('Peers pin the key set published at GET /v1/keys.');
  return { dataDir, kid };
}

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
        await initRegistry(opts);
      }),
    );

  registry
    .command('start')
    .description('run the registry (HTTP API and the maintenance worker) until Ctrl-C')
    .option('--data-dir <dir>', 'the registry data directory')
    .option('--config <file>', 'config file (default <data-dir>/registry.json)')
    .action(
      action(async (opts: CommonOptions) => {
        const { startRegistry } = await import('../app/registry.app.ts');
        const { untilSignal } = await import('@caliopen/instance/cli/instance.commands.ts');
        const running = await startRegistry(await configFrom(opts));
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
        const { generatePassword, readStdinSecret } = await import('@caliopen/instance/cli/prompt.ts');
        const { PasswordHasher } = await import('@caliopen/instance/accounts/password.ts');
        const { AuditorService } = await import('../labels/auditor.service.ts');
        const password = opts.passwordStdin ? await readStdinSecret() : generatePassword();
        const created = await withStorage(opts, ({ config, storage }) =>
          new AuditorService(storage, new PasswordHasher(), () => new Date(), config.audit.sessionTtlSeconds).create(
            name,
            password,
          ),
        );
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
        const auditors = await withStorage(opts, ({ storage }) => storage.auditors.list());
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
        const hours = Number(opts.activateInHours);
        if (!Number.isFinite(hours) || hours < 0 || hours > 24 * 90)
          throw new CliError(
            `--activate-in-hours must be a number of hours from 0 to 2160, got "${opts.activateInHours}".`,
            2,
          );
        const { RegistryKeyService } = await import('../keys/registry-keys.service.ts');
        await withStorage(opts, async ({ config, storage, box }) => {
          const overlapDays =
            opts.overlapDays === undefined ? 2 * config.labels.lifetimeDays : Number(opts.overlapDays);
          if (!Number.isFinite(overlapDays) || overlapDays < config.labels.lifetimeDays || overlapDays > 365) {
            throw new CliError(
              `--overlap-days must be from ${config.labels.lifetimeDays} (the label lifetime) to 365, got "${opts.overlapDays}".`,
              2,
            );
          }
          const service = new RegistryKeyService(storage, box);
          const { kid, document } = await service.rotate(new Date(), {
            activateInSeconds: Math.round(hours * 3600),
            overlapSeconds: Math.round(overlapDays * 86400),
            lifetimeDays: config.labels.keyLifetimeDays,
          });
          console.log(`New registry key ${kid}; the key set is now:`);
          for (const k of document.keys) {
            console.log(
              `  ${k.kid}  valid ${new Date(k.notBefore * 1000).toISOString()} .. ${new Date(k.notAfter * 1000).toISOString()}`,
            );
          }
          console.log('Peers refresh it from GET /v1/keys; a running registry signs with the new key once it starts.');
        });
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
        const { RegistryKeyService } = await import('../keys/registry-keys.service.ts');
        await withStorage(opts, async ({ storage, box }) => {
          const document = await new RegistryKeyService(storage, box).document();
          if (opts.json) return console.log(JSON.stringify(document));
          for (const k of document.keys)
            console.log(
              `${k.kid}  valid ${new Date(k.notBefore * 1000).toISOString()} .. ${new Date(k.notAfter * 1000).toISOString()}`,
            );
        });
      }),
    );
}
