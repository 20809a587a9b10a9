/**
 * SMTP submission for mail apps (issue 17 item 3), every piece real on loopback: alpha.test and beta.test federated
 * (stand-in directory, as in federation-delivery.test.ts), alpha with submission on (STARTTLS port and implicit TLS
 * port, the instance certificate). Clients: nodemailer (the library mail apps in Node use) and swaks (the Debian
 * package, as an operator would test), plus a raw client for exact replies.
 * - alice signs in with AUTH PLAIN (nodemailer, STARTTLS) and sends to bob@beta.test and carol@alpha.test: bob gets it
 *   over the federation (not SMTP: alpha's MX override points at a sink that must stay empty), carol locally, alice has
 *   a Sent copy without the Bcc field (DKIM signs only what leaves by SMTP, ADR 0030).
 * - swaks, AUTH LOGIN over implicit TLS: delivered to bob over the federation.
 * - The sender check: a MAIL FROM or a From field the account does not own is refused (553 with text), nothing sent.
 * - No AUTH before TLS, nothing before AUTH; garbage AUTH and oversize messages refused; an unknown local recipient is refused at RCPT.
 * - Two-factor accounts: the password is refused, an app password made through the API works until revoked.
 * - Messages per account and hour: 450 past the limit.
 * - Brute force: failed AUTH lock the account (454 even with the right password), then the client address.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import nodemailer from 'nodemailer';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { ok } from '../support/api-client.ts';
import { type FederatedPair, startFederatedPair } from '../support/federated-pair.ts';
import { StandInDirectory } from '../support/federation.ts';
import type { TestInstance } from '../support/instance.ts';
import { mailbox } from '../support/mail-world.ts';
import { waitFor } from '../support/net.ts';
import { RawSmtpClient } from '../support/smtp-client.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';

const run = promisify(execFile);

async function hasSwaks(): Promise<boolean> {
  try {
    await run('swaks', ['--version']);
    return true;
  } catch {
    return false;
  }
}

describe('SMTP submission on alpha.test', () => {
  let pair: FederatedPair;
  let a: TestInstance;
  let b: TestInstance;
  let sink: SmtpSink;
  let port: number;
  let tlsPort: number;
  let certPem: string;
  let alice: { id: string; token: string; password: string };
  let bob: { id: string; token: string };
  let carol: { id: string; token: string; password: string };
  const swaks = hasSwaks();

  beforeAll(async () => {
    sink = await startSmtpSink();
    pair = await startFederatedPair(new StandInDirectory(), {
      alpha: {
        env: {
          CALIOPEN_SUBMISSION_ENABLED: 'true',
          CALIOPEN_SUBMISSION_PORT: '0',
          CALIOPEN_SUBMISSION_TLS_PORT: '0',
          CALIOPEN_SUBMISSION_AUTH_FAILURES_PER_ACCOUNT: '3',
          CALIOPEN_SUBMISSION_AUTH_FAILURES_PER_IP: '8',
          CALIOPEN_SUBMISSION_MESSAGES_PER_HOUR: '5',
          CALIOPEN_SUBMISSION_MAX_MESSAGE_BYTES: String(256 * 1024),
          CALIOPEN_OUTBOUND_MX_OVERRIDE: `beta.test=127.0.0.1:${sink.port}`,
        },
      },
    });
    ({ alpha: a, beta: b } = pair);
    const submission = a.running.submission;
    assert.ok(submission, 'submission.enabled=true starts the submission listeners');
    ({ port, tlsPort } = submission);
    certPem = (await a.running.services.identity()).tls.certPem;
    alice = await a.user('alice');
    carol = await a.user('carol');
    bob = await b.user('bob');
  });
  afterAll(async () => {
    await pair?.stop();
    await sink?.stop();
  });

  /** A nodemailer transport as a mail app configures one: STARTTLS (587) or implicit TLS (465), the instance CA pinned. */
  const transport = (o: { user: string; pass: string; implicit?: boolean; method?: 'PLAIN' | 'LOGIN' }) =>
    nodemailer.createTransport({
      host: '127.0.0.1',
      port: o.implicit ? tlsPort : port,
      secure: o.implicit ?? false,
      requireTLS: true,
      auth: { user: o.user, pass: o.pass, ...(o.method ? { method: o.method } : {}) },
      // The instance's own certificate as the only CA (it names alpha.test).
      tls: { ca: [certPem], servername: 'alpha.test' },
    });

  const find = async (inst: TestInstance, token: string, subject: string, direction: string) =>
    (await mailbox(inst, token)).find((m) => m.subject === subject && m.direction === direction) ?? null;

  test('nodemailer, AUTH PLAIN after STARTTLS: delivered to bob over the federation and to carol locally; no DKIM signature off SMTP', async () => {
    const info = await transport({ user: 'alice', pass: alice.password, method: 'PLAIN' }).sendMail({
      from: '"Alice" <alice@alpha.test>',
      to: 'bob@beta.test',
      bcc: 'carol@alpha.test',
      subject: 'from my mail app',
      text: 'sent through submission',
    });
    assert.match(info.response, /^250 2\.0\.0 Ok: queued as /);
    assert.deepEqual(info.accepted.sort(), ['bob@beta.test', 'carol@alpha.test']);

    let got: any = null;
    await waitFor(async () => (got = await find(b, bob.token, 'from my mail app', 'inbound')) !== null, 30_000);
    const detail = ok(await b.api('GET', `/api/v1/messages/${got.id}`, { token: bob.token }));
    assert.equal(detail.facts.transport.via, 'federation');
    assert.match(detail.body.text, /sent through submission/);
    assert.equal(sink.messages.length, 0, 'nothing went by SMTP to beta');

    const forCarol = await find(a, carol.token, 'from my mail app', 'inbound');
    assert.ok(forCarol, 'carol (a blind copy) got it locally');
    const sent = await find(a, alice.token, 'from my mail app', 'outbound');
    assert.ok(sent, "alice's Sent copy");
    const raw = (await a.api('GET', `/api/v1/messages/${sent.id}/raw`, { token: alice.token })).text;
    // DKIM is for mail that leaves by SMTP (ADR 0030): over the federation the message carries no DKIM signature, in
    // the Sent copy or at bob's.
    assert.doesNotMatch(raw, /^DKIM-Signature:/im);
    const bobRaw = (await b.api('GET', `/api/v1/messages/${got.id}/raw`, { token: bob.token })).text;
    assert.doesNotMatch(bobRaw, /carol@alpha\.test/, 'the blind copy is not shown to bob');
    assert.doesNotMatch(bobRaw, /^DKIM-Signature:/im);
  });

  test('swaks, AUTH LOGIN over implicit TLS: delivered to bob over the federation', async (ctx) => {
    if (!(await swaks)) {
      if (process.env.CI === 'true') throw new Error('swaks is missing: apt-get install swaks');
      ctx.skip();
    }
    const { stdout } = await run('swaks', [
      '--server',
      '127.0.0.1',
      '--port',
      String(tlsPort),
      '--tls-on-connect',
      '--auth',
      'LOGIN',
      '--auth-user',
      'alice@alpha.test',
      '--auth-password',
      alice.password,
      '--from',
      'alice@alpha.test',
      '--to',
      'bob@beta.test',
      '--header',
      'Subject: from swaks',
      '--body',
      'swaks says hello',
    ]);
    assert.match(stdout, /<~\s+235 /, 'authenticated');
    assert.match(stdout, /<~\s+250 2\.0\.0 Ok: queued as /);
    await waitFor(async () => (await find(b, bob.token, 'from swaks', 'inbound')) !== null, 30_000);
  });

  test('the sender check: a MAIL FROM or a From field alice does not own gets 553 with text; nothing is sent', async () => {
    const t = transport({ user: 'alice', pass: alice.password });
    await assert.rejects(
      t.sendMail({ from: 'carol@alpha.test', to: 'bob@beta.test', subject: 'forged envelope', text: 'x' }),
      (e: any) =>
        e.responseCode === 553 && /5\.7\.1 <carol@alpha\.test> is not an address of your account/.test(e.response),
    );
    await assert.rejects(
      t.sendMail({
        envelope: { from: 'alice@alpha.test', to: ['bob@beta.test'] },
        from: 'The Bank <ceo@bank.example>',
        to: 'bob@beta.test',
        subject: 'forged header',
        text: 'x',
      }),
      (e: any) =>
        e.responseCode === 553 &&
        /5\.7\.1 ceo@bank\.example in From\/Sender is not an address of your account/.test(e.response),
    );
    await assert.rejects(
      t.sendMail({ from: 'alice@alpha.test', to: 'nobody@alpha.test', subject: 'unknown', text: 'x' }),
      (e: any) => e.responseCode === 550 && /5\.1\.1 <nobody@alpha\.test>: no such user here/.test(e.response),
    );
    assert.equal(await find(a, alice.token, 'forged header', 'outbound'), null, 'no Sent copy of a refused message');
  });

  test('no AUTH before TLS, nothing before AUTH', async () => {
    const c = await RawSmtpClient.connect(port);
    try {
      await c.read();
      const ehlo = await c.command('EHLO client.test');
      assert.equal(ehlo?.code, 250);
      assert.ok(!ehlo!.lines.some((l) => /AUTH/.test(l)), 'AUTH is not offered in clear');
      assert.ok(ehlo!.lines.some((l) => /STARTTLS/.test(l)));
      const auth = await c.command(`AUTH PLAIN ${Buffer.from(`\0alice\0${alice.password}`).toString('base64')}`);
      assert.equal(auth?.code, 538);
      const mail = await c.command('MAIL FROM:<alice@alpha.test>');
      assert.equal(mail?.code, 530);
      assert.match(mail!.text, /Authentication required/);
    } finally {
      await c.quit();
    }
  });

  test('hostile input after STARTTLS: garbage AUTH, control characters in a name, an oversize message', async () => {
    const c = await RawSmtpClient.connect(port);
    try {
      await c.read();
      await c.command('EHLO client.test');
      await c.startTls({ ca: certPem, servername: 'alpha.test' });
      const ehlo = await c.command('EHLO client.test');
      assert.ok(
        ehlo!.lines.some((l) => /AUTH PLAIN LOGIN/.test(l)),
        'AUTH is offered once TLS is on',
      );
      const garbage = await c.command('AUTH PLAIN %%%not-base64%%%');
      assert.ok(garbage && garbage.code >= 500 && garbage.code < 600, `garbage AUTH: ${garbage?.code}`);
      const nul = await c.command(`AUTH PLAIN ${Buffer.from('\0ali\x01ce\0whatever-password').toString('base64')}`);
      assert.equal(nul?.code, 501, 'control characters in the name');
    } finally {
      await c.quit();
    }
    await assert.rejects(
      transport({ user: 'alice', pass: alice.password }).sendMail({
        from: 'alice@alpha.test',
        to: 'carol@alpha.test',
        subject: 'too big',
        text: 'x'.repeat(300 * 1024),
      }),
      (e: any) => e.responseCode === 552 && /5\.3\.4 Message exceeds the maximum size/.test(e.response),
    );
  });

  test('two-factor: the password is refused (535 naming app passwords); an app password works until revoked', async () => {
    const dave = await a.user('dave');
    const { secret } = ok(await a.api('POST', '/api/v1/me/totp', { token: dave.token }));
    ok(
      await a.api('POST', '/api/v1/me/totp/confirm', { token: dave.token, body: { code: await generate({ secret }) } }),
      204,
    );
    await assert.rejects(
      transport({ user: 'dave', pass: dave.password }).verify(),
      (e: any) => e.responseCode === 535 && /use an app password/.test(e.response),
    );
    const made = ok(
      await a.api('POST', '/api/v1/me/app-passwords', { token: dave.token, body: { label: 'Thunderbird' } }),
      201,
    );
    assert.match(made.password, /^(?:[a-z2-9]{4}-){4}[a-z2-9]{4}$/);
    const listed = ok(await a.api('GET', '/api/v1/me/app-passwords', { token: dave.token })).items;
    assert.deepEqual(
      listed.map((p: any) => [p.id, p.label, p.lastUsedAt]),
      [[made.id, 'Thunderbird', null]],
    );
    assert.ok(!JSON.stringify(listed).includes(made.password), 'the secret is shown once');
    await transport({ user: 'dave@alpha.test', pass: made.password }).sendMail({
      from: 'dave@alpha.test',
      to: 'carol@alpha.test',
      subject: 'with an app password',
      text: 'x',
    });
    await waitFor(async () => (await find(a, carol.token, 'with an app password', 'inbound')) !== null);
    const used = ok(await a.api('GET', '/api/v1/me/app-passwords', { token: dave.token })).items;
    assert.ok(used[0].lastUsedAt, 'its use is recorded');
    ok(await a.api('DELETE', `/api/v1/me/app-passwords/${made.id}`, { token: dave.token }), 204);
    await assert.rejects(transport({ user: 'dave', pass: made.password }).verify(), (e: any) => e.responseCode === 535);
    const bad = await a.api('POST', '/api/v1/me/app-passwords', { token: dave.token, body: { label: 'x\u0007' } });
    assert.equal(bad.status, 400);
    const gone = await a.api('DELETE', `/api/v1/me/app-passwords/${made.id}`, { token: dave.token });
    assert.equal(gone.body.code, 'not_found');
  });

  test('messages per account and hour: the 6th of the hour gets 450 with text, other accounts are not held back', async () => {
    const gina = await a.user('gina');
    const t = transport({ user: 'gina', pass: gina.password });
    for (let i = 0; i < 5; i++)
      await t.sendMail({ from: 'gina@alpha.test', to: 'carol@alpha.test', subject: `rate ${i}`, text: 'x' });
    await assert.rejects(
      t.sendMail({ from: 'gina@alpha.test', to: 'carol@alpha.test', subject: 'rate 5', text: 'x' }),
      (e: any) => e.responseCode === 450 && /4\.7\.1 You sent 5 messages in the last hour/.test(e.response),
    );
    await transport({ user: 'carol', pass: carol.password }).sendMail({
      from: 'carol@alpha.test',
      to: 'alice@alpha.test',
      subject: 'carol is not held back',
      text: 'x',
    });
  });

  // Last: it locks 127.0.0.1 out.
  test('brute force: the account is locked after 3 failures (454, even with the right password), then the address', async () => {
    const erin = await a.user('erin');
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        transport({ user: 'erin', pass: `wrong-${i}` }).verify(),
        (e: any) => e.responseCode === 535 && /5\.7\.8 Authentication credentials invalid/.test(e.response),
      );
    }
    await assert.rejects(
      transport({ user: 'erin', pass: erin.password }).verify(),
      (e: any) =>
        e.responseCode === 454 && /4\.7\.0 Too many failed sign-ins .* try again in \d+ seconds/.test(e.response),
    );
    // alice is still fine from this address (5 failures so far, the address limit is 8).
    await transport({ user: 'alice', pass: alice.password }).verify();
    for (let i = 0; i < 5; i++) {
      await transport({ user: `nobody${i}`, pass: 'guess-guess' })
        .verify()
        .catch(() => undefined);
    }
    await assert.rejects(
      transport({ user: 'alice', pass: alice.password }).verify(),
      (e: any) => e.responseCode === 454,
      'the address is locked out now, whatever the account',
    );
  });
});
