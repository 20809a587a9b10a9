/**
 * The outbound path below HTTP: compose service + delivery worker on the real embedded engines (SQLite storage and
 * queue, file blob store), the instance's real DKIM key, and a real SMTP server playing the remote MX. Ingest is
 * the port's contract played by a small recorder (the email core's ingest is tested on its own); everything else
 * is real. The HTTP path is tests/e2e/smtp-outbound.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { freePort, waitFor } from '../../../tests/support/net.ts';
import { startSmtpSink, type SmtpSink } from '../../../tests/support/smtp-sink.ts';
import { tempDir } from '../../../tests/support/tmp.ts';
import { AccountService } from '../accounts/account.service.ts';
import type { Account } from '../accounts/account.entity.ts';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { FsBlobStore } from '../blobs/blob-store.fs.ts';
import { initInstance } from '../app/instance.init.ts';
import { loadConfig } from '../config/config.loader.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { dnsRecords, loadInstanceIdentity } from '../identity/instance-identity.ts';
import { loadMasterKey } from '@caliopen/platform/crypto/master-key.store.ts';
import type { IngestRequest, MessageIngest } from '../messages/message-ingest.port.ts';
import type { Message } from '../mail/message.entity.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import { openSqliteJobQueue } from '@caliopen/platform/queue/job-queue.sqlite.ts';
import { AppError } from '../shared/errors.ts';
import { noEvents } from '../shared/event-bus.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { headerValue } from '../mail/compose.mime.ts';
import { createOutboundMail, type OutboundMail } from './smtp-outbound.service.ts';
import { SMTP_OUT_QUEUE } from '../delivery/delivery.types.ts';

/** The MessageIngest contract, minimally: raw to the blob store, a message row, dedupe by (Message-ID, hash), quota. */
class RecordingIngest implements MessageIngest {
  readonly calls: IngestRequest[] = [];
  constructor(
    private readonly storage: SqliteStorage,
    private readonly blobs: FsBlobStore,
  ) {}
  async ingest(request: IngestRequest) {
    this.calls.push(request);
    const contentHash = createHash('sha256').update(request.raw).digest('hex');
    const externalId = headerValue(request.raw, 'message-id');
    const known = await this.storage.messages.findByDedupeKey(request.accountId, externalId, contentHash);
    if (known) return { message: known, inserted: false };
    if ((await this.storage.accounts.addUsage(request.accountId, request.raw.length)) === null)
      throw new AppError('quota_exceeded');
    const id = randomUUID();
    await this.blobs.put(`raw/${request.accountId}/${id}`, request.raw);
    const message: Message = {
      id,
      accountId: request.accountId,
      conversationId: randomUUID(),
      protocol: 'email',
      direction: request.direction,
      externalId,
      contentHash,
      from: { protocol: 'email', address: headerValue(request.raw, 'from') ?? '', name: null, contactId: null },
      to: [],
      cc: [],
      subject: headerValue(request.raw, 'subject') ?? '',
      snippet: '',
      sentAt: null,
      receivedAt: request.receivedAt,
      sizeBytes: request.raw.length,
      rawRef: `raw/${request.accountId}/${id}`,
      threadKey: null,
      tags: request.tags ?? [],
      read: request.read ?? false,
      archived: false,
      deletedAt: null,
      pi: null,
      importance: 0,
      facts: { ...request.facts },
    };
    return this.storage.messages.put(message);
  }
}

describe('compose and deliver (service level, real engines and a real SMTP sink)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let storage: SqliteStorage;
  let queue: JobQueue;
  let blobs: FsBlobStore;
  let ingest: RecordingIngest;
  let outbound: OutboundMail;
  let worker: Worker;
  let sink: SmtpSink;
  let alice: Account;
  let bob: Account;
  let txt: string[];
  const silent = { info() {}, warn() {}, error() {} };

  beforeAll(async () => {
    tmp = tempDir('caliopen-compose-');
    sink = await startSmtpSink({ port: await freePort() });
    await initInstance({ domain: 'alpha.test', dataDir: tmp.dir, httpPort: '0' }, () => {});
    const config = loadConfig({
      dataDir: tmp.dir,
      env: {},
      overrides: {
        outbound: {
          mxOverride: [`remote.test=127.0.0.1:${sink.port}`],
          retry: { attempts: 4, baseDelayMs: 50 },
          maxRecipients: 5,
          maxAttachmentBytes: 1000,
        },
      },
    });
    storage = SqliteStorage.inDataDir(tmp.dir);
    queue = openSqliteJobQueue(`${tmp.dir}/queue.db`, { pollIntervalMs: 20 });
    blobs = new FsBlobStore(`${tmp.dir}/blobs`);
    ingest = new RecordingIngest(storage, blobs);
    const box = new SecretBox(loadMasterKey(tmp.dir));
    const accounts = new AccountService(
      storage,
      new PasswordHasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 }),
      () => new Date(),
      10 ** 9,
    );
    alice = await accounts.create({ username: 'alice', password: 'alice-password-1', displayName: 'Alice Liddell' });
    bob = await accounts.create({ username: 'bob', password: 'bob-password-12' });
    outbound = createOutboundMail({
      config,
      clock: () => new Date(),
      storage,
      queue,
      box,
      ingest,
      blobs,
      env: {},
      events: noEvents(),
    });
    worker = outbound.startWorker(silent);
    const identity = await loadInstanceIdentity(tmp.dir, box);
    const record = dnsRecords(identity).find((r) => r.name === 'caliopen1._domainkey.alpha.test.')!;
    txt = [...record.value.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
  });
  afterAll(async () => {
    await worker.close();
    await queue.close();
    await storage.close();
    await sink.stop();
    tmp.cleanup();
  });

  const resolver = async (name: string, type: string) => {
    if (type === 'TXT' && name === 'caliopen1._domainkey.alpha.test') return [txt];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };

  test('remote recipients get a DKIM-signed message over SMTP without Bcc; local ones get it through ingest', async () => {
    const before = sink.messages.length;
    const r = await outbound.compose.send(alice, {
      to: [{ address: 'Carol@Remote.TEST', name: 'Carol' }, { address: 'bob@alpha.test' }],
      bcc: [{ address: 'dave@remote.test' }],
      subject: 'Quarterly report — café ☕',
      text: 'Hello,\nthe figures are attached.\n',
      attachments: [
        { filename: 'figures.csv', contentType: 'text/csv', content: Buffer.from('a,b\n1,2\n').toString('base64') },
      ],
    });
    assert.deepEqual(
      r.recipients.map((x) => [x.address, x.kind, x.route, x.status]),
      [
        ['Carol@remote.test', 'to', 'smtp', 'queued'],
        ['bob@alpha.test', 'to', 'local', 'delivered'],
        ['dave@remote.test', 'bcc', 'smtp', 'queued'],
      ],
    );
    const sent = await storage.messages.get(alice.id, r.id);
    assert.ok(sent);
    assert.equal(sent.direction, 'outbound');
    assert.deepEqual(sent.tags, ['sent']);
    const sentRaw = (await blobs.get(sent.rawRef!))!;
    assert.equal(headerValue(sentRaw, 'bcc'), 'dave@remote.test', 'the Sent copy keeps the Bcc');
    assert.equal(headerValue(sentRaw, 'from'), 'Alice Liddell <alice@alpha.test>');
    assert.equal(headerValue(sentRaw, 'message-id'), r.messageId);
    assert.match(r.messageId, /^<[0-9a-f-]{36}@alpha\.test>$/);

    const toBob = ingest.calls.find((c) => c.accountId === bob.id)!;
    assert.equal(toBob.direction, 'inbound');
    assert.equal(headerValue(toBob.raw, 'bcc'), null, 'local recipients do not see the Bcc');

    const [got] = (await sink.waitForMessages(before + 1)).slice(before);
    assert.deepEqual(got!.to.sort(), ['Carol@remote.test', 'dave@remote.test']);
    assert.equal(got!.from, 'alice@alpha.test');
    assert.equal(headerValue(got!.raw, 'bcc'), null, 'no Bcc on the wire');
    assert.ok(got!.tls, 'STARTTLS was used');
    const verdict = await dkimVerify(got!.raw, { resolver: resolver as never });
    assert.equal(verdict.results.length, 1);
    assert.equal(verdict.results[0]!.status.result, 'pass', JSON.stringify(verdict.results[0]!.status));
    assert.equal(verdict.results[0]!.signingDomain, 'alpha.test');
    assert.equal(verdict.results[0]!.selector, 'caliopen1');

    // Tampering breaks it: the signature is real.
    const tampered = Buffer.from(
      got!.raw.toString('latin1').replace('the figures are attached', 'the figures are ATTACHED'),
      'latin1',
    );
    const bad = await dkimVerify(tampered, { resolver: resolver as never });
    assert.notEqual(bad.results[0]!.status.result, 'pass');
  });

  test('answers carry In-Reply-To and References', async () => {
    const first = await outbound.compose.send(alice, { to: [{ address: 'bob@alpha.test' }], subject: 'first' });
    const second = await outbound.compose.send(alice, {
      to: [{ address: 'bob@alpha.test' }],
      subject: 'Re: first',
      inReplyTo: first.id,
    });
    const raw = (await blobs.get((await storage.messages.get(alice.id, second.id))!.rawRef!))!;
    assert.equal(headerValue(raw, 'in-reply-to'), first.messageId);
    assert.equal(headerValue(raw, 'references'), first.messageId);
  });

  test('a remote MX that is down: retried with backoff, delivered once when it is back', async () => {
    await sink.stop();
    const before = sink.messages.length;
    const r = await outbound.compose.send(alice, {
      to: [{ address: 'erin@remote.test' }],
      subject: 'while down',
      text: 'retry me',
    });
    // The first attempt and at least one retry fail on a closed port.
    await waitFor(
      async () => (await queue.getJob(SMTP_OUT_QUEUE, `${r.id}.remote.test.2`))?.state === 'completed',
      10_000,
      10,
    );
    await sink.start();
    await sink.waitForMessages(before + 1);
    await waitFor(async () => {
      const c = await queue.counts(SMTP_OUT_QUEUE);
      return c.waiting + c.delayed + c.active === 0;
    });
    const copies = sink.messages.filter((m) => headerValue(m.raw, 'message-id') === r.messageId);
    assert.equal(copies.length, 1, 'delivered exactly once');
  });

  test('a permanent refusal (550): a bounce in the sender inbox, no retry', async () => {
    sink.behaviour.rejectRecipients.set('nobody@remote.test', '550 5.1.1 <nobody@remote.test>: no such user');
    try {
      const bouncesBefore = ingest.calls.filter((c) => c.tags?.includes('bounce')).length;
      const r = await outbound.compose.send(alice, {
        to: [{ address: 'nobody@remote.test' }],
        subject: 'to nobody',
        text: 'x',
      });
      await waitFor(async () => ingest.calls.filter((c) => c.tags?.includes('bounce')).length > bouncesBefore);
      const bounce = ingest.calls.filter((c) => c.tags?.includes('bounce')).at(-1)!;
      assert.equal(bounce.accountId, alice.id);
      assert.equal(bounce.direction, 'inbound');
      const text = bounce.raw.toString('latin1');
      assert.match(headerValue(bounce.raw, 'content-type') ?? '', /^multipart\/report; report-type=delivery-status;/);
      assert.equal(headerValue(bounce.raw, 'in-reply-to'), r.messageId);
      assert.match(text, /Final-Recipient: rfc822; nobody@remote\.test/);
      assert.match(text, /Action: failed/);
      assert.match(text, /Status: 5\.1\.1/);
      assert.match(text, /Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@remote\.test>: no such user/);
      assert.match(text, /Content-Type: message\/rfc822/);
      assert.equal(await queue.getJob(SMTP_OUT_QUEUE, `${r.id}.remote.test.2`), null, 'no retry after a 5xx');
    } finally {
      sink.behaviour.rejectRecipients.clear();
    }
  });

  test('temporary failures until the last attempt: a bounce after exactly `attempts` tries', async () => {
    sink.behaviour.rejectRecipients.set('busy@remote.test', '450 4.2.1 mailbox busy');
    try {
      const connectionsBefore = sink.connections;
      const r = await outbound.compose.send(alice, {
        to: [{ address: 'busy@remote.test' }],
        subject: 'busy',
        text: 'x',
      });
      await waitFor(
        async () =>
          ingest.calls.some((c) => c.tags?.includes('bounce') && headerValue(c.raw, 'in-reply-to') === r.messageId),
        15_000,
      );
      assert.equal(sink.connections - connectionsBefore, 4, 'four attempts in all');
      assert.equal(await queue.getJob(SMTP_OUT_QUEUE, `${r.id}.remote.test.5`), null);
      const bounce = ingest.calls.find(
        (c) => c.tags?.includes('bounce') && headerValue(c.raw, 'in-reply-to') === r.messageId,
      )!;
      assert.match(bounce.raw.toString('latin1'), /Status: 4\.2\.1/);
    } finally {
      sink.behaviour.rejectRecipients.clear();
    }
  });

  test('hostile input is refused before anything is stored or queued', async () => {
    const callsBefore = ingest.calls.length;
    const countsBefore = JSON.stringify(await queue.counts(SMTP_OUT_QUEUE));
    const cases: [string, Parameters<OutboundMail['compose']['send']>[1], string][] = [
      ['no recipient', { subject: 'x' }, 'no_recipients'],
      ['bad address', { to: [{ address: 'not an address' }] }, 'recipient_invalid'],
      ['address with CRLF', { to: [{ address: 'x@remote.test\r\nBcc: evil@evil.test' }] }, 'recipient_invalid'],
      ['address literal', { to: [{ address: 'x@[127.0.0.1]' }] }, 'recipient_invalid'],
      ['numeric TLD', { to: [{ address: 'x@10.0.0.1' }] }, 'recipient_invalid'],
      [
        'both address and contact',
        { to: [{ address: 'x@remote.test', contactId: randomUUID() }] },
        'recipient_invalid',
      ],
      ['neither', { to: [{ name: 'x' }] }, 'recipient_invalid'],
      [
        'subject injection',
        { to: [{ address: 'x@remote.test' }], subject: 'hi\r\nBcc: evil@evil.test' },
        'header_invalid',
      ],
      ['name injection', { to: [{ address: 'x@remote.test', name: 'Eve\nBcc: evil@evil.test' }] }, 'header_invalid'],
      ['NUL in subject', { to: [{ address: 'x@remote.test' }], subject: 'a\u0000b' }, 'header_invalid'],
      ['unknown contact', { to: [{ contactId: randomUUID() }] }, 'recipient_unknown'],
      ['unknown local account', { to: [{ address: 'ghost@alpha.test' }] }, 'recipient_unknown'],
      [
        'too many recipients',
        { to: Array.from({ length: 6 }, (_, i) => ({ address: `r${i}@remote.test` })) },
        'too_many_recipients',
      ],
      [
        'bad base64',
        {
          to: [{ address: 'x@remote.test' }],
          attachments: [{ filename: 'a.bin', contentType: 'application/octet-stream', content: '!!!notbase64' }],
        },
        'attachment_invalid',
      ],
      [
        'truncated base64',
        {
          to: [{ address: 'x@remote.test' }],
          attachments: [{ filename: 'a.bin', contentType: 'application/octet-stream', content: 'QUJD=' }],
        },
        'attachment_invalid',
      ],
      [
        'bad content type',
        {
          to: [{ address: 'x@remote.test' }],
          attachments: [{ filename: 'a.bin', contentType: 'text/html\r\nX: y', content: 'QUJD' }],
        },
        'attachment_invalid',
      ],
      [
        'multipart attachment',
        {
          to: [{ address: 'x@remote.test' }],
          attachments: [{ filename: 'a', contentType: 'multipart/mixed', content: 'QUJD' }],
        },
        'attachment_invalid',
      ],
      [
        'filename injection',
        {
          to: [{ address: 'x@remote.test' }],
          attachments: [{ filename: 'a\r\n.txt', contentType: 'text/plain', content: 'QUJD' }],
        },
        'header_invalid',
      ],
      [
        'oversize attachments',
        {
          to: [{ address: 'x@remote.test' }],
          attachments: [
            {
              filename: 'big.bin',
              contentType: 'application/octet-stream',
              content: Buffer.alloc(1001).toString('base64'),
            },
          ],
        },
        'attachments_too_large',
      ],
      ['unknown inReplyTo', { to: [{ address: 'x@remote.test' }], inReplyTo: randomUUID() }, 'not_found'],
    ];
    for (const [what, input, code] of cases) {
      await assert.rejects(
        outbound.compose.send(alice, input),
        (err: unknown) => err instanceof AppError && err.code === code,
        what,
      );
    }
    assert.equal(ingest.calls.length, callsBefore, 'nothing stored');
    assert.equal(JSON.stringify(await queue.counts(SMTP_OUT_QUEUE)), countsBefore, 'nothing queued');
  });

  test('a submitted message (mail app): kept as written, Message-ID and Date added, DKIM-signed, Bcc off the wire; blind copies from the envelope', async () => {
    const before = sink.messages.length;
    const callsBefore = ingest.calls.length;
    const raw = Buffer.from(
      'From: Alice <alice@alpha.test>\r\nTo: carol@remote.test\r\nBcc: dave@remote.test\r\nSubject: from Thunderbird\r\nX-Mailer: Thunderbird\r\n\r\nHello from my mail app\r\n',
    );
    const r = await outbound.compose.submit(alice, {
      raw,
      recipients: ['carol@remote.test', 'dave@remote.test', 'bob@alpha.test'],
    });
    assert.deepEqual(
      r.recipients.map((x) => [x.address, x.kind, x.route, x.status]),
      [
        ['carol@remote.test', 'to', 'smtp', 'queued'],
        ['dave@remote.test', 'bcc', 'smtp', 'queued'],
        ['bob@alpha.test', 'bcc', 'local', 'delivered'],
      ],
    );
    assert.match(r.messageId, /^<[0-9a-f-]{36}@alpha\.test>$/);
    const sentRaw = (await blobs.get((await storage.messages.get(alice.id, r.id))!.rawRef!))!;
    assert.equal(headerValue(sentRaw, 'message-id'), r.messageId);
    assert.ok(headerValue(sentRaw, 'date'), 'a Date was added');
    assert.equal(headerValue(sentRaw, 'x-mailer'), 'Thunderbird', "the app's headers are kept");
    assert.equal(headerValue(sentRaw, 'bcc'), 'dave@remote.test', 'the Sent copy keeps the Bcc');
    const toBob = ingest.calls.slice(callsBefore).find((c) => c.accountId === bob.id)!;
    assert.equal(headerValue(toBob.raw, 'bcc'), null);
    const [got] = (await sink.waitForMessages(before + 1)).slice(before);
    assert.deepEqual(got!.to.sort(), ['carol@remote.test', 'dave@remote.test']);
    assert.equal(headerValue(got!.raw, 'bcc'), null, 'no Bcc on the wire');
    const verdict = await dkimVerify(got!.raw, { resolver: resolver as never });
    assert.equal(verdict.results[0]!.status.result, 'pass', JSON.stringify(verdict.results[0]!.status));
  });

  test('a submitted message whose From or Sender is not the account’s is refused, nothing stored or queued', async () => {
    const callsBefore = ingest.calls.length;
    const countsBefore = JSON.stringify(await queue.counts(SMTP_OUT_QUEUE));
    const cases: [string, string][] = [
      ['someone else', 'From: bob@alpha.test\r\nTo: x@remote.test\r\n\r\nx\r\n'],
      ['no From', 'To: x@remote.test\r\n\r\nx\r\n'],
      ['two authors', 'From: alice@alpha.test, bob@alpha.test\r\nTo: x@remote.test\r\n\r\nx\r\n'],
      ['a foreign Sender', 'From: alice@alpha.test\r\nSender: ceo@bank.example\r\nTo: x@remote.test\r\n\r\nx\r\n'],
      ['an unreadable From', 'From: <<<>>>\r\nTo: x@remote.test\r\n\r\nx\r\n'],
    ];
    for (const [what, text] of cases) {
      await assert.rejects(
        outbound.compose.submit(alice, { raw: Buffer.from(text), recipients: ['x@remote.test'] }),
        (err: unknown) => err instanceof AppError && err.code === 'sender_not_owned',
        what,
      );
    }
    await assert.rejects(
      outbound.compose.submit(alice, {
        raw: Buffer.from('From: alice@alpha.test\r\n\r\nx\r\n'),
        recipients: ['nobody@alpha.test'],
      }),
      (err: unknown) => err instanceof AppError && err.code === 'recipient_unknown',
    );
    assert.equal(ingest.calls.length, callsBefore, 'nothing stored');
    assert.equal(JSON.stringify(await queue.counts(SMTP_OUT_QUEUE)), countsBefore, 'nothing queued');
    assert.equal(await outbound.compose.sendsAs(alice, 'ALICE@alpha.test'), true);
    assert.equal(await outbound.compose.sendsAs(alice, 'bob@alpha.test'), false);
  });
});
