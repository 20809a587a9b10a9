import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { RECIPIENT_CHECK_PATH_PREFIX, recipientCheckPath, recipientCheckVerdict } from './recipient-check.ts';

describe('recipient check (SPEC.md §12.1)', () => {
  it('asks about one local part, percent-encoded as one segment', () => {
    assert.equal(recipientCheckPath('bob'), `${RECIPIENT_CHECK_PATH_PREFIX}bob`);
    assert.equal(recipientCheckPath('bob+news'), '/federation/v1/recipients/bob%2Bnews');
    assert.equal(recipientCheckPath('a/b'), '/federation/v1/recipients/a%2Fb', 'a slash stays inside the segment');
  });

  it('refuses what is not a local part (no path injection, no lists, no wildcards)', () => {
    for (const bad of ['', '../keys/bob', 'bob@beta.test', 'a b', 'x'.repeat(65), 'bob\r\n', '.bob', 'b..ob']) {
      assert.throws(() => recipientCheckPath(bad), TypeError, JSON.stringify(bad));
    }
  });

  it('refuses only on a 404 that says recipient_unknown; anything else leaves the inbox to decide', () => {
    assert.equal(recipientCheckVerdict(204, null), 'exists');
    assert.equal(recipientCheckVerdict(404, 'recipient_unknown'), 'unknown');
    assert.equal(recipientCheckVerdict(404, null), 'unverified', 'an older peer without the endpoint');
    assert.equal(recipientCheckVerdict(404, 'route_not_found'), 'unverified');
    assert.equal(recipientCheckVerdict(429, 'peer_rate_limited'), 'unverified');
    assert.equal(recipientCheckVerdict(403, 'peer_not_labelled'), 'unverified');
    assert.equal(recipientCheckVerdict(200, null), 'unverified', 'only 204 says yes');
    assert.equal(recipientCheckVerdict(500, 'recipient_unknown'), 'unverified');
  });
});
