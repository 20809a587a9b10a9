/**
 * The admin actions journal over real HTTP: operator actions recorded (who, when, what; never the new password),
 * append-only, readable by the admins (filters, paging, JSON Lines export, chain verification) and by the user each
 * entry concerns, and only by them.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { ok, problemBody } from '../support/api-client.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { SqliteJournalRepository } from '@caliopen/instance/admin-journal/journal.repository.sqlite.ts';

describe('admin actions journal over HTTP', () => {
  let inst: TestInstance;
  let admin: { id: string; token: string };
  let alice: { id: string; token: string; password: string };
  let bob: { id: string; token: string };
  let carolId: string;

  beforeAll(async () => {
    inst = await startTestInstance();
    admin = await inst.user('root', 'admin');
    alice = await inst.user('alice');
    bob = await inst.user('bob');
  }, 120_000);
  afterAll(async () => {
    await inst?.stop();
  });

  test('each admin action is one entry naming who, what and whom; a password reset never carries the password', async () => {
    const created = ok(
      await inst.api('POST', '/api/v1/admin/users', {
        token: admin.token,
        body: { username: 'carol', password: 'carol-secret-password-1', quotaBytes: 5000 },
      }),
      201,
    );
    carolId = created.id;
    ok(
      await inst.api('PATCH', `/api/v1/admin/users/${alice.id}`, {
        token: admin.token,
        body: { disabled: true, quotaBytes: 123456 },
      }),
    );
    ok(
      await inst.api('POST', `/api/v1/admin/users/${bob.id}/password`, {
        token: admin.token,
        body: { password: 'brand-new-secret-pass-42' },
      }),
      204,
    );
    // The user changing their own password is not an operator action.
    const self = await inst.user('dave');
    ok(
      await inst.api('POST', '/api/v1/me/password', {
        token: self.token,
        body: { currentPassword: 'pw-dave-0123456789', newPassword: 'dave-new-password-1' },
      }),
      204,
    );

    const page = ok(await inst.api('GET', '/api/v1/admin/journal', { token: admin.token }));
    const quotaBefore = inst.running.services.config.accounts.defaultQuotaBytes;
    const summary = page.items.map((e: any) => [e.action, e.subject?.username, e.actor.username, e.details]);
    assert.deepEqual(summary, [
      ['account.password_reset', 'bob', 'root', {}],
      ['account.quota_changed', 'alice', 'root', { from: quotaBefore, to: 123456 }],
      ['account.disabled', 'alice', 'root', {}],
      ['account.created', 'carol', 'root', { role: 'user', quotaBytes: 5000 }],
    ]);
    assert.equal(page.next, null);
    assert.equal(page.items[0].actor.accountId, admin.id);
    assert.match(page.items[0].hash, /^[0-9a-f]{64}$/);
    assert.equal(page.items[0].prevHash, page.items[1].hash);
    assert.ok(!JSON.stringify(page).includes('brand-new-secret-pass-42'), 'no password in the journal');
    assert.ok(!JSON.stringify(page).includes('carol-secret-password-1'), 'no password in the journal');
    assert.deepEqual(ok(await inst.api('GET', '/api/v1/admin/journal/verify', { token: admin.token })), {
      ok: true,
      entries: 4,
      head: page.items[0].hash,
    });
  });

  test('a disabled account’s entry is there for them once re-enabled; each user sees only their own entries', async () => {
    // Disabled: alice's session ended and she cannot log in.
    problemBody(await inst.api('GET', '/api/v1/me/journal', { token: alice.token }), 401, 'disabled ends sessions');
    ok(await inst.api('PATCH', `/api/v1/admin/users/${alice.id}`, { token: admin.token, body: { disabled: false } }));
    const login = ok(
      await inst.api('POST', '/api/v1/auth/login', { body: { username: 'alice', password: alice.password } }),
    );
    const mine = ok(await inst.api('GET', '/api/v1/me/journal', { token: login.token }));
    assert.deepEqual(
      mine.items.map((e: any) => e.action),
      ['account.enabled', 'account.quota_changed', 'account.disabled'],
    );
    assert.ok(mine.items.every((e: any) => e.subject.accountId === alice.id));
    // bob's password reset ended his session too: he logs in again first (next test).
    problemBody(await inst.api('GET', '/api/v1/me/journal', { token: bob.token }), 401, 'reset ends sessions');
  });

  test('bob, logged in again, sees his password reset and nothing of alice’s; filters and paging for admins', async () => {
    const login = ok(
      await inst.api('POST', '/api/v1/auth/login', { body: { username: 'bob', password: 'brand-new-secret-pass-42' } }),
    );
    const bobs = ok(await inst.api('GET', '/api/v1/me/journal', { token: login.token })).items;
    assert.deepEqual(
      bobs.map((e: any) => [e.action, e.subject.username]),
      [['account.password_reset', 'bob']],
    );
    // A user cannot widen their view with an admin's filters.
    problemBody(
      await inst.api('GET', `/api/v1/me/journal?subject=${alice.id}`, { token: login.token }),
      400,
      'no subject filter for users',
    );
    problemBody(await inst.api('GET', '/api/v1/admin/journal', { token: login.token }), 403, 'users are not admins');

    const onlyAlice = ok(await inst.api('GET', `/api/v1/admin/journal?subject=${alice.id}`, { token: admin.token }));
    assert.equal(onlyAlice.items.length, 3);
    const onlyCreated = ok(
      await inst.api('GET', '/api/v1/admin/journal?action=account.created', { token: admin.token }),
    );
    assert.deepEqual(
      onlyCreated.items.map((e: any) => e.subject.accountId),
      [carolId],
    );
    const p1 = ok(await inst.api('GET', '/api/v1/admin/journal?limit=2', { token: admin.token }));
    assert.equal(p1.items.length, 2);
    const p2 = ok(await inst.api('GET', `/api/v1/admin/journal?limit=2&before=${p1.next}`, { token: admin.token }));
    assert.equal(p2.items[0].seq, p1.items[1].seq - 1);
    const future = ok(
      await inst.api('GET', '/api/v1/admin/journal?since=2999-01-01T00:00:00Z', { token: admin.token }),
    );
    assert.deepEqual(future.items, []);
  });

  test('the JSON Lines export holds every entry, one JSON object a line, each verifiable', async () => {
    const r = await inst.api('GET', '/api/v1/admin/journal?format=jsonl', { token: admin.token });
    assert.equal(r.status, 200, r.text);
    assert.match(r.headers.get('content-type') ?? '', /^application\/jsonl/);
    const lines = r.text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 5);
    assert.deepEqual(
      lines.map((e) => e.seq),
      [5, 4, 3, 2, 1],
    );
    for (let i = 0; i < lines.length - 1; i++) assert.equal(lines[i].prevHash, lines[i + 1].hash);
  });

  test('append-only: no route changes or removes an entry', async () => {
    for (const method of ['PUT', 'PATCH', 'DELETE', 'POST']) {
      for (const path of [
        '/api/v1/admin/journal',
        '/api/v1/admin/journal/1',
        '/api/v1/me/journal',
        '/api/v1/me/journal/1',
      ]) {
        const r = await inst.api(method, path, { token: admin.token, ...(method === 'DELETE' ? {} : { body: {} }) });
        assert.ok(r.status === 404 || r.status === 405, `${method} ${path}: ${r.status}`);
      }
    }
    const catalogue = inst.running.http.routes.filter((r) => r.url.includes('journal'));
    assert.deepEqual(catalogue.map((r) => `${r.method} ${r.url}`).sort(), [
      'GET /api/v1/admin/journal',
      'GET /api/v1/admin/journal/verify',
      'GET /api/v1/me/journal',
    ]);
  });

  test('hostile query parameters get clear 400s', async () => {
    const bad = [
      '?limit=0',
      '?limit=100000',
      '?limit=abc',
      '?before=-1',
      '?before=99999999999999999999',
      '?action=account.deleted',
      "?action=' OR 1=1 --",
      '?subject=not-a-uuid',
      '?actor=%00',
      '?since=yesterday',
      '?format=xml',
      '?unknown=1',
      `?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z`,
    ];
    for (const q of bad) {
      const r = await inst.api('GET', `/api/v1/admin/journal${q}`, { token: admin.token });
      const body = problemBody(r, 400, q);
      assert.ok(['validation_failed', 'journal_filter_invalid'].includes(body.code), `${q}: ${body.code}`);
    }
    const r = await inst.api('GET', `/api/v1/admin/journal?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z`, {
      token: admin.token,
    });
    assert.equal(r.body.code, 'journal_filter_invalid');
    problemBody(await inst.api('GET', '/api/v1/me/journal?limit=-5', { token: admin.token }), 400, 'me limit');
    problemBody(await inst.api('GET', '/api/v1/me/journal'), 401, 'anonymous');
  });

  test('an entry changed in the file behind the server’s back is reported by verify', async () => {
    const path = `${inst.dataDir}/admin-journal.db`;
    const writer = SqliteJournalRepository.open(path);
    try {
      const db = writer.rawDb;
      db.exec('DROP TRIGGER journal_no_update');
      db.prepare(`UPDATE journal SET body = replace(body, '"to":123456', '"to":999999') WHERE seq = 3`).run();
    } finally {
      await writer.close();
    }
    const v = ok(await inst.api('GET', '/api/v1/admin/journal/verify', { token: admin.token }));
    assert.equal(v.ok, false);
    assert.equal(v.seq, 3);
    assert.match(v.problem, /hash/);
  });
});
