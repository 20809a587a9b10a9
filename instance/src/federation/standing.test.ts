import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import type { OwnStanding } from './peer-directory.ts';
import { explainStanding, noticeDue } from './standing.ts';

const standing = (status: OwnStanding['status'], labelValid = status === 'labelled'): OwnStanding => ({
  status,
  labelValid,
  instancePi: 70,
  labelExpiresAt: 1_800_000_000,
  serial: 3,
});

describe('own standing told to users', () => {
  test('a notice when federation stops, and when it resumes after a told stop; none on the first labelling or a PI change', () => {
    for (const lost of ['revoked', 'suspended', 'expired', 'absent'] as const) {
      assert.equal(noticeDue(standing(lost), standing('labelled'), null), 'stopped', lost);
      assert.equal(noticeDue(standing('labelled'), standing(lost), 'stopped'), 'resumed', lost);
    }
    // A brand-new instance: not in the feed yet (absent), then labelled; nobody was told of a stop.
    assert.equal(noticeDue(standing('labelled'), standing('absent'), null), null, 'first labelling, from absent');
    assert.equal(noticeDue(standing('labelled'), standing('not_synced'), null), null, 'first labelling');
    assert.equal(noticeDue(standing('labelled'), standing('revoked'), 'resumed'), null, 'already told');
    assert.equal(noticeDue(standing('not_synced'), standing('not_synced'), null), null);
    assert.equal(
      noticeDue({ ...standing('labelled'), instancePi: 40 }, standing('labelled'), null),
      null,
      'a PI change is not a stop',
    );
    assert.equal(noticeDue(standing('revoked'), standing('expired'), 'stopped'), null, 'still stopped');
  });

  test('each state is explained in words, saying where mail goes meanwhile', () => {
    assert.match(
      explainStanding('alpha.test', standing('labelled')),
      /holds a valid label \(instance PI 70, expires 2027-01-15 08:00 UTC\)/,
    );
    assert.match(
      explainStanding('alpha.test', standing('revoked')),
      /registry revoked the label of alpha\.test.*goes by email/,
    );
    assert.match(explainStanding('alpha.test', standing('suspended')), /suspended/);
    assert.match(
      explainStanding('alpha.test', standing('expired')),
      /expired on 2027-01-15 08:00 UTC and was not renewed/,
    );
    assert.match(explainStanding('alpha.test', standing('absent')), /not listed in the registry's feed/);
    assert.match(explainStanding('alpha.test', standing('not_synced')), /not received the registry's feed yet/);
  });
});
