import { existsSync } from 'node:fs';
import { ConfigError, loadConfig } from '../config/config.loader.ts';
import { checkRegistryUrl } from '../federation/peer-directory.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { publicBaseUrl } from '../config/public-url.ts';
import { loadInstanceIdentity } from '../identity/instance-identity.ts';
import { loadMasterKey } from '@caliopen/platform/crypto/master-key.store.ts';
import {
  applicantToken,
  readApplicationState,
  sealApplicantToken,
  writeApplicationState,
} from './application.store.ts';
import {
  declarationPath,
  declarationTemplate,
  readDeclaration,
  signDeclaration,
  writeDeclaration,
} from './declaration.ts';
import { type ApplicationView, type ApplyAnswer, RegistryClient } from './registry.client.ts';

/*
 * This instance's application to a registry, as its operator (`caliopen instance apply | label`) and a supervisor of
 * several instances (`caliopen federation`) handle it: the published face of registry-client/. The application state
 * (which registry, which application, the sealed applicant token, the challenge the running instance serves) stays
 * this module's business. Bad input is a ConfigError; a registry's refusal is a RegistryClientError.
 */

/** Where the instance is and how to read its configuration: flags > environment > config file > defaults. */
export interface InstanceLocation {
  dataDir?: string;
  config?: string;
}

export interface ApplyOptions extends InstanceLocation {
  registry: string;
  declaration?: string;
  jurisdiction?: string;
  adminEmail?: string;
  adminName?: string;
  unlisted?: boolean;
  httpsUrl?: string;
  yes?: boolean;
}

export type ApplyOutcome =
  /** A declaration was just written from the defaults: the operator reviews it, then applies again. */
  | { applied: false; declarationFile: string }
  /** Applied, the challenge recorded for the running instance to serve, and the checks run once. */
  | { applied: true; applicationId: string; challenge: ApplyAnswer['challenge']; application: ApplicationView };

function configAt(where: InstanceLocation): InstanceConfig {
  return loadConfig({
    ...(where.config ? { configFile: where.config } : {}),
    overrides: where.dataDir ? { dataDir: where.dataDir } : {},
  });
}

/**
 * Writes (or reads) the charter declaration, signs it, applies, records the application and its challenge for the
 * running instance to serve, and asks the registry to run its checks. Stops before applying when it has just
 * written the declaration, unless `yes`.
 */
export async function applyToRegistry(opts: ApplyOptions): Promise<ApplyOutcome> {
  registryUrlOrRefuse(opts.registry);
  const config = configAt(opts);
  const box = new SecretBox(loadMasterKey(config.dataDir));
  const identity = await loadInstanceIdentity(config.dataDir, box);
  const file = opts.declaration ?? declarationPath(config.dataDir);
  if (!existsSync(file)) {
    if (!opts.jurisdiction || !opts.adminEmail) {
      throw new ConfigError(
        `No declaration at ${file}: run again with --jurisdiction <CC> --admin-email <address> to create one for review.`,
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
    if (!opts.yes) return { applied: false, declarationFile: file };
  }
  let declaration: ReturnType<typeof readDeclaration>;
  try {
    declaration = readDeclaration(file);
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (declaration.domain !== config.domain)
    throw new ConfigError(`${file} declares ${declaration.domain}, but this instance is ${config.domain}.`);
  const httpsUrl = opts.httpsUrl ?? publicBaseUrl(config, config.https.port);
  const client = new RegistryClient(opts.registry);
  const answer = await client.apply({
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
  });
  writeApplicationState(config.dataDir, {
    registryUrl: opts.registry,
    applicationId: answer.id,
    applicantTokenSealed: sealApplicantToken(box, answer.id, answer.token),
    challenge: { token: answer.challenge.token, value: answer.challenge.value },
    appliedAt: new Date().toISOString(),
  });
  const verified = await client.verify(answer.id, answer.token);
  return { applied: true, applicationId: answer.id, challenge: answer.challenge, application: verified.application };
}

/**
 * This instance's application as its registry sees it now (the registry asked to run its checks again first with
 * `verify`); null when the instance has not applied. `registryUrl`: where the registry is now, when it moved (the
 * application state records it).
 */
export async function readRegistryApplication(
  where: InstanceLocation,
  options: { verify?: boolean; registryUrl?: string } = {},
): Promise<ApplicationView | null> {
  const config = configAt(where);
  let state = readApplicationState(config.dataDir);
  if (!state) return null;
  if (options.registryUrl !== undefined) registryUrlOrRefuse(options.registryUrl);
  if (options.registryUrl !== undefined && state.registryUrl !== options.registryUrl) {
    state = { ...state, registryUrl: options.registryUrl };
    writeApplicationState(config.dataDir, state);
  }
  const token = applicantToken(state, new SecretBox(loadMasterKey(config.dataDir)));
  const client = new RegistryClient(state.registryUrl);
  return options.verify
    ? (await client.verify(state.applicationId, token)).application
    : await client.application(state.applicationId, token);
}

/** The registry is applied to over HTTPS, as the feed is read (plain http:// only on loopback): a ConfigError otherwise. */
function registryUrlOrRefuse(url: string): void {
  try {
    checkRegistryUrl(url);
  } catch (e) {
    throw new ConfigError((e as Error).message.replace('federation.registryUrl', '--registry'));
  }
}

/**
 * After a certificate renewal: the registry this instance applied to is given the new certificate (it runs its checks
 * again and, for a labelled instance whose checks pass, renews the label with the new digest). Resolves false when the
 * instance never applied.
 */
export async function declareRenewedCertificate(
  dataDir: string,
  box: SecretBox,
  certificatePem: string,
): Promise<boolean> {
  const state = readApplicationState(dataDir);
  if (!state) return false;
  const client = new RegistryClient(state.registryUrl);
  await client.replaceCertificate(state.applicationId, applicantToken(state, box), certificatePem);
  return true;
}
