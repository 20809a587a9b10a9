import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'vitest';
import { ENV_KEYS } from '@caliopen/instance/config/config.schema.ts';

/**
 * docs/configuration.md documents every setting the instance reads from its environment (issue 16 point 12: the
 * public face's `https.*` settings were once missing): each variable of ENV_KEYS, with the config key it sets.
 */
const doc = readFileSync(fileURLToPath(new URL('../../docs/configuration.md', import.meta.url)), 'utf8');

test('every environment variable of the instance, and the key it sets, is in docs/configuration.md', () => {
  const missing = Object.entries(ENV_KEYS)
    .filter(([variable, { path }]) => !doc.includes(`\`${variable}\``) || !doc.includes(`\`${path}\``))
    .map(([variable, { path }]) => `${variable} (${path})`);
  assert.deepEqual(missing, [], `not documented in docs/configuration.md: ${missing.join(', ')}`);
});
