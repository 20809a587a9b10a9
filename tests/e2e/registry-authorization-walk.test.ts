/**
 * The registry's authorization walk: every route the registry registers is called as anonymous, as the applicant of
 * application 1, as the applicant of application 2 and as an auditor, with application 1 (and a labelled instance)
 * in its path. Nobody reads or changes what is not theirs. The walk reads the live route catalogue; a new route with a
 * path parameter must say in OWNED below what fills it, or the walk fails. The set of public routes is pinned.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import {
  applicationFor,
  startTestInstanceSite,
  startTestRegistry,
  type ApiResponse,
  type TestInstanceSite,
  type TestRegistry,
} from '../support/registry.ts';

type Who = 'anonymous' | 'applicant1' | 'applicant2' | 'auditor';

interface WalkContext {
  app1: string;
  labelled: string;
}

const OWNED: Record<string, (ctx: WalkContext) => Record<string, string>> = {
  '/v1/applications/:id': (ctx) => ({ id: ctx.app1 }),
  '/v1/applications/:id/verify': (ctx) => ({ id: ctx.app1 }),
  '/v1/applications/:id/certificate': (ctx) => ({ id: ctx.app1 }),
  '/v1/audit/applications/:id': (ctx) => ({ id: ctx.app1 }),
  '/v1/audit/applications/:id/votes': (ctx) => ({ id: ctx.app1 }),
  '/v1/audit/instances/:domain/revoke': (ctx) => ({ domain: ctx.labelled }),
  '/v1/audit/instances/:domain/revocation/votes': (ctx) => ({ domain: ctx.labelled }),
  '/v1/audit/instances/:domain/suspend': (ctx) => ({ domain: ctx.labelled }),
  '/v1/instances/:domain': (ctx) => ({ domain: ctx.labelled }),
  '/v1/directory/members/:domain/log': (ctx) => ({ domain: ctx.labelled }),
};

const PUBLIC_ROUTES = new Set([
  'GET /healthz',
  'GET /metrics',
  'POST /v1/applications',
  'POST /v1/auth/login',
  'GET /v1/index',
  'GET /v1/keys',
  'GET /v1/keys/statements',
  'GET /v1/instances/:domain',
  'GET /v1/directory',
  'GET /v1/directory/members',
  'GET /v1/directory/members/:domain/log',
  // The association's public site (registry/src/http/registry-web.plugin.ts).
  'GET /',
  'GET /*',
  'GET /v1/log/checkpoint',
  'GET /v1/log/entries',
  'GET /v1/log/proof/inclusion',
  'GET /v1/log/proof/inclusions',
  'GET /v1/log/proof/consistency',
]);

const QUERIES: Record<string, string> = {
  'GET /v1/log/entries': '?start=0&end=1',
  'GET /v1/log/proof/inclusion': '?index=0&size=1',
  'GET /v1/log/proof/inclusions': '?size=1&indices=0',
  'GET /v1/log/proof/consistency': '?from=0&to=1',
};

describe('registry authorization walk over every route', () => {
  let reg: TestRegistry;
  const sites: TestInstanceSite[] = [];
  let ctx: WalkContext;
  let tokens: { applicant1: string; applicant2: string };
  let auditorPassword: string;
  let second: { token: string };
  let bodies: Record<string, unknown>;

  beforeAll(async () => {
    const [one, two, labelled, fresh] = await Promise.all(
      ['walk-one.test', 'walk-two.test', 'walk-labelled.test', 'walk-new.test'].map((d) => startTestInstanceSite(d)),
    );
    sites.push(one!, two!, labelled!, fresh!);
    // Two approvals: a revocation proposal stays open while the walk votes on it and suspends.
    reg = await startTestRegistry({ maintenance: false, approvals: 2 });
    for (const s of sites) reg.connect(s.domain, s.connectTo);
    const auditor = await reg.auditor('walker');
    second = await reg.auditor('second');
    auditorPassword = auditor.password;
    const submit = async (site: TestInstanceSite) => {
      const r = await reg.api('POST', '/v1/applications', { body: await applicationFor(site) });
      assert.equal(r.status, 201, r.text);
      site.publishChallenge(r.body.challenge.token, r.body.challenge.value);
      return r.body as { id: string; token: string };
    };
    const a1 = await submit(one!);
    const a2 = await submit(two!);
    const a3 = await submit(labelled!);
    assert.equal((await reg.api('POST', `/v1/applications/${a3.id}/verify`, { token: a3.token })).status, 200);
    for (const who of [auditor, second]) {
      const vote = await reg.api('POST', `/v1/audit/applications/${a3.id}/votes`, {
        token: who.token,
        body: { vote: 'approve' },
      });
      assert.equal(vote.status, 200, vote.text);
    }
    assert.equal((await reg.api('GET', `/v1/applications/${a3.id}`, { token: a3.token })).body.status, 'approved');
    ctx = { app1: a1.id, labelled: labelled!.domain };
    tokens = { applicant1: a1.token, applicant2: a2.token };
    bodies = {
      'POST /v1/applications': await applicationFor(fresh!),
      'POST /v1/auth/login': { name: 'nobody', password: 'irrelevant-password' },
      'POST /v1/audit/applications/:id/votes': { vote: 'abstain' },
      // The certificate application 1 already declared: the walk reaches the handler without changing it.
      'PUT /v1/applications/:id/certificate': { certificatePem: one!.identity.tls.certPem },
      'POST /v1/audit/instances/:domain/revoke': { reason: 'The walk revokes what it may.' },
      'POST /v1/audit/instances/:domain/revocation/votes': { vote: 'approve' },
      'POST /v1/audit/instances/:domain/suspend': { reason: 'The walk suspends what it may.' },
    };
  });
  afterAll(async () => {
    await reg?.stop();
    for (const s of sites) await s.stop();
  });

  async function tokenFor(who: Who): Promise<string | undefined> {
    if (who === 'anonymous') return undefined;
    if (who === 'auditor') {
      // A fresh session per call: the logout route ends the one it is called with.
      const r = await reg.api('POST', '/v1/auth/login', { body: { name: 'walker', password: auditorPassword } });
      assert.equal(r.status, 200, r.text);
      return r.body.token as string;
    }
    return tokens[who];
  }

  /** Application 1 as storage holds it (its row, votes, check runs) and the labelled member. */
  async function stateOf1(): Promise<string> {
    const s = reg.running.services.storage;
    return JSON.stringify({
      app: await s.applications.get(ctx.app1),
      votes: await s.votes.listByApplication(ctx.app1),
      runs: await s.checkRuns.listByApplication(ctx.app1, 100),
      member: await s.members.get(ctx.labelled),
    });
  }

  async function call(method: string, url: string, who: Who): Promise<ApiResponse> {
    const params = OWNED[url]?.(ctx) ?? {};
    const path =
      url.replace(/:(\w+)/g, (_m, name: string) => params[name] ?? assert.fail(`no value for :${name} in ${url}`)) +
      (QUERIES[`${method} ${url}`] ?? '');
    const body = bodies[`${method} ${url}`];
    const token = await tokenFor(who);
    return reg.api(method, path, { ...(token ? { token } : {}), ...(body !== undefined ? { body } : {}) });
  }

  const walked = () => reg.running.http.routes.filter((r) => !r.url.startsWith('/docs'));

  test('the catalogue is complete: every parameterised route has an owner fixture; public routes are exactly the expected ones', () => {
    const routes = walked();
    assert.ok(routes.length >= 20, `walked ${routes.length} routes`);
    for (const r of routes)
      if (r.url.includes(':')) assert.ok(OWNED[r.url], `${r.method} ${r.url} has a parameter but no entry in OWNED`);
    assert.deepEqual(
      new Set(routes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.url}`)),
      PUBLIC_ROUTES,
    );
  });

  test('anonymous callers reach public routes only, and change nothing of application 1', async () => {
    for (const r of walked()) {
      const before = await stateOf1();
      const res = await call(r.method, r.url, 'anonymous');
      if (r.access === 'public')
        assert.ok(res.status < 500, `${r.method} ${r.url}: ${res.status} ${res.text.slice(0, 200)}`);
      else {
        assert.equal(res.status, 401, `${r.method} ${r.url} answered ${res.status} to an anonymous caller`);
        assert.equal(res.body.code, 'unauthenticated');
      }
      assert.equal(await stateOf1(), before, `${r.method} ${r.url} changed application 1 for an anonymous caller`);
    }
  });

  test('the applicant of application 2 neither reads nor changes application 1, and no applicant reaches auditor routes', async () => {
    for (const r of walked().filter((x) => x.access !== 'public')) {
      const before = await stateOf1();
      const res = await call(r.method, r.url, 'applicant2');
      if (r.access === 'admin') {
        assert.equal(res.status, 403, `${r.method} ${r.url} answered ${res.status} to an applicant`);
        assert.equal(res.body.code, 'forbidden');
      } else {
        // Another application is indistinguishable from a missing one.
        assert.equal(
          res.status,
          404,
          `${r.method} ${r.url} answered ${res.status} to applicant 2 for application 1: ${res.text.slice(0, 200)}`,
        );
        assert.equal(res.body.code, 'not_found');
      }
      assert.equal(await stateOf1(), before, `${r.method} ${r.url} as applicant 2 changed application 1`);
    }
    for (const r of walked().filter((x) => x.access === 'admin')) {
      const before = await stateOf1();
      const res = await call(r.method, r.url, 'applicant1');
      assert.equal(res.status, 403, `${r.method} ${r.url} answered ${res.status} to the applicant of application 1`);
      assert.equal(await stateOf1(), before, `${r.method} ${r.url} as applicant 1 changed application 1`);
    }
  });

  test('auditors get no applicant route: an auditor session is not an application token', async () => {
    for (const r of walked().filter((x) => x.access === 'user')) {
      const before = await stateOf1();
      const res = await call(r.method, r.url, 'auditor');
      assert.equal(res.status, 403, `${r.method} ${r.url} answered ${res.status} to an auditor`);
      assert.equal(res.body.code, 'forbidden');
      assert.equal(await stateOf1(), before);
    }
  });

  test('the owner reaches its application and the auditor reaches every auditor route (the walk is not vacuous)', async () => {
    for (const r of walked().filter((x) => x.access === 'user')) {
      const res = await call(r.method, r.url, 'applicant1');
      assert.equal(res.status, 200, `${r.method} ${r.url} as applicant 1: ${res.text.slice(0, 200)}`);
    }
    const adminRoutes = walked()
      .filter((x) => x.access === 'admin')
      // Cast a vote before withdrawing it; propose the revocation, vote on it, suspend; log out last.
      .sort((a, b) => order(a) - order(b));
    for (const r of adminRoutes) {
      const res = await call(r.method, r.url, 'auditor');
      assert.ok(
        res.status >= 200 && res.status < 300,
        `${r.method} ${r.url} as auditor: ${res.status} ${res.text.slice(0, 200)}`,
      );
    }
    // One auditor proposed, voted and suspended: suspended, not revoked (issue 16); a second approval revokes.
    assert.equal((await reg.running.services.storage.members.get(ctx.labelled))?.status, 'suspended');
    const second2 = await reg.api('POST', `/v1/audit/instances/${ctx.labelled}/revocation/votes`, {
      token: second.token,
      body: { vote: 'approve' },
    });
    assert.equal(second2.status, 200, second2.text);
    assert.equal((await reg.running.services.storage.members.get(ctx.labelled))?.status, 'revoked');
  });

  test('the console’s cookie session reaches auditor routes only; an applicant token in the cookie is no auditor', async () => {
    const login = await reg.api('POST', '/v1/auth/login', {
      body: { name: 'walker', password: auditorPassword, cookie: true },
    });
    assert.equal(login.status, 200, login.text);
    assert.equal(login.body.token, undefined, 'the cookie session is not in the answer');
    const setCookie = login.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /^caliopen_auditor=[^;]+; Path=\/v1; HttpOnly; SameSite=Strict; Max-Age=\d+/);
    const cookie = setCookie.split(';')[0]!;
    const applicantCookie = `caliopen_auditor=${tokens.applicant1}`;
    for (const r of walked().filter((x) => x.access !== 'public' && x.url !== '/v1/auth/logout')) {
      const before = await stateOf1();
      const params = OWNED[r.url]?.(ctx) ?? {};
      const path = r.url.replace(/:(\w+)/g, (_m, name: string) => params[name]!);
      const body = bodies[`${r.method} ${r.url}`];
      if (r.access === 'user') {
        // Applicant routes never read the cookie.
        const res = await reg.api(r.method, path, { headers: { cookie }, ...(body !== undefined ? { body } : {}) });
        assert.equal(res.status, 401, `${r.method} ${r.url} with the auditor cookie: ${res.status}`);
      } else if (r.method === 'GET') {
        const res = await reg.api(r.method, path, { headers: { cookie } });
        assert.equal(res.status, 200, `${r.method} ${r.url} with the auditor cookie: ${res.text.slice(0, 200)}`);
      }
      if (r.access === 'admin') {
        const res = await reg.api(r.method, path, {
          headers: { cookie: applicantCookie },
          ...(body !== undefined ? { body } : {}),
        });
        assert.equal(res.status, 403, `${r.method} ${r.url} with an applicant token as cookie: ${res.status}`);
      }
      assert.equal(await stateOf1(), before);
    }
    const out = await reg.api('POST', '/v1/auth/logout', { headers: { cookie } });
    assert.equal(out.status, 204);
    assert.match(out.headers.get('set-cookie') ?? '', /caliopen_auditor=; .*Max-Age=0/);
    assert.equal((await reg.api('GET', '/v1/auth/session', { headers: { cookie } })).status, 401);
  });
});

function order(r: { method: string; url: string }): number {
  if (r.url === '/v1/auth/logout') return 9;
  if (r.url.endsWith('/suspend')) return 6;
  if (r.url.endsWith('/revocation/votes')) return 5;
  if (r.url.endsWith('/revoke')) return 4;
  if (r.method === 'DELETE') return 2;
  if (r.method === 'POST' && r.url.endsWith('/votes')) return 1;
  return 0;
}
