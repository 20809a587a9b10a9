import type { Command } from 'commander';
import { startInstance } from '@caliopen/instance/app/instance.app.ts';
import { initInstance, printDns, type InitOptions } from '@caliopen/instance/app/instance.init.ts';
import { SecretBox } from '@caliopen/instance/crypto/secret-box.ts';
import { loadInstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { loadMasterKey } from '@caliopen/instance/identity/master-key.ts';
import { configFrom, type CommonOptions } from './context.ts';

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

/**
 * Resolves on the first SIGINT or SIGTERM (Ctrl-C, systemd stop) — or, for a process started by a supervisor with
 * an IPC channel (`caliopen federation`), when that channel closes: the supervisor is gone, so we stop too rather
 * than live on as an orphan.
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      process.off('disconnect', orphaned);
      resolve(sig);
    };
    const orphaned = () => on('SIGTERM');
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
    if (process.channel) {
      process.channel.unref();
      process.once('disconnect', orphaned);
    }
  });
}
