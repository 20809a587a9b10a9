import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'vitest';
import { renderErrorDoc } from './errors.doc.ts';
import { AppError, ERROR_CODES } from './errors.ts';

test('docs/errors.md lists exactly the codes of the error table (run `npm run docs:errors` after changing it)', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  assert.equal(doc, renderErrorDoc());
});

test('codes are snake_case and statuses are client or server errors', () => {
  for (const [code, { status }] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^[a-z][a-z0-9_]*$/);
    assert.ok(status >= 400 && status < 600, code);
  }
  const e = new AppError('not_found', 'No such device.');
  assert.equal(e.status, 404);
  assert.equal(e.detail, 'No such device.');
});
