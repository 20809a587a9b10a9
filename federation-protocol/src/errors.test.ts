import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES, FEDERATION_HTTP_ERRORS } from './errors.ts';
import { DESCRIPTOR_ERROR_CODES } from './descriptor.ts';

const spec = readFileSync(new URL('../SPEC.md', import.meta.url), 'utf8');

describe('error codes', () => {
  it('of the inter-instance protocol are all documented in SPEC.md, whose wire table matches FEDERATION_HTTP_ERRORS', () => {
    // The registry objects' codes are documented in README.md; SPEC.md names them by prefix.
    const registrySide = /^(label_|checkpoint_|feed_|key_set_|json_|pi_)/;
    const federation = Object.keys(ERROR_CODES).filter((code) => !registrySide.test(code));
    assert.ok(federation.length >= 38);
    for (const code of [...federation, ...Object.keys(DESCRIPTOR_ERROR_CODES)]) {
      assert.ok(spec.includes(`\`${code}\``), `${code} is not in SPEC.md`);
    }
    const rows = new Map<string, { status: number; senderAction: string }>();
    for (const match of spec.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| ([a-z]+) \|/gm)) {
      rows.set(match[1]!, { status: Number(match[2]), senderAction: match[3]! });
    }
    assert.deepEqual(Object.fromEntries(rows), FEDERATION_HTTP_ERRORS);
  });

  it('on the wire are client or server errors', () => {
    for (const [code, { status }] of Object.entries(FEDERATION_HTTP_ERRORS)) {
      assert.ok(status >= 400 && status < 600, code);
      assert.ok(code in ERROR_CODES, code);
    }
  });
});
