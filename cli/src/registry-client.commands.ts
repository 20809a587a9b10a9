import type { Command } from 'commander';
import type { ApplicationView } from '@caliopen/instance/registry-client/registry.client.ts';
import {
  type ApplyOptions,
  applyToRegistry,
  readRegistryApplication,
} from '@caliopen/instance/registry-client/registry-application.ts';
import { RegistryClientError } from '@caliopen/instance/registry-client/registry.client.ts';
import { CliError } from './cli-error.ts';
import type { CommonOptions } from './context.ts';

function printApplication(view: ApplicationView, print: (l: string) => void): void {
  print(`Application ${view.id} for ${view.domain}: ${view.status}`);
  if (view.checks) {
    print(`Checks (${view.checks.mandatoryPassed ? 'all mandatory checks pass' : 'a mandatory check fails'}):`);
    for (const c of view.checks.results) {
      print(
        `  ${c.status.toUpperCase().padEnd(6)} ${c.id.padEnd(34)} ${String(c.points).padStart(2)}/${c.maxPoints}${c.mandatory ? ' (mandatory)' : ''}  ${c.evidence}`,
      );
    }
  }
  print(
    `Auditors: ${view.votes.approvals}/${view.votes.approvalsRequired} approvals, ${view.votes.objections} objection(s)`,
  );
  for (const r of view.votes.objectionReasons) print(`  objection: ${r}`);
  for (const b of view.decision.blockers) print(`  waiting for: ${b}`);
  if (view.label) {
    print(
      `Label ${view.label.id}: ${view.label.status}${view.label.revokedAt ? ` (revoked: ${view.label.revocationReason ?? 'no reason given'})` : `, expires ${view.label.expiresAt}`}`,
    );
  } else {
    print('No label yet.');
  }
}

/** A registry's refusal as `caliopen` reports it: exit 2 when the fix is on the caller's side, 1 otherwise. */
export function registryFailure(e: unknown): never {
  if (e instanceof RegistryClientError)
    throw new CliError(`the registry refused: ${e.message} (${e.code})`, e.status >= 400 && e.status < 500 ? 2 : 1);
  throw e;
}

/**
 * `caliopen instance apply`: the instance applies (registry-application.ts) and this says what happened. Null when it
 * stopped so that the operator reviews a declaration it just wrote.
 */
export async function applyAndReport(
  opts: ApplyOptions,
  print: (line: string) => void = console.log,
): Promise<{ applicationId: string; application: ApplicationView } | null> {
  const outcome = await applyToRegistry(opts).catch(registryFailure);
  if (!outcome.applied) {
    print(
      `Wrote ${outcome.declarationFile}: it is what this instance commits to, publicly. Review it, then run the same command again.`,
    );
    return null;
  }
  print(`Applied to ${opts.registry}: application ${outcome.applicationId}.`);
  print(`Domain control: the running instance now serves ${outcome.challenge.https.url}`);
  print(`  (or publish DNS TXT ${outcome.challenge.dns.name} "${outcome.challenge.dns.value}").`);
  printApplication(outcome.application, print);
  print('Follow it with `caliopen instance label`.');
  return { applicationId: outcome.applicationId, application: outcome.application };
}

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
    .action(async (opts: ApplyOptions) => {
      await applyAndReport(opts);
    });

  instance
    .command('label')
    .description("show this instance's application and label at its registry (and re-run the checks with --verify)")
    .option('--verify', 'ask the registry to run its checks again now')
    .option('--json', 'print the registry answer as JSON')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (opts: CommonOptions & { verify?: boolean; json?: boolean }) => {
      const view = await readRegistryApplication(opts, { verify: opts.verify === true }).catch(registryFailure);
      if (!view)
        throw new CliError(
          'This instance has not applied to a registry yet: run `caliopen instance apply --registry <url>`.',
          2,
        );
      if (opts.json) console.log(JSON.stringify(view));
      else printApplication(view, console.log);
    });
}
