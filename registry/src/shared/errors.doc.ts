import { registryErrors } from './errors.ts';

/** Renders docs/registry-errors.md from the error table (kept in step by errors.test.ts). */
export function renderRegistryErrorDoc(): string {
  return registryErrors.renderDoc({
    title: 'Registry API error codes',
    intro: 'Every error of the registry API is an RFC 9457 `application/problem+json` document:',
    example: [
      '{ "type": "urn:caliopen:registry:problem:application_replayed", "title": "...", "status": 409,',
      '  "code": "application_replayed", "detail": "...", "instance": "/v1/applications", "requestId": "…",',
      '  "errors": [{ "path": "/retention/logsDays", "message": "..." }] }',
    ],
    notes: [
      '`code` is stable: clients branch on it, never on `title` or `detail`. `requestId` is also sent as the',
      '`x-request-id` header and appears in the registry logs. `errors` lists schema violations (`validation_failed`)',
      'and declaration problems (`declaration_invalid`).',
    ],
    footer: [
      'Generated from `registry/src/shared/errors.ts` by `node --import tsx registry/scripts/gen-error-docs.ts`; a test',
      'fails when the two differ.',
    ],
  });
}
