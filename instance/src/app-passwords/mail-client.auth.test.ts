import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { tempDir } from '../../../tests/support/tmp.ts';
import { AccountService } from '../accounts/account.service.ts';
import type { Account } from '../accounts/account.entity.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { AppPasswordService, newAppPasswordSecret } from './app-password.service.ts';
import { MailClientAuth } from './mail-client.auth.ts';

describe('MailClientAuth (mail apps signing in), on the real SQLite store', () => {
  let tmp: ReturnType<typeof tempDir>;
  let storage: SqliteStorage;
  let hasher: PasswordHasher;
  let appPasswords: AppPasswordService;
  let now = Date.parse('2026-12-06T12:00:00Z');
  let alice: Account;
  let totpUser: Account;

  beforeAll(async () => {
    tmp = tempDir('caliopen-mail-auth-');
    storage = SqliteStorage.inDataDir(tmp.dir);
    hasher = new PasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
    appPasswords = new AppPasswordService(storage, hasher, () => new Date(now));
    const accounts = new AccountService(storage, hasher, () => new Date(now), 10 ** 9);
    alice = await accounts.create({ username: 'alice', password: 'alice-password-1' });
    totpUser = await accounts.create({ username: 'tina', password: 'tina-password-12' });
    totpUser = { ...totpUser, totpSecretSealed: 'sealed-secret' };
    await storage.accounts.update(totpUser);
  });
  afterAll(async () => {
    await storage.close();
    tmp.cleanup();
  });

  const auth = (o: { perIp?: number; perAccount?: number } = {}) =>
    new MailClientAuth(storage, hasher, appPasswords, {
      domain: 'alpha.test',
      failuresPerIp: o.perIp ?? 100,
      failuresPerAccount: o.perAccount ?? 100,
      now: () => now,
    });

  test('the account password (username or full address); another domain, unknown names and wrong passwords fail alike', async () => {
    const a = auth();
    assert.equal((await a.authenticate('alice', 'alice-password-1', '192.0.2.1')).ok, true);
    assert.equal((await a.authenticate('Alice@Alpha.test', 'alice-password-1', '192.0.2.1')).ok, true);
    for (const [user, pass] of [
      ['alice@beta.test', 'alice-password-1'],
      ['alice', 'wrong-password'],
      ['nobody', 'alice-password-1'],
      ['', ''],
    ] as const) {
      assert.deepEqual(await a.authenticate(user, pass, '192.0.2.1'), { ok: false, reason: 'invalid' }, user);
    }
  });

  test('two-factor: the password alone is refused, an app password works; app passwords work without two-factor too', async () => {
    const a = auth();
    assert.equal((await a.authenticate('tina', 'tina-password-12', '192.0.2.2')).ok, false);
    const made = await appPasswords.create(totpUser.id, 'Phone');
    assert.equal((await a.authenticate('tina', made.password, '192.0.2.2')).ok, true);
    assert.equal((await a.authenticate('tina', made.password.toUpperCase(), '192.0.2.2')).ok, true, 'case-insensitive');
    const [listed] = await appPasswords.list(totpUser.id);
    assert.equal(listed!.lastUsedAt?.getTime(), now, 'its use is recorded');
    assert.equal((await a.authenticate('alice', made.password, '192.0.2.2')).ok, false, "not another account's");
    const own = await appPasswords.create(alice.id, 'Laptop');
    assert.equal((await a.authenticate('alice', own.password, '192.0.2.2')).ok, true);
    await appPasswords.revoke(totpUser.id, made.id);
    assert.equal((await a.authenticate('tina', made.password, '192.0.2.2')).ok, false, 'revoked');
  });

  test('locked out after the limit: nothing verified, the wait said; over when it ends', async () => {
    const a = auth({ perAccount: 2 });
    await a.authenticate('alice', 'bad-1', '192.0.2.3');
    await a.authenticate('alice', 'bad-2', '192.0.2.4');
    const locked = await a.authenticate('alice', 'alice-password-1', '192.0.2.5');
    assert.deepEqual(locked, { ok: false, reason: 'throttled', retryAfterSeconds: 60 });
    now += 61_000;
    assert.equal((await a.authenticate('alice', 'alice-password-1', '192.0.2.5')).ok, true);
  });

  test('app passwords: 20 per account at most, random and well-formed', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const s = newAppPasswordSecret();
      assert.match(s, /^(?:[a-hj-km-np-z2-9]{4}-){4}[a-hj-km-np-z2-9]{4}$/);
      seen.add(s);
    }
    assert.equal(seen.size, 50);
    const bob = await new AccountService(storage, hasher, () => new Date(now), 10 ** 9).create({
      username: 'bob',
      password: 'bob-password-123',
    });
    for (let i = 0; i < 20; i++) await appPasswords.create(bob.id, `app ${i}`);
    await assert.rejects(appPasswords.create(bob.id, 'one more'), { code: 'app_password_limit' });
    await assert.rejects(appPasswords.create(bob.id, '  '), { code: 'validation_failed' });
  });
});
