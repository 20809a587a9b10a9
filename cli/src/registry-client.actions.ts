import type { ApplicationView } from '@caliopen/instance/registry-client/registry.client.ts';
import {
  type ApplyOptions,
  applyToRegistry,
  readRegistryApplication,
} from '@caliopen/instance/registry-client/registry-application.ts';
import { RegistryClientError } from '@caliopen/instance/registry-client/registry.client.ts';
import { CliError } from './cli-error.ts';
import type { CommonOptions } from './context.ts';

/** What `caliopen instance apply | label` do (declared in registry-client.commands.ts). */

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

export async function apply(opts: ApplyOptions): Promise<void> {
  await applyAndReport(opts);
}

export async function label(opts: CommonOptions & { verify?: boolean; json?: boolean }): Promise<void> {
  const view = await readRegistryApplication(opts, { verify: opts.verify === true }).catch(registryFailure);
  if (!view)
    throw new CliError(
      'This instance has not applied to a registry yet: run `caliopen instance apply --registry <url>`.',
      2,
    );
  if (opts.json) console.log(JSON.stringify(view));
  else printApplication(view, console.log);
}
