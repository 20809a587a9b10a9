import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { startInstance } from '../app/instance.app.ts';
import { CONFIG_FILE_NAME } from '../config/config.loader.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import {
  createInstanceIdentity,
  dnsRecords,
  loadInstanceIdentity,
  type InstanceIdentity,
} from '../identity/instance-identity.ts';
import { createMasterKey, loadMasterKey } from '@caliopen/platform/crypto/master-key.store.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { CliError } from '@caliopen/platform/cli/cli.error.ts';
import { untilSignal } from '@caliopen/platform/cli/signal.helpers.ts';
import { configFrom, type CommonOptions } from './context.ts';

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}$/;

export interface InitOptions extends CommonOptions {
  domain: string;
  httpHost?: string;
  httpPort?: string;
  cert?: string;
  key?: string;
}

/** Creates a new instance in a data directory: config, master key, instance keys and certificate, empty store. */
export async function initInstance(
  opts: InitOptions,
  print: (line: string) => void = console.log,
): Promise<InstanceIdentity> {
  const domain = opts.domain.trim().toLowerCase();
  if (!DOMAIN.test(domain)) throw new CliError(`"${opts.domain}" is not a domain name (e.g. mail.example.org).`, 2);
  if ((opts.cert === undefined) !== (opts.key === undefined))
    throw new CliError('--cert and --key go together (PEM files).', 2);
  const dataDir = resolve(opts.dataDir ?? process.env.CALIOPEN_DATA_DIR ?? '.data/instance');
  const configFile = join(dataDir, CONFIG_FILE_NAME);
  if (existsSync(configFile))
    throw new CliError(`${configFile} exists: this directory already holds an instance. Use another --data-dir.`, 2);
  const port = opts.httpPort === undefined ? 8080 : Number(opts.httpPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliError(`--http-port must be a port number, got "${opts.httpPort}".`, 2);
  const given =
    opts.cert && opts.key
      ? { certPem: readFileSync(opts.cert, 'utf8'), keyPem: readFileSync(opts.key, 'utf8') }
      : undefined;

  const box = new SecretBox(process.env.CALIOPEN_MASTER_KEY ? loadMasterKey(dataDir) : createMasterKey(dataDir));
  const identity = await createInstanceIdentity(dataDir, domain, box, given);
  const config = { domain, http: { host: opts.httpHost ?? '127.0.0.1', port } };
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  const storage = SqliteStorage.inDataDir(dataDir);
  await storage.close();

  print(`Instance ${domain} created in ${dataDir}`);
  print(`  signing key (Ed25519)    ${identity.signing.thumbprint}`);
  print(`  encryption key (X25519)  ${identity.encryption.thumbprint}`);
  print(`  TLS certificate          ${given ? 'given' : 'self-signed'}, SHA-256 ${identity.tls.fingerprintSha256}`);
  print(
    `  DKIM key (RSA-2048)      selector ${identity.dkim.selector} (publish the ${identity.dkim.selector}._domainkey TXT record below)`,
  );
  print('');
  printDns(identity, print);
  print('');
  print('Next: create an account with `caliopen admin user add <name> --data-dir ' + dataDir + '`,');
  print('      then start with `caliopen instance start --data-dir ' + dataDir + '`.');
  return identity;
}

function printDns(identity: InstanceIdentity, print: (line: string) => void): void {
  print('Publish these DNS records:');
  for (const r of dnsRecords(identity))
    print(`  ${r.name.padEnd(30)} ${r.type.padEnd(7)} ${r.value}\n  ${''.padEnd(30)} ; ${r.why}`);
}

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
    .action(async (opts: InitOptions) => {
      await initInstance(opts);
    });

  instance
    .command('start')
    .description('run the instance (HTTP API and background workers) until Ctrl-C')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file (default <data-dir>/caliopen.json)')
    .action(async (opts: CommonOptions) => {
      const running = await startInstance(configFrom(opts));
      console.log(
        `Caliopen instance ${running.services.config.domain} listening on ${running.url} (API docs: ${running.url}/api/docs)`,
      );
      await untilSignal();
      await running.stop();
    });

  instance
    .command('dns')
    .description('print the DNS records this instance needs published')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (opts: CommonOptions) => {
      const config = configFrom(opts);
      printDns(await loadInstanceIdentity(config.dataDir, new SecretBox(loadMasterKey(config.dataDir))), console.log);
    });
}
