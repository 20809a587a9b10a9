import type { Command } from 'commander';
import { PORT_SETTINGS } from './federation.plan.ts';
import { implementation } from './lazy-import.ts';

/**
 * `caliopen federation` — what `npm start` runs: the local federation on loopback, a registry and two labelled
 * instances (alpha.test and beta.test) with demo accounts, created on the first start and reused after.
 * `caliopen demo` is an alias of it (the one-instance demo it replaces).
 */
export function registerFederationCommand(program: Command): void {
  const ports = Object.values(PORT_SETTINGS)
    .map((p) => `  ${p.env.padEnd(30)} ${String(p.fallback).padEnd(6)} ${p.what}`)
    .join('\n');
  program
    .command('federation')
    .alias('demo')
    .description(
      'run the local federation on loopback: a registry and two labelled instances (alpha.test, beta.test) with demo accounts; created on the first start, reused after',
    )
    .option('--data-dir <dir>', 'where the federation keeps its data (default .data/federation or $CALIOPEN_DATA_DIR)')
    .addHelpText(
      'after',
      `\nPorts (127.0.0.1), each set by its environment variable:\n${ports}\n\nCtrl-C stops every process it started. Accounts and passwords: <data-dir>/credentials.json (mode 0600).`,
    )
    .action(async (opts: { dataDir?: string }) => {
      const { runFederation } =
        await implementation<typeof import('./federation.supervisor.ts')>('federation.supervisor.ts');
      await runFederation(opts);
    });
}
