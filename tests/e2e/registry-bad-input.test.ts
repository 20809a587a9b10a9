/**
 * Hostile input on every registry route: forged and mis-signed declarations, wrong keys, unknown charter versions,
 * oversize fields, replays, malformed JSON, unknown fields, bad parameters. Each gets an application/problem+json
 * answer with the right status and stable code, and nothing stored changes (every table is compared before and
 * after).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { generateEd25519KeyPair } from '@caliopen/federation-protocol';
import type { SqliteRegistryStorage } from '@caliopen/registry';
import { problemBody, tablesSnapshot } from '../support/api-client.ts';
import {
  applicationFor,
  declarationFor,
  signDeclaration,
  startTestInstanceSite,
  startTestRegistry,
  type ApiResponse,
  type TestInstanceSite,
  type TestRegistry,
} from '../support/registry.ts';

function expectProblem(r: ApiResponse, status: number, codes: string[], what: string): void {
  problemBody(r, status, what);
  assert.ok(codes.includes(r.body?.code), `${what}: code ${r.body?.code} not in ${codes.join(', ')}`);
  assert.equal(r.body.type, `urn:caliopen:registry:problem:${r.body.code}`, what);
  assert.ok(r.body.requestId, `${what}: request id`);
}

/** Every row of every table of registry.db. */
function snapshot(reg: TestRegistry): string {
  return tablesSnapshot((reg.running.services.storage as SqliteRegistryStorage).db);
}

describe('hostile input on every registry route', () => {
  let reg: TestRegistry;
  let site: TestInstanceSite;
  let auditor: { token: string };
  let app: { id: string; token: string };
  let closedId: string;

  beforeAll(async () => {
    site = await startTestInstanceSite('hostile.test');
    reg = await startTestRegistry({ maintenance: false, approvals: 1 });
    reg.connect(site.domain, site.connectTo);
    auditor = await reg.auditor('auditor');
    // One approved (closed for votes) application, one pending.
    const first = await reg.api('POST', '/v1/applications', { body: await applicationFor(site) });
    assert.equal(first.status, 201, first.text);
    site.publishChallenge(first.body.challenge.token, first.body.challenge.value);
    assert.equal(
      (await reg.api('POST', `/v1/applications/${first.body.id}/verify`, { token: first.body.token })).status,
      200,
    );
    const approved = await reg.api('POST', `/v1/audit/applications/${first.body.id}/votes`, {
      token: auditor.token,
      body: { vote: 'approve' },
    });
    assert.equal(approved.body.status, 'approved', approved.text);
    closedId = first.body.id;
    const second = await reg.api('POST', '/v1/applications', { body: await applicationFor(site) });
    assert.equal(second.status, 201, second.text);
    app = { id: second.body.id, token: second.body.token };
  });
  afterAll(async () => {
    await reg?.stop();
    await site?.stop();
  });

  const transportBodies: { name: string; raw: string; contentType?: string; status: number; codes: string[] }[] = [
    { name: 'malformed JSON', raw: '{"domain": "x",', status: 400, codes: ['malformed_json'] },
    { name: 'JSON array instead of object', raw: '[1,2,3]', status: 400, codes: ['validation_failed'] },
    { name: 'unknown field only', raw: '{"isAuditor": true}', status: 400, codes: ['validation_failed'] },
    {
      name: 'prototype pollution',
      raw: '{"__proto__": {"status": "approved"}}',
      status: 400,
      codes: ['malformed_json', 'validation_failed'],
    },
    {
      name: 'oversize body (2 MiB)',
      raw: JSON.stringify({ domain: 'x'.repeat(2 * 1024 * 1024) }),
      status: 413,
      codes: ['payload_too_large'],
    },
    { name: 'text/plain', raw: 'domain=x', contentType: 'text/plain', status: 415, codes: ['unsupported_media_type'] },
    {
      name: 'form encoded',
      raw: 'domain=x',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
      codes: ['unsupported_media_type'],
    },
  ];

  test('every body-taking route refuses hostile bodies with a precise problem, and nothing changes', async () => {
    const before = snapshot(reg);
    const routes = reg.running.http.routes.filter(
      (r) => ['POST', 'PATCH', 'PUT', 'DELETE'].includes(r.method) && !r.url.startsWith('/docs'),
    );
    assert.ok(routes.length >= 7, `found ${routes.length} body-taking routes`);
    const takesBody = new Set([
      'POST /v1/applications',
      'POST /v1/auth/login',
      'POST /v1/audit/applications/:id/votes',
      'POST /v1/audit/instances/:domain/revoke',
      'POST /v1/audit/instances/:domain/revocation/votes',
      'POST /v1/audit/instances/:domain/suspend',
    ]);
    let checked = 0;
    for (const route of routes) {
      const url = route.url.replace(':id', app.id).replace(':domain', site.domain);
      const token = route.access === 'admin' ? auditor.token : route.access === 'user' ? app.token : undefined;
      for (const b of transportBodies) {
        // A route without a body runs its handler on a well-formed one: only transport-level refusals apply there.
        if (
          !takesBody.has(`${route.method} ${route.url}`) &&
          ['JSON array instead of object', 'unknown field only'].includes(b.name)
        )
          continue;
        const r = await reg.api(route.method, url, {
          rawBody: b.raw,
          headers: { 'content-type': b.contentType ?? 'application/json' },
          ...(token ? { token } : {}),
        });
        expectProblem(r, b.status, b.codes, `${route.method} ${route.url} <- ${b.name}`);
        checked++;
      }
    }
    assert.ok(checked >= routes.length * 5, `checked ${checked}`);
    assert.equal(snapshot(reg), before, 'no stored row changed');
  });

  test('applications: forged, mis-signed, stale, replayed, oversize and incoherent submissions are refused, and nothing is recorded', async () => {
    const valid = await applicationFor(site);
    const signingPrivate = site.identity.signing.privateJwk as { x: string; d: string };
    const stranger = generateEd25519KeyPair();
    const now = Math.floor(Date.now() / 1000);
    const replayed = await applicationFor(site, { nonce: 'replayed-nonce-0123456789' });
    const first = await reg.api('POST', '/v1/applications', { body: { ...replayed } });
    // A domain with a pending application refuses a second; the nonce is not spent by that refusal.
    expectProblem(first, 409, ['application_pending'], 'second pending application');

    const before = snapshot(reg);
    const tamper = (jws: string) => {
      const [h, p, s] = jws.split('.');
      const payload = JSON.parse(Buffer.from(p!, 'base64url').toString('utf8'));
      payload.declaration.noResaleOfUserData = false;
      return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    };
    const cases: { name: string; body: unknown; status: number; code: string }[] = [
      {
        name: 'declaration payload altered after signing (forged)',
        body: { ...valid, declaration: tamper(valid.declaration as string) },
        status: 400,
        code: 'declaration_bad_signature',
      },
      {
        name: 'declaration signed by another key than the application signing key',
        body: {
          ...valid,
          declaration: await signDeclaration(
            stranger.privateJwk,
            { declaration: declarationFor(site) },
            { kid: site.identity.signing.thumbprint },
          ),
        },
        status: 400,
        code: 'declaration_bad_signature',
      },
      {
        name: 'application declares a signing key that did not sign (wrong key)',
        body: { ...valid, keys: { ...(valid.keys as object), signing: stranger.publicJwk } },
        status: 400,
        code: 'declaration_bad_signature',
      },
      {
        name: 'declaration JWS with alg none',
        body: {
          ...valid,
          declaration: `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{}').toString('base64url')}.x`,
        },
        status: 400,
        code: 'declaration_malformed',
      },
      {
        name: 'declaration of the wrong typ',
        body: {
          ...valid,
          declaration: await signDeclaration(
            signingPrivate,
            { declaration: declarationFor(site) },
            { typ: 'caliopen-label+jwt' },
          ),
        },
        status: 400,
        code: 'declaration_malformed',
      },
      {
        name: 'declaration not a JWS',
        body: { ...valid, declaration: 'not a jws' },
        status: 400,
        code: 'declaration_malformed',
      },
      {
        name: 'declaration payload with an extra member',
        body: {
          ...valid,
          declaration: await signDeclaration(signingPrivate, { declaration: declarationFor(site), admin: true }),
        },
        status: 400,
        code: 'declaration_malformed',
      },
      {
        name: 'declaration with a short nonce',
        body: {
          ...valid,
          declaration: await signDeclaration(signingPrivate, { declaration: declarationFor(site), nonce: 'short' }),
        },
        status: 400,
        code: 'declaration_malformed',
      },
      {
        name: 'declaration signed an hour ago',
        body: {
          ...valid,
          declaration: await signDeclaration(signingPrivate, { declaration: declarationFor(site), iat: now - 3600 }),
        },
        status: 400,
        code: 'declaration_stale',
      },
      {
        name: 'declaration signed in the future',
        body: {
          ...valid,
          declaration: await signDeclaration(signingPrivate, { declaration: declarationFor(site), iat: now + 3600 }),
        },
        status: 400,
        code: 'declaration_stale',
      },
      {
        name: 'unknown charter version',
        body: {
          ...valid,
          declaration: await signDeclaration(signingPrivate, {
            declaration: declarationFor(site, { charterVersion: '9.9' }),
          }),
        },
        status: 400,
        code: 'charter_version_unknown',
      },
      {
        name: 'declaration outside the schema',
        body: {
          ...valid,
          declaration: await signDeclaration(signingPrivate, {
            declaration: { ...declarationFor(site), retention: { messagesDays: -4 }, jurisdiction: 'Atlantis' },
          }),
        },
        status: 400,
        code: 'declaration_invalid',
      },
      {
        name: 'declaration for another domain',
        body: {
          ...valid,
          declaration: await signDeclaration(signingPrivate, {
            declaration: declarationFor(site, { domain: 'other.test' }),
          }),
        },
        status: 400,
        code: 'declaration_domain_mismatch',
      },
      {
        name: 'replayed declaration (its nonce was used by an accepted application)',
        body: { ...valid, declaration: JSON.parse(JSON.stringify(await appDeclarationOfFirst())) },
        status: 409,
        code: 'application_replayed',
      },
      { name: 'uppercase domain', body: { ...valid, domain: 'HOSTILE.test' }, status: 400, code: 'domain_invalid' },
      { name: 'domain with a space', body: { ...valid, domain: 'hostile .test' }, status: 400, code: 'domain_invalid' },
      {
        name: 'plain http endpoint',
        body: { ...valid, endpoints: { https: 'http://hostile.test' } },
        status: 400,
        code: 'endpoint_invalid',
      },
      {
        name: 'endpoint on another domain',
        body: { ...valid, endpoints: { https: 'https://evil.example' } },
        status: 400,
        code: 'endpoint_invalid',
      },
      {
        name: 'endpoint with credentials',
        body: { ...valid, endpoints: { https: 'https://u:p@hostile.test' } },
        status: 400,
        code: 'endpoint_invalid',
      },
      {
        name: 'smtp endpoint that is not a host',
        body: { ...valid, endpoints: { https: site.httpsUrl, smtp: 'smtp://x y' } },
        status: 400,
        code: 'endpoint_invalid',
      },
      {
        name: 'private signing JWK',
        body: { ...valid, keys: { ...(valid.keys as object), signing: { ...site.signingJwk, d: 'AAAA' } } },
        status: 400,
        code: 'validation_failed',
      },
      {
        name: 'encryption key on the wrong curve',
        body: { ...valid, keys: { ...(valid.keys as object), encryption: site.signingJwk } },
        status: 400,
        code: 'key_invalid',
      },
      {
        name: 'signing key of 31 bytes',
        body: {
          ...valid,
          keys: {
            ...(valid.keys as object),
            signing: { kty: 'OKP', crv: 'Ed25519', x: randomBytes(31).toString('base64url') },
          },
        },
        status: 400,
        code: 'key_invalid',
      },
      {
        name: 'certificate that is not PEM',
        body: { ...valid, certificatePem: 'hello' },
        status: 400,
        code: 'certificate_invalid',
      },
      {
        name: 'certificate PEM of garbage',
        body: { ...valid, certificatePem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' },
        status: 400,
        code: 'certificate_invalid',
      },
      {
        name: 'oversize certificate field',
        body: { ...valid, certificatePem: 'A'.repeat(40_000) },
        status: 400,
        code: 'validation_failed',
      },
      {
        name: 'oversize declaration field',
        body: { ...valid, declaration: 'A'.repeat(33_000) },
        status: 400,
        code: 'validation_failed',
      },
      {
        name: 'oversize domain',
        body: { ...valid, domain: `${'a'.repeat(250)}.test` },
        status: 400,
        code: 'validation_failed',
      },
      {
        name: 'unknown field beside valid ones',
        body: { ...valid, status: 'approved' },
        status: 400,
        code: 'validation_failed',
      },
      {
        name: 'unknown endpoint',
        body: { ...valid, endpoints: { https: site.httpsUrl, gopher: 'gopher://x' } },
        status: 400,
        code: 'validation_failed',
      },
      { name: 'listed as a string', body: { ...valid, listed: 'no' }, status: 400, code: 'validation_failed' },
      {
        name: 'missing declaration',
        body: { ...valid, declaration: undefined },
        status: 400,
        code: 'validation_failed',
      },
    ];
    for (const c of cases) {
      const r = await reg.api('POST', '/v1/applications', { body: c.body });
      expectProblem(r, c.status, [c.code], c.name);
    }
    assert.equal(snapshot(reg), before, 'nothing was recorded');

    async function appDeclarationOfFirst(): Promise<string> {
      const review = await reg.api('GET', `/v1/audit/applications/${closedId}`, { token: auditor.token });
      return review.body.declarationJws as string;
    }
  });

  test('the declaration_invalid problem lists what is wrong, field by field', async () => {
    const signingPrivate = site.identity.signing.privateJwk as { x: string; d: string };
    const body = {
      ...(await applicationFor(site)),
      declaration: await signDeclaration(signingPrivate, {
        declaration: { ...declarationFor(site), incidentDisclosureDays: 'soon' },
      }),
    };
    const r = await reg.api('POST', '/v1/applications', { body });
    expectProblem(r, 400, ['declaration_invalid'], 'declaration_invalid');
    assert.ok(
      Array.isArray(r.body.errors) &&
        r.body.errors.some((e: { path: string }) => e.path.includes('incidentDisclosureDays')),
      r.text,
    );
  });

  test('parameters and query strings of every other route', async () => {
    const before = snapshot(reg);
    const a = { token: auditor.token };
    const cases: [string, string, { token?: string; body?: unknown }, number, string][] = [
      ['GET', '/v1/applications/not-a-uuid', { token: app.token }, 400, 'validation_failed'],
      ['GET', `/v1/applications/${closedId}`, { token: app.token }, 404, 'not_found'],
      ['POST', '/v1/applications/..%2F..%2Fetc/verify', { token: app.token }, 400, 'validation_failed'],
      ['POST', `/v1/applications/${'x'.repeat(5000)}/verify`, { token: app.token }, 414, 'uri_too_long'],
      [
        'POST',
        '/v1/auth/login',
        { body: { name: 'auditor', password: 'wrong-password-123' } },
        401,
        'invalid_credentials',
      ],
      [
        'POST',
        '/v1/auth/login',
        { body: { name: 'nobody', password: 'wrong-password-123' } },
        401,
        'invalid_credentials',
      ],
      ['POST', '/v1/auth/login', { body: { name: 'auditor' } }, 400, 'validation_failed'],
      ['GET', '/v1/audit/applications?status=bogus', a, 400, 'validation_failed'],
      ['GET', '/v1/audit/applications?limit=0', a, 400, 'validation_failed'],
      ['GET', '/v1/audit/applications?limit=abc', a, 400, 'validation_failed'],
      ['GET', '/v1/audit/applications?sort=name', a, 400, 'validation_failed'],
      ['GET', '/v1/audit/applications/00000000-0000-4000-8000-000000000000', a, 404, 'not_found'],
      ['POST', `/v1/audit/applications/${app.id}/votes`, { ...a, body: { vote: 'maybe' } }, 400, 'validation_failed'],
      ['POST', `/v1/audit/applications/${app.id}/votes`, { ...a, body: { vote: 'object' } }, 400, 'reason_required'],
      [
        'POST',
        `/v1/audit/applications/${app.id}/votes`,
        { ...a, body: { vote: 'object', reason: '   ' } },
        400,
        'reason_required',
      ],
      [
        'POST',
        `/v1/audit/applications/${app.id}/votes`,
        { ...a, body: { vote: 'approve', reason: 'x'.repeat(2001) } },
        400,
        'validation_failed',
      ],
      [
        'POST',
        `/v1/audit/applications/${closedId}/votes`,
        { ...a, body: { vote: 'approve' } },
        409,
        'application_closed',
      ],
      [
        'POST',
        '/v1/audit/applications/00000000-0000-4000-8000-000000000000/votes',
        { ...a, body: { vote: 'approve' } },
        404,
        'not_found',
      ],
      ['DELETE', `/v1/audit/applications/${app.id}/votes`, a, 404, 'vote_not_found'],
      ['GET', '/v1/audit/events?before=yesterday', a, 400, 'validation_failed'],
      ['GET', '/v1/audit/events?limit=100000', a, 400, 'validation_failed'],
      ['POST', '/v1/audit/instances/HOSTILE.TEST/revoke', { ...a, body: { reason: 'x' } }, 400, 'validation_failed'],
      [
        'POST',
        '/v1/audit/instances/unknown.test/revoke',
        { ...a, body: { reason: 'x' } },
        409,
        'instance_not_labelled',
      ],
      ['POST', `/v1/audit/instances/${site.domain}/revoke`, { ...a, body: { reason: '' } }, 400, 'validation_failed'],
      ['POST', `/v1/audit/instances/${site.domain}/revoke`, { ...a, body: {} }, 400, 'validation_failed'],
      ['POST', `/v1/audit/instances/${site.domain}/revoke`, { ...a, body: { reason: ' \n ' } }, 400, 'reason_required'],
      // Revocation votes and emergency suspension (revocation.service.ts).
      [
        'POST',
        `/v1/audit/instances/${site.domain}/revocation/votes`,
        { ...a, body: { vote: 'approve' } },
        404,
        'revocation_not_found',
      ],
      [
        'POST',
        `/v1/audit/instances/${site.domain}/revocation/votes`,
        { ...a, body: { vote: 'object' } },
        400,
        'reason_required',
      ],
      [
        'POST',
        `/v1/audit/instances/${site.domain}/revocation/votes`,
        { ...a, body: { vote: 'veto', reason: 'x' } },
        400,
        'validation_failed',
      ],
      [
        'POST',
        '/v1/audit/instances/unknown.test/revocation/votes',
        { ...a, body: { vote: 'approve' } },
        409,
        'instance_not_labelled',
      ],
      ['POST', '/v1/audit/instances/HOSTILE.TEST/suspend', { ...a, body: { reason: 'x' } }, 400, 'validation_failed'],
      [
        'POST',
        '/v1/audit/instances/unknown.test/suspend',
        { ...a, body: { reason: 'x' } },
        409,
        'instance_not_labelled',
      ],
      ['POST', `/v1/audit/instances/${site.domain}/suspend`, { ...a, body: { reason: '   ' } }, 400, 'reason_required'],
      [
        'POST',
        `/v1/audit/instances/${site.domain}/suspend`,
        { ...a, body: { reason: 'x'.repeat(2001) } },
        400,
        'validation_failed',
      ],
      [
        'POST',
        `/v1/audit/instances/${site.domain}/suspend`,
        { ...a, body: { reason: 'x', until: '2099-01-01' } },
        400,
        'validation_failed',
      ],
      ['GET', '/v1/audit/members?status=revoked', a, 400, 'validation_failed'],
      ['GET', '/v1/audit/revocations?all=1', a, 400, 'validation_failed'],
      ['GET', '/v1/audit/keys?private=1', a, 400, 'validation_failed'],
      ['GET', '/v1/audit/rule?k=1', a, 400, 'validation_failed'],
      ['GET', '/v1/auth/session?x=1', a, 400, 'validation_failed'],
      ['POST', '/v1/auth/login', { body: { name: 'auditor', password: 'x', cookie: 'yes' } }, 400, 'validation_failed'],
      ['GET', '/v1/index?since=-1', {}, 400, 'validation_failed'],
      ['GET', '/v1/index?since=abc', {}, 400, 'validation_failed'],
      ['GET', '/v1/index?since=999999', {}, 404, 'feed_serial_unknown'],
      ['GET', '/v1/index?serial=1', {}, 400, 'validation_failed'],
      ['GET', '/v1/keys?all=1', {}, 400, 'validation_failed'],
      ['GET', '/v1/instances/..%2Fetc', {}, 400, 'validation_failed'],
      ['GET', '/v1/instances/never.test', {}, 404, 'not_found'],
      ['GET', '/v1/directory?listed=false', {}, 400, 'validation_failed'],
      ['GET', '/v1/log/checkpoint?size=1', {}, 400, 'validation_failed'],
      ['GET', '/v1/log/entries', {}, 400, 'validation_failed'],
      ['GET', '/v1/log/entries?start=3&end=1', {}, 400, 'log_range_invalid'],
      ['GET', '/v1/log/entries?start=0&end=100000', {}, 400, 'log_range_invalid'],
      ['GET', '/v1/log/entries?start=0&end=1.5', {}, 400, 'validation_failed'],
      ['GET', '/v1/log/proof/inclusion?index=5&size=2', {}, 400, 'log_range_invalid'],
      ['GET', '/v1/log/proof/inclusion?index=0&size=100000', {}, 400, 'log_range_invalid'],
      ['GET', '/v1/log/proof/inclusions?size=2&indices=0,5', {}, 400, 'log_range_invalid'],
      ['GET', '/v1/log/proof/inclusions?size=100000&indices=0', {}, 400, 'log_range_invalid'],
      ['GET', '/v1/log/proof/inclusions?size=1&indices=0;1', {}, 400, 'validation_failed'],
      ['GET', '/v1/log/proof/inclusions?size=1&indices=', {}, 400, 'validation_failed'],
      ['GET', '/v1/log/proof/inclusions?size=1&indices=-1', {}, 400, 'validation_failed'],
      ['GET', `/v1/log/proof/inclusions?size=1&indices=${Array(257).fill(0).join(',')}`, {}, 400, 'validation_failed'],
      ['GET', '/v1/keys/statements?since=1', {}, 400, 'validation_failed'],
      ['GET', '/v1/log/proof/consistency?from=3&to=1', {}, 400, 'log_range_invalid'],
      ['GET', '/v1/log/proof/consistency?from=0&to=100000', {}, 400, 'log_range_invalid'],
      ['GET', '/healthz?verbose=1', {}, 400, 'validation_failed'],
      ['GET', '/v1/nowhere', {}, 404, 'route_not_found'],
      ['PUT', '/v1/index', {}, 404, 'route_not_found'],
      ['GET', '/v1/instances/%E0%A4%A', {}, 400, 'bad_url'],
    ];
    for (const [method, path, o, status, code] of cases) {
      expectProblem(await reg.api(method, path, o), status, [code], `${method} ${path}`);
    }
    expectProblem(
      await reg.api('GET', `/v1/applications/${app.id}`, { headers: { authorization: 'Basic abc' } }),
      401,
      ['token_invalid'],
      'a non-bearer Authorization header',
    );
    expectProblem(
      await reg.api('GET', `/v1/applications/${app.id}`, { token: 'cal_forged' }),
      401,
      ['token_invalid'],
      'a malformed token',
    );
    expectProblem(
      await reg.api('GET', `/v1/applications/${app.id}`, { token: `cal_${randomBytes(32).toString('base64url')}` }),
      401,
      ['token_invalid'],
      'an unknown token',
    );
    assert.equal(snapshot(reg), before, 'no stored row changed');
  });

  test('the console cookie: another site’s request, a duplicated or forged cookie, an applicant token as cookie', async () => {
    const login = await reg.api('POST', '/v1/auth/login', {
      body: { name: 'auditor', password: 'pw-auditor-0123456789', cookie: true },
    });
    assert.equal(login.status, 200, login.text);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    assert.match(cookie, /^caliopen_auditor=cal_/);
    const before = snapshot(reg);
    const suspend = `/v1/audit/instances/${site.domain}/suspend`;
    const body = { reason: 'Forged by another site.' };
    const cases: [string, string, Record<string, string>, number, string][] = [
      ['POST', suspend, { cookie, origin: 'https://evil.example' }, 403, 'forbidden'],
      ['POST', suspend, { cookie, origin: 'null' }, 403, 'forbidden'],
      ['POST', suspend, { cookie: `${cookie}; ${cookie}` }, 401, 'unauthenticated'],
      ['POST', suspend, { cookie: 'caliopen_auditor=' }, 401, 'unauthenticated'],
      ['POST', suspend, { cookie: 'caliopen_auditor=cal_forged' }, 401, 'token_invalid'],
      [
        'POST',
        suspend,
        { cookie: `caliopen_auditor=cal_${randomBytes(32).toString('base64url')}` },
        401,
        'token_invalid',
      ],
      ['POST', suspend, { cookie: `caliopen_auditor=${app.token}` }, 403, 'forbidden'],
      // Applicant routes never read the cookie.
      ['GET', `/v1/applications/${app.id}`, { cookie }, 401, 'unauthenticated'],
    ];
    for (const [method, path, headers, status, code] of cases) {
      expectProblem(
        await reg.api(method, path, { headers, ...(method === 'POST' ? { body } : {}) }),
        status,
        [code],
        `${method} ${path} with ${JSON.stringify(headers).slice(0, 80)}`,
      );
    }
    assert.equal(snapshot(reg), before, 'no stored row changed');
    // The same cookie from the registry's own page works (reads only here: nothing to change).
    assert.equal((await reg.api('GET', '/v1/auth/session', { headers: { cookie } })).status, 200);
  });

  test('the registry keeps serving after all of it', async () => {
    assert.equal((await reg.api('GET', `/v1/applications/${app.id}`, { token: app.token })).status, 200);
    assert.equal((await reg.api('GET', '/v1/index')).status, 200);
  });
});
