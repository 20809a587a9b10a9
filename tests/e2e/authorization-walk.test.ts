/**
 * The authorization walk: every route the server registers is called as anonymous, as user A, as user B and as an
 * admin, with A's resources in its path. It proves that nobody reads or changes what is not theirs.
 *
 * The walk is generic: it reads the live route catalogue (each route's declared access). A new route joins it
 * automatically; a new route with a path parameter must name, in OWNED_BY_A below, which of A's resources fills it,
 * or the walk fails — so no route can slip by unwalked. The set of public routes is pinned too.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { xmppCredentialPurpose } from '@caliopen/instance/xmpp/xmpp-account.entity.ts';
import { credentialPurpose, IDLE_SYNC } from '@caliopen/instance/identities/remote-identity.entity.ts';
import { sendAsPurpose } from '@caliopen/instance/identities/send-as.entity.ts';
import { generateTestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import { queueIdle, startTestInstance, type ApiResponse, type TestInstance } from '../support/instance.ts';
import { waitFor } from '../support/net.ts';
import { openSse } from '../support/sse-client.ts';

type Who = 'anonymous' | 'userA' | 'userB' | 'admin';

interface WalkContext {
  a: {
    id: string;
    spareDeviceId: string;
    messageId: string;
    conversationId: string;
    contactId: string;
    otherContactId: string;
    identityId: string;
    xmppLinkId: string;
    keyFingerprint: string;
    keyArmored: string;
    ownKeyFingerprint: string;
    noticeId: string;
    appPasswordId: string;
  };
}

/** For each route with parameters: the values that point at a resource belonging to user A. */
const OWNED_BY_A: Record<string, (ctx: WalkContext) => Record<string, string>> = {
  '/api/v1/devices/:id': (ctx) => ({ id: ctx.a.spareDeviceId }),
  '/api/v1/admin/users/:id': (ctx) => ({ id: ctx.a.id }),
  '/api/v1/admin/users/:id/password': (ctx) => ({ id: ctx.a.id }),
  '/api/v1/identities/:id': (ctx) => ({ id: ctx.a.identityId }),
  '/api/v1/xmpp/accounts/:id': (ctx) => ({ id: ctx.a.xmppLinkId }),
  '/api/v1/identities/:id/import': (ctx) => ({ id: ctx.a.identityId }),
  '/api/v1/identities/:id/send-as': (ctx) => ({ id: ctx.a.identityId }),
  '/api/v1/me/app-passwords/:id': (ctx) => ({ id: ctx.a.appPasswordId }),
  '/api/v1/discussions/:id': (ctx) => ({ id: ctx.a.conversationId }),
  '/api/v1/discussions/:id/messages': (ctx) => ({ id: ctx.a.conversationId }),
  '/api/v1/discussions/:id/threads': (ctx) => ({ id: ctx.a.conversationId }),
  '/api/v1/messages/:id': (ctx) => ({ id: ctx.a.messageId }),
  '/api/v1/messages/:id/raw': (ctx) => ({ id: ctx.a.messageId }),
  '/api/v1/messages/:id/attachments/:index': (ctx) => ({ id: ctx.a.messageId, index: '0' }),
  '/api/v1/messages/:id/html': (ctx) => ({ id: ctx.a.messageId }),
  '/api/v1/messages/:id/remote-image': (ctx) => ({ id: ctx.a.messageId }),
  '/api/v1/contacts/:id': (ctx) => ({ id: ctx.a.contactId }),
  '/api/v1/contacts/:id/keys': (ctx) => ({ id: ctx.a.contactId }),
  '/api/v1/contacts/:id/keys/:fingerprint/verify': (ctx) => ({
    id: ctx.a.contactId,
    fingerprint: ctx.a.keyFingerprint,
  }),
  '/api/v1/contacts/:id/keys/:fingerprint/reject': (ctx) => ({
    id: ctx.a.contactId,
    fingerprint: ctx.a.keyFingerprint,
  }),
  '/api/v1/keys/:fingerprint/revoke': (ctx) => ({ fingerprint: ctx.a.ownKeyFingerprint }),
  '/api/v1/notices/:id/dismiss': (ctx) => ({ id: ctx.a.noticeId }),
};

/**
 * Routes with a path parameter that names no one's resource: what every user may look up alike (a correspondent's
 * instance in the registry's feed). B reading them is no leak; they are walked like the "me" routes.
 */
const SHARED_LOOKUPS: Record<string, Record<string, string>> = {
  '/api/v1/federation/peers/:domain': { domain: 'beta.test' },
  // An ACME HTTP-01 answer: public by design (the CA asks unauthenticated); no order runs, so every token is a 404.
  '/.well-known/acme-challenge/:token': { token: 'no-order-in-progress' },
};

/** Routes anyone may call. Anything else answering an anonymous caller is a leak. */
// GET / and GET /*: the user's web app (static files and its client routes, instance/src/http/web-app.plugin.ts).
const PUBLIC_ROUTES = new Set([
  'GET /healthz',
  'GET /metrics',
  'POST /api/v1/auth/login',
  'GET /',
  'GET /*',
  'GET /.well-known/acme-challenge/:token',
]);

/** A query string that passes validation for each route that needs one, so the walk reaches the handler. */
const VALID_QUERIES: Record<string, string> = {
  // A's own address: a local recipient, so the preview never reaches for the network.
  'GET /api/v1/routes': '?to=walker-a@alpha.test',
  // A URL that passes validation, so the walk reaches the ownership check (it is never fetched: not in the message).
  'GET /api/v1/messages/:id/remote-image': '?url=https%3A%2F%2Fimages.example%2Fx.png',
};

/** A body that passes validation for each route that takes one, so the walk reaches the handler. */
const VALID_BODIES: Record<string, unknown | ((ctx: WalkContext) => unknown)> = {
  'POST /api/v1/auth/login': { username: 'nobody', password: 'irrelevant-password' },
  'POST /api/v1/me/password': { currentPassword: 'wrong-current-password', newPassword: 'a-new-password-1' },
  'POST /api/v1/me/totp/confirm': { code: '000000' },
  'POST /api/v1/me/totp/disable': { code: '000000' },
  'POST /api/v1/admin/users': { username: 'walk-created', password: 'walk-password-1' },
  'PATCH /api/v1/admin/users/:id': { displayName: 'Renamed by the walk' },
  'POST /api/v1/admin/users/:id/password': { password: 'walk-reset-password' },
  // A loopback host: refused before any connection (imports from non-public addresses are off by default).
  'POST /api/v1/identities': {
    kind: 'imap',
    host: '127.0.0.1',
    port: 993,
    tls: 'implicit',
    username: 'walk',
    password: 'walk-remote-password',
  },
  // A loopback host: refused before any connection (like the IMAP one above).
  'PUT /api/v1/identities/:id/send-as': {
    address: 'walk@w.example',
    host: '127.0.0.1',
    port: 465,
    tls: 'implicit',
    password: 'walk-smtp-password',
  },
  // A new name only: a new password would be tried against A's provider first.
  'PATCH /api/v1/identities/:id': { label: 'Renamed by the walk' },
  'POST /api/v1/me/app-passwords': { label: 'walk' },
  'PATCH /api/v1/messages/:id': { read: true, tags: ['walk'], deleted: true, importance: 'junk' },
  'POST /api/v1/contacts': { displayName: 'Walk contact', identities: [{ address: 'walk@w.example' }] },
  'PATCH /api/v1/contacts/:id': { notes: 'changed by the walk' },
  'POST /api/v1/contacts/merge': (ctx: WalkContext) => ({ target: ctx.a.contactId, sources: [ctx.a.otherContactId] }),
  'POST /api/v1/contacts/:id/keys': (ctx: WalkContext) => ({ armored: ctx.a.keyArmored }),
  'POST /api/v1/contacts/import':
    'BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Walk import\r\nEMAIL:walk-import@w.example\r\nEND:VCARD\r\n',
  // To B's own address: delivered locally, so the walk never reaches for the network.
  'POST /api/v1/messages': { to: [{ address: 'walker-b@alpha.test' }], subject: 'walk', text: 'walk' },
  // B's own password: B makes a key for B (then moves it to client mode); A's key (made in before) never changes.
  'POST /api/v1/keys': { mode: 'server', password: 'pw-walker-b-0123456789' },
  'POST /api/v1/keys/mode': { mode: 'client', password: 'pw-walker-b-0123456789' },
  'POST /api/v1/keys/export': { password: 'pw-walker-b-0123456789' },
  'POST /api/v1/keys/:fingerprint/revoke': {},
  'PUT /api/v1/privacy/sharing': { shareTrust: false },
};

describe('authorization walk over every route', () => {
  let inst: TestInstance;
  let ctx: WalkContext;
  let passwords: Record<string, string>;

  beforeAll(async () => {
    inst = await startTestInstance();
    const a = await inst.user('walker-a');
    await inst.user('walker-b');
    await inst.user('walker-admin', 'admin');
    // A second device of A: the resource the device routes are walked on.
    const spare = await inst.api('POST', '/api/v1/auth/login', {
      body: { username: 'walker-a', password: a.password, deviceName: 'spare' },
    });
    // A message of A (in a conversation with an automatic contact) and a second contact: what the mail routes walk on.
    const { services } = inst.running;
    const raw = Buffer.from(
      'From: Walk Sender <walk-sender@w.example>\r\nTo: walker-a@alpha.test\r\nSubject: walk\r\nMessage-ID: <walk@w.example>\r\n' +
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="w"\r\n\r\n--w\r\nContent-Type: text/plain\r\n\r\nhello\r\n' +
        '--w\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename="walk.txt"\r\n\r\nattached\r\n--w--\r\n',
    );
    const { message } = await services.ingest.ingest({
      accountId: a.id,
      raw,
      direction: 'inbound',
      receivedAt: new Date(),
      facts: { transport: null, authentication: null },
    });
    const other = await services.contacts.create(a.id, {
      displayName: 'Other of A',
      identities: [{ address: 'other-of-a@w.example' }],
    });
    // A remote identity of A, stored directly: creating one through the API needs a live IMAP server (imap-import.test.ts).
    const identityId = randomUUID();
    await services.storage.remoteIdentities.create({
      id: identityId,
      accountId: a.id,
      kind: 'imap',
      label: 'walk',
      host: 'imap.w.example',
      port: 993,
      tls: 'implicit',
      username: 'walker-a',
      credentialSealed: services.box.seal('walk-remote-password', credentialPurpose(identityId)),
      createdAt: new Date(),
      updatedAt: new Date(),
      sync: { ...IDLE_SYNC },
    });
    // A linked XMPP account of A, stored directly: linking through the API needs a live XMPP server (xmpp-chat.test.ts).
    const xmppLinkId = randomUUID();
    await services.storage.xmppAccounts.create({
      id: xmppLinkId,
      accountId: a.id,
      jid: 'walker-a@chat.w.example',
      host: null,
      port: null,
      label: 'walk',
      credentialSealed: services.box.seal('walk-xmpp-password', xmppCredentialPurpose(xmppLinkId)),
      archiveCursor: null,
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    // A's send-as relay on that identity, and an app password of A: the send-as and app-password routes walk on them.
    await services.storage.sendAs.put({
      accountId: a.id,
      identityId,
      address: 'walker-a@w.example',
      host: 'smtp.w.example',
      port: 465,
      tls: 'implicit',
      username: 'walker-a',
      credentialSealed: services.box.seal('walk-smtp-password', sendAsPurpose(identityId)),
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    const appPassword = await services.appPasswords.create(a.id, 'walk');
    // A key pinned for A's contact (the key routes walk on it), and a second key of the same address to add.
    const pinned = await generateTestKey('walk-sender@w.example');
    const another = await generateTestKey('walk-sender@w.example');
    await services.keys.addKey(a.id, 'walk-sender@w.example', pinned.armoredPublic, 'autocrypt');
    // A key alert of A (a third key of the address, in conflict with the pinned one): GET /api/v1/keys/alerts shows it.
    await services.keys.addKey(
      a.id,
      'walk-sender@w.example',
      (await generateTestKey('walk-sender@w.example')).armoredPublic,
      'autocrypt',
    );
    // A's own key, server-held: the account-key routes walk on it.
    const own = await services.accountKeys.generate(a.id, { mode: 'server', password: a.password });
    // A notice of A (a failed delivery of its message, as the delivery domain tells it): the dismiss route walks on it.
    await services.events.publish('delivery.failed', {
      accountId: a.id,
      messageId: message.id,
      at: new Date(),
      recipients: [{ address: 'gone@w.example', status: '5.1.1', diagnostic: 'No such user', remoteMta: null }],
    });
    const [notice] = await services.notices.list(a.id);
    ctx = {
      a: {
        id: a.id,
        spareDeviceId: spare.body.device.id,
        messageId: message.id,
        conversationId: message.conversationId,
        contactId: message.from.contactId!,
        otherContactId: other.id,
        identityId,
        xmppLinkId,
        keyFingerprint: pinned.fingerprint,
        keyArmored: another.armoredPublic,
        ownKeyFingerprint: own.fingerprint,
        noticeId: notice!.id,
        appPasswordId: appPassword.id,
      },
    };
    passwords = { userA: a.password, userB: 'pw-walker-b-0123456789', admin: 'pw-walker-admin-0123456789' };
  });
  afterAll(async () => {
    await inst.stop();
  });

  /** A fresh token per call, so routes that end sessions (logout, password change) do not disturb the walk. */
  async function tokenFor(who: Who): Promise<string | undefined> {
    if (who === 'anonymous') return undefined;
    const username = { userA: 'walker-a', userB: 'walker-b', admin: 'walker-admin' }[who];
    const r = await inst.api('POST', '/api/v1/auth/login', { body: { username, password: passwords[who] } });
    assert.equal(r.status, 200, `login as ${who}: ${r.text}`);
    return r.body.token as string;
  }

  /** What A owns, as the API's own storage holds it: must not change when others call. */
  async function stateOfA(): Promise<string> {
    // Privacy Index recomputation runs in the background ('pi' queue): let it settle so that only a change caused by
    // the call under test can differ.
    await waitFor(() => queueIdle(inst.running, 'pi'), 20_000);
    const s = inst.running.services.storage;
    const account = await s.accounts.get(ctx.a.id);
    const devices = await s.devices.listByAccount(ctx.a.id);
    const message = await s.messages.get(ctx.a.id, ctx.a.messageId);
    const conversation = await s.conversations.get(ctx.a.id, ctx.a.conversationId);
    const contacts = await s.contacts.list(ctx.a.id, { limit: 100 });
    const identities = await s.remoteIdentities.listByAccount(ctx.a.id);
    const xmppLinks = await s.xmppAccounts.listByAccount(ctx.a.id);
    const keys = await s.keys.listByAddresses(
      ctx.a.id,
      contacts.flatMap((c) => c.identities.map((i) => i.address)),
    );
    const ownKeys = await s.accountKeys.listByAccount(ctx.a.id);
    const appPasswords = await s.appPasswords.list(ctx.a.id);
    const sendAs = await s.sendAs.listByAccount(ctx.a.id);
    // The admin journal's entries about A: only an admin's action on A adds one.
    const journal = await inst.running.services.journal.list({ limit: 500, subjectId: ctx.a.id });
    return JSON.stringify({
      journal,
      account,
      devices: devices.map((d) => ({ ...d, lastSeenAt: undefined })),
      message,
      conversation,
      contacts,
      identities,
      xmppLinks,
      keys,
      ownKeys,
      appPasswords,
      sendAs,
    });
  }

  async function call(method: string, url: string, who: Who): Promise<ApiResponse> {
    const params = OWNED_BY_A[url]?.(ctx) ?? SHARED_LOOKUPS[url] ?? {};
    const path =
      url.replace(/:(\w+)/g, (_m, name: string) => params[name] ?? assert.fail(`no value for :${name} in ${url}`)) +
      (VALID_QUERIES[`${method} ${url}`] ?? '');
    const given = VALID_BODIES[`${method} ${url}`];
    const body = typeof given === 'function' ? given(ctx) : given;
    const token = await tokenFor(who);
    if (method === 'GET' && url === '/api/v1/events' && token) {
      // A live-update stream never ends by itself: read its first event (it answers), then close it.
      const s = await openSse(`${inst.url}${path}`, token);
      if (s.status === 200) await s.next((e) => e.event === 'hello');
      s.close();
      const text = JSON.stringify(s.problem ?? s.events);
      return { status: s.status, headers: s.headers, body: s.problem ?? s.events, text, bytes: new Uint8Array() };
    }
    return inst.api(method, path, { ...(token ? { token } : {}), ...(body !== undefined ? { body } : {}) });
  }

  test('the catalogue is complete: every parameterised route has an owner fixture; public routes are exactly the expected ones', () => {
    const routes = inst.running.http.routes.filter((r) => !r.url.startsWith('/api/docs'));
    assert.ok(routes.length >= 14, `walked ${routes.length} routes`);
    for (const r of routes) {
      if (r.url.includes(':'))
        assert.ok(
          OWNED_BY_A[r.url] || SHARED_LOOKUPS[r.url],
          `${r.method} ${r.url} has a parameter but no entry in OWNED_BY_A (or SHARED_LOOKUPS)`,
        );
    }
    const publicRoutes = routes.filter((r) => r.access === 'public').map((r) => `${r.method} ${r.url}`);
    assert.deepEqual(new Set(publicRoutes), PUBLIC_ROUTES);
  });

  test('anonymous callers reach public routes only', async () => {
    for (const r of inst.running.http.routes.filter((r) => !r.url.startsWith('/api/docs'))) {
      const before = await stateOfA();
      const res = await call(r.method, r.url, 'anonymous');
      if (r.access === 'public') {
        assert.ok(res.status < 500, `${r.method} ${r.url}: ${res.status}`);
      } else {
        assert.equal(res.status, 401, `${r.method} ${r.url} answered ${res.status} to an anonymous caller`);
        assert.equal(res.body.code, 'unauthenticated');
      }
      assert.equal(await stateOfA(), before, `${r.method} ${r.url} changed A's data for an anonymous caller`);
    }
  });

  test("users cannot reach admin routes, and user B neither reads nor changes A's resources", async () => {
    for (const r of inst.running.http.routes.filter((r) => r.access !== 'public' && !r.url.startsWith('/api/docs'))) {
      const before = await stateOfA();
      const res = await call(r.method, r.url, 'userB');
      if (r.access === 'admin') {
        assert.equal(res.status, 403, `${r.method} ${r.url} answered ${res.status} to a non-admin`);
        assert.equal(res.body.code, 'forbidden');
      } else if (OWNED_BY_A[r.url]) {
        // Someone else's resource is indistinguishable from a missing one.
        assert.equal(res.status, 404, `${r.method} ${r.url} answered ${res.status} to B for A's resource: ${res.text}`);
        assert.equal(res.body.code, 'not_found');
      } else {
        // Routes about "me": B acts on B, never on A (checked by A's state below).
        assert.ok(res.status < 500, `${r.method} ${r.url}: ${res.status} ${res.text}`);
      }
      assert.equal(await stateOfA(), before, `${r.method} ${r.url} as B changed A's data`);
    }
  });

  test('A reaches its own resources and admins reach admin routes (the walk is not vacuous)', async () => {
    const devicesOfA = inst.running.http.routes.filter((r) => r.url === '/api/v1/devices/:id');
    for (const r of devicesOfA.sort((x, y) => Number(x.method === 'DELETE') - Number(y.method === 'DELETE'))) {
      const res = await call(r.method, r.url, 'userA');
      assert.equal(res.status, 200, `${r.method} ${r.url} as A: ${res.text}`);
      assert.equal(res.body.id, ctx.a.spareDeviceId);
    }
    for (const url of [
      '/api/v1/discussions/:id',
      '/api/v1/discussions/:id/messages',
      '/api/v1/discussions/:id/threads',
      '/api/v1/messages/:id',
      '/api/v1/messages/:id/raw',
      '/api/v1/messages/:id/attachments/:index',
      '/api/v1/messages/:id/html',
      '/api/v1/contacts/:id',
      '/api/v1/contacts/:id/keys',
      '/api/v1/keys',
      '/api/v1/keys/alerts',
    ]) {
      const res = await call('GET', url, 'userA');
      assert.equal(res.status, 200, `GET ${url} as A: ${res.text.slice(0, 200)}`);
    }
    // Key alerts are the caller's own: A sees the one of A's contact, B none of it.
    assert.deepEqual(
      (await call('GET', '/api/v1/keys/alerts', 'userA')).body.items.map(
        (i: { contact: { id: string } }) => i.contact.id,
      ),
      [ctx.a.contactId],
    );
    assert.deepEqual((await call('GET', '/api/v1/keys/alerts', 'userB')).body.items, []);
    for (const r of inst.running.http.routes.filter((r) => r.access === 'admin')) {
      const res = await call(r.method, r.url, 'admin');
      assert.ok(res.status >= 200 && res.status < 300, `${r.method} ${r.url} as admin: ${res.status} ${res.text}`);
    }
  });

  test('the admin journal and the console: admins read every entry, A reads those about A, B none of them', async () => {
    const adminRoutes = inst.running.http.routes.filter((r) => r.access === 'admin').map((r) => `${r.method} ${r.url}`);
    for (const route of [
      'GET /api/v1/admin/journal',
      'GET /api/v1/admin/journal/verify',
      'GET /api/v1/admin/dns',
      'GET /api/v1/admin/queues',
      'GET /api/v1/admin/overview',
      'GET /api/v1/admin/peers',
    ])
      assert.ok(adminRoutes.includes(route), `${route} is an admin route`);
    const userRoutes = inst.running.http.routes.filter((r) => r.access === 'user').map((r) => `${r.method} ${r.url}`);
    assert.ok(userRoutes.includes('GET /api/v1/me/journal'));

    // The walk's admin calls changed A (renamed, password reset): A reads them; B's journal holds nothing about A.
    passwords.userA = (VALID_BODIES['POST /api/v1/admin/users/:id/password'] as { password: string }).password;
    const ofA = (await call('GET', '/api/v1/me/journal', 'userA')).body.items;
    assert.ok(ofA.length >= 2, JSON.stringify(ofA));
    assert.ok(ofA.every((e: { subject: { accountId: string } }) => e.subject.accountId === ctx.a.id));
    assert.ok(ofA.some((e: { action: string }) => e.action === 'account.password_reset'));
    const ofB = (await call('GET', '/api/v1/me/journal', 'userB')).body.items;
    assert.ok(ofB.every((e: { subject: { accountId: string } }) => e.subject.accountId !== ctx.a.id));
    const all = (await call('GET', '/api/v1/admin/journal', 'admin')).body.items;
    assert.ok(all.length >= ofA.length);
    assert.equal((await call('GET', '/api/v1/admin/journal/verify', 'admin')).body.ok, true);
  });
});
