/**
 * Late decryption (issue 5 area, E2E mail), on a real instance process restarted like a real one:
 * - Bob keeps his key on the server. The instance restarts: his key is locked until he signs in again. Alice (signed
 *   in again) sends him an encrypted and signed message (HTTP API, local delivery): it is stored as it came — outer
 *   subject "...", no body, not searchable — and marked as waiting.
 * - Bob signs in: within a bounded wait the message shows its real (protected) subject and decrypted body, its facts
 *   say decrypted with a valid signature, the search finds a word of the body, and its PI counts the E2E and
 *   signature factors. The raw message stays ciphertext.
 * - A message encrypted to someone else and an altered one stay as they were (given up once, no retry loop, no
 *   crash); a client-mode account's encrypted mail is never marked nor touched.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { startInstance, type RunningInstance } from '@caliopen/instance/app/instance.app.ts';
import { initInstance } from '@caliopen/instance/app/instance.init.ts';
import { loadConfig } from '@caliopen/instance/config/config.loader.ts';
import { generateTestKey, pgpMimeEncrypted, type TestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import pino from 'pino';
import { type Api, jsonApi, ok } from '../support/api-client.ts';
import { queueIdle as isIdle } from '../support/instance.ts';
import { mailbox as mailboxOf } from '../support/mail-world.ts';
import { tempDir } from '../support/tmp.ts';
import { waitFor } from '../support/net.ts';

const DOMAIN = 'alpha.test';

describe('late decryption: encrypted mail that arrived while the server-held key was locked', () => {
  const tmp = tempDir('caliopen-late-decryption-');
  let config: ReturnType<typeof loadConfig>;
  let running: RunningInstance;
  const passwords = {
    alice: 'alice-password-0123456789',
    bob: 'bob-password-0123456789',
    carl: 'carl-password-0123456789',
  };
  const ids: Record<string, string> = {};
  const tokens: Record<string, string> = {};
  let carlKey: TestKey;
  let stranger: TestKey;

  /** The API of the instance running now (it restarts). */
  const api: Api = (method, path, o) => jsonApi(running.url)(method, path, o);
  async function login(username: keyof typeof passwords): Promise<string> {
    return ok(await api('POST', '/api/v1/auth/login', { body: { username, password: passwords[username] } }))
      .token as string;
  }
  const start = async () => {
    running = await startInstance(config, { logger: pino({ level: 'silent' }) });
  };
  /** Every message of an account (discussions, then their messages). */
  const mailbox = (token: string) => mailboxOf({ api }, token);
  async function queueIdle(queue: string): Promise<void> {
    await waitFor(() => isIdle(running, queue), 30_000);
  }
  async function searchIds(token: string, q: string): Promise<string[]> {
    return (ok(await api('GET', `/api/v1/search?q=${encodeURIComponent(q)}`, { token })).items as any[]).map(
      (i) => i.message.id as string,
    );
  }
  /** Delivered as local mail is (the ingest port, facts of a local hop). */
  async function deliverLocally(accountId: string, raw: Buffer): Promise<string> {
    const r = await running.services.ingest.ingest({
      accountId,
      raw,
      direction: 'inbound',
      receivedAt: new Date(),
      facts: {
        transport: {
          via: 'local',
          tls: null,
          clientIp: null,
          helo: null,
          receivedChain: [],
          externalHops: 0,
          plaintextHops: 0,
        },
        authentication: null,
      },
    });
    return r.message.id;
  }

  beforeAll(async () => {
    await initInstance({ domain: DOMAIN, dataDir: tmp.dir, httpPort: '0' }, () => {});
    config = loadConfig({
      dataDir: tmp.dir,
      env: { CALIOPEN_LOGIN_RATE_LIMIT: '10000', CALIOPEN_HTTPS_PORT: '0' },
      overrides: { log: { level: 'silent' } },
    });
    await start();
    for (const username of ['alice', 'bob', 'carl'] as const) {
      ids[username] = (await running.services.accounts.create({ username, password: passwords[username] })).id;
      tokens[username] = await login(username);
    }
    for (const username of ['alice', 'bob'] as const) {
      ok(
        await api('POST', '/api/v1/keys', {
          token: tokens[username],
          body: { mode: 'server', password: passwords[username] },
        }),
        201,
      );
    }
    carlKey = await generateTestKey(`carl@${DOMAIN}`, { name: 'Carl' });
    stranger = await generateTestKey('stranger@elsewhere.example');
    ok(
      await api('POST', '/api/v1/keys', {
        token: tokens.carl,
        body: { mode: 'client', armoredPublicKey: carlKey.armoredPublic },
      }),
      201,
    );
  });
  afterAll(async () => {
    await running?.stop();
    tmp.cleanup();
  });

  test('locked at arrival, decrypted after the login: real subject, body, facts, search and PI', async () => {
    // A restart: nobody's key is usable until they sign in again. Alice does; Bob does not (yet).
    await running.stop();
    await start();
    assert.equal(await running.services.accountKeys.unlocked(ids.bob!), null, 'Bob is locked after the restart');
    tokens.alice = await login('alice');

    const sent = ok(
      await api('POST', '/api/v1/messages', {
        token: tokens.alice,
        body: {
          to: [{ address: `bob@${DOMAIN}` }],
          subject: 'Harbour plans',
          text: 'Meet at the lighthouse, pelican at dawn.',
          encryption: 'require',
          sign: true,
        },
      }),
      202,
    );
    assert.deepEqual([sent.encrypted, sent.signed], [true, true]);
    // Carl (client mode) gets one too: the server can never decrypt it, and never marks it.
    const toCarl = ok(
      await api('POST', '/api/v1/messages', {
        token: tokens.alice,
        body: {
          to: [{ address: `carl@${DOMAIN}` }],
          subject: 'For Carl',
          text: 'Only Carl reads this, walrus.',
          encryption: 'require',
          sign: true,
        },
      }),
      202,
    );
    assert.equal(toCarl.encrypted, true);
    // Hostile or foreign ciphertext to Bob, while locked: encrypted to a stranger, and an altered copy of one to him.
    const bobPublic = (await running.services.accountKeys.publicKey(ids.bob!))!;
    const bobAsRecipient = {
      publicKey: await (await import('openpgp')).readKey({ armoredKey: bobPublic.armored }),
    } as unknown as TestKey;
    const foreign = await deliverLocally(
      ids.bob!,
      await pgpMimeEncrypted({
        from: `Alice <alice@${DOMAIN}>`,
        to: `bob@${DOMAIN}`,
        subject: 'Not for you',
        recipients: [stranger],
        text: 'stranger words, narwhal.',
      }),
    );
    const good = (
      await pgpMimeEncrypted({
        from: `Alice <alice@${DOMAIN}>`,
        to: `bob@${DOMAIN}`,
        subject: 'Altered',
        recipients: [bobAsRecipient],
        text: 'tampered words, okapi.',
      })
    ).toString('latin1');
    // Flip characters deep in the armoured ciphertext (after the session key packet): parses, never decrypts.
    const lines = good.split('\r\n');
    const armourStart = lines.findIndex((l) => l.startsWith('-----BEGIN PGP MESSAGE'));
    const target = armourStart + 4;
    lines[target] = lines[target]!.split('')
      .map((c, i) => (i % 7 === 3 ? (c === 'A' ? 'B' : 'A') : c))
      .join('');
    const altered = await deliverLocally(ids.bob!, Buffer.from(lines.join('\r\n'), 'latin1'));

    // Bob's listing: the message is there, unreadable (the outer subject), waiting.
    let locked: any = null;
    await waitFor(async () => {
      locked =
        (await mailbox(tokens.bob!)).find((m) => m.direction === 'inbound' && m.id !== foreign && m.id !== altered) ??
        null;
      return locked !== null;
    }, 30_000);
    assert.equal(locked.subject, '...', 'the outer subject only');
    const before = ok(await api('GET', `/api/v1/messages/${locked.id}`, { token: tokens.bob }));
    assert.equal(before.facts.openpgp.encrypted, true);
    assert.notEqual(before.facts.openpgp.decrypted, true);
    assert.equal(before.facts.openpgp.pendingDecryption, true, 'marked for a later decryption');
    assert.ok(!JSON.stringify(before.body ?? null).includes('pelican'), 'no readable body while locked');
    await queueIdle('index');
    assert.ok(!(await searchIds(tokens.bob!, 'pelican')).includes(locked.id), 'not searchable while locked');
    const carlsMessage = (await mailbox(tokens.carl!)).find((m) => m.direction === 'inbound');
    assert.ok(carlsMessage, 'Carl received his');
    const carlBefore = ok(await api('GET', `/api/v1/messages/${carlsMessage.id}`, { token: tokens.carl }));
    assert.equal(carlBefore.facts.openpgp.encrypted, true);
    assert.equal(carlBefore.facts.openpgp.pendingDecryption, undefined, 'a client-mode account is never marked');
    for (const id of [foreign, altered]) {
      const m = ok(await api('GET', `/api/v1/messages/${id}`, { token: tokens.bob }));
      assert.deepEqual(
        [m.facts.openpgp.encrypted, m.facts.openpgp.pendingDecryption],
        [true, true],
        `${id}: well-formed, so marked too`,
      );
    }

    // Bob signs in: his key is unlocked, and the waiting mail is decrypted in the background.
    tokens.bob = await login('bob');
    let after: any = null;
    await waitFor(async () => {
      after = ok(await api('GET', `/api/v1/messages/${locked.id}`, { token: tokens.bob }));
      return after.facts.openpgp.decrypted === true;
    }, 30_000);
    assert.equal(after.subject, 'Harbour plans', 'the inner (protected) subject');
    assert.match(after.body.text, /lighthouse, pelican at dawn/, 'Bob reads the decrypted text');
    assert.equal(after.facts.openpgp.pendingDecryption, undefined, 'no longer waiting');
    assert.equal(after.facts.openpgp.signature, 'valid', after.facts.openpgp.problem ?? '');
    assert.ok(after.snippet === undefined || /pelican/.test(after.snippet), 'the snippet is the decrypted one');
    await waitFor(async () => (await searchIds(tokens.bob!, 'pelican')).includes(locked.id), 20_000);
    await queueIdle('decrypt-pending');
    await queueIdle('pi');
    const pi = ok(await api('GET', `/api/v1/messages/${locked.id}`, { token: tokens.bob })).pi;
    const factor = (id: string) =>
      (pi.factors as { id: string; contribution: number }[]).find((f) => f.id === id)?.contribution ?? 0;
    assert.equal(factor('e2e.openpgp'), 25, JSON.stringify(pi.factors));
    assert.equal(factor('origin.signature'), 8, JSON.stringify(pi.factors));
    const stored = (await running.services.storage.messages.get(ids.bob!, locked.id))!;
    assert.equal(stored.pi?.score, pi.score, 'the stored PI was recomputed');
    const raw = await api('GET', `/api/v1/messages/${locked.id}/raw`, { token: tokens.bob });
    assert.ok(!raw.text.includes('pelican'), 'the raw message stays ciphertext');

    // What none of Bob's keys opens stays as it was: not decrypted, no longer waiting, not tried again.
    for (const id of [foreign, altered]) {
      const m = ok(await api('GET', `/api/v1/messages/${id}`, { token: tokens.bob }));
      assert.notEqual(m.facts.openpgp.decrypted, true);
      assert.equal(m.facts.openpgp.pendingDecryption, undefined, `${id}: given up`);
      assert.notEqual(m.subject, 'Harbour plans');
    }
    assert.equal((await running.services.queue.counts('decrypt-pending')).dead, 0, 'no job failed');
    assert.deepEqual(await running.services.storage.messages.listPendingDecryption(ids.bob!, 10), []);
    assert.deepEqual(
      await running.services.lateDecryption!.run(ids.bob!),
      { decrypted: 0, givenUp: 0, more: false },
      'a re-run finds nothing',
    );

    // Carl's message was never touched; his logins schedule nothing.
    tokens.carl = await login('carl');
    assert.deepEqual(await running.services.lateDecryption!.run(ids.carl!), { decrypted: 0, givenUp: 0, more: false });
    const carlAfter = ok(await api('GET', `/api/v1/messages/${carlsMessage.id}`, { token: tokens.carl }));
    assert.deepEqual(carlAfter.facts.openpgp, carlBefore.facts.openpgp);
    assert.equal(carlAfter.subject, carlBefore.subject);
  });
});
