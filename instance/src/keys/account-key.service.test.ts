import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import * as openpgp from 'openpgp';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { compressionBomb, generateTestKey, revokedPublicKey, type TestKey } from '../openpgp/openpgp.fixture.ts';
import { isKeyError, parsePublicKey } from '../openpgp/openpgp.keys.ts';
import type { Session } from '../sessions/session.entity.ts';
import { isAppError } from '../shared/errors.ts';
import { anAccount } from '../storage/storage.conformance.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { AccountKeyPublishedSource } from './account-key.published.ts';
import { AccountKeyService } from './account-key.service.ts';
import { deriveKek, unwrapPrivateKey, wrapPurpose } from './account-key.wrap.ts';
import { KeyUnlockCache } from './key-unlock.cache.ts';

const DOMAIN = 'alpha.test';
/** Cheap argon2id for tests (the production cost is the password hashing baseline). */
const COST = { memoryCost: 1024, timeCost: 1, parallelism: 1 };
const PASSWORD = 'correct horse battery staple';

async function refused(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isAppError(e), `expected an AppError ${code}, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** A message encrypted to `key` and decrypted with `privateKey`: proves the private key is the key's. */
async function roundTrip(publicArmored: string, privateKey: openpgp.PrivateKey): Promise<void> {
  const encrypted = await openpgp.encrypt({
    message: await openpgp.createMessage({ text: 'for your eyes' }),
    encryptionKeys: await openpgp.readKey({ armoredKey: publicArmored }),
  });
  const { data } = await openpgp.decrypt({
    message: await openpgp.readMessage({ armoredMessage: encrypted }),
    decryptionKeys: privateKey,
  });
  assert.equal(data, 'for your eyes');
}

describe('AccountKeyService', () => {
  let storage: SqliteStorage;
  let box: SecretBox;
  let hasher: PasswordHasher;
  let service: AccountKeyService;
  let accountId: string;
  let changes: string[];
  let clock: Date;
  let alice: TestKey;
  let aliceProtected: string;
  let stranger: TestKey;

  const newService = () =>
    new AccountKeyService({
      keys: storage.accountKeys,
      accounts: storage.accounts,
      sessions: storage.sessions,
      box,
      hasher,
      // Moves a millisecond per reading: keys added one after the other are ordered.
      clock: () => (clock = new Date(clock.getTime() + 1)),
      domain: DOMAIN,
      kdf: COST,
      events: {
        publish: async (name, event) => {
          if (name === 'keys.changed') changes.push(event.accountId === accountId ? 'A' : event.accountId);
        },
      },
    });

  async function session(over: Partial<Session> = {}): Promise<Session> {
    const s: Session = {
      id: randomUUID(),
      accountId,
      deviceId: randomUUID(),
      tokenHash: randomUUID(),
      createdAt: clock,
      expiresAt: new Date(clock.getTime() + 3600_000),
      revokedAt: null,
      ...over,
    };
    await storage.sessions.create(s);
    return s;
  }

  beforeAll(async () => {
    hasher = new PasswordHasher(COST);
    alice = await generateTestKey(`alice@${DOMAIN}`, { name: 'Alice' });
    aliceProtected = (await openpgp.encryptKey({ privateKey: alice.privateKey, passphrase: 'key passphrase' })).armor();
    stranger = await generateTestKey('alice@elsewhere.example');
  });
  beforeEach(async () => {
    storage = SqliteStorage.open(':memory:');
    box = new SecretBox(Buffer.alloc(32, 7));
    const account = anAccount({
      username: 'alice',
      displayName: 'Alice <Admin> "A."',
      passwordHash: await hasher.hash(PASSWORD),
    });
    await storage.accounts.create(account);
    accountId = account.id;
    changes = [];
    clock = new Date();
    service = newService();
  });
  afterAll(async () => {
    await storage?.close();
  });

  describe('server mode', () => {
    test('generate: a v4 Curve25519 key for <displayName> <username@domain>, the private key wrapped and sealed, unlocked for the session', async () => {
      const s = await session();
      assert.equal(await service.mode(accountId), 'none');
      const key = await service.generate(accountId, { mode: 'server', password: PASSWORD, session: s });
      assert.equal(key.status, 'active');
      assert.equal(key.version, 4, 'v4 keys: what GnuPG 2.4, Thunderbird and Proton read (ADR 0006)');
      assert.equal(key.algorithm, 'ed25519');
      assert.equal(key.keyExpiresAt, null);
      assert.match(key.revocationCertificate ?? '', /BEGIN PGP PUBLIC KEY BLOCK/);
      assert.equal(await service.mode(accountId), 'server');
      assert.deepEqual(changes, ['A'], 'the account PI is told');

      const parsed = await parsePublicKey(key.publicKey, { now: clock, address: `alice@${DOMAIN}` });
      assert.deepEqual(
        parsed.userIds,
        [`Alice Admin A. <alice@${DOMAIN}>`],
        'the display name is kept plain in the user ID',
      );
      assert.equal(parsed.canEncrypt, true);
      const stored = (await storage.accountKeys.get(accountId, key.fingerprint))!;
      assert.ok(stored.privateKey, 'server mode keeps the private key');
      assert.equal(stored.privateKey.kek.salt.length, 16);
      assert.ok(
        !(await openpgp.readKey({ binaryKey: stored.publicKey })).isPrivate(),
        'public_key holds no private parts',
      );

      const unlocked = await service.unlocked(accountId);
      assert.ok(unlocked, 'unlocked for the session that proved the password');
      assert.equal(unlocked.getFingerprint(), key.fingerprint);
      assert.ok(unlocked.isDecrypted());
      await roundTrip((await service.publicKey(accountId))!.armored, unlocked);
      assert.equal(await service.isUnlocked(accountId), true);
      assert.equal(await service.unlocked(accountId), unlocked, 'opened once, then the same key for every message');
    });

    test('the wrapped key opens with the password-derived KEK and the instance box only; bound to its account and fingerprint', async () => {
      const key = await service.generate(accountId, { mode: 'server', password: PASSWORD });
      const { sealed, kek: kdf } = (await storage.accountKeys.get(accountId, key.fingerprint))!.privateKey!;
      const kek = await deriveKek(PASSWORD, kdf);
      const purpose = wrapPurpose(accountId, key.fingerprint);
      const secret = unwrapPrivateKey(sealed, kek, box, purpose);
      assert.ok(secret);
      assert.equal((await openpgp.readPrivateKey({ binaryKey: secret })).getFingerprint(), key.fingerprint);
      assert.equal(
        unwrapPrivateKey(sealed, await deriveKek('another password!', kdf), box, purpose),
        null,
        'another password',
      );
      assert.equal(
        unwrapPrivateKey(sealed, kek, new SecretBox(Buffer.alloc(32, 8)), purpose),
        null,
        'another instance key',
      );
      assert.equal(
        unwrapPrivateKey(sealed, kek, box, wrapPurpose(randomUUID(), key.fingerprint)),
        null,
        'copied to another account',
      );
      assert.equal(unwrapPrivateKey(sealed.slice(0, -4) + 'AAAA', kek, box, purpose), null, 'tampered');
      assert.ok(!sealed.includes(key.fingerprint) && !sealed.includes('PRIVATE'));
    });

    test('locked until a login: not after a restart, unlocked by sessionStarted with the password, not by a wrong one', async () => {
      await service.generate(accountId, { mode: 'server', password: PASSWORD });
      assert.equal(await service.unlocked(accountId), null, 'no session proved the password');
      const restarted = newService();
      const s = await session();
      await restarted.sessionStarted(accountId, s, 'a wrong password');
      assert.equal(await restarted.unlocked(accountId), null);
      assert.equal(restarted.unlockCache.size, 0, 'a KEK that opens nothing is not held');
      await restarted.sessionStarted(accountId, s, PASSWORD);
      assert.ok(await restarted.unlocked(accountId));
      assert.equal((await restarted.unlockedKeys(accountId)).length, 1);
    });

    test('the unlock ends with the session: logout, revocation, expiry, a disabled account', async () => {
      await service.generate(accountId, { mode: 'server', password: PASSWORD });
      const s1 = await session();
      await service.sessionStarted(accountId, s1, PASSWORD);
      assert.ok(await service.unlocked(accountId));
      service.sessionEnded(s1.id);
      assert.equal(await service.unlocked(accountId), null, 'logout');

      const s2 = await session();
      await service.sessionStarted(accountId, s2, PASSWORD);
      await storage.sessions.revoke(accountId, s2.id, clock);
      assert.equal(
        await service.unlocked(accountId),
        null,
        'revoked in the store (device revoked, password changed elsewhere)',
      );
      assert.equal(service.unlockCache.size, 0);

      const s3 = await session({ expiresAt: new Date(clock.getTime() + 1000) });
      await service.sessionStarted(accountId, s3, PASSWORD);
      assert.ok(await service.unlocked(accountId));
      clock = new Date(clock.getTime() + 2000);
      assert.equal(await service.unlocked(accountId), null, 'expired');

      const s4 = await session({ expiresAt: new Date(clock.getTime() + 3600_000) });
      await service.sessionStarted(accountId, s4, PASSWORD);
      await storage.accounts.update({ ...(await storage.accounts.get(accountId))!, disabled: true });
      assert.equal(await service.unlocked(accountId), null, 'disabled account');
    });

    test('rotation retires the previous key (kept, still unlockable to read old mail); both share one KEK', async () => {
      const s = await session();
      const first = await service.generate(accountId, { mode: 'server', password: PASSWORD, session: s });
      const second = await service.rotate(accountId, { password: PASSWORD, session: s });
      const keys = await service.list(accountId);
      assert.deepEqual(
        keys.map((k) => [k.fingerprint, k.status]),
        [
          [second.fingerprint, 'active'],
          [first.fingerprint, 'retired'],
        ],
      );
      assert.equal((await service.publicKey(accountId))!.fingerprint, second.fingerprint);
      const restarted = newService();
      await restarted.sessionStarted(accountId, await session(), PASSWORD);
      assert.deepEqual(
        (await restarted.unlockedKeys(accountId)).map((k) => k.getFingerprint()),
        [second.fingerprint, first.fingerprint],
        'one login opens both, the active first',
      );
    });

    test('import: the private key is opened with its passphrase and kept; refusals have clear codes', async () => {
      const s = await session();
      await refused(
        service.import(accountId, aliceProtected, 'wrong', { password: PASSWORD, session: s }),
        'key_passphrase_wrong',
      );
      await refused(
        service.import(accountId, aliceProtected, undefined, { password: PASSWORD, session: s }),
        'key_passphrase_wrong',
      );
      await refused(
        service.import(accountId, alice.armoredPublic, undefined, { password: PASSWORD }),
        'key_not_private',
      );
      await refused(
        service.import(accountId, stranger.armoredPrivate, undefined, { password: PASSWORD }),
        'key_address_mismatch',
      );
      await refused(
        service.import(
          accountId,
          '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nnot base64 at all\n-----END PGP PRIVATE KEY BLOCK-----\n',
          undefined,
          { password: PASSWORD },
        ),
        'key_malformed',
      );
      await refused(service.import(accountId, 'hello', undefined, { password: PASSWORD }), 'key_malformed');
      await refused(
        service.import(accountId, compressionBomb(1024), undefined, { password: PASSWORD }),
        'key_malformed',
      );
      await refused(
        service.import(accountId, `${aliceProtected}\n${'x'.repeat(300 * 1024)}`, 'key passphrase', {
          password: PASSWORD,
        }),
        'key_too_large',
      );
      const truncated = alice.armoredPrivate.split('\n');
      await refused(
        service.import(accountId, [...truncated.slice(0, 6), ...truncated.slice(-3)].join('\n'), undefined, {
          password: PASSWORD,
        }),
        'key_malformed',
      );
      await refused(
        service.import(accountId, aliceProtected, 'key passphrase', { password: 'not the password' }),
        'invalid_credentials',
      );
      assert.deepEqual(await service.list(accountId), [], 'nothing stored by a refusal');

      const key = await service.import(accountId, aliceProtected, 'key passphrase', { password: PASSWORD, session: s });
      assert.equal(key.fingerprint, alice.fingerprint);
      assert.ok(key.revocationCertificate, 'a revocation certificate is made from the private key');
      await roundTrip(alice.armoredPublic, (await service.unlocked(accountId))!);
      await refused(service.import(accountId, alice.armoredPrivate, undefined, { password: PASSWORD }), 'key_exists');
    });

    test('import refuses revoked and expired keys', async () => {
      const old = await generateTestKey(`alice@${DOMAIN}`, {
        date: new Date(Date.now() - 10 * 86400_000),
        expiresInSeconds: 86400,
      });
      await refused(service.import(accountId, old.armoredPrivate, undefined, { password: PASSWORD }), 'key_expired');
      const revoked = await generateTestKey(`alice@${DOMAIN}`);
      const { privateKey } = await openpgp.revokeKey({ key: revoked.privateKey, format: 'armored' });
      await refused(service.import(accountId, privateKey, undefined, { password: PASSWORD }), 'key_revoked');
    });

    test('generate asks the password; client mode is never generated here', async () => {
      await refused(service.generate(accountId, { mode: 'server', password: 'wrong password' }), 'invalid_credentials');
      await refused(service.generate(accountId, { mode: 'server' }), 'key_request_invalid');
      await refused(service.generate(accountId, { mode: 'client', password: PASSWORD }), 'key_request_invalid');
      assert.deepEqual(changes, []);
    });
  });

  describe('client mode', () => {
    test('only the public key is stored; nothing to unlock; the private key is refused', async () => {
      await refused(service.importPublic(accountId, alice.armoredPrivate), 'key_private');
      await refused(service.importPublic(accountId, stranger.armoredPublic), 'key_address_mismatch');
      await refused(service.importPublic(accountId, await revokedPublicKey(alice)), 'key_revoked');
      const key = await service.importPublic(accountId, alice.armoredPublic);
      assert.equal(key.privateKey, null);
      assert.equal(await service.mode(accountId), 'client');
      assert.equal(await service.unlocked(accountId), null);
      assert.equal((await service.publicKey(accountId))!.fingerprint, alice.fingerprint);
      await refused(service.generate(accountId, { mode: 'server', password: PASSWORD }), 'key_mode_mismatch');
      // A new key made on the device replaces the active one.
      const next = await generateTestKey(`alice@${DOMAIN}`);
      // The key was made just now by the real clock; the service's clock, set before the test, catches up with it
      // (on a loaded machine seconds pass, and a self-signature "in the future" is refused).
      clock = new Date();
      await service.importPublic(accountId, next.armoredPublic);
      assert.deepEqual(
        (await service.list(accountId)).map((k) => k.status),
        ['active', 'retired'],
      );
    });

    test('revoke: with the certificate the client gave, or one sent now; never another key’s', async () => {
      const certified = await openpgp.generateKey({
        type: 'curve25519',
        userIDs: [{ email: `alice@${DOMAIN}` }],
        format: 'armored',
      });
      const key = await service.importPublic(accountId, certified.publicKey, {
        revocationCertificate: certified.revocationCertificate,
      });
      await refused(service.revoke(accountId, 'f'.repeat(40)), 'not_found');
      const revoked = await service.revoke(accountId, key.fingerprint.toUpperCase());
      assert.equal(revoked.status, 'revoked');
      await assert.rejects(
        parsePublicKey(revoked.publicKey, { now: clock }),
        (e: unknown) => isKeyError(e) && e.code === 'key_revoked',
        'the stored key carries the revocation',
      );
      assert.equal(await service.mode(accountId), 'none');
      assert.equal(await service.publicKey(accountId), null);

      const bare = await service.importPublic(accountId, alice.armoredPublic);
      await refused(service.revoke(accountId, bare.fingerprint), 'key_revocation_missing');
      await refused(
        service.revoke(accountId, bare.fingerprint, { revocationCertificate: certified.revocationCertificate }),
        'key_revocation_invalid',
      );
      await refused(
        service.revoke(accountId, bare.fingerprint, { revocationCertificate: 'garbage' }),
        'key_revocation_invalid',
      );
      const { revocationCertificate } = await openpgp.generateKey({
        type: 'curve25519',
        userIDs: [{ email: 'x@y.example' }],
      });
      await refused(
        service.importPublic(accountId, (await generateTestKey(`alice@${DOMAIN}`)).armoredPublic, {
          revocationCertificate,
        }),
        'key_revocation_invalid',
      );
    });
  });

  describe('switching where the private key lives', () => {
    test('server -> client hands the key out once (passphrase-protected) and erases the server copy; client -> server takes it back', async () => {
      const s = await session();
      const key = await service.generate(accountId, { mode: 'server', password: PASSWORD, session: s });
      await refused(service.setMode(accountId, 'server', { password: PASSWORD }), 'key_mode_unchanged');
      await refused(service.setMode(accountId, 'client', { password: 'wrong password' }), 'invalid_credentials');
      const { mode, exported } = await service.setMode(accountId, 'client', {
        password: PASSWORD,
        exportPassphrase: 'device passphrase',
        session: s,
      });
      assert.equal(mode, 'client');
      assert.match(exported!, /^-----BEGIN PGP PRIVATE KEY BLOCK-----/);
      const handedOut = await openpgp.readPrivateKey({ armoredKey: exported! });
      assert.equal(handedOut.isDecrypted(), false, 'protected by the passphrase');
      const opened = await openpgp.decryptKey({ privateKey: handedOut, passphrase: 'device passphrase' });
      assert.equal(opened.getFingerprint(), key.fingerprint);
      await roundTrip((await service.publicKey(accountId))!.armored, opened);
      assert.equal(
        (await storage.accountKeys.get(accountId, key.fingerprint))!.privateKey,
        null,
        'the server copy is erased',
      );
      assert.equal(await service.mode(accountId), 'client');
      assert.equal(await service.unlocked(accountId), null);
      assert.equal(service.unlockCache.size, 0, 'unlock secrets dropped');
      await refused(service.export(accountId, { password: PASSWORD }), 'key_mode_mismatch');

      await refused(service.setMode(accountId, 'server', { password: PASSWORD }), 'key_request_invalid');
      await refused(
        service.setMode(accountId, 'server', { password: PASSWORD, armoredPrivateKey: exported!, passphrase: 'wrong' }),
        'key_passphrase_wrong',
      );
      await refused(
        service.setMode(accountId, 'server', { password: PASSWORD, armoredPrivateKey: alice.armoredPrivate }),
        'key_not_yours',
      );
      await refused(
        service.setMode(accountId, 'server', { password: PASSWORD, armoredPrivateKey: key.revocationCertificate! }),
        'key_not_private',
      );
      const back = await service.setMode(accountId, 'server', {
        password: PASSWORD,
        armoredPrivateKey: exported!,
        passphrase: 'device passphrase',
        session: s,
      });
      assert.deepEqual(back, { mode: 'server', exported: null });
      assert.equal(await service.mode(accountId), 'server');
      assert.equal((await service.unlocked(accountId))!.getFingerprint(), key.fingerprint);
      assert.deepEqual(changes, ['A', 'A', 'A']);
    });

    test('export (server mode) leaves everything in place; the default passphrase is the password', async () => {
      await refused(service.export(accountId, { password: PASSWORD }), 'key_none');
      const first = await service.generate(accountId, { mode: 'server', password: PASSWORD });
      const second = await service.generate(accountId, { mode: 'server', password: PASSWORD });
      const armored = await service.export(accountId, { password: PASSWORD });
      const keys = await openpgp.readPrivateKeys({ armoredKeys: armored });
      assert.deepEqual(
        keys.map((k) => k.getFingerprint()),
        [second.fingerprint, first.fingerprint],
        'every server-held key, the active one first',
      );
      for (const k of keys) await openpgp.decryptKey({ privateKey: k, passphrase: PASSWORD });
      assert.equal(await service.mode(accountId), 'server');
    });
  });

  describe('password changes', () => {
    test('the user changing it: the key is re-wrapped under the new password (fresh salt); the old one opens nothing', async () => {
      const key = await service.generate(accountId, { mode: 'server', password: PASSWORD });
      const before = (await storage.accountKeys.get(accountId, key.fingerprint))!.privateKey!;
      const commit = await service.passwordChanging(accountId, 'the new password!', PASSWORD);
      assert.deepEqual(
        (await storage.accountKeys.get(accountId, key.fingerprint))!.privateKey,
        before,
        'nothing written before the commit',
      );
      await commit();
      const after = (await storage.accountKeys.get(accountId, key.fingerprint))!.privateKey!;
      assert.notDeepEqual(after.kek.salt, before.kek.salt);
      const restarted = newService();
      await restarted.sessionStarted(accountId, await session(), PASSWORD);
      assert.equal(await restarted.unlocked(accountId), null, 'the old password no longer unlocks');
      await restarted.sessionStarted(accountId, await session(), 'the new password!');
      assert.equal((await restarted.unlocked(accountId))!.getFingerprint(), key.fingerprint);
    });

    test('an administrator resetting it: re-wrapped with a live session’s KEK, else left under the old password', async () => {
      const s = await session();
      const key = await service.generate(accountId, { mode: 'server', password: PASSWORD, session: s });
      await (await service.passwordChanging(accountId, 'reset by the admin'))();
      assert.equal(service.unlockCache.size, 0, 'the account’s unlock secrets are dropped');
      const restarted = newService();
      await restarted.sessionStarted(accountId, await session(), 'reset by the admin');
      assert.equal((await restarted.unlocked(accountId))!.getFingerprint(), key.fingerprint);

      // No live session this time (another process, e.g. the CLI): the key stays under the previous password.
      await (await newService().passwordChanging(accountId, 'reset again, blindly'))();
      const third = newService();
      await third.sessionStarted(accountId, await session(), 'reset again, blindly');
      assert.equal(await third.unlocked(accountId), null);
      await third.sessionStarted(accountId, await session(), 'reset by the admin');
      assert.ok(await third.unlocked(accountId));
    });
  });

  describe('publication', () => {
    test('the active key of an enabled account whose user ID carries <username>@<domain>; nothing else', async () => {
      const published = new AccountKeyPublishedSource({
        accounts: storage.accounts,
        keys: storage.accountKeys,
        domain: DOMAIN,
        clock: () => clock,
      });
      assert.equal(await published.publicKeyOf('alice'), null, 'no key yet');
      assert.equal(await published.publicKeyOf('nobody'), null);
      const key = await service.importPublic(accountId, alice.armoredPublic, {});
      assert.deepEqual(await published.publicKeyOf('alice'), key.publicKey);
      assert.deepEqual(await published.publicKeyOf('ALICE'), key.publicKey);
      const other = new AccountKeyPublishedSource({
        accounts: storage.accounts,
        keys: storage.accountKeys,
        domain: 'beta.test',
        clock: () => clock,
      });
      assert.equal(await other.publicKeyOf('alice'), null, 'a key without <username>@<domain> is not published');
      await storage.accounts.update({ ...(await storage.accounts.get(accountId))!, disabled: true });
      assert.equal(await published.publicKeyOf('alice'), null, 'a disabled account publishes nothing');
    });
  });
});

describe('KeyUnlockCache', () => {
  const kdf = (n: number) => ({ algorithm: 'argon2id' as const, ...COST, salt: new Uint8Array(16).fill(n) });

  test('holds copies per session, replaces by salt, forgets on expiry, drop and dropAccount, zeroing what it held', () => {
    const cache = new KeyUnlockCache();
    const now = new Date('2026-01-01T00:00:00Z');
    const kek = Buffer.alloc(32, 1);
    cache.put('acc', 's1', new Date(now.getTime() + 1000), kdf(1), kek);
    kek.fill(9);
    const [held] = cache.held('acc', now);
    assert.deepEqual(held!.kek, Buffer.alloc(32, 1), 'a copy is held');
    cache.put('acc', 's1', new Date(now.getTime() + 1000), kdf(1), Buffer.alloc(32, 2));
    assert.deepEqual(held!.kek, Buffer.alloc(32, 0), 'the replaced KEK is zeroed');
    cache.put('acc', 's1', new Date(now.getTime() + 1000), kdf(2), Buffer.alloc(32, 3));
    cache.put('acc', 's2', new Date(now.getTime() + 5000), kdf(1), Buffer.alloc(32, 4));
    cache.put('other', 's3', new Date(now.getTime() + 5000), kdf(1), Buffer.alloc(32, 5));
    assert.equal(cache.held('acc', now).length, 3);
    const s2 = cache.held('acc', now).find((h) => h.sessionId === 's2')!;
    assert.equal(cache.held('acc', new Date(now.getTime() + 2000)).length, 1, 's1 expired');
    cache.drop('s2');
    assert.deepEqual(s2.kek, Buffer.alloc(32, 0));
    assert.deepEqual(cache.held('acc', now), []);
    cache.dropAccount('other');
    assert.equal(cache.size, 0);
  });

  test('keeps opened keys only while the account holds a KEK, only for the same wrapped copy', () => {
    const cache = new KeyUnlockCache();
    const later = new Date('2030-01-01T00:00:00Z');
    const key = { name: 'a parsed key' } as unknown as openpgp.PrivateKey;
    cache.keepOpened('acc', 'fp', 'sealed-1', key);
    assert.equal(cache.openedKey('acc', 'fp', 'sealed-1'), undefined, 'nothing kept for an account holding no KEK');
    cache.put('acc', 's1', later, kdf(1), Buffer.alloc(32, 1));
    cache.put('acc', 's2', later, kdf(1), Buffer.alloc(32, 1));
    cache.keepOpened('acc', 'fp', 'sealed-1', key);
    assert.equal(cache.openedKey('acc', 'fp', 'sealed-1'), key);
    assert.equal(
      cache.openedKey('acc', 'fp', 'sealed-2'),
      undefined,
      'another wrapped copy (re-wrapped) is opened anew',
    );
    assert.equal(cache.openedKey('other', 'fp', 'sealed-1'), undefined);
    cache.drop('s1');
    assert.equal(cache.openedKey('acc', 'fp', 'sealed-1'), key, 'kept while another session holds a KEK');
    cache.drop('s2');
    assert.equal(cache.openedKey('acc', 'fp', 'sealed-1'), undefined, 'gone with the last session');
    cache.put('acc', 's3', later, kdf(1), Buffer.alloc(32, 1));
    cache.keepOpened('acc', 'fp', 'sealed-1', key);
    cache.dropAccount('acc');
    assert.equal(
      cache.openedKey('acc', 'fp', 'sealed-1'),
      undefined,
      'gone at a password change or a disabled account',
    );
  });
});
