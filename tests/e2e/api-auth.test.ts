/**
 * The account, session, device and admin API over real HTTP against a running instance (embedded engines).
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { generate } from 'otplib';
import { startTestInstance, type ApiResponse, type TestInstance } from '../support/instance.ts';

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0';
const ANDROID =
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36';

function assertProblem(r: ApiResponse, status: number, code: string): void {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.text}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
  assert.equal(r.body.code, code);
  assert.equal(r.body.status, status);
  assert.equal(r.body.type, `urn:caliopen:problem:${code}`);
  assert.equal(typeof r.body.title, 'string');
  assert.equal(r.body.requestId, r.headers.get('x-request-id'));
}

// A clock the tests move forward: expiry and TOTP windows without waiting.
let now = Date.parse('2026-11-22T10:00:00.000Z');
const clock = () => new Date(now);

describe('accounts, sessions and devices over HTTP', () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await startTestInstance({ clock });
  });
  afterAll(async () => {
    await inst.stop();
  });

  test('login records the device from the user agent; /me answers; logout ends the token', async () => {
    await inst.running.services.accounts.create({ username: 'alice', password: 'alice-password-1' });
    const login = await inst.api('POST', '/api/v1/auth/login', {
      body: { username: 'Alice', password: 'alice-password-1' },
      headers: { 'user-agent': FIREFOX },
    });
    assert.equal(login.status, 200, login.text);
    assert.match(login.body.token, /^cal_[A-Za-z0-9_-]{43}$/);
    assert.equal(login.body.tokenType, 'Bearer');
    assert.equal(login.body.account.username, 'alice');
    assert.equal(login.body.account.passwordHash, undefined, 'no hash on the wire');
    assert.deepEqual(
      {
        name: login.body.device.name,
        type: login.body.device.type,
        os: login.body.device.os,
        browser: login.body.device.browser,
      },
      { name: 'Firefox on Linux', type: 'desktop', os: 'Linux', browser: 'Firefox' },
    );
    const me = await inst.api('GET', '/api/v1/me', { token: login.body.token });
    assert.equal(me.status, 200);
    assert.equal(me.body.username, 'alice');
    assert.equal(me.headers.get('cache-control'), 'no-store');

    // The token is stored only as a hash.
    const stored = await inst.running.services.storage.sessions.listByAccount(login.body.account.id);
    assert.ok(
      stored.every((s) => s.tokenHash !== login.body.token && !s.tokenHash.includes(login.body.token.slice(4))),
    );

    const out = await inst.api('POST', '/api/v1/auth/logout', { token: login.body.token });
    assert.equal(out.status, 204);
    assertProblem(await inst.api('GET', '/api/v1/me', { token: login.body.token }), 401, 'token_revoked');
  });

  test('wrong password and unknown user give the same answer; disabled accounts cannot log in', async () => {
    await inst.running.services.accounts.create({ username: 'bruno', password: 'bruno-password-1' });
    assertProblem(
      await inst.api('POST', '/api/v1/auth/login', { body: { username: 'bruno', password: 'nope-nope-nope' } }),
      401,
      'invalid_credentials',
    );
    assertProblem(
      await inst.api('POST', '/api/v1/auth/login', { body: { username: 'nobody', password: 'nope-nope-nope' } }),
      401,
      'invalid_credentials',
    );
  });

  test('the full address on this instance signs in like the username; an address of another domain is told where to go', async () => {
    await inst.running.services.accounts.create({ username: 'beatriz', password: 'beatriz-password-1' });
    for (const given of ['beatriz@alpha.test', ' Beatriz@Alpha.Test ']) {
      const r = await inst.api('POST', '/api/v1/auth/login', {
        body: { username: given, password: 'beatriz-password-1' },
      });
      assert.equal(r.status, 200, `${given}: ${r.text}`);
      assert.equal(r.body.account.username, 'beatriz');
    }
    const elsewhere = await inst.api('POST', '/api/v1/auth/login', {
      body: { username: 'beatriz@beta.test', password: 'beatriz-password-1' },
    });
    assertProblem(elsewhere, 401, 'invalid_credentials');
    assert.match(elsewhere.body.detail, /not an address of alpha\.test.*instance that serves beta\.test/);
    // The wrong password with the full address: the same answer as with the username.
    assertProblem(
      await inst.api('POST', '/api/v1/auth/login', {
        body: { username: 'beatriz@alpha.test', password: 'nope-nope-nope' },
      }),
      401,
      'invalid_credentials',
    );
  });

  test('tokens: missing, malformed, forged, expired', async () => {
    assertProblem(await inst.api('GET', '/api/v1/me'), 401, 'unauthenticated');
    assertProblem(
      await inst.api('GET', '/api/v1/me', { headers: { authorization: 'Basic Zm9vOmJhcg==' } }),
      401,
      'token_invalid',
    );
    assertProblem(await inst.api('GET', '/api/v1/me', { token: 'not-a-token' }), 401, 'token_invalid');
    // Well-formed, but never issued: a forged token.
    assertProblem(await inst.api('GET', '/api/v1/me', { token: `cal_${'A'.repeat(43)}` }), 401, 'token_invalid');
    const u = await inst.user('carla');
    // Same length, one character changed.
    const forged = u.token.slice(0, -1) + (u.token.endsWith('A') ? 'B' : 'A');
    assertProblem(await inst.api('GET', '/api/v1/me', { token: forged }), 401, 'token_invalid');
    assert.equal((await inst.api('GET', '/api/v1/me', { token: u.token })).status, 200);
    now += 31 * 24 * 3600 * 1000; // past the 30-day session lifetime
    assertProblem(await inst.api('GET', '/api/v1/me', { token: u.token }), 401, 'token_expired');
  });

  test('two-factor: enrol, confirm, then logins need a current code; codes cannot be replayed', async () => {
    const u = await inst.user('dora');
    const begin = await inst.api('POST', '/api/v1/me/totp', { token: u.token });
    assert.equal(begin.status, 200);
    assert.match(begin.body.otpauthUri, /^otpauth:\/\/totp\/.*secret=/);
    const secret: string = begin.body.secret;
    // The stored seed is sealed, not the secret itself.
    const stored = await inst.running.services.storage.accounts.get(u.id);
    assert.ok(stored?.totpPendingSealed && !stored.totpPendingSealed.includes(secret));

    const code = (offsetSeconds = 0) => generate({ secret, epoch: Math.floor(now / 1000) + offsetSeconds });
    assertProblem(
      await inst.api('POST', '/api/v1/me/totp/confirm', {
        token: u.token,
        body: { code: '000000' === (await code()) ? '111111' : '000000' },
      }),
      401,
      'totp_invalid',
    );
    assert.equal(
      (await inst.api('POST', '/api/v1/me/totp/confirm', { token: u.token, body: { code: await code() } })).status,
      204,
    );
    assert.equal((await inst.api('GET', '/api/v1/me', { token: u.token })).body.totpEnabled, true);

    now += 60_000;
    assertProblem(
      await inst.api('POST', '/api/v1/auth/login', { body: { username: 'dora', password: u.password } }),
      401,
      'totp_required',
    );
    assertProblem(
      await inst.api('POST', '/api/v1/auth/login', { body: { username: 'dora', password: u.password, totp: '12345' } }),
      401,
      'totp_invalid',
    );
    const wrong = String((Number(await code()) + 1) % 1_000_000).padStart(6, '0');
    assertProblem(
      await inst.api('POST', '/api/v1/auth/login', { body: { username: 'dora', password: u.password, totp: wrong } }),
      401,
      'totp_invalid',
    );
    const good = await code();
    const ok = await inst.api('POST', '/api/v1/auth/login', {
      body: { username: 'dora', password: u.password, totp: good },
    });
    assert.equal(ok.status, 200, ok.text);
    assertProblem(
      await inst.api('POST', '/api/v1/auth/login', { body: { username: 'dora', password: u.password, totp: good } }),
      401,
      'totp_invalid',
    );
    // The right code with the wrong password is still a wrong password.
    now += 60_000;
    assertProblem(
      await inst.api('POST', '/api/v1/auth/login', {
        body: { username: 'dora', password: 'wrong-password-1', totp: await code() },
      }),
      401,
      'invalid_credentials',
    );

    assertProblem(await inst.api('POST', '/api/v1/me/totp', { token: ok.body.token }), 409, 'totp_already_enabled');
    assert.equal(
      (await inst.api('POST', '/api/v1/me/totp/disable', { token: ok.body.token, body: { code: await code() } }))
        .status,
      204,
    );
    assert.equal(
      (await inst.api('POST', '/api/v1/auth/login', { body: { username: 'dora', password: u.password } })).status,
      200,
    );
  });

  test('devices: listed, reused by id, revoking one ends its sessions only', async () => {
    const u = await inst.user('emile');
    const phone = await inst.api('POST', '/api/v1/auth/login', {
      body: { username: 'emile', password: u.password, deviceName: 'My phone' },
      headers: { 'user-agent': ANDROID },
    });
    assert.equal(phone.body.device.name, 'My phone');
    assert.equal(phone.body.device.type, 'mobile');
    assert.equal(phone.body.device.os, 'Android');
    const again = await inst.api('POST', '/api/v1/auth/login', {
      body: { username: 'emile', password: u.password, deviceId: phone.body.device.id },
      headers: { 'user-agent': ANDROID },
    });
    assert.equal(again.body.device.id, phone.body.device.id, 'the same device, not a new one');

    const list = await inst.api('GET', '/api/v1/devices', { token: u.token });
    assert.equal(list.body.items.length, 2);
    assert.equal(list.body.items.find((d: { current: boolean }) => d.current).id, u.deviceId);

    const revoked = await inst.api('DELETE', `/api/v1/devices/${phone.body.device.id}`, { token: u.token });
    assert.equal(revoked.status, 200);
    assert.ok(revoked.body.revokedAt);
    assertProblem(await inst.api('GET', '/api/v1/me', { token: phone.body.token }), 401, 'token_revoked');
    assertProblem(await inst.api('GET', '/api/v1/me', { token: again.body.token }), 401, 'token_revoked');
    assert.equal((await inst.api('GET', '/api/v1/me', { token: u.token })).status, 200, 'the other device still works');
    // A revoked device id cannot be reused: the next login records a new device.
    const relog = await inst.api('POST', '/api/v1/auth/login', {
      body: { username: 'emile', password: u.password, deviceId: phone.body.device.id },
    });
    assert.notEqual(relog.body.device.id, phone.body.device.id);
    assertProblem(await inst.api('GET', '/api/v1/devices/not-a-uuid', { token: u.token }), 400, 'validation_failed');
  });

  test('password change ends every session', async () => {
    const u = await inst.user('fanny');
    assertProblem(
      await inst.api('POST', '/api/v1/me/password', {
        token: u.token,
        body: { currentPassword: 'wrong-one-123', newPassword: 'new-password-123' },
      }),
      401,
      'invalid_credentials',
    );
    assertProblem(
      await inst.api('POST', '/api/v1/me/password', {
        token: u.token,
        body: { currentPassword: u.password, newPassword: 'short' },
      }),
      400,
      'password_too_weak',
    );
    assert.equal(
      (await inst.api('GET', '/api/v1/me', { token: u.token })).status,
      200,
      'refused changes left the session alone',
    );
    assert.equal(
      (
        await inst.api('POST', '/api/v1/me/password', {
          token: u.token,
          body: { currentPassword: u.password, newPassword: 'new-password-123' },
        })
      ).status,
      204,
    );
    assertProblem(await inst.api('GET', '/api/v1/me', { token: u.token }), 401, 'token_revoked');
    assertProblem(
      await inst.api('POST', '/api/v1/auth/login', { body: { username: 'fanny', password: u.password } }),
      401,
      'invalid_credentials',
    );
    assert.equal(
      (await inst.api('POST', '/api/v1/auth/login', { body: { username: 'fanny', password: 'new-password-123' } }))
        .status,
      200,
    );
  });

  test('admin: create, list with paging, change, disable; conflicts and invalid input change nothing', async () => {
    const admin = await inst.user('root', 'admin');
    const created = await inst.api('POST', '/api/v1/admin/users', {
      token: admin.token,
      body: { username: 'Gaston', password: 'gaston-password-1', displayName: 'Gaston L.', quotaBytes: 1024 },
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.username, 'gaston');
    assert.equal(created.body.quotaBytes, 1024);
    const count = await inst.running.services.storage.accounts.count();
    assertProblem(
      await inst.api('POST', '/api/v1/admin/users', {
        token: admin.token,
        body: { username: 'gaston', password: 'other-password-1' },
      }),
      409,
      'username_taken',
    );
    assertProblem(
      await inst.api('POST', '/api/v1/admin/users', {
        token: admin.token,
        body: { username: 'bad name!', password: 'other-password-1' },
      }),
      400,
      'username_invalid',
    );
    assertProblem(
      await inst.api('POST', '/api/v1/admin/users', {
        token: admin.token,
        body: { username: 'henri', password: 'short' },
      }),
      400,
      'password_too_weak',
    );
    assertProblem(
      await inst.api('POST', '/api/v1/admin/users', {
        token: admin.token,
        body: { username: 'henri', password: 'long-enough-pw', role: 'god' },
      }),
      400,
      'validation_failed',
    );
    assert.equal(await inst.running.services.storage.accounts.count(), count, 'no account written by refused requests');

    const seen: string[] = [];
    let next: string | null = null;
    do {
      const page: ApiResponse = await inst.api('GET', `/api/v1/admin/users?limit=2${next ? `&after=${next}` : ''}`, {
        token: admin.token,
      });
      assert.equal(page.status, 200);
      seen.push(...page.body.items.map((a: { username: string }) => a.username));
      next = page.body.next;
    } while (next);
    assert.equal(seen.length, count);
    assert.deepEqual(seen, [...seen].sort());

    const g = await inst.api('POST', '/api/v1/auth/login', {
      body: { username: 'gaston', password: 'gaston-password-1' },
    });
    assert.equal(g.status, 200);
    const patched = await inst.api('PATCH', `/api/v1/admin/users/${created.body.id}`, {
      token: admin.token,
      body: { disabled: true, quotaBytes: 2048 },
    });
    assert.equal(patched.status, 200);
    assert.equal(patched.body.disabled, true);
    assert.equal(patched.body.quotaBytes, 2048);
    assertProblem(await inst.api('GET', '/api/v1/me', { token: g.body.token }), 401, 'token_revoked');
    assertProblem(
      await inst.api('POST', '/api/v1/auth/login', { body: { username: 'gaston', password: 'gaston-password-1' } }),
      403,
      'account_disabled',
    );
    assertProblem(
      await inst.api('PATCH', `/api/v1/admin/users/${created.body.id}`, { token: admin.token, body: {} }),
      400,
      'validation_failed',
    );
    assertProblem(
      await inst.api('GET', `/api/v1/admin/users/${'0'.repeat(8)}-0000-4000-8000-${'0'.repeat(12)}`, {
        token: admin.token,
      }),
      404,
      'not_found',
    );
    assert.equal(
      (
        await inst.api('POST', `/api/v1/admin/users/${created.body.id}/password`, {
          token: admin.token,
          body: { password: 'reset-password-1' },
        })
      ).status,
      204,
    );
  });

  test('operations: /healthz, /metrics, OpenAPI lists every route', async () => {
    const h = await inst.api('GET', '/healthz');
    assert.equal(h.status, 200);
    assert.equal(h.body.status, 'ok');
    assert.deepEqual(h.body.engines, { storage: 'sqlite', queue: 'sqlite', search: 'sqlite' });
    const m = await inst.api('GET', '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.text, /caliopen_http_request_duration_seconds_bucket\{.*route="\/api\/v1\/me"/);
    assert.match(m.text, /caliopen_logins_total\{outcome="ok"\} \d+/);
    const spec = await inst.api('GET', '/api/docs/json');
    assert.equal(spec.status, 200);
    const documented = new Set(
      Object.entries(spec.body.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((op) => `${op.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      ),
    );
    // Every API route is documented; the OpenAPI UI and the web app's static files (`/`, `/*`) are not API.
    const apiRoutes = inst.running.http.routes.filter(
      (r) => !r.url.startsWith('/api/docs') && r.url !== '/' && r.url !== '/*',
    );
    assert.ok(apiRoutes.length > 40, `the walk sees the API routes (${apiRoutes.length})`);
    for (const r of apiRoutes) {
      assert.ok(documented.has(`${r.method} ${r.url}`), `${r.method} ${r.url} is missing from the OpenAPI document`);
    }
    assert.ok(spec.body.components.schemas.Problem, 'the problem schema is documented');
  });
});

describe('login rate limit', () => {
  let inst: TestInstance;
  beforeAll(async () => {
    inst = await startTestInstance({ env: { CALIOPEN_LOGIN_RATE_LIMIT: '3' } });
  });
  afterAll(async () => {
    await inst.stop();
  });

  test('the fourth login attempt within a minute is refused with 429 and Retry-After', async () => {
    for (let i = 0; i < 3; i++) {
      assertProblem(
        await inst.api('POST', '/api/v1/auth/login', { body: { username: 'x', password: 'y-y-y-y-y-y' } }),
        401,
        'invalid_credentials',
      );
    }
    const limited = await inst.api('POST', '/api/v1/auth/login', { body: { username: 'x', password: 'y-y-y-y-y-y' } });
    assertProblem(limited, 429, 'rate_limited');
    assert.ok(Number(limited.headers.get('retry-after')) > 0);
  });
});
