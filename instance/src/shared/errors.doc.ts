import { instanceErrors } from './errors.ts';

/** Renders docs/errors.md from the error table (kept in step by errors.test.ts; regenerate with `npm run docs:errors`). */
export function renderErrorDoc(): string {
  return instanceErrors.renderDoc({
    title: 'Instance API error codes',
    intro: 'Every error of the instance API is an RFC 9457 `application/problem+json` document:',
    example: [
      '{ "type": "urn:caliopen:problem:token_expired", "title": "...", "status": 401, "code": "token_expired",',
      '  "detail": "...", "instance": "/api/v1/me", "requestId": "…", "errors": [{ "path": "/body/x", "message": "..." }] }',
    ],
    notes: [
      '`code` is stable: clients branch on it, never on `title` or `detail`. `requestId` is also sent as the',
      '`x-request-id` header and appears in the server logs. `errors` lists schema violations (validation_failed).',
    ],
    footer: [
      'Generated from `instance/src/shared/errors.ts` by `npm run docs:errors`; a test fails when the two differ.',
    ],
  });
}
