/**
 * Send as an imported address (issue 17 item 4), on loopback: alice imports her mailbox at a provider over IMAP (a
 * real Dovecot), gives the provider's SMTP submission server and credentials (the provider's SMTP side is the repo's
 * test SMTP server with AUTH, smtp-server on implicit TLS: a provider on the internet is the one thing faked), then her
 * mail app (nodemailer through the instance's submission) sends with that From: the instance relays it through the
 * provider with the identity's credentials, Bcc removed, not signed in this instance's name, and keeps a Sent copy.
 * - Wrong provider credentials: 422 send_as_auth_failed, nothing stored; the password is never returned nor stored
 *   in clear.
 * - Another account cannot send as that address (553); a provider refusal reaches the mail app with the provider's
 *   words and leaves no Sent copy; once the relay is removed, alice cannot send as it either.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer, { type SendMailOptions } from 'nodemailer';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { ok } from '../support/api-client.ts';
import { dovecotComponent, type DovecotServer, startDovecot } from '../support/dovecot.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { mailbox } from '../support/mail-world.ts';
import { type ProviderSubmission, startProviderSubmission } from '../support/provider-submission.ts';
import { tempDir } from '../support/tmp.ts';

const dovecot = dovecotComponent();
const IMAP_USER = { username: 'me', password: 'imap-password-123' };
const SMTP_PASSWORD = 'provider-smtp-secret-456';

describe('send as an imported address, relayed through its provider', { skip: dovecot.skip }, () => {
  let imap: DovecotServer;
  let provider: ProviderSubmission;
  let providerPort: number;
  let relayed: ProviderSubmission['relayed'];
  let inst: TestInstance;
  let alice: { id: string; token: string; password: string };
  let carol: { id: string; token: string; password: string };
  let identityId: string;
  const ca = tempDir('caliopen-send-as-ca-');

  beforeAll(async () => {
    imap = await startDovecot({ users: [IMAP_USER], ssl: true });
    // The provider's submission server: implicit TLS, AUTH with its own password, refuses one recipient.
    provider = await startProviderSubmission({
      username: IMAP_USER.username,
      password: SMTP_PASSWORD,
      refuse: (address) => (address.startsWith('refused@') ? '5.7.1 relaying to refused@ is not allowed here' : null),
    });
    providerPort = provider.port;
    relayed = provider.relayed;
    const caFile = join(ca.dir, 'provider-ca.pem');
    writeFileSync(caFile, `${imap.certPem}\n${provider.certPem}`);
    inst = await startTestInstance({
      env: {
        CALIOPEN_IMPORT_ALLOW_PRIVATE_HOSTS: 'true',
        CALIOPEN_IMPORT_CA_FILE: caFile,
        CALIOPEN_IMPORT_RESYNC_MINUTES: '1440',
        CALIOPEN_SUBMISSION_ENABLED: 'true',
        CALIOPEN_SUBMISSION_PORT: '0',
        CALIOPEN_SUBMISSION_TLS_PORT: '0',
      },
    });
    alice = await inst.user('alice');
    carol = await inst.user('carol');
    const identity = ok(
      await inst.api('POST', '/api/v1/identities', {
        token: alice.token,
        body: { kind: 'imap', host: '127.0.0.1', port: imap.tlsPort, tls: 'implicit', ...IMAP_USER },
      }),
      201,
    );
    identityId = identity.id;
  });

  afterAll(async () => {
    await inst?.stop();
    await provider?.close();
    await imap?.stop();
    ca.cleanup();
  });

  const submit = async (user: { password: string }, username: string, mail: SendMailOptions) => {
    const certPem = (await inst.running.services.identity()).tls.certPem;
    return nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: inst.running.submission!.tlsPort,
        secure: true,
        auth: { user: username, pass: user.password },
        tls: { ca: [certPem], servername: inst.running.services.config.domain },
      })
      .sendMail(mail);
  };

  const relay = { address: 'me@provider.test', host: 'localhost', tls: 'implicit' } as const;

  test('wrong provider credentials: 422 send_as_auth_failed, nothing stored; hostile input refused', async () => {
    const path = `/api/v1/identities/${identityId}/send-as`;
    const wrong = await inst.api('PUT', path, {
      token: alice.token,
      body: { ...relay, port: providerPort, password: 'not-the-password' },
    });
    assert.equal(wrong.status, 422, wrong.text);
    assert.equal(wrong.body.code, 'send_as_auth_failed');
    assert.ok(!wrong.text.includes('not-the-password'));
    assert.equal((await inst.api('GET', path, { token: alice.token })).status, 404);
    const bad = await inst.api('PUT', path, {
      token: alice.token,
      body: { ...relay, address: 'alice@alpha.test', port: providerPort, password: SMTP_PASSWORD },
    });
    assert.equal(bad.body.code, 'send_as_invalid', 'an address of this instance is not relayed');
    const crlf = await inst.api('PUT', path, {
      token: alice.token,
      body: { ...relay, port: providerPort, password: 'x\r\nMAIL FROM:<evil@x>' },
    });
    assert.equal(crlf.status, 400);
    const notHers = await inst.api('PUT', path, {
      token: carol.token,
      body: { ...relay, port: providerPort, password: SMTP_PASSWORD },
    });
    assert.equal(notHers.status, 404, "carol cannot set alice's identity");
  });

  test('a mail app sends as the imported address: relayed through the provider with its credentials, Bcc removed; a Sent copy', async () => {
    const set = ok(
      await inst.api('PUT', `/api/v1/identities/${identityId}/send-as`, {
        token: alice.token,
        body: { ...relay, port: providerPort, password: SMTP_PASSWORD },
      }),
    );
    assert.deepEqual(
      { address: set.address, host: set.host, port: set.port, tls: set.tls, username: set.username },
      { address: 'me@provider.test', host: 'localhost', port: providerPort, tls: 'implicit', username: 'me' },
    );
    assert.ok(!JSON.stringify(set).includes(SMTP_PASSWORD));
    // What compose offers as From: alice's list names it (without the password), carol's is empty.
    const listed = ok(await inst.api('GET', '/api/v1/send-as', { token: alice.token }));
    assert.deepEqual(
      listed.items.map((r: any) => [r.identityId, r.address, r.host]),
      [[identityId, 'me@provider.test', 'localhost']],
    );
    assert.ok(!JSON.stringify(listed).includes(SMTP_PASSWORD));
    assert.deepEqual(ok(await inst.api('GET', '/api/v1/send-as', { token: carol.token })).items, []);
    const [stored] = await inst.running.services.storage.sendAs.listByAccount(alice.id);
    assert.ok(stored && !stored.credentialSealed.includes(SMTP_PASSWORD), 'sealed at rest');

    const info = await submit(alice, 'alice', {
      from: 'Me <me@provider.test>',
      to: 'friend@elsewhere.test',
      bcc: 'hidden@elsewhere.test',
      subject: 'as my imported address',
      text: 'relayed by my provider',
    });
    assert.match(info.response, /^250 /);
    assert.equal(relayed.length, 1);
    const [m] = relayed;
    assert.equal(m!.user, 'me', "signed in with the identity's credentials");
    assert.equal(m!.from, 'me@provider.test');
    assert.deepEqual(m!.to.sort(), ['friend@elsewhere.test', 'hidden@elsewhere.test']);
    assert.match(m!.raw, /^From: Me <me@provider\.test>/m);
    assert.doesNotMatch(m!.raw, /^Bcc:/im, 'the blind copy is not in what is sent');
    assert.doesNotMatch(m!.raw, /^DKIM-Signature:/im, 'not signed in this instance’s name');
    assert.match(m!.raw, /relayed by my provider/);
    const sent = (await mailbox(inst, alice.token)).find((x) => x.subject === 'as my imported address');
    assert.equal(sent?.direction, 'outbound', "alice's Sent copy");

    // The same from the API (the web app's compose): `from` the imported address.
    const api = ok(
      await inst.api('POST', '/api/v1/messages', {
        token: alice.token,
        body: {
          from: 'Me@Provider.test',
          to: [{ address: 'friend@elsewhere.test' }],
          subject: 'from the API as my imported address',
          text: 'composed by the instance',
        },
      }),
      202,
    );
    assert.deepEqual(
      api.recipients.map((r: any) => [r.address, r.route, r.status, r.detail]),
      [['friend@elsewhere.test', 'smtp', 'delivered', 'relayed through localhost']],
    );
    assert.equal(relayed.length, 2);
    assert.match(relayed[1]!.raw, /^From: .*<?me@provider\.test>?/m);
    assert.match(relayed[1]!.raw, /^Message-ID: <[0-9a-f-]{36}@provider\.test>/m);
    assert.equal(relayed[1]!.from, 'me@provider.test');
    const refused = await inst.api('POST', '/api/v1/messages', {
      token: alice.token,
      body: { from: 'me@provider.test', to: [{ address: 'x@elsewhere.test' }], encryption: 'require', text: 'x' },
    });
    assert.equal(refused.body.code, 'send_as_invalid', refused.text);
    const notOwned = await inst.api('POST', '/api/v1/messages', {
      token: carol.token,
      body: { from: 'me@provider.test', to: [{ address: 'x@elsewhere.test' }], text: 'x' },
    });
    assert.equal(notOwned.status, 403);
    assert.equal(notOwned.body.code, 'sender_not_owned');
  });

  test('another account cannot send as it; a provider refusal reaches the app; removed, alice cannot either', async () => {
    await assert.rejects(
      submit(carol, 'carol', { from: 'me@provider.test', to: 'friend@elsewhere.test', subject: 'x', text: 'x' }),
      (e: any) => e.responseCode === 553 && /is not an address of your account/.test(e.response),
    );
    await assert.rejects(
      submit(alice, 'alice', {
        from: 'me@provider.test',
        to: 'refused@elsewhere.test',
        subject: 'refused by the provider',
        text: 'x',
      }),
      (e: any) =>
        e.responseCode === 554 && /refused the message: .*relaying to refused@ is not allowed here/.test(e.response),
    );
    const copies = (await mailbox(inst, alice.token)).filter((x) => x.subject === 'refused by the provider');
    assert.equal(copies.length, 0, 'no Sent copy of a message the provider refused');
    ok(await inst.api('DELETE', `/api/v1/identities/${identityId}/send-as`, { token: alice.token }), 204);
    assert.deepEqual(ok(await inst.api('GET', '/api/v1/send-as', { token: alice.token })).items, []);
    await assert.rejects(
      submit(alice, 'alice', { from: 'me@provider.test', to: 'friend@elsewhere.test', subject: 'x', text: 'x' }),
      (e: any) => e.responseCode === 553,
    );
    assert.equal(relayed.length, 2, 'nothing more reached the provider');
  });
});
