/**
 * XMPP as a second protocol (issue 17 item 1), against a real Prosody started by the test (Debian `prosody` 0.12,
 * its own config, data dir and self-signed certificate in a temp dir, a free loopback port, mod_mam and mod_smacks).
 * The contact is an outside process running the stock @xmpp/client. Everything goes through the real entry points:
 * the instance's HTTP API, its SMTP server, Prosody; nothing is filed by calling the services.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { ok } from '../support/api-client.ts';
import { prosodyComponent, startProsody, type ProsodyServer } from '../support/engines/prosody.ts';
import { dkimKey, dkimSigned, mailbox, sendingDomain, startMailWorld, type MailWorld } from '../support/mail-world.ts';
import { freePort, waitFor } from '../support/net.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { tempDir } from '../support/tmp.ts';
import { startXmppContact, type XmppContact } from '../support/xmpp-contact.ts';

const prosody = prosodyComponent();
const DOMAIN = 'alpha.test';
const CHAT = 'chat.example';
const URSULA_XMPP = { username: 'ursula', password: 'Ursula-Chat-Secret-42' };
const CAROL_XMPP = { username: 'carol', password: 'Carol-Chat-Secret-42' };
const STRANGER_XMPP = { username: 'stranger', password: 'Stranger-Secret-42' };

/** A TCP relay between the instance and Prosody whose connections the test can cut (a network failure). */
async function startRelay(
  targetPort: number,
): Promise<{ port: number; cut(): void; connections(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((client) => {
    connections++;
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    cut() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

describe('XMPP chat in the same person-conversations (real Prosody)', { skip: prosody.skip }, () => {
  let server: ProsodyServer;
  let world: MailWorld;
  /** carol's mail server (mail.example's MX, for the instance's outbound SMTP). */
  let sink: SmtpSink;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let carol: XmppContact;
  let user: { id: string; token: string };
  let linkId: string;
  let carolContactId: string;
  const ca = tempDir('caliopen-xmpp-ca-');
  const caFile = join(ca.dir, 'prosody-ca.pem');
  const logs = new PassThrough();
  let logText = '';
  logs.on('data', (c: Buffer) => {
    logText += c.toString();
  });
  const dkim = dkimKey();

  const api = (method: string, path: string, body?: unknown) =>
    world.inst.api(method, path, { token: user.token, ...(body !== undefined ? { body } : {}) });
  const chats = async () => (await mailbox(world.inst, user.token)).filter((m) => m.protocol === 'xmpp');

  beforeAll(async () => {
    server = await startProsody({ users: [URSULA_XMPP, CAROL_XMPP, STRANGER_XMPP], domain: CHAT });
    writeFileSync(caFile, server.certPem);
    relay = await startRelay(server.port);
    sink = await startSmtpSink();
    world = await startMailWorld({
      domain: DOMAIN,
      zone: sendingDomain('mail.example', 's1', dkim),
      env: {
        CALIOPEN_IMPORT_ALLOW_PRIVATE_HOSTS: 'true',
        CALIOPEN_IMPORT_CA_FILE: caFile,
        CALIOPEN_OUTBOUND_MX_OVERRIDE: `mail.example=127.0.0.1:${sink.port}`,
      },
      logTo: logs,
    });
    // The instance's logs are kept to check that no body or password ever reaches them.
    user = await world.inst.user('ursula');
    carol = await startXmppContact({ port: server.port, domain: CHAT, ...CAROL_XMPP, caFile });
  }, 120_000);

  afterAll(async () => {
    await carol?.stop();
    await world?.stop();
    await sink?.stop();
    await relay?.close();
    await server?.stop();
    ca.cleanup();
  });

  test('linking: a wrong password, an untrusted or missing host give a clear error and store nothing', async () => {
    const wrong = await api('POST', '/api/v1/xmpp/accounts', {
      jid: `ursula@${CHAT}`,
      password: 'not-the-password',
      host: '127.0.0.1',
      port: relay.port,
    });
    assert.equal(wrong.status, 422, wrong.text);
    assert.equal(wrong.body.code, 'xmpp_auth_failed');
    const closed = await api('POST', '/api/v1/xmpp/accounts', {
      jid: `ursula@${CHAT}`,
      password: URSULA_XMPP.password,
      host: '127.0.0.1',
      port: await freePort(),
    });
    assert.equal(closed.status, 502, closed.text);
    assert.equal(closed.body.code, 'xmpp_unreachable');
    const bad = await api('POST', '/api/v1/xmpp/accounts', { jid: 'not a jid', password: 'x' });
    assert.equal(bad.status, 400, bad.text);
    const noLocal = await api('POST', '/api/v1/xmpp/accounts', { jid: CHAT, password: 'x' });
    assert.equal(noLocal.status, 400, noLocal.text);
    assert.deepEqual(ok(await api('GET', '/api/v1/xmpp/accounts')).items, []);
  });

  test('link; mail and chat from the same person land in one conversation; a reply goes back over XMPP', async () => {
    const linked = await api('POST', '/api/v1/xmpp/accounts', {
      jid: `Ursula@${CHAT.toUpperCase()}/laptop`,
      password: URSULA_XMPP.password,
      host: '127.0.0.1',
      port: relay.port,
      label: 'Chat',
    });
    assert.equal(linked.status, 201, linked.text);
    assert.equal(linked.body.jid, `ursula@${CHAT}`, 'stored as the bare, lowercased JID');
    assert.equal('password' in linked.body, false);
    linkId = linked.body.id;
    const again = await api('POST', '/api/v1/xmpp/accounts', {
      jid: `ursula@${CHAT}`,
      password: URSULA_XMPP.password,
      host: '127.0.0.1',
      port: relay.port,
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'xmpp_account_exists');
    await waitFor(async () => ok(await api('GET', '/api/v1/xmpp/accounts')).items[0]?.connected === true, 30_000);

    // Carol is one contact with two identities: her email address and her JID.
    const contact = await api('POST', '/api/v1/contacts', {
      displayName: 'Carol',
      identities: [
        { protocol: 'email', address: 'carol@mail.example' },
        { protocol: 'xmpp', address: `carol@${CHAT}` },
      ],
    });
    assert.equal(contact.status, 201, contact.text);
    carolContactId = contact.body.id;

    const raw = await dkimSigned(
      dkim,
      { domain: 'mail.example', selector: 's1' },
      [
        'From: Carol <carol@mail.example>',
        `To: Ursula <ursula@${DOMAIN}>`,
        'Subject: dinner',
        `Message-ID: <${randomUUID()}@mail.example>`,
        'Date: Mon, 02 Mar 2026 09:00:00 +0000',
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        '',
        'Dinner on Friday? (by mail)',
        '',
      ].join('\r\n'),
    );
    await world.deliver({ helo: 'mx.mail.example', from: 'carol@mail.example', to: [`ursula@${DOMAIN}`], raw });
    await carol.send(`ursula@${CHAT}`, 'Friday works — and by chat too!');

    // SMTP's 250 means spooled; the spool worker files it soon after: wait for both.
    await waitFor(async () => {
      const all = await mailbox(world.inst, user.token);
      return all.some((m) => m.protocol === 'email') && all.some((m) => m.protocol === 'xmpp');
    }, 30_000);
    const all = await mailbox(world.inst, user.token);
    const email = all.find((m) => m.protocol === 'email');
    const chat = all.find((m) => m.protocol === 'xmpp');
    assert.ok(email && chat, JSON.stringify(all));
    assert.equal(chat.conversationId, email.conversationId, 'one conversation');
    assert.equal(chat.from.address, `carol@${CHAT}`);
    assert.equal(chat.from.contactId, carolContactId);
    assert.equal(chat.from.protocol, 'xmpp');
    const discussions = ok(await api('GET', '/api/v1/discussions?limit=50')).items;
    assert.equal(discussions.length, 1, JSON.stringify(discussions));

    // The chat's PI, explained by facts: the c2s TLS this instance negotiated with its XMPP server, nothing claimed.
    const detail = ok(await api('GET', `/api/v1/messages/${chat.id}`));
    assert.equal(detail.body.text.trim(), 'Friday works — and by chat too!');
    assert.equal(detail.facts.transport.via, 'xmpp');
    assert.equal(detail.facts.transport.tls.version, 'TLSv1.3');
    assert.equal(detail.facts.xmpp.server, CHAT);
    assert.equal(detail.facts.xmpp.e2eClaim, null);
    assert.equal(detail.facts.authentication, null, 'sender authentication is not verifiable from a client: absent');
    const tls = detail.pi.factors.find((f: any) => f.id === 'transport.tls');
    assert.ok(tls, JSON.stringify(detail.pi.factors));
    assert.equal(tls.contribution, 10);
    assert.match(
      tls.evidence,
      /TLSv1\.3 .* negotiated with the XMPP server chat\.example; the hops beyond it are not witnessed/,
    );
    assert.ok(detail.pi.factors.some((f: any) => f.id === 'contact.known'));
    assert.equal(
      detail.pi.score,
      detail.pi.factors.reduce((s: number, f: any) => s + f.contribution, 0),
      'the factors add up to the score',
    );
    // Calibrated on email's scale: the same TLS hop scores what it scores for mail; the mail's verified DKIM/SPF/DMARC
    // (facts a chat client cannot verify) put it above.
    const mailDetail = ok(await api('GET', `/api/v1/messages/${email.id}`));
    assert.equal(mailDetail.pi.factors.find((f: any) => f.id === 'transport.tls')?.contribution, 10);
    assert.ok(mailDetail.pi.score > detail.pi.score, `${mailDetail.pi.score} > ${detail.pi.score}`);

    // The route preview offers the chat route to Carol (by her email address or her JID), with its PI; compose's
    // choice stays an email route.
    for (const to of ['carol@mail.example', `carol@${CHAT}`]) {
      const preview = ok(await api('GET', `/api/v1/routes?to=${encodeURIComponent(to)}`));
      const chatRoute = preview.routes.find((r: any) => r.route === 'xmpp');
      assert.ok(chatRoute, JSON.stringify(preview.routes.map((r: any) => r.route)));
      assert.equal(chatRoute.available, true, chatRoute.reason);
      assert.match(chatRoute.reason, /By chat to carol@chat\.example from ursula@chat\.example \(TLSv1\.3/);
      assert.ok(chatRoute.pi.factors.some((f: any) => f.id === 'transport.tls' && f.contribution === 10));
      assert.notEqual(preview.chosen, 'xmpp');
    }
    const mailOnly = ok(await api('GET', '/api/v1/routes?to=someone%40mail.example'));
    assert.equal(
      mailOnly.routes.some((r: any) => r.route === 'xmpp'),
      false,
      'no chat route without a JID',
    );

    // The reply, from the API, by XMPP: Carol's client receives it; it is filed in the same conversation.
    const sent = await api('POST', '/api/v1/xmpp/messages', { contactId: carolContactId, text: 'See you Friday 🍝' });
    assert.equal(
      sent.status,
      201,
      `${sent.text}\n${logText
        .split('\n')
        .filter((l) => /xmpp/i.test(l))
        .join('\n')
        .slice(-3000)}`,
    );
    assert.equal(sent.body.protocol, 'xmpp');
    assert.equal(sent.body.direction, 'outbound');
    await waitFor(async () => carol.heard.some((h) => h.body === 'See you Friday 🍝'), 30_000);
    const heard = carol.heard.find((h) => h.body === 'See you Friday 🍝')!;
    assert.match(heard.from, new RegExp(`^ursula@${CHAT.replace('.', '\\.')}/`));
    const reply = ok(await api('GET', `/api/v1/messages/${sent.body.id}`));
    assert.equal(reply.conversationId, email.conversationId);
    assert.equal(reply.deliveries[0]?.via, 'xmpp', 'how it left is recorded, as for a Sent copy');
    assert.ok(reply.pi.factors.some((f: any) => f.id === 'transport.tls' && f.contribution === 10));

    // And a reply by email to the same person, from the API: it leaves over SMTP to carol's mail server and is filed
    // in the same conversation as her mail and her chat, with email's PI (DKIM-signed, TLS to the MX).
    const mailed = await api('POST', '/api/v1/messages', {
      to: [{ address: 'carol@mail.example' }],
      subject: 'Friday',
      text: 'And by mail: Friday it is.',
    });
    assert.equal(mailed.status, 202, mailed.text);
    assert.equal(mailed.body.recipients[0].route, 'smtp');
    await waitFor(
      async () => sink.messages.some((m) => m.raw.toString().includes('And by mail: Friday it is.')),
      60_000,
    );
    const byMail = ok(await api('GET', `/api/v1/messages/${mailed.body.id}`));
    assert.equal(byMail.protocol, 'email');
    assert.equal(byMail.conversationId, email.conversationId, 'one conversation: her mail, her chat, both replies');
    assert.ok(byMail.pi.factors.length > 0, 'the email reply has its PI explained');
    const conversation = (await mailbox(world.inst, user.token)).filter(
      (m) => m.conversationId === email.conversationId,
    );
    assert.deepEqual([...new Set(conversation.map((m) => `${m.protocol} ${m.direction}`))].sort(), [
      'email inbound',
      'email outbound',
      'xmpp inbound',
      'xmpp outbound',
    ]);

    // Sending without a route: a clear error.
    const noXmpp = await api('POST', '/api/v1/contacts', {
      displayName: 'Mail only',
      identities: [{ protocol: 'email', address: 'mailonly@mail.example' }],
    });
    const refused = await api('POST', '/api/v1/xmpp/messages', { contactId: noXmpp.body.id, text: 'hi' });
    assert.equal(refused.status, 422, refused.text);
    assert.equal(refused.body.code, 'route_unavailable');
  }, 120_000);

  test('a disconnect during a burst loses nothing and doubles nothing', async () => {
    const before = (await chats()).length;
    const N = 60;
    const body = (i: number) => `burst ${String(i).padStart(3, '0')}`;
    const connectionsBefore = relay.connections();
    for (let i = 0; i < N / 2; i++) await carol.send(`ursula@${CHAT}`, body(i));
    // The instance's connection is cut mid-burst (as a network failure would); Carol keeps writing meanwhile.
    relay.cut();
    for (let i = N / 2; i < N; i++) await carol.send(`ursula@${CHAT}`, body(i));
    await waitFor(async () => (await chats()).filter((m) => m.snippet?.startsWith('burst')).length >= N, 60_000);
    assert.ok(relay.connections() > connectionsBefore, 'the instance reconnected');
    // A further message shows the session is live again, and nothing more arrives meanwhile.
    await carol.send(`ursula@${CHAT}`, 'after the burst');
    await waitFor(async () => (await chats()).some((m) => m.snippet === 'after the burst'), 30_000);
    const burst = (await chats()).filter((m) => m.snippet?.startsWith('burst'));
    const bodies = burst.map((m) => m.snippet).sort();
    assert.deepEqual(
      bodies,
      Array.from({ length: N }, (_, i) => body(i)),
      'each exactly once',
    );
    assert.equal((await chats()).length, before + N + 1);
  }, 120_000);

  test('Prosody restarted mid-burst: nothing lost, nothing doubled', async () => {
    const before = (await chats()).length;
    const N = 40;
    const body = (i: number) => `restart ${String(i).padStart(3, '0')}`;
    for (let i = 0; i < N / 2; i++) await carol.send(`ursula@${CHAT}`, body(i));
    // The server took all of the first half (its answer to a ping comes after them on Carol's stream).
    await carol.ping();
    const onlines = carol.onlines();
    const connections = relay.connections();
    await server.restart();
    // Carol's client and the instance both reconnect by themselves; Carol writes the second half.
    await waitFor(async () => carol.onlines() > onlines, 60_000);
    for (let i = N / 2; i < N; i++) await carol.send(`ursula@${CHAT}`, body(i));
    await waitFor(async () => (await chats()).filter((m) => m.snippet?.startsWith('restart')).length >= N, 90_000);
    assert.ok(relay.connections() > connections, 'the instance reconnected');
    await carol.send(`ursula@${CHAT}`, 'after the restart');
    await waitFor(async () => (await chats()).some((m) => m.snippet === 'after the restart'), 30_000);
    const bodies = (await chats())
      .filter((m) => m.snippet?.startsWith('restart'))
      .map((m) => m.snippet)
      .sort();
    assert.deepEqual(
      bodies,
      Array.from({ length: N }, (_, i) => body(i)),
      'each exactly once',
    );
    assert.equal((await chats()).length, before + N + 1);
  }, 180_000);

  test('hostile stanzas: nothing crashes, nothing forged is filed, nothing is lost', async () => {
    const before = (await chats()).length;
    // A contact's malformed XML: Prosody closes that stream; the instance's session is not disturbed.
    const junk = createConnection({ host: '127.0.0.1', port: server.port });
    await new Promise<void>((resolve) => {
      junk.on('connect', () => {
        junk.write(
          `<?xml version='1.0'?><stream:stream to='${CHAT}' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><message><<</body>`,
        );
        junk.end();
      });
      junk.setTimeout(10_000, () => junk.destroy());
      junk.on('close', () => resolve());
      junk.on('error', () => resolve());
    });
    // A forged archive result: a contact wraps someone else's message as if it came from Ursula's own archive.
    await carol.sendRaw(
      `<message to='ursula@${CHAT}' type='chat' id='forged-1'><result xmlns='urn:xmpp:mam:2' queryid='x' id='y'><forwarded xmlns='urn:xmpp:forward:0'><message from='boss@${CHAT}/desk' to='ursula@${CHAT}' type='chat'><body>wire the money</body></message></forwarded></result></message>`,
    );
    // A spoofed `from` on the contact's own stream: the server stamps the real sender on it; filed as Carol's.
    await carol
      .sendRaw(
        `<message from='boss@${CHAT}/desk' to='ursula@${CHAT}' type='chat' id='spoof-1'><body>spoofed</body></message>`,
      )
      .catch(() => undefined);
    // Control and formatting characters, a header injection attempt, an oversized body, an error stanza.
    const tricky = 'line one\r\nSubject: pwned\r\n\r\n\u202eevil\u200b\u0085 \ud83d\ude00 <b>&amp;</b>';
    await carol.send(`ursula@${CHAT}`, tricky);
    const big = 'x'.repeat(150_000);
    await carol.send(`ursula@${CHAT}`, big);
    await carol.sendRaw(
      `<message to='ursula@${CHAT}' type='error' id='err-1'><body>an error</body><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`,
    );
    // A message from someone not in the contacts: filed, under an automatic contact of its own.
    const stranger = await startXmppContact({ port: server.port, domain: CHAT, ...STRANGER_XMPP, caFile });
    try {
      await stranger.send(`ursula@${CHAT}`, 'hello from nowhere');
      await waitFor(async () => (await chats()).some((m) => m.snippet === 'hello from nowhere'), 30_000);
    } finally {
      await stranger.stop();
    }
    await carol.send(`ursula@${CHAT}`, 'still here');
    await waitFor(async () => (await chats()).some((m) => m.snippet === 'still here'), 30_000);

    const now = await chats();
    // tricky, big, spoofed (as Carol's), the stranger's, still here: five; the forged result and the error: none.
    const shown = now.filter((m) => !/^burst/.test(m.snippet)).map((m) => [m.snippet.slice(0, 24), m.from.address]);
    assert.equal(now.length, before + 5, JSON.stringify(shown));
    assert.equal(
      now.some((m) => /wire the money|an error/.test(m.snippet ?? '')),
      false,
      'nothing forged',
    );
    assert.equal(
      now.some((m) => m.from.address.startsWith('boss@')),
      false,
    );
    assert.equal(now.find((m) => m.snippet === 'spoofed')?.from.address, `carol@${CHAT}`);
    assert.match(logText, /xmpp\.forged_archive_result/);
    const t = now.find((m) => (m.snippet ?? '').startsWith('line one'));
    assert.ok(t, 'the tricky message is filed');
    const td = ok(await api('GET', `/api/v1/messages/${t.id}`));
    assert.equal(td.subject, '', 'no header injection');
    assert.equal(td.body.text.includes('Subject: pwned'), true, 'the text is kept as written');
    const b = now.find((m) => (m.snippet ?? '').startsWith('xxxx'));
    assert.ok(b, 'the oversized message is filed');
    const bd = ok(await api('GET', `/api/v1/messages/${b.id}`));
    assert.equal(bd.facts.xmpp.bodyTruncated, true);
    const s = now.find((m) => m.snippet === 'hello from nowhere');
    assert.equal(s.from.address, `stranger@${CHAT}`);
    assert.notEqual(s.from.contactId, carolContactId);
    const contact = ok(await api('GET', `/api/v1/contacts/${s.from.contactId}`));
    assert.equal(contact.automatic, true);
    assert.deepEqual(
      contact.identities.map((i: any) => i.protocol),
      ['xmpp'],
    );
  }, 120_000);

  test('a password that stops working: told apart (auth_failed), the session given up until later, sending refused in words', async () => {
    server.deleteUser(URSULA_XMPP.username);
    relay.cut();
    await waitFor(async () => /"reason":"auth_failed"/.test(logText), 60_000);
    const links = ok(await api('GET', '/api/v1/xmpp/accounts')).items;
    assert.equal(links[0].connected, false);
    const refused = await api('POST', '/api/v1/xmpp/messages', { contactId: carolContactId, text: 'hello?' });
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.body.code, 'xmpp_offline');
  }, 120_000);

  test('unlinking closes the session; the logs never held a body or a password', async () => {
    const gone = await api('DELETE', `/api/v1/xmpp/accounts/${linkId}`);
    assert.equal(gone.status, 200, gone.text);
    assert.deepEqual(ok(await api('GET', '/api/v1/xmpp/accounts')).items, []);
    const refused = await api('POST', '/api/v1/xmpp/messages', { to: `carol@${CHAT}`, text: 'hi' });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.code, 'xmpp_not_linked');
    for (const secret of [URSULA_XMPP.password, 'Friday works', 'See you Friday', 'burst 0', 'hello from nowhere'])
      assert.equal(logText.includes(secret), false, `logs hold ${secret}`);
  });
});
