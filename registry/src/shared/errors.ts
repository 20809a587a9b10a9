import { type CatalogueError, createErrorCatalogue } from '@caliopen/platform/errors/error.catalogue.ts';

/**
 * The one place where the registry's error codes live.
 *
 * Every error a client of the registry API can see is a `RegistryError` carrying one of these codes; the HTTP layer
 * turns it into an RFC 9457 `application/problem+json` document. Codes are stable, part of the API contract: they are
 * documented in docs/registry-errors.md, generated from this table (`node --import tsx registry/scripts/gen-error-docs.ts`)
 * and kept in step by errors.test.ts. Add codes; never rename or reuse one.
 */
export const REGISTRY_ERROR_CODES = {
  // generic request problems
  malformed_json: { status: 400, title: 'The request body is not valid JSON.' },
  validation_failed: { status: 400, title: 'The request does not match the schema of this route.' },
  unsupported_media_type: { status: 415, title: 'This route accepts application/json only.' },
  payload_too_large: { status: 413, title: 'The request body is larger than this route accepts.' },
  route_not_found: { status: 404, title: 'No such route.' },
  uri_too_long: { status: 414, title: 'A path parameter is longer than this route accepts.' },
  bad_url: { status: 400, title: 'The URL is malformed (bad percent-encoding).' },
  rate_limited: { status: 429, title: 'Too many requests; slow down and retry later.' },
  internal_error: { status: 500, title: 'Something went wrong on our side; the request id identifies it in our logs.' },
  service_unavailable: { status: 503, title: 'A backing service is unavailable; retry later.' },

  // authentication and authorization
  unauthenticated: {
    status: 401,
    title: 'A valid bearer token is required (an applicant token or an auditor session).',
  },
  token_invalid: { status: 401, title: 'The bearer token is unknown, malformed or forged.' },
  token_expired: { status: 401, title: 'The auditor session has expired; log in again.' },
  invalid_credentials: { status: 401, title: 'Wrong auditor name or password.' },
  auditor_disabled: { status: 403, title: 'This auditor account is disabled.' },
  forbidden: {
    status: 403,
    title: 'You are not allowed to do this (auditor routes need an auditor, applicant routes the applicant).',
  },

  // applications
  not_found: { status: 404, title: 'No such resource (or it is not yours).' },
  domain_invalid: { status: 400, title: 'The domain is not a lowercase DNS name (A-labels, 253 characters at most).' },
  endpoint_invalid: {
    status: 400,
    title:
      'An endpoint is not acceptable: the HTTPS base URL must be https:// on the application domain (or a subdomain), without credentials.',
  },
  key_invalid: {
    status: 400,
    title: 'An instance key is not a public JWK of the right curve (Ed25519 for signing, X25519 for encryption).',
  },
  certificate_invalid: { status: 400, title: 'The certificate is not a single PEM X.509 certificate.' },
  declaration_malformed: {
    status: 400,
    title: 'The declaration is not a compact JWS (EdDSA) whose payload is { declaration, nonce, iat }.',
  },
  declaration_bad_signature: {
    status: 400,
    title: 'The declaration signature does not verify with the signing key of the application.',
  },
  declaration_stale: {
    status: 400,
    title: 'The declaration `iat` is more than 10 minutes away from the registry clock; sign it again.',
  },
  declaration_invalid: {
    status: 400,
    title: 'The declaration does not follow the charter declaration schema (`errors` lists why).',
  },
  declaration_domain_mismatch: { status: 400, title: 'The declaration is for another domain than the application.' },
  charter_version_unknown: {
    status: 400,
    title: 'The declaration names a charter version the registry does not know.',
  },
  application_replayed: {
    status: 409,
    title: 'This signed declaration (its nonce) was already submitted; sign a new one.',
  },
  application_pending: { status: 409, title: 'This domain already has an application waiting for its decision.' },
  application_closed: {
    status: 409,
    title: 'This application is closed (approved, superseded or its instance revoked).',
  },

  // audits and labels
  reason_required: { status: 400, title: 'An objection, a revocation or a suspension needs a reason.' },
  vote_not_found: { status: 404, title: 'You have no vote on this application to withdraw.' },
  instance_not_labelled: { status: 409, title: 'This instance holds no label that could be revoked.' },
  suspension_active: { status: 409, title: 'This instance is already under an emergency suspension.' },
  revocation_not_found: {
    status: 404,
    title: 'This instance has no open revocation proposal to vote on; propose one first.',
  },
  registry_key_unavailable: {
    status: 503,
    title: 'No registry key is valid now: rotate the keys (`caliopen registry keys rotate`).',
  },

  // log and feed
  log_range_invalid: {
    status: 400,
    title: 'The requested log range or tree size is outside the log (`detail` gives the current size).',
  },
  feed_serial_unknown: {
    status: 404,
    title: 'No delta can be made from this serial (ahead of the feed, or before its history); fetch the full feed.',
  },
  feed_unavailable: { status: 503, title: 'No feed has been published yet (no instance holds a label).' },
} as const satisfies Record<string, { status: number; title: string }>;

export type RegistryErrorCode = keyof typeof REGISTRY_ERROR_CODES;

/** The registry's catalogue, built by the platform's factory: error class, problem documents and schema, docs page. */
export const registryErrors = createErrorCatalogue({
  errorName: 'RegistryError',
  codes: REGISTRY_ERROR_CODES,
  problemType: 'urn:caliopen:registry:problem:',
  problemSchemaId: 'RegistryProblem',
  docsPath: 'docs/registry-errors.md',
});

/** Extra problem members go in `extra` (e.g. `errors` for declaration_invalid). */
export const RegistryError = registryErrors.Error;
export type RegistryError = CatalogueError<RegistryErrorCode>;
export const isRegistryError = registryErrors.isError;
