import { randomBytes, randomUUID } from 'node:crypto';
import { charterVersion, parseDeclaration } from '@caliopen/charter';
import { isDomain, jwkThumbprint, parseOkpPublicJwk } from '@caliopen/federation-protocol';
import { hashToken, isWellFormedToken, newToken } from '@caliopen/platform/crypto/token.helpers.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { RegistryError } from '../shared/errors.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import { parseDeclaredCertificate } from '../verification/certificate.inspect.ts';
import type { Application } from './application.entity.ts';
import { DECLARATION_MAX_SKEW_SECONDS, verifyDeclarationJws } from './declaration-jws.ts';

export interface ApplicationInput {
  domain: string;
  endpoints: { https: string; federation?: string; smtp?: string };
  keys: { signing: unknown; encryption: unknown };
  certificatePem: string;
  /** The compact JWS of `{ declaration, nonce, iat }`, signed by keys.signing. */
  declaration: string;
  listed?: boolean;
}

export interface ChallengeInstructions {
  token: string;
  value: string;
  dns: { name: string; type: 'TXT'; value: string };
  https: { url: string; body: string };
}

const SMTP_HOST = /^(?=.{1,253}(:|$))([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,62}(:[0-9]{1,5})?$/;

/**
 * Applications: validates and records what an instance submits, in an order whose first failure is the code the
 * applicant gets (shape, keys, certificate, signature, freshness, charter, declaration, domain, replay). A refused
 * application records nothing; an accepted one gets an applicant token (stored hashed) and a domain-control challenge.
 */
export class ApplicationService {
  constructor(
    private readonly storage: RegistryStorage,
    private readonly clock: Clock,
  ) {}

  async submit(
    input: ApplicationInput,
  ): Promise<{ application: Application; token: string; challenge: ChallengeInstructions }> {
    const now = this.clock();
    const domain = input.domain;
    if (!isDomain(domain))
      throw new RegistryError('domain_invalid', `"${String(input.domain).slice(0, 80)}" is not a lowercase DNS name.`);
    const https = endpointUrl(input.endpoints.https, domain, 'endpoints.https');
    const federation =
      input.endpoints.federation === undefined
        ? https
        : endpointUrl(input.endpoints.federation, domain, 'endpoints.federation');
    const smtp = input.endpoints.smtp ?? null;
    if (smtp !== null && !SMTP_HOST.test(smtp))
      throw new RegistryError('endpoint_invalid', 'endpoints.smtp must be a mail host name, optionally with :port.');

    const signing = parseOkpPublicJwk(input.keys.signing, 'Ed25519');
    if (signing === undefined)
      throw new RegistryError(
        'key_invalid',
        'keys.signing must be a public Ed25519 JWK (kty OKP, crv Ed25519, 32-byte x, no d).',
      );
    const encryption = parseOkpPublicJwk(input.keys.encryption, 'X25519');
    if (encryption === undefined)
      throw new RegistryError(
        'key_invalid',
        'keys.encryption must be a public X25519 JWK (kty OKP, crv X25519, 32-byte x, no d).',
      );

    let certFingerprint: string;
    try {
      certFingerprint = parseDeclaredCertificate(input.certificatePem).fingerprintSha256;
    } catch (error) {
      throw new RegistryError('certificate_invalid', (error as Error).message);
    }

    const signingThumbprint = jwkThumbprint(signing);
    const signed = await verifyDeclarationJws(input.declaration, signing, signingThumbprint);
    const skew = Math.abs(Math.floor(now.getTime() / 1000) - signed.iat);
    if (skew > DECLARATION_MAX_SKEW_SECONDS) {
      throw new RegistryError(
        'declaration_stale',
        `iat is ${skew} s away from the registry clock (${now.toISOString()}); at most ${DECLARATION_MAX_SKEW_SECONDS} s.`,
      );
    }
    const claimedVersion = (signed.declaration as Record<string, unknown>)['charterVersion'];
    if (typeof claimedVersion !== 'string' || charterVersion(claimedVersion) === null) {
      throw new RegistryError(
        'charter_version_unknown',
        `The registry knows no charter version ${JSON.stringify(claimedVersion ?? null).slice(0, 40)}.`,
      );
    }
    const parsed = parseDeclaration(signed.declaration);
    if (!parsed.ok)
      throw new RegistryError(
        'declaration_invalid',
        parsed.errors
          .map((e) => `${e.path}: ${e.message}`)
          .slice(0, 5)
          .join('; '),
        { errors: parsed.errors.slice(0, 50) },
      );
    const declaration = parsed.value;
    if (declaration.domain !== domain)
      throw new RegistryError(
        'declaration_domain_mismatch',
        `The declaration is for "${declaration.domain}", the application for "${domain}".`,
      );

    const token = newToken();
    const application: Application = {
      id: randomUUID(),
      domain,
      status: 'pending',
      endpoints: { https, federation, smtp },
      keys: { signing, encryption },
      keyThumbprints: { signing: signingThumbprint, encryption: jwkThumbprint(encryption) },
      certificatePem: input.certificatePem,
      certFingerprint,
      declarationJws: input.declaration,
      declaration,
      charterVersion: declaration.charterVersion,
      nonce: signed.nonce,
      listed: input.listed ?? true,
      challenge: { token: randomBytes(24).toString('base64url'), value: randomBytes(32).toString('base64url') },
      applicantTokenHash: hashToken(token),
      createdAt: now,
      updatedAt: now,
      closedReason: null,
    };
    const outcome = await this.storage.applications.create(application);
    if (outcome === 'nonce_taken')
      throw new RegistryError(
        'application_replayed',
        'This declaration nonce was already used: sign a fresh declaration.',
      );
    if (outcome === 'domain_pending')
      throw new RegistryError(
        'application_pending',
        `${domain} already has a pending application; follow it with its token.`,
      );
    return { application, token, challenge: challengeInstructions(application) };
  }

  /** The application behind an applicant token, or null when the token is no applicant's. */
  async authenticate(token: string): Promise<Application | null> {
    if (!isWellFormedToken(token)) throw new RegistryError('token_invalid');
    return this.storage.applications.getByTokenHash(hashToken(token));
  }

  /**
   * Replaces the certificate an application declared (the instance renewed it, e.g. by ACME): a single PEM X.509
   * certificate, for a pending or approved application. The checks judge it like the first one (the live endpoint
   * must present it, the descriptor signed by the instance key must name its digest). Resolves the application as
   * stored.
   */
  async replaceCertificate(app: Application, certificatePem: string): Promise<Application> {
    if (app.status === 'closed')
      throw new RegistryError('application_closed', 'A closed application keeps its certificate: apply again.');
    let certFingerprint: string;
    try {
      certFingerprint = parseDeclaredCertificate(certificatePem).fingerprintSha256;
    } catch (error) {
      throw new RegistryError('certificate_invalid', (error as Error).message);
    }
    if (certFingerprint !== app.certFingerprint)
      await this.storage.applications.replaceCertificate(app.id, certificatePem, certFingerprint, this.clock());
    return this.get(app.id);
  }

  async get(id: string): Promise<Application> {
    const app = await this.storage.applications.get(id);
    if (app === null) throw new RegistryError('not_found', 'No such application.');
    return app;
  }
}

export function challengeInstructions(app: Application): ChallengeInstructions {
  const base = new URL(app.endpoints.https);
  const url = `${base.origin}${base.pathname.replace(/\/+$/, '')}/.well-known/caliopen-challenge/${app.challenge.token}`;
  return {
    token: app.challenge.token,
    value: app.challenge.value,
    dns: { name: `_caliopen-challenge.${app.domain}`, type: 'TXT', value: app.challenge.value },
    https: { url, body: app.challenge.value },
  };
}

/** An https URL on the domain (or a subdomain), without credentials, query or fragment; returned normalised. */
function endpointUrl(text: string, domain: string, name: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RegistryError('endpoint_invalid', `${name} is not a URL.`);
  }
  const host = url.hostname;
  if (url.protocol !== 'https:') throw new RegistryError('endpoint_invalid', `${name} must be https://.`);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new RegistryError('endpoint_invalid', `${name} must have no credentials, query or fragment.`);
  }
  if (host !== domain && !host.endsWith(`.${domain}`))
    throw new RegistryError('endpoint_invalid', `${name} must be on ${domain} or one of its subdomains, not ${host}.`);
  return url.href.replace(/\/$/, '');
}
