/**
 * The account's own OpenPGP keys through the HTTP API, on a real instance process (embedded engines, DNS responder):
 * - server mode: the private key is kept encrypted — no stored byte (every file of the data directory, every row of
 *   instance.db, queue.db and search.db) nor log line holds it or the key that unwraps it; the server can use it only
 *   after a login (a restarted process cannot, until the user signs in again);
 * - client mode: the private key never reaches the server (same scan, and the logs);
 * - the account PI is higher in client mode than the same account in server mode, and follows each switch;
 * - the active key is published by DNS (RFC 7929), and no longer once revoked;
 * - hostile input gets precise problem+json codes and changes nothing.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, test } from 'vitest';
import Database from 'better-sqlite3';
import * as openpgp from 'openpgp';
import { startInstance, type RunningInstance } from '@caliopen/instance/app/instance.app.ts';
import { createLogger } from '@caliopen/instance/app/logger.ts';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import { loadConfig } from '@caliopen/instance/config/config.loader.ts';
import { lookupOpenPgpKey } from '@caliopen/instance/discovery/dns-key.lookup.ts';
import { deriveKek } from '@caliopen/instance/keys/account-key.wrap.ts';
import { generateTestKey, type TestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import { type Api, type ApiResponse, jsonApi } from '../support/api-client.ts';
import { tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/net.ts';

type Res = ApiResponse;

/** The ways a secret could sit in storage or logs: raw bytes, hex, base64 and base64url at every byte alignment. */
function formsOf(secret: Uint8Array): { bytes: Buffer; text: string[] } {
  const raw = Buffer.from(secret);
  const text = [raw.toString('hex'), raw.toString('hex').toUpperCase()];
  for (let shift = 0; shift < 3; shift++) {
    const shifted = Buffer.concat([Buffer.alloc(shift), raw]);
    for (const enc of ['base64', 'base64url'] as const) {
      const s = shifted.toString(enc);
      text.push(s.slice(4, s.length - 4));
    }
  }
  return { bytes: raw, text };
}

/** The secret parts of an unlocked private key: each secret (sub)key's private parameters. */
function secretParts(key: openpgp.PrivateKey): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const k of key.getKeys()) {
    const params = (k.keyPacket as unknown as { privateParams: Record<string, unknown> | null }).privateParams;
    assert.ok(params, 'the key is unlocked');
    for (const v of Object.values(params)) if (v instanceof Uint8Array && v.length >= 16) out.push(v);
  }
  assert.ok(out.length >= 2, 'primary and subkey secrets found');
  return out;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Every row of every table of the SQLite files (read-only, beside the running instance), values flattened. */
function allRows(dataDir: string): { where: string; bytes: Buffer[]; text: string }[] {
  const out: { where: string; bytes: Buffer[]; text: string }[] = [];
  for (const file of ['instance.db', 'queue.db', 'search.db']) {
    const db = new Database(join(dataDir, file), { readonly: true, fileMustExist: true });
    try {
      const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all();
      assert.ok(tables.length > 0, `${file} has tables`);
      for (const { name } of tables) {
        for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]) {
          const bytes = Object.values(row).filter((v): v is Buffer => Buffer.isBuffer(v));
          const text = Object.values(row)
            .map((v) =>
              Buffer.isBuffer(v) ? `${v.toString('hex')} ${v.toString('base64')} ${v.toString('latin1')}` : String(v),
            )
            .join('\u0000');
          out.push({ where: `${file}:${name}`, bytes, text });
        }
      }
    } finally {
      db.close();
    }
  }
  return out;
}

/**
 * Asserts that none of the secrets appears in any stored byte, any row, or the logs. `stored` (the public key) must
 * be found by the same scan: it is not vacuous.
 */
function assertNowhere(
  dataDir: string,
  logs: string,
  stored: Uint8Array,
  secrets: Record<string, Uint8Array | string>,
): void {
  const files = filesUnder(dataDir).map((path) => ({ path, content: readFileSync(path) }));
  assert.ok(files.some((f) => f.path.endsWith('instance.db')));
  const rows = allRows(dataDir);
  assert.ok(
    rows.some((r) => r.where === 'instance.db:account_keys'),
    'the key rows are among those scanned',
  );
  const control = formsOf(stored);
  assert.ok(
    files.some((f) => f.content.indexOf(control.bytes) >= 0),
    'the scan finds the stored public key in the files',
  );
  assert.ok(
    rows.some(
      (r) => r.bytes.some((b) => b.indexOf(control.bytes) >= 0) && control.text.some((t) => r.text.includes(t)),
    ),
    'and in the rows',
  );
  assert.ok(logs.includes('"msg":"login"') && logs.includes('/api/v1/keys'), 'the logs captured the session');
  for (const [what, secret] of Object.entries(secrets)) {
    const forms = typeof secret === 'string' ? { bytes: Buffer.from(secret, 'utf8'), text: [secret] } : formsOf(secret);
    for (const f of files) {
      assert.equal(f.content.indexOf(forms.bytes), -1, `${what} (raw) in ${f.path}`);
      const latin1 = f.content.toString('latin1');
      for (const t of forms.text) assert.ok(!latin1.includes(t), `${what} (${t.slice(0, 6)}…) in ${f.path}`);
    }
    for (const r of rows) {
      for (const b of r.bytes) assert.equal(b.indexOf(forms.bytes), -1, `${what} (raw) in a row of ${r.where}`);
      for (const t of forms.text) assert.ok(!r.text.includes(t), `${what} in a row of ${r.where}`);
    }
    for (const t of [...forms.text, forms.bytes.toString('latin1')])
      assert.ok(!logs.includes(t), `${what} in the logs`);
  }
}

describe('account keys over the API', () => {
  const tmp = tempDir('caliopen-account-keys-');
  const sink = new PassThrough();
  let logs = '';
  sink.on('data', (d) => (logs += d));
  let config: ReturnType<typeof loadConfig>;
  let running: RunningInstance;
  const passwords = { sam: 'sam-password-0123456789', cleo: 'cleo-password-0123456789' };
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  let cleoKey: TestKey;
  let stranger: TestKey;

  /** The API of the instance running now (it restarts). */
  const api: Api = (method, path, o) => jsonApi(running.url)(method, path, o);

  function problem(r: Res, status: number, code: string | string[], what: string): void {
    assert.equal(r.status, status, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
    assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
    assert.ok([code].flat().includes(r.body.code), `${what}: ${r.body.code} ${r.body.detail ?? ''}`);
  }

  async function login(username: 'sam' | 'cleo'): Promise<string> {
    const r = await api('POST', '/api/v1/auth/login', { body: { username, password: passwords[username] } });
    assert.equal(r.status, 200, r.text);
    return r.body.token as string;
  }

  const start = async () => {
    running = await startInstance(config, { logger: createLogger('trace', sink) });
  };

  /** The account PI as GET /api/v1/privacy computes it, and its key-storage factor. */
  async function accountPi(token: string): Promise<{ score: number; keys: number }> {
    const r = await api('GET', '/api/v1/privacy', { token });
    assert.equal(r.status, 200, r.text);
    const factor = (r.body.account.factors as { id: string; contribution: number }[]).find(
      (f) => f.id === 'keys.storage',
    );
    assert.ok(factor, 'the breakdown names the key storage');
    return { score: r.body.account.score, keys: factor.contribution };
  }

  /** The PI stored for the account converges (the 'pi' queue ran the summary job the change enqueued). */
  async function storedPiSettles(accountId: string, score: number): Promise<void> {
    await waitFor(async () => (await running.services.storage.accounts.getPi(accountId))?.score === score, 15_000);
  }

  beforeAll(async () => {
    await initInstance({ domain: 'alpha.test', dataDir: tmp.dir, httpPort: '0' }, () => {});
    config = loadConfig({
      dataDir: tmp.dir,
      env: {
        CALIOPEN_LOGIN_RATE_LIMIT: '10000',
        CALIOPEN_HTTPS_PORT: '0',
        CALIOPEN_DNS_ENABLED: 'true',
        CALIOPEN_DNS_PORT: '0',
        CALIOPEN_DNS_ADDRESSES: '127.0.0.1',
      },
      overrides: { log: { level: 'trace' } },
    });
    await start();
    for (const username of ['sam', 'cleo'] as const) {
      ids[username] = (
        await running.services.accounts.create({
          username,
          password: passwords[username],
          displayName: username === 'sam' ? 'Sam Server' : 'Cleo Client',
        })
      ).id;
      tokens[username] = await login(username);
    }
    // Cleo's key is made on her device (here: the test), never by the instance.
    cleoKey = await generateTestKey('cleo@alpha.test', { name: 'Cleo Client' });
    stranger = await generateTestKey('cleo@elsewhere.example');
  });
  afterAll(async () => {
    await running?.stop();
    tmp.cleanup();
  });

  test('server mode: generated, published by DNS, unreadable at rest, unlocked only after a login', async () => {
    const empty = await api('GET', '/api/v1/keys', { token: tokens.sam });
    assert.deepEqual(empty.body, { mode: 'none', unlocked: false, items: [], address: 'sam@alpha.test' });
    problem(
      await api('POST', '/api/v1/keys', { token: tokens.sam, body: { mode: 'server' } }),
      400,
      'key_request_invalid',
      'no password',
    );
    problem(
      await api('POST', '/api/v1/keys', { token: tokens.sam, body: { mode: 'server', password: 'not-the-password' } }),
      401,
      'invalid_credentials',
      'wrong password',
    );

    const created = await api('POST', '/api/v1/keys', {
      token: tokens.sam,
      body: { mode: 'server', password: passwords.sam },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.mode, 'server');
    const key = created.body.key;
    assert.match(key.fingerprint, /^[0-9a-f]{40}$/);
    assert.equal(key.fingerprintGrouped.replace(/\s/g, '').toLowerCase(), key.fingerprint);
    assert.deepEqual(key.userIds, ['Sam Server <sam@alpha.test>']);
    assert.deepEqual(
      [key.status, key.heldBy, key.version, key.algorithm, key.revocationHeld],
      ['active', 'server', 4, 'ed25519', true],
    );
    const listed = await api('GET', '/api/v1/keys', { token: tokens.sam });
    assert.equal(listed.body.mode, 'server');
    assert.equal(listed.body.unlocked, true, 'the session that gave the password holds the unlock');

    // Published: one real DNS lookup (RFC 7929) against the instance's responder gives the stored public key.
    const stored = (await running.services.storage.accountKeys.get(ids.sam!, key.fingerprint))!;
    const found = await lookupOpenPgpKey('sam@alpha.test', {
      servers: [`127.0.0.1:${running.dns!.udpPort}`],
      timeoutMs: 2000,
    });
    assert.equal(found.error, null);
    assert.deepEqual(found.key, stored.publicKey);
    assert.equal((await openpgp.readKey({ binaryKey: found.key! })).isPrivate(), false);

    // At rest: neither the private key (any of its secret parts, the armoured key) nor the KEK nor the password.
    const unlocked = (await running.services.accountKeys.unlocked(ids.sam!))!;
    assert.equal(unlocked.getFingerprint(), key.fingerprint);
    const kek = await deriveKek(passwords.sam, stored.privateKey!.kek);
    const secrets: Record<string, Uint8Array | string> = {
      'the KEK': kek,
      'the password': passwords.sam,
      'the armoured private key': unlocked.armor().split('\n')[3]!,
    };
    secretParts(unlocked).forEach((s, i) => {
      secrets[`secret part ${i}`] = s;
    });
    assertNowhere(tmp.dir, logs, stored.publicKey, secrets);

    // Logout drops the unlock; a restarted process holds nothing until the user signs in again.
    assert.equal((await api('POST', '/api/v1/auth/logout', { token: tokens.sam })).status, 204);
    assert.equal(await running.services.accountKeys.unlocked(ids.sam!), null, 'logged out: locked');
    tokens.sam = await login('sam');
    assert.ok(await running.services.accountKeys.unlocked(ids.sam!), 'signed in: unlocked');
    await running.stop();
    await start();
    assert.equal(await running.services.accountKeys.unlocked(ids.sam!), null, 'a restarted process cannot use the key');
    assert.equal(
      (await api('GET', '/api/v1/keys', { token: tokens.sam })).body.unlocked,
      false,
      'the old token still works, the key stays locked',
    );
    tokens.sam = await login('sam');
    assert.equal(
      (await running.services.accountKeys.unlocked(ids.sam!))!.getFingerprint(),
      key.fingerprint,
      'unlocked by the login',
    );
    assert.equal((await api('GET', '/api/v1/keys', { token: tokens.sam })).body.unlocked, true);
  });

  test('client mode: the private key never reaches the server; the account PI is higher than in server mode and follows each switch', async () => {
    const before = await accountPi(tokens.cleo!);
    assert.equal(before.keys, 0, 'no key yet');
    const created = await api('POST', '/api/v1/keys', {
      token: tokens.cleo,
      body: { mode: 'client', armoredPublicKey: cleoKey.armoredPublic },
    });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(
      [created.body.mode, created.body.key.heldBy, created.body.key.fingerprint],
      ['client', 'client', cleoKey.fingerprint],
    );
    assert.equal((await api('GET', '/api/v1/keys', { token: tokens.cleo })).body.unlocked, false);
    assert.equal(await running.services.accountKeys.unlocked(ids.cleo!), null);
    const client = await accountPi(tokens.cleo!);
    assert.equal(client.keys, 20);
    await storedPiSettles(ids.cleo!, client.score);

    // The private key stays on her device: no stored byte, row or log line holds any of it.
    const secrets: Record<string, Uint8Array | string> = {
      'the armoured private key': cleoKey.armoredPrivate.split('\n')[3]!,
    };
    secretParts(cleoKey.privateKey).forEach((s, i) => {
      secrets[`secret part ${i}`] = s;
    });
    assertNowhere(tmp.dir, logs, cleoKey.publicKey.write(), secrets);

    // To server mode: she uploads the key (protected by a passphrase) with her password; the PI goes down.
    const upload = (
      await openpgp.encryptKey({ privateKey: cleoKey.privateKey, passphrase: 'device passphrase' })
    ).armor();
    problem(
      await api('POST', '/api/v1/keys/mode', {
        token: tokens.cleo,
        body: { mode: 'server', password: passwords.cleo, armoredPrivateKey: upload, passphrase: 'wrong one' },
      }),
      422,
      'key_passphrase_wrong',
      'wrong passphrase',
    );
    problem(
      await api('POST', '/api/v1/keys/mode', {
        token: tokens.cleo,
        body: { mode: 'server', password: passwords.cleo, armoredPrivateKey: stranger.armoredPrivate },
      }),
      422,
      'key_not_yours',
      'someone else’s key',
    );
    const toServer = await api('POST', '/api/v1/keys/mode', {
      token: tokens.cleo,
      body: { mode: 'server', password: passwords.cleo, armoredPrivateKey: upload, passphrase: 'device passphrase' },
    });
    assert.equal(toServer.status, 200, toServer.text);
    assert.deepEqual(
      [toServer.body.mode, toServer.body.exported, toServer.body.items[0].heldBy],
      ['server', null, 'server'],
    );
    assert.equal((await running.services.accountKeys.unlocked(ids.cleo!))!.getFingerprint(), cleoKey.fingerprint);
    const server = await accountPi(tokens.cleo!);
    assert.equal(server.keys, 10);
    assert.ok(client.score > server.score, `client mode ${client.score} > server mode ${server.score}`);
    await storedPiSettles(ids.cleo!, server.score);

    // Back to client mode: the key is handed out once, protected by her passphrase, and the server copy is erased.
    problem(
      await api('POST', '/api/v1/keys/mode', {
        token: tokens.cleo,
        body: { mode: 'server', password: passwords.cleo },
      }),
      409,
      'key_mode_unchanged',
      'already server',
    );
    const toClient = await api('POST', '/api/v1/keys/mode', {
      token: tokens.cleo,
      body: { mode: 'client', password: passwords.cleo, exportPassphrase: 'my new device passphrase' },
    });
    assert.equal(toClient.status, 200, toClient.text);
    assert.equal(toClient.body.mode, 'client');
    const handedOut = await openpgp.decryptKey({
      privateKey: await openpgp.readPrivateKey({ armoredKey: toClient.body.exported }),
      passphrase: 'my new device passphrase',
    });
    assert.equal(handedOut.getFingerprint(), cleoKey.fingerprint);
    assert.equal((await running.services.storage.accountKeys.get(ids.cleo!, cleoKey.fingerprint))!.privateKey, null);
    assert.equal(await running.services.accountKeys.unlocked(ids.cleo!), null);
    const again = await accountPi(tokens.cleo!);
    assert.deepEqual(again, client, 'the PI is back where client mode puts it');
    await storedPiSettles(ids.cleo!, client.score);
    problem(
      await api('POST', '/api/v1/keys/export', { token: tokens.cleo, body: { password: passwords.cleo } }),
      409,
      'key_mode_mismatch',
      'nothing to export',
    );
  });

  test('export and revoke (server mode): the export leaves the key; a revoked key is no longer published', async () => {
    const exported = await api('POST', '/api/v1/keys/export', {
      token: tokens.sam,
      body: { password: passwords.sam, exportPassphrase: 'backup passphrase!' },
    });
    assert.equal(exported.status, 200, exported.text);
    const key = await openpgp.decryptKey({
      privateKey: await openpgp.readPrivateKey({ armoredKey: exported.body.armored }),
      passphrase: 'backup passphrase!',
    });
    const fingerprint = key.getFingerprint();
    problem(
      await api('POST', '/api/v1/keys/export', { token: tokens.sam, body: { password: 'wrong password!' } }),
      401,
      'invalid_credentials',
      'export asks the password',
    );

    problem(
      await api('POST', `/api/v1/keys/${'e'.repeat(40)}/revoke`, { token: tokens.sam, body: {} }),
      404,
      'not_found',
      'unknown key',
    );
    problem(
      await api('POST', `/api/v1/keys/${fingerprint}/revoke`, { token: tokens.cleo, body: {} }),
      404,
      'not_found',
      'someone else’s key',
    );
    problem(
      await api('POST', '/api/v1/keys/not-a-fingerprint/revoke', { token: tokens.sam, body: {} }),
      400,
      'validation_failed',
      'bad fingerprint',
    );
    const revoked = await api('POST', `/api/v1/keys/${fingerprint.toUpperCase()}/revoke`, {
      token: tokens.sam,
      body: {},
    });
    assert.equal(revoked.status, 200, revoked.text);
    assert.equal(revoked.body.mode, 'none');
    assert.equal(revoked.body.items[0].status, 'revoked');
    const carried = await openpgp.readKey({ armoredKey: revoked.body.items[0].armored });
    assert.equal(await carried.isRevoked(), true, 'the listed public key carries the revocation');
    const found = await lookupOpenPgpKey('sam@alpha.test', {
      servers: [`127.0.0.1:${running.dns!.udpPort}`],
      timeoutMs: 2000,
    });
    assert.equal(found.key, null, 'no longer published');
  });

  test('a password change carries the server-held key over: the new password unlocks it, the old one no longer', async () => {
    const pat = await running.services.accounts.create({ username: 'pat', password: 'pat-password-0123456789' });
    let token = (
      await api('POST', '/api/v1/auth/login', { body: { username: 'pat', password: 'pat-password-0123456789' } })
    ).body.token as string;
    const created = await api('POST', '/api/v1/keys', {
      token,
      body: { mode: 'server', password: 'pat-password-0123456789' },
    });
    assert.equal(created.status, 201, created.text);
    const changed = await api('POST', '/api/v1/me/password', {
      token,
      body: { currentPassword: 'pat-password-0123456789', newPassword: 'pat-new-password-987654' },
    });
    assert.equal(changed.status, 204, changed.text);
    assert.equal(await running.services.accountKeys.unlocked(pat.id), null, 'every session ended: locked');
    token = (
      await api('POST', '/api/v1/auth/login', { body: { username: 'pat', password: 'pat-new-password-987654' } })
    ).body.token as string;
    assert.equal(
      (await running.services.accountKeys.unlocked(pat.id))!.getFingerprint(),
      created.body.key.fingerprint,
      'the new password unlocks it',
    );
    problem(
      await api('POST', '/api/v1/keys/export', { token, body: { password: 'pat-password-0123456789' } }),
      401,
      'invalid_credentials',
      'the old password',
    );
    const exported = await api('POST', '/api/v1/keys/export', { token, body: { password: 'pat-new-password-987654' } });
    assert.equal(exported.status, 200, exported.text);
    await openpgp.decryptKey({
      privateKey: await openpgp.readPrivateKey({ armoredKey: exported.body.armored }),
      passphrase: 'pat-new-password-987654',
    });
  });

  test('hostile input: clear problem codes, nothing stored', async () => {
    const snapshot = async () =>
      JSON.stringify(
        await Promise.all([ids.sam!, ids.cleo!].map((id) => running.services.storage.accountKeys.listByAccount(id))),
      );
    const before = await snapshot();
    const protectedKey = (await openpgp.encryptKey({ privateKey: stranger.privateKey, passphrase: 'p' })).armor();
    const cases: [string, unknown, number, string | string[]][] = [
      [
        'bad armour',
        {
          mode: 'client',
          armoredPublicKey: '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n!!!!\n-----END PGP PUBLIC KEY BLOCK-----',
        },
        422,
        'key_malformed',
      ],
      ['no armour at all', { mode: 'client', armoredPublicKey: 'hello' }, 422, 'key_malformed'],
      [
        'truncated packets',
        {
          mode: 'client',
          armoredPublicKey: openpgp.armor(openpgp.enums.armor.publicKey, cleoKey.publicKey.write().subarray(0, 40)),
        },
        422,
        ['key_malformed', 'key_unusable'],
      ],
      ['someone else’s key', { mode: 'client', armoredPublicKey: stranger.armoredPublic }, 422, 'key_address_mismatch'],
      ['another local user’s key', { mode: 'client', armoredPublicKey: cleoKey.armoredPublic }, 409, 'key_exists'],
      [
        'a private key where the public one is expected',
        { mode: 'client', armoredPublicKey: cleoKey.armoredPrivate },
        422,
        'key_private',
      ],
      [
        'a public key where the private one is expected',
        { mode: 'server', password: passwords.sam, armoredPrivateKey: cleoKey.armoredPublic },
        422,
        'key_not_private',
      ],
      [
        'wrong passphrase',
        { mode: 'server', password: passwords.sam, armoredPrivateKey: protectedKey, passphrase: 'nope' },
        422,
        'key_passphrase_wrong',
      ],
      [
        'a private key for another address',
        { mode: 'server', password: passwords.sam, armoredPrivateKey: protectedKey, passphrase: 'p' },
        422,
        'key_address_mismatch',
      ],
      [
        'oversize public key',
        { mode: 'client', armoredPublicKey: `${cleoKey.armoredPublic}\n${'A'.repeat(100 * 1024)}` },
        422,
        'key_too_large',
      ],
      [
        'oversize private key',
        { mode: 'server', password: passwords.sam, armoredPrivateKey: `${protectedKey}\n${'A'.repeat(300 * 1024)}` },
        422,
        'key_too_large',
      ],
      ['over the schema limit', { mode: 'client', armoredPublicKey: 'A'.repeat(300 * 1024) }, 400, 'validation_failed'],
      [
        'client mode with a password',
        { mode: 'client', password: passwords.sam, armoredPublicKey: cleoKey.armoredPublic },
        400,
        'key_request_invalid',
      ],
      ['client mode without a key', { mode: 'client' }, 400, 'key_request_invalid'],
      ['an unknown mode', { mode: 'cloud', password: passwords.sam }, 400, 'validation_failed'],
    ];
    for (const [what, body, status, code] of cases) {
      // Cleo's own key is the "known" case; everything else is sent by Sam, who has no active key now.
      const token = code === 'key_exists' ? tokens.cleo : tokens.sam;
      problem(await api('POST', '/api/v1/keys', { token, body }), status, code, what);
    }
    problem(
      await api('POST', '/api/v1/keys', {
        token: tokens.sam,
        body: { mode: 'client', armoredPublicKey: cleoKey.armoredPublic },
      }),
      422,
      'key_address_mismatch',
      'Cleo’s key for Sam',
    );
    problem(
      await api('POST', '/api/v1/keys/mode', { token: tokens.sam, body: { mode: 'client', password: passwords.sam } }),
      409,
      'key_none',
      'switching without a key',
    );
    assert.equal(await snapshot(), before, 'no key row changed');
    assert.equal((await api('GET', '/api/v1/keys', { token: tokens.sam })).status, 200, 'still serving');
  });
});
