import type { InitOptions } from '@caliopen/instance/app/instance.init.ts';
import type { Command } from 'commander';
import type { CommonOptions } from './context.ts';
import { implementation } from './lazy-import.ts';

const actions = () => implementation<typeof import('./instance.actions.ts')>('instance.actions.ts');

export function registerInstanceCommands(program: Command): void {
  const instance = program.command('instance').description('create, start and inspect this instance');

  instance
    .command('init')
    .description('create an instance: keys, certificate, configuration; prints the DNS records to publish')
    .requiredOption('--domain <domain>', 'the mail domain this instance serves, e.g. mail.example.org')
    .option('--data-dir <dir>', 'where the instance keeps its data (default .data/instance or $CALIOPEN_DATA_DIR)')
    .option('--http-host <host>', 'address the HTTP API listens on', '127.0.0.1')
    .option('--http-port <port>', 'port of the HTTP API', '8080')
    .option('--cert <file>', 'a PEM certificate for the domain (default: generate a self-signed one)')
    .option('--key <file>', 'the PEM private key of --cert')
    .option('--acme', 'obtain and renew the certificate from an ACME CA (HTTP-01: port 80 must reach the HTTP port)')
    .option('--acme-directory <url>', "the ACME directory URL (default Let's Encrypt production)")
    .option('--acme-email <address>', 'the contact address given to the ACME CA')
    .option('--acme-ca-file <file>', "extra PEM authorities trusted for the ACME directory's TLS (private/test CA)")
    .action(async (opts: InitOptions) => (await actions()).init(opts));

  instance
    .command('start')
    .description('run the instance (HTTP API and background workers) until Ctrl-C')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file (default <data-dir>/caliopen.json)')
    .action(async (opts: CommonOptions) => (await actions()).start(opts));

  instance
    .command('migrate')
    .description(
      'apply the pending schema migrations of the data directory (before starting a new release); --check lists them and applies nothing (exit 3 when some are pending, 0 when none)',
    )
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .option('--check', 'list the pending migrations by version and name, apply nothing')
    .action(async (opts: CommonOptions & { check?: boolean }) => (await actions()).migrate(opts));

  instance
    .command('certificate-revoke')
    .description(
      'revoke the instance certificate at the ACME CA that issued it (acme.enabled), e.g. after a key compromise; the next check orders a new one',
    )
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .option('--reason <reason>', 'unspecified, keyCompromise, superseded or cessationOfOperation', 'unspecified')
    .action(async (opts: CommonOptions & { reason: string }) => (await actions()).revokeCertificate(opts));

  instance
    .command('dns')
    .description('print the DNS records this instance needs published')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (opts: CommonOptions) => (await actions()).dns(opts));
}
