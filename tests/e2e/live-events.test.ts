/**
 * Live updates over HTTP (GET /api/v1/events, Server-Sent Events) against a real instance: a mail that arrives over
 * SMTP reaches the recipient's open stream (ids only, never a subject), another user's events never do, a change of
 * read state is told, a reconnecting stream gets what it missed (Last-Event-ID) or a resync, a revoked session's
 * stream is told and ends, the cap on streams per account gives a clear 429, and a delivery refused by the remote
 * server becomes a notice of its sender (GET /api/v1/notices), dismissable for good.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { freePort, waitFor } from '../support/net.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { openSse, type SseStream } from '../support/sse-client.ts';
import { startInternetDns, type InternetDns } from './fixtures/internet-dns.ts';

const DOMAIN = 'alpha.test';

describe('live updates (Server-Sent Events) and notices over HTTP', () => {
  let inst: TestInstance;
  let dns: InternetDns;
  let sink: SmtpSink;
  let alice: { id: string; token: string; password: string };
  let bob: { id: string; token: string; password: string };
  const streams: SseStream[] = [];

  const events = async (token: string, headers: Record<string, string> = {}) => {
    const s = await openSse(`${inst.url}/api/v1/events`, token, headers);
    streams.push(s);
    return s;
  };

  async function smtpTo(to: string, subject: string): Promise<void> {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: inst.running.smtp!.port,
      secure: false,
      ignoreTLS: true,
      name: 'mail.sender.example',
    });
    await transport.sendMail({
      envelope: { from: 'carol@sender.example', to: [to] },
      raw: `From: Carol <carol@sender.example>\r\nTo: <${to}>\r\nSubject: ${subject}\r\nDate: ${new Date().toUTCString()}\r\nMessage-ID: <${randomUUID()}@sender.example>\r\n\r\nHello,\r\nsee you soon.\r\n`,
    });
    transport.close();
  }

  async function login(username: string, password: string): Promise<string> {
    const r = await inst.api('POST', '/api/v1/auth/login', { body: { username, password } });
    assert.equal(r.status, 200, r.text);
    return r.body.token as string;
  }

  beforeAll(async () => {
    dns = await startInternetDns();
    sink = await startSmtpSink({ port: await freePort() });
    inst = await startTestInstance({
      domain: DOMAIN,
      env: {
        CALIOPEN_SMTP_ENABLED: 'true',
        CALIOPEN_SMTP_PORT: '0',
        CALIOPEN_SMTP_DNS_SERVERS: dns.server,
        CALIOPEN_LIVE_HEARTBEAT_SECONDS: '1',
        CALIOPEN_LIVE_STREAMS_PER_ACCOUNT: '3',
        CALIOPEN_OUTBOUND_MX_OVERRIDE: `remote.test=127.0.0.1:${sink.port}`,
        CALIOPEN_OUTBOUND_RETRY_ATTEMPTS: '2',
        CALIOPEN_OUTBOUND_RETRY_BASE_DELAY_MS: '100',
      },
    });
    alice = await inst.user('alice');
    bob = await inst.user('bob');
  });

  afterAll(async () => {
    for (const s of streams) s.close();
    await inst?.stop();
    await sink?.stop();
    await dns?.stop();
  });

  it('pushes a mail that arrives over SMTP to its recipient only, by id, without its subject', async () => {
    const a = await events(alice.token);
    const b = await events(bob.token);
    assert.equal(a.status, 200);
    assert.match(a.headers.get('content-type') ?? '', /^text\/event-stream/);
    const hello = await a.next((e) => e.event === 'hello');
    assert.equal(hello.data.heartbeatSeconds, 1);
    await b.next((e) => e.event === 'hello');

    await smtpTo(`alice@${DOMAIN}`, 'Lunch on Friday');
    const pushed = await a.next((e) => e.event === 'message.new');
    assert.equal(pushed.data.direction, 'inbound');
    assert.deepEqual(Object.keys(pushed.data).sort(), ['direction', 'discussionId', 'messageId']);
    assert.ok(!JSON.stringify(a.events).includes('Lunch'), 'no subject on the wire');
    const list = await inst.api('GET', '/api/v1/discussions', { token: alice.token });
    assert.equal(list.body.items[0].id, pushed.data.discussionId);
    const m = await inst.api('GET', `/api/v1/messages/${pushed.data.messageId}`, { token: alice.token });
    assert.equal(m.body.subject, 'Lunch on Friday');

    // Bob's stream is alive (his own mail reaches it) and never carried alice's.
    await smtpTo(`bob@${DOMAIN}`, 'For bob');
    const bobs = await b.next((e) => e.event === 'message.new');
    assert.notEqual(bobs.data.messageId, pushed.data.messageId);
    assert.ok(
      !b.events.some(
        (e) => e.data?.messageId === pushed.data.messageId || e.data?.discussionId === pushed.data.discussionId,
      ),
    );
    assert.ok(!a.events.some((e) => e.data?.messageId === bobs.data.messageId));
    // Heartbeats keep the stream alive (comment lines).
    await waitFor(async () => a.comments.length >= 1, 20_000);

    // The new discussion's Privacy Index was stored: told as a change of the discussion (before the message itself).
    const piTold = a.events.findIndex(
      (e) => e.event === 'discussion.updated' && e.data.discussionId === pushed.data.discussionId,
    );
    assert.ok(piTold >= 0 && piTold < a.events.indexOf(pushed), JSON.stringify(a.events));

    // Reading the message is told as a change of its discussion.
    const updatesBefore = a.events.filter((e) => e.event === 'discussion.updated').length;
    const read = await inst.api('PATCH', `/api/v1/messages/${pushed.data.messageId}`, {
      token: alice.token,
      body: { read: true },
    });
    assert.equal(read.status, 200);
    await waitFor(async () => a.events.filter((e) => e.event === 'discussion.updated').length > updatesBefore, 20_000);
    const updated = a.events.filter((e) => e.event === 'discussion.updated').at(-1)!;
    assert.equal(updated.data.discussionId, pushed.data.discussionId);
    a.close();
    b.close();
  });

  it('replays what a reconnecting stream missed (Last-Event-ID), and asks an unknown id to resync', async () => {
    const first = await events(alice.token);
    await first.next((e) => e.event === 'hello');
    await smtpTo(`alice@${DOMAIN}`, 'Before the drop');
    const seen = await first.next((e) => e.event === 'message.new');
    first.close();
    await smtpTo(`alice@${DOMAIN}`, 'While away');
    // The message is stored (the instance's own API says so) before the app comes back.
    await waitFor(async () => {
      const r = await inst.api('GET', '/api/v1/search?q=away', { token: alice.token });
      return r.body?.total === 1;
    }, 20_000);
    const again = await events(alice.token, { 'last-event-id': seen.id! });
    const missed = await again.next((e) => e.event === 'message.new');
    assert.notEqual(missed.data.messageId, seen.data.messageId);
    assert.ok(!again.events.some((e) => e.event === 'resync'));
    again.close();

    const stranger = await events(alice.token, { 'last-event-id': '000000000000.5' });
    await stranger.next((e) => e.event === 'resync');
    stranger.close();
    const hostile = await events(alice.token, { 'last-event-id': 'x'.repeat(500) });
    assert.equal(hostile.status, 400);
  });

  it('ends the stream of a session that was revoked, telling why', async () => {
    const token = await login('alice', alice.password);
    const s = await events(token);
    await s.next((e) => e.event === 'hello');
    const out = await inst.api('POST', '/api/v1/auth/logout', { token });
    assert.equal(out.status, 204);
    const ended = await s.next((e) => e.event === 'session.ended');
    assert.equal(ended.data.code, 'token_revoked');
    await waitFor(async () => s.ended, 20_000);
    // A revoked token cannot open a new one.
    const refused = await events(token);
    assert.equal(refused.status, 401);
    assert.equal(refused.problem.code, 'token_revoked');
    const none = await openSse(`${inst.url}/api/v1/events`, 'not-a-token');
    assert.equal(none.status, 401);
  });

  it('caps the open streams of an account with a clear 429, and frees a place when one closes', async () => {
    const dan = await inst.user('dan');
    const open = [await events(dan.token), await events(dan.token), await events(dan.token)];
    for (const s of open) assert.equal(s.status, 200);
    const fourth = await events(dan.token);
    assert.equal(fourth.status, 429);
    assert.equal(fourth.problem.code, 'live_streams_exceeded');
    assert.match(fourth.problem.detail, /At most 3 live-update streams/);
    // Another account is not affected.
    const eve = await inst.user('eve');
    assert.equal((await events(eve.token)).status, 200);
    open[0]!.close();
    await waitFor(async () => inst.running.services.live.openStreams(dan.id) === 2, 20_000);
    const fifth = await events(dan.token);
    assert.equal(fifth.status, 200);
    for (const s of [...open, fifth]) s.close();
  });

  it('turns a delivery refused by the remote server into a notice of its sender, told live, dismissable for good', async () => {
    sink.behaviour.rejectRecipients.set('nobody@remote.test', '550 5.1.1 No such user here');
    const s = await events(alice.token);
    await s.next((e) => e.event === 'hello');
    const sent = await inst.api('POST', '/api/v1/messages', {
      token: alice.token,
      body: { to: [{ address: 'nobody@remote.test' }], subject: 'Our trip', text: 'Hello' },
    });
    assert.equal(sent.status, 202, sent.text);
    const told = await s.next((e) => e.event === 'notices.changed', 60_000);
    assert.equal(told.data.reason, 'delivery.failed');
    const notices = await inst.api('GET', '/api/v1/notices', { token: alice.token });
    assert.equal(notices.status, 200);
    const failure = notices.body.items.find((n: any) => n.kind === 'delivery');
    assert.ok(failure, JSON.stringify(notices.body));
    assert.equal(failure.subject, 'Our trip');
    assert.equal(failure.recipients[0].address, 'nobody@remote.test');
    assert.equal(failure.recipients[0].status, '5.1.1');
    assert.match(failure.recipients[0].diagnostic, /No such user/);
    assert.equal(failure.dismissed, false);

    // Bob sees none of alice's notices, and cannot dismiss them.
    const bobs = await inst.api('GET', '/api/v1/notices', { token: bob.token });
    assert.deepEqual(bobs.body.items, []);
    const foreign = await inst.api('POST', `/api/v1/notices/${failure.id}/dismiss`, { token: bob.token });
    assert.equal(foreign.status, 404);
    const hostile = await inst.api('POST', `/api/v1/notices/${encodeURIComponent('../x y')}/dismiss`, {
      token: alice.token,
    });
    assert.equal(hostile.status, 400);

    const dismissed = await inst.api('POST', `/api/v1/notices/${failure.id}/dismiss`, { token: alice.token });
    assert.equal(dismissed.status, 204);
    const after = await inst.api('GET', '/api/v1/notices', { token: alice.token });
    assert.equal(after.body.items.find((n: any) => n.id === failure.id).dismissed, true);
    s.close();
  });
});
