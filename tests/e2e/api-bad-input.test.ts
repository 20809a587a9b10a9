/**
 * Hostile input on every route that takes a body or parameters: each gets a clear problem+json answer with the
 * right status and stable code, and nothing stored changes.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import type { SqliteStorage } from '@caliopen/instance/storage/storage.sqlite.ts';
import { problemBody, tablesSnapshot } from '../support/api-client.ts';
import { startTestInstance, type ApiResponse, type TestInstance } from '../support/instance.ts';

function expectProblem(r: ApiResponse, status: number, codes: string[], what: string): void {
  problemBody(r, status, what);
  assert.ok(codes.includes(r.body?.code), `${what}: code ${r.body?.code} not in ${codes.join(', ')}`);
  assert.ok(r.body.requestId, `${what}: request id`);
}

/** Every row of every table: what "nothing changed" is checked against. */
function snapshot(inst: TestInstance): string {
  return tablesSnapshot((inst.running.services.storage as SqliteStorage).db);
}

describe('hostile input on every route', () => {
  let inst: TestInstance;
  let tokens: Record<'user' | 'admin', string>;
  let userId: string;
  let deviceId: string;

  beforeAll(async () => {
    inst = await startTestInstance();
    const u = await inst.user('ursula');
    const a = await inst.user('adele', 'admin');
    tokens = { user: u.token, admin: a.token };
    userId = u.id;
    deviceId = u.deviceId;
  });
  afterAll(async () => {
    await inst.stop();
  });

  const bodies: { name: string; raw: string; contentType?: string; status: number; codes: string[] }[] = [
    { name: 'malformed JSON', raw: '{"username": "x",', status: 400, codes: ['malformed_json'] },
    { name: 'empty JSON body', raw: '', status: 400, codes: ['malformed_json'] },
    { name: 'JSON array instead of object', raw: '[1,2,3]', status: 400, codes: ['validation_failed'] },
    {
      name: 'wrong types everywhere',
      raw: '{"username": 12, "password": true, "code": [], "displayName": {}, "quotaBytes": "9", "disabled": "yes", "currentPassword": 1, "newPassword": null}',
      status: 400,
      codes: ['validation_failed'],
    },
    { name: 'unknown field only', raw: '{"isAdmin": true}', status: 400, codes: ['validation_failed'] },
    {
      name: 'prototype pollution',
      raw: '{"__proto__": {"role": "admin"}, "constructor": {"prototype": {"role": "admin"}}}',
      status: 400,
      codes: ['malformed_json', 'validation_failed'],
    },
    {
      name: 'oversize body (2 MiB)',
      raw: JSON.stringify({ username: 'x'.repeat(2 * 1024 * 1024) }),
      status: 413,
      codes: ['payload_too_large'],
    },
    {
      name: 'text/plain',
      raw: 'username=x',
      contentType: 'text/plain',
      status: 415,
      codes: ['unsupported_media_type'],
    },
    {
      name: 'form encoded',
      raw: 'username=x&password=y',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
      codes: ['unsupported_media_type'],
    },
    {
      name: 'NUL bytes and lone surrogates',
      raw: '{"username": "\\u0000\\ud800", "password": "\\u0000"}',
      status: 400,
      codes: ['validation_failed', 'invalid_credentials', 'username_invalid', 'password_too_weak'],
    },
  ];

  test('every body-taking route refuses hostile bodies with a precise problem, and nothing changes', async () => {
    const before = snapshot(inst);
    const routes = inst.running.http.routes.filter(
      (r) => ['POST', 'PATCH', 'PUT'].includes(r.method) && !r.url.startsWith('/api/docs'),
    );
    assert.ok(routes.length >= 8, 'the walk found the body-taking routes');
    let checked = 0;
    for (const route of routes) {
      const url = route.url
        .replace(':id', route.url.startsWith('/api/v1/devices') ? deviceId : userId)
        .replace(':fingerprint', 'a'.repeat(40));
      const token = route.access === 'admin' ? tokens.admin : route.access === 'user' ? tokens.user : undefined;
      for (const b of bodies) {
        const parses = ![
          'malformed JSON',
          'empty JSON body',
          'oversize body (2 MiB)',
          'text/plain',
          'form encoded',
          'prototype pollution',
        ].includes(b.name);
        // A route that takes no body ignores a well-formed one (its handler runs): only transport-level refusals apply.
        if (parses && !route.takesBody) continue;
        // Oversize means over this route's own limit (some routes, like sending mail with attachments, accept more).
        const raw =
          b.name.startsWith('oversize') && route.bodyLimit
            ? JSON.stringify({ username: 'x'.repeat(route.bodyLimit + 1024) })
            : b.raw;
        const r = await inst.api(route.method, url, {
          rawBody: raw,
          headers: { 'content-type': b.contentType ?? 'application/json' },
          ...(token ? { token } : {}),
        });
        const what = `${route.method} ${route.url} <- ${b.name}`;
        if (b.name === 'NUL bytes and lone surrogates' && route.url === '/api/v1/auth/login') {
          expectProblem(r, 401, ['invalid_credentials'], what);
        } else {
          expectProblem(r, b.status, b.codes, what);
        }
        checked++;
      }
    }
    assert.ok(checked >= routes.length * 6, `checked ${checked}`);
    assert.equal(snapshot(inst), before, 'no stored row changed');
  });

  test('bad parameters and query strings', async () => {
    const before = snapshot(inst);
    expectProblem(
      await inst.api('GET', '/api/v1/devices/..%2F..%2Fetc%2Fpasswd', { token: tokens.user }),
      400,
      ['validation_failed'],
      'path traversal id',
    );
    expectProblem(
      await inst.api('DELETE', `/api/v1/devices/${'x'.repeat(5000)}`, { token: tokens.user }),
      414,
      ['uri_too_long'],
      'huge id',
    );
    expectProblem(
      await inst.api('GET', '/api/v1/devices/%E0%A4%A', { token: tokens.user }),
      400,
      ['bad_url', 'validation_failed'],
      'bad percent-encoding',
    );
    // Control characters in the search box (a NUL reached SQLite's FTS5 and gave a 500): a sentence, never a crash.
    for (const [q, label] of [
      ['%00', 'a NUL alone'],
      ['hello%00world', 'a NUL inside a word'],
      ['from%3Aalice%00', 'a NUL in a filter'],
      ['%22a%00b%22', 'a NUL in a phrase'],
      ['%1B%5B31m', 'an escape sequence'],
    ] as const) {
      expectProblem(
        await inst.api('GET', `/api/v1/search?q=${q}`, { token: tokens.user }),
        400,
        ['search_query_invalid'],
        label,
      );
    }
    expectProblem(
      await inst.api('GET', '/api/v1/admin/users?limit=-1', { token: tokens.admin }),
      400,
      ['validation_failed'],
      'negative limit',
    );
    expectProblem(
      await inst.api('GET', '/api/v1/admin/users?limit=abc', { token: tokens.admin }),
      400,
      ['validation_failed'],
      'non-numeric limit',
    );
    expectProblem(
      await inst.api('GET', '/api/v1/admin/users?limit=100000', { token: tokens.admin }),
      400,
      ['validation_failed'],
      'limit too large',
    );
    expectProblem(
      await inst.api('GET', '/api/v1/admin/users?sort=password', { token: tokens.admin }),
      400,
      ['validation_failed'],
      'unknown query parameter',
    );
    expectProblem(
      await inst.api('GET', '/api/v1/routes', { token: tokens.user }),
      400,
      ['validation_failed'],
      'route preview without an address',
    );
    expectProblem(
      await inst.api('GET', '/api/v1/routes?to=no-at-sign', { token: tokens.user }),
      400,
      ['recipient_invalid'],
      'route preview to a non-address',
    );
    expectProblem(
      await inst.api('GET', `/api/v1/routes?to=${encodeURIComponent('a@b.example\r\nBcc: c@d.example')}`, {
        token: tokens.user,
      }),
      400,
      ['recipient_invalid'],
      'route preview with a header injection',
    );
    expectProblem(
      await inst.api('GET', `/api/v1/routes?to=a@${'b'.repeat(400)}.example`, { token: tokens.user }),
      400,
      ['validation_failed'],
      'route preview to an oversize address',
    );
    expectProblem(
      await inst.api('GET', '/api/v1/routes?to=a@b.example&via=federation', { token: tokens.user }),
      400,
      ['validation_failed'],
      'route preview with an unknown parameter',
    );
    expectProblem(
      await inst.api('GET', '/api/v1/keys/alerts?limit=0', { token: tokens.user }),
      400,
      ['validation_failed'],
      'key alerts: limit 0',
    );
    expectProblem(
      await inst.api('GET', '/api/v1/keys/alerts?limit=100000', { token: tokens.user }),
      400,
      ['validation_failed'],
      'key alerts: limit too large',
    );
    expectProblem(
      await inst.api('GET', '/api/v1/keys/alerts?cursor=%00%01', { token: tokens.user }),
      400,
      ['validation_failed'],
      'key alerts: a cursor this API never gave',
    );
    expectProblem(
      await inst.api('GET', `/api/v1/keys/alerts?cursor=${'Q'.repeat(5000)}`, { token: tokens.user }),
      400,
      ['validation_failed'],
      'key alerts: an oversize cursor',
    );
    expectProblem(
      await inst.api('GET', '/api/v1/keys/alerts?status=all', { token: tokens.user }),
      400,
      ['validation_failed'],
      'key alerts: an unknown parameter',
    );
    expectProblem(await inst.api('GET', '/api/v1/nowhere'), 404, ['route_not_found'], 'unknown route');
    expectProblem(
      await inst.api('PUT', '/api/v1/me', { token: tokens.user }),
      404,
      ['route_not_found'],
      'unknown method on a route',
    );
    assert.equal(snapshot(inst), before, 'no stored row changed');
  });

  test('a client-chosen request id is echoed only when it is safe', async () => {
    const ok = await inst.api('GET', '/healthz', { headers: { 'x-request-id': 'client-req-12345' } });
    assert.equal(ok.headers.get('x-request-id'), 'client-req-12345');
    const hostile = await inst.api('GET', '/healthz', { headers: { 'x-request-id': 'a b\tc"<script>' } });
    assert.match(hostile.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  test('the server keeps serving after all of it', async () => {
    assert.equal((await inst.api('GET', '/api/v1/me', { token: tokens.user })).status, 200);
  });
});
