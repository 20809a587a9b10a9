import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'vitest';
import { renderRegistryErrorDoc } from './errors.doc.ts';
import { REGISTRY_ERROR_CODES, RegistryError } from './errors.ts';

test('docs/registry-errors.md lists exactly the codes of the registry error table (regenerate with registry/scripts/gen-error-docs.ts)', () => {
  const doc = readFileSync(new URL('../../../docs/registry-errors.md', import.meta.url), 'utf8');
  assert.equal(doc, renderRegistryErrorDoc());
});

test('codes are snake_case and statuses are client or server errors', () => {
  for (const [code, { status }] of Object.entries(REGISTRY_ERROR_CODES)) {
    assert.match(code, /^[a-z][a-z0-9_]*$/);
    assert.ok(status >= 400 && status < 600, code);
  }
  const e = new RegistryError('application_replayed', 'nonce abc');
  assert.equal(e.status, 409);
  assert.equal(e.detail, 'nonce abc');
});
