import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { loadConfig } from '@caliopen/instance/config/config.loader.ts';
import { SecretBox } from '@caliopen/instance/crypto/secret-box.ts';
import { loadInstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { loadMasterKey } from '@caliopen/instance/identity/master-key.ts';
import { publicBaseUrl } from '@caliopen/instance/http/public.face.ts';
import {
  declarationPath,
  declarationTemplate,
  readDeclaration,
  signDeclaration,
  writeDeclaration,
} from '@caliopen/instance/registry-client/declaration.ts';
import {
  applicantToken,
  readApplicationState,
  sealApplicantToken,
  writeApplicationState,
} from '@caliopen/instance/registry-client/application.store.ts';
import {
  RegistryClient,
  RegistryClientError,
  type ApplicationView,
} from '@caliopen/instance/registry-client/registry.client.ts';
import { CliError } from './cli-error.ts';
import type { CommonOptions } from './context.ts';

export interface ApplyOptions extends CommonOptions {
  registry: string;
  declaration?: string;
  jurisdiction?: string;
  adminEmail?: string;
  adminName?: string;
  unlisted?: boolean;
  httpsUrl?: string;
  yes?: boolean;
}

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

function registryFailure(e: unknown): never {
  if (e instanceof RegistryClientError)
    throw new CliError(`the registry refused: ${e.message} (${e.code})`, e.status >= 400 && e.status < 500 ? 2 : 1);
  throw e;
}

/**
 * `caliopen instance apply`: writes (or reads) the declaration, signs it, applies, records the application and its
 * challenge for the running instance to serve, and asks the registry to run its checks. Null when it stopped so that
 * the operator reviews a declaration it just wrote. `caliopen federation` applies its members with it too.
 */
export async function applyToRegistry(
  opts: ApplyOptions,
  print: (line: string) => void = console.log,
): Promise<{ applicationId: string; application: ApplicationView } | null> {
  const config = loadConfig({
    ...(opts.config ? { configFile: opts.config } : {}),
    overrides: opts.dataDir ? { dataDir: opts.dataDir } : {},
  });
  const box = new SecretBox(loadMasterKey(config.dataDir));
  const identity = await loadInstanceIdentity(config.dataDir, box);
  const file = opts.declaration ?? declarationPath(config.dataDir);
  if (!existsSync(file)) {
    if (!opts.jurisdiction || !opts.adminEmail) {
      throw new CliError(
        `No declaration at ${file}: run again with --jurisdiction <CC> --admin-email <address> to create one for review.`,
        2,
      );
    }
    writeDeclaration(
      file,
      declarationTemplate({
        domain: config.domain,
        jurisdiction: opts.jurisdiction.toUpperCase(),
        adminEmail: opts.adminEmail,
        adminName: opts.adminName ?? 'Instance administrators',
        doesEmail: config.smtp.enabled,
      }),
    );
    if (!opts.yes) {
      print(
        `Wrote ${file}: it is what this instance commits to, publicly. Review it, then run the same command again.`,
      );
      return null;
    }
  }
  let declaration;
  try {
    declaration = readDeclaration(file);
  } catch (e) {
    throw new CliError((e as Error).message, 2);
  }
  if (declaration.domain !== config.domain)
    throw new CliError(`${file} declares ${declaration.domain}, but this instance is ${config.domain}.`, 2);
  const httpsUrl = opts.httpsUrl ?? publicBaseUrl(config, config.https.port);
  const client = new RegistryClient(opts.registry);
  const answer = await client
    .apply({
      domain: config.domain,
      endpoints: { https: httpsUrl, ...(config.smtp.enabled ? { smtp: `${config.domain}:${config.smtp.port}` } : {}) },
      keys: { signing: identity.signing.publicJwk as never, encryption: identity.encryption.publicJwk as never },
      certificatePem: identity.tls.certPem,
      declaration: await signDeclaration(
        declaration,
        { privateJwk: identity.signing.privateJwk, thumbprint: identity.signing.thumbprint },
        new Date(),
      ),
      ...(opts.unlisted ? { listed: false } : {}),
    })
    .catch(registryFailure);
  writeApplicationState(config.dataDir, {
    registryUrl: opts.registry,
    applicationId: answer.id,
    applicantTokenSealed: sealApplicantToken(box, answer.id, answer.token),
    challenge: { token: answer.challenge.token, value: answer.challenge.value },
    appliedAt: new Date().toISOString(),
  });
  print(`Applied to ${opts.registry}: application ${answer.id}.`);
  print(`Domain control: the running instance now serves ${answer.challenge.https.url}`);
  print(`  (or publish DNS TXT ${answer.challenge.dns.name} "${answer.challenge.dns.value}").`);
  const verified = await client.verify(answer.id, answer.token).catch(registryFailure);
  printApplication(verified.application, print);
  print('Follow it with `caliopen instance label`.');
  return { applicationId: answer.id, application: verified.application };
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
      await applyToRegistry(opts);
    });

  instance
    .command('label')
    .description("show this instance's application and label at its registry (and re-run the checks with --verify)")
    .option('--verify', 'ask the registry to run its checks again now')
    .option('--json', 'print the registry answer as JSON')
    .option('--data-dir <dir>', 'the instance data directory')
    .option('--config <file>', 'config file')
    .action(async (opts: CommonOptions & { verify?: boolean; json?: boolean }) => {
      const config = loadConfig({
        ...(opts.config ? { configFile: opts.config } : {}),
        overrides: opts.dataDir ? { dataDir: opts.dataDir } : {},
      });
      const state = readApplicationState(config.dataDir);
      if (!state)
        throw new CliError(
          'This instance has not applied to a registry yet: run `caliopen instance apply --registry <url>`.',
          2,
        );
      const token = applicantToken(state, new SecretBox(loadMasterKey(config.dataDir)));
      const client = new RegistryClient(state.registryUrl);
      const view = opts.verify
        ? (await client.verify(state.applicationId, token).catch(registryFailure)).application
        : await client.application(state.applicationId, token).catch(registryFailure);
      if (opts.json) console.log(JSON.stringify(view));
      else printApplication(view, console.log);
    });
}
