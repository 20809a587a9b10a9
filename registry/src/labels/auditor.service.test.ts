import assert from 'node:assert/strict';
import { test } from 'vitest';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { unitRegistry } from '../testing/unit-registry.ts';
import { AuditorService } from './auditor.service.ts';

const code = async (p: Promise<unknown>) => {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
};

test('auditor accounts: names checked and unique, sessions expire and end on logout', async () => {
  const r = await unitRegistry();
  let now = new Date('2026-03-01T00:00:00.000Z');
  const auditors = new AuditorService(
    r.storage,
    new PasswordHasher({ memoryCost: 4096, timeCost: 1, parallelism: 1 }),
    () => now,
    3600,
  );
  try {
    assert.equal(await code(auditors.create('Not A Name', 'long-enough-password')), 'validation_failed');
    assert.equal(await code(auditors.create('short', 'tiny')), 'validation_failed');
    const alice = await auditors.create('alice', 'long-enough-password');
    assert.equal(await code(auditors.create('alice', 'another-password-1')), 'validation_failed');
    assert.notEqual(alice.passwordHash, 'long-enough-password');

    assert.equal(await code(auditors.login('alice', 'wrong-password-123')), 'invalid_credentials');
    assert.equal(await code(auditors.login('nobody', 'wrong-password-123')), 'invalid_credentials');
    const { token, session } = await auditors.login('alice', 'long-enough-password');
    assert.match(token, /^cal_/);
    assert.equal((await auditors.authenticate(token))?.auditor.id, alice.id);
    assert.equal(
      await auditors.authenticate(`cal_${'A'.repeat(43)}`),
      null,
      'an unknown well-formed token may be an applicant\u2019s',
    );
    assert.equal(await code(auditors.authenticate('not-a-token')), 'token_invalid');

    now = new Date(now.getTime() + 3601 * 1000);
    assert.equal(await code(auditors.authenticate(token)), 'token_expired');
    now = new Date('2026-03-01T00:00:00.000Z');
    await auditors.logout(session.id);
    assert.equal(await code(auditors.authenticate(token)), 'token_invalid');
  } finally {
    await r.close();
  }
});
