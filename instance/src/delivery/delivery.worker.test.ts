/**
 * The one delivery lifecycle (delivery.worker.ts) on the real embedded queue (SQLite) and file blob store: driven by a
 * scripted Transport (each attempt's answer written by the test), then by each real adapter — SMTP against a real SMTP
 * server (smtp-server on a loopback port) and the federation against a real TLS server playing a peer's prekeys and
 * inbox. What the worker must do whatever the transport: a temporary refusal is retried with the bounded backoff until
 * `attempts`, then bounced; a permanent refusal is bounced at once and never retried; a delivered recipient is never
 * sent again; the delivery fact is recorded once per delivering attempt; a reroute becomes a fresh job elsewhere.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  FEDERATION_HTTP_ERRORS,
  INBOX_PATH,
  PREKEYS_PATH,
  generateEd25519KeyPair,
  generatePrekey,
  signPrekey,
  signReceipt,
} from '@caliopen/federation-protocol';
import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import { freePort, waitFor } from '../../../tests/support/net.ts';
import { startSmtpSink, type SmtpSink } from '../../../tests/support/smtp-sink.ts';
import { generateCertificate, startTlsServer, type TestTlsServer } from '../../../tests/support/tls-server.ts';
import { tempDir } from '../../../tests/support/tmp.ts';
import { FsBlobStore } from '../blobs/blob-store.fs.ts';
import { MxResolver } from './mx-resolver.ts';
import type { PeerLookup } from '../federation/inbox.routes.ts';
import type { PeerInfo } from '../federation/peer-directory.ts';
import type { IngestRequest, IngestResult, MessageIngest } from '../messages/message-ingest.port.ts';
import type { Message } from '../mail/message.entity.ts';
import type { EnqueueOptions, JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import { openSqliteJobQueue } from '@caliopen/platform/queue/job-queue.sqlite.ts';
import type { Storage } from '../database/storage.port.ts';
import {
  DELIVERY_QUEUES,
  FEDERATION_OUT_QUEUE,
  SMTP_OUT_QUEUE,
  type DeliveryFact,
  type DeliveryJob,
  type FederationJob,
  type RetryPolicy,
  type TransportName,
} from './delivery.types.ts';
import { DeliveryWorker } from './delivery.worker.ts';
import { FederationTransport } from './transport.federation.ts';
import type { RecipientOutcome, SentCopy, Transport, TransportResult } from './transport.port.ts';
import { SmtpTransport } from './transport.smtp.ts';

const silent = { info() {}, warn() {}, error() {} };
const RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 20, maxDelayMs: 40 };

/** The ingest port, recorded: the bounces the worker writes to the sender's inbox. */
class RecordingIngest implements MessageIngest {
  readonly calls: IngestRequest[] = [];
  async ingest(request: IngestRequest): Promise<IngestResult> {
    this.calls.push(request);
    return { message: { id: randomUUID() } as Message, inserted: true };
  }
  bouncesFor(accountId: string): string[] {
    return this.calls
      .filter((c) => c.accountId === accountId && c.tags?.includes('bounce'))
      .map((c) => c.raw.toString('utf8'));
  }
}

/** The real queue, with every enqueue recorded (queue, job payload and options: the backoff it was given). */
function recordingQueue(inner: JobQueue): JobQueue & {
  enqueued: { queue: string; payload: DeliveryJob; options: EnqueueOptions | undefined }[];
} {
  const enqueued: { queue: string; payload: DeliveryJob; options: EnqueueOptions | undefined }[] = [];
  return Object.assign(Object.create(inner) as JobQueue, {
    enqueued,
    enqueue<P>(queue: string, name: string, payload: P, options?: EnqueueOptions) {
      enqueued.push({ queue, payload: payload as DeliveryJob, options });
      return inner.enqueue(queue, name, payload, options);
    },
    process: inner.process.bind(inner),
    getJob: inner.getJob.bind(inner),
    counts: inner.counts.bind(inner),
  });
}

/** A transport whose answers the test writes: one function per attempt number. */
class ScriptedTransport implements Transport<FederationJob> {
  readonly seen: FederationJob[] = [];
  constructor(
    readonly name: TransportName,
    private readonly script: (job: FederationJob) => TransportResult<FederationJob>,
  ) {}
  async attempt(job: FederationJob, _copy: SentCopy): Promise<TransportResult<FederationJob>> {
    this.seen.push(structuredClone(job));
    return this.script(job);
  }
}

const outcome = (kind: RecipientOutcome['kind'], address: string, status: string, code?: string): RecipientOutcome => ({
  kind,
  address,
  status,
  diagnostic: `${kind} (${code ?? status})`,
  reply: null,
  remote: 'peer.test:443',
  ...(code ? { code } : {}),
});

const attempted = (
  job: DeliveryJob,
  recipients: RecipientOutcome[],
  carry?: Partial<FederationJob>,
): TransportResult<FederationJob> => ({
  kind: 'attempted',
  attempt: {
    at: new Date().toISOString(),
    remote: 'peer.test:443',
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certificateVerified: true },
    recipients,
    fact: { domain: job.domain, via: 'federation', tls: null, peer: 'peer.test:443', at: new Date().toISOString() },
    ...(carry ? { carry } : {}),
  },
});

describe('the delivery worker', () => {
  const tmp = tempDir('caliopen-delivery-');
  let inner: JobQueue;
  let queue: ReturnType<typeof recordingQueue>;
  let blobs: FsBlobStore;
  let ingest: RecordingIngest;
  const sent = new Map<string, Message>();
  /** Only what the worker reads of storage: the Sent copy (a row pointing at its raw bytes in the blob store). */
  const storage = {
    messages: { get: async (accountId: string, id: string) => sent.get(`${accountId}/${id}`) ?? null },
  } as unknown as Storage;
  const facts: DeliveryFact[] = [];
  let workers: Worker[] = [];

  beforeAll(() => {
    inner = openSqliteJobQueue(`${tmp.dir}/queue.db`, { pollIntervalMs: 10 });
    blobs = new FsBlobStore(`${tmp.dir}/blobs`);
  });
  beforeEach(async () => {
    for (const w of workers) await w.close();
    workers = [];
    queue = recordingQueue(inner);
    ingest = new RecordingIngest();
    facts.length = 0;
  });
  afterAll(async () => {
    for (const w of workers) await w.close();
    await inner.close();
    tmp.cleanup();
  });

  /** Stores a Sent copy (with a Bcc header that must not leave) and returns the first job for `domain`. */
  async function sentCopy(domain: string, recipients: string[]): Promise<FederationJob> {
    const accountId = randomUUID();
    const id = randomUUID();
    const raw = Buffer.from(
      `From: alice@alpha.test\r\nTo: ${recipients.join(', ')}\r\nBcc: hidden@elsewhere.test\r\nSubject: hello ${id}\r\nMessage-ID: <${id}@alpha.test>\r\n\r\nbody\r\n`,
    );
    await blobs.put(`raw/${id}`, raw);
    sent.set(`${accountId}/${id}`, {
      id,
      accountId,
      externalId: `<${id}@alpha.test>`,
      subject: `hello ${id}`,
      rawRef: `raw/${id}`,
    } as Message);
    return {
      accountId,
      messageId: id,
      from: 'alice@alpha.test',
      domain,
      recipients,
      attempt: 1,
      queuedAt: new Date().toISOString(),
      history: [],
    };
  }

  function start<J extends DeliveryJob>(transport: Transport<J>): DeliveryWorker<J> {
    const worker = new DeliveryWorker(transport, {
      domain: 'alpha.test',
      clock: () => new Date(),
      storage,
      queue,
      ingest,
      blobs,
      retry: RETRY,
      logger: silent,
      events: {
        publish: async (_name, payload) => {
          if ('fact' in payload) facts.push(payload.fact);
        },
      },
    });
    workers.push(worker.start(2));
    return worker;
  }

  async function run(transportName: TransportName, job: DeliveryJob): Promise<void> {
    const { queue: name, jobId } = DELIVERY_QUEUES[transportName];
    await queue.enqueue(name, 'deliver', job, { jobId: jobId(job.messageId, job.domain, 1) });
  }

  const idle = async (name: string) => {
    const c = await inner.counts(name);
    return c.waiting + c.delayed + c.active === 0;
  };

  test('temporary refusals are retried with the bounded backoff; delivered once; one fact; no bounce', async () => {
    const transport = new ScriptedTransport('federation', (job) =>
      attempted(job, [
        job.attempt < 3
          ? outcome('temporary', 'bob@peer.test', '4.4.1', 'peer_rate_limited')
          : outcome('delivered', 'bob@peer.test', '2.0.0'),
      ]),
    );
    start(transport);
    const job = await sentCopy('peer.test', ['bob@peer.test']);
    await run('federation', job);
    await waitFor(async () => transport.seen.length === 3 && (await idle(FEDERATION_OUT_QUEUE)));
    assert.deepEqual(
      transport.seen.map((j) => j.attempt),
      [1, 2, 3],
    );
    const retries = queue.enqueued.filter((e) => e.payload.messageId === job.messageId).slice(1);
    assert.deepEqual(
      retries.map((e) => [e.options?.jobId, e.options?.delayMs]),
      [
        [`fed.${job.messageId}.peer.test.2`, 20],
        [`fed.${job.messageId}.peer.test.3`, 40],
      ],
      'base × 2^(n-1), bounded by maxDelayMs',
    );
    assert.equal(transport.seen[2]!.history.length, 2, 'the attempts travel with the job');
    assert.equal(transport.seen[2]!.history[0]!.recipients[0]!.outcome, 'deferred');
    assert.equal(facts.length, 1, 'the delivery fact recorded once');
    assert.deepEqual(ingest.bouncesFor(job.accountId), []);
  });

  test('a permanent refusal is bounced at once: one attempt, never retried, its status in the bounce', async () => {
    const transport = new ScriptedTransport('federation', (job) =>
      attempted(job, [outcome('permanent', 'nobody@peer.test', '5.1.1', 'recipient_unknown')]),
    );
    start(transport);
    const job = await sentCopy('peer.test', ['nobody@peer.test']);
    await run('federation', job);
    await waitFor(async () => ingest.bouncesFor(job.accountId).length === 1 && (await idle(FEDERATION_OUT_QUEUE)));
    assert.equal(transport.seen.length, 1);
    assert.equal(queue.enqueued.filter((e) => e.payload.messageId === job.messageId).length, 1, 'no retry queued');
    const bounce = ingest.bouncesFor(job.accountId)[0]!;
    assert.match(bounce, /Final-Recipient: rfc822; nobody@peer\.test/);
    assert.match(bounce, /Status: 5\.1\.1/);
    assert.doesNotMatch(bounce, /hidden@elsewhere\.test/, 'the Bcc header never leaves, not even in a bounce');
    assert.equal(facts.length, 0);
  });

  test('mixed outcomes: the permanent one bounces now, only the temporary one is retried, then given up and bounced', async () => {
    const transport = new ScriptedTransport('federation', (job) =>
      attempted(
        job,
        job.recipients.map((address) =>
          address.startsWith('ok')
            ? outcome('delivered', address, '2.0.0')
            : address.startsWith('gone')
              ? outcome('permanent', address, '5.1.1', 'recipient_unknown')
              : outcome('temporary', address, '4.4.1'),
        ),
        { envelopeIds: { 'later@peer.test': 'envelope-of-later' } },
      ),
    );
    start(transport);
    const job = await sentCopy('peer.test', ['ok@peer.test', 'gone@peer.test', 'later@peer.test']);
    await run('federation', job);
    await waitFor(async () => ingest.bouncesFor(job.accountId).length === 2 && (await idle(FEDERATION_OUT_QUEUE)));
    assert.deepEqual(
      transport.seen.map((j) => j.recipients),
      [
        ['ok@peer.test', 'gone@peer.test', 'later@peer.test'],
        ['later@peer.test'],
        ['later@peer.test'],
        ['later@peer.test'],
      ],
      'a delivered or refused recipient is never sent again; attempts stop at retry.attempts',
    );
    assert.deepEqual(
      transport.seen[1]!.envelopeIds,
      { 'later@peer.test': 'envelope-of-later' },
      'carry reaches the retry',
    );
    const [first, last] = ingest.bouncesFor(job.accountId);
    assert.match(first!, /Final-Recipient: rfc822; gone@peer\.test/);
    assert.doesNotMatch(first!, /later@peer\.test>/);
    assert.match(last!, /Final-Recipient: rfc822; later@peer\.test/);
    assert.match(last!, /gave up after 4 attempts/);
    assert.equal(facts.length, 1, 'a fact for the attempt that delivered ok@');
  });

  test('a reroute becomes a fresh job of the other transport; a deleted Sent copy is dropped unattempted', async () => {
    const transport = new ScriptedTransport('federation', () => ({ kind: 'reroute', to: 'smtp', reason: 'test' }));
    start(transport);
    const job = await sentCopy('peer.test', ['bob@peer.test']);
    await run('federation', { ...job, attempt: 1 });
    await waitFor(async () => queue.enqueued.some((e) => e.queue === SMTP_OUT_QUEUE));
    const fresh = queue.enqueued.find((e) => e.queue === SMTP_OUT_QUEUE)!;
    assert.equal(fresh.options?.jobId, `${job.messageId}.peer.test.1`);
    assert.deepEqual(
      { attempt: fresh.payload.attempt, recipients: fresh.payload.recipients, history: fresh.payload.history },
      { attempt: 1, recipients: ['bob@peer.test'], history: [] },
    );
    // No SMTP worker runs here: the SMTP test below will find the rerouted job and drop it (its Sent copy is gone).
    sent.delete(`${job.accountId}/${job.messageId}`);

    const gone = await sentCopy('peer.test', ['bob@peer.test']);
    sent.delete(`${gone.accountId}/${gone.messageId}`);
    const before = transport.seen.length;
    await run('federation', gone);
    await waitFor(() => idle(FEDERATION_OUT_QUEUE));
    assert.equal(transport.seen.length, before, 'the transport was not asked');
    assert.deepEqual(ingest.bouncesFor(gone.accountId), []);
  });

  describe('with the SMTP transport and a real SMTP server', () => {
    let sink: SmtpSink;
    beforeAll(async () => {
      sink = await startSmtpSink({ port: await freePort() });
    });
    afterAll(async () => {
      await sink.stop();
    });
    const smtp = () =>
      new SmtpTransport({
        domain: 'alpha.test',
        clock: () => new Date(),
        resolver: new MxResolver({ mxOverride: [`remote.test=127.0.0.1:${sink.port}`] }),
        tlsPolicy: 'opportunistic',
        timeouts: { connectionMs: 5000, greetingMs: 5000, socketMs: 10_000 },
        dkim: null,
      });

    test('550: one connection, a bounce with the server reply, no retry', async () => {
      sink.behaviour.rejectRecipients.set('nobody@remote.test', '550 5.1.1 No such user here');
      try {
        start(smtp());
        const connections = sink.connections;
        const job = await sentCopy('remote.test', ['nobody@remote.test']);
        await run('smtp', job);
        await waitFor(async () => ingest.bouncesFor(job.accountId).length === 1 && (await idle(SMTP_OUT_QUEUE)));
        assert.equal(sink.connections - connections, 1, 'one attempt');
        assert.match(ingest.bouncesFor(job.accountId)[0]!, /Diagnostic-Code: smtp; 550 5\.1\.1 No such user here/);
      } finally {
        sink.behaviour.rejectRecipients.clear();
      }
    });

    test('451 then 250: retried, delivered once, the fact says SMTP with what was negotiated', async () => {
      sink.behaviour.rejectRecipientsOnce.set('erin@remote.test', '451 4.3.0 Try again later');
      start(smtp());
      const job = await sentCopy('remote.test', ['erin@remote.test']);
      const connections = sink.connections;
      await run('smtp', job);
      await waitFor(async () => facts.length === 1 && (await idle(SMTP_OUT_QUEUE)));
      const delivered = sink.messages.filter((m) => m.raw.includes(Buffer.from(job.messageId)));
      assert.equal(delivered.length, 1, 'delivered exactly once');
      assert.doesNotMatch(delivered[0]!.raw.toString('latin1'), /^Bcc:/im);
      assert.equal(facts[0]!.via, 'smtp');
      assert.equal(facts[0]!.peer, `127.0.0.1:${sink.port}`);
      assert.ok(facts[0]!.tls, 'STARTTLS negotiated');
      assert.equal(sink.connections - connections, 2, 'refused once, then delivered');
      assert.equal(queue.enqueued.filter((e) => e.payload.messageId === job.messageId).length, 2, 'retried once');
      assert.deepEqual(ingest.bouncesFor(job.accountId), []);
    });
  });

  describe('with the federation transport and a TLS server playing the peer', () => {
    let peer: TestTlsServer;
    /** What the peer's inbox answers, per request (the test writes it). */
    let inboxAnswers: { status: number; code: string; receipt?: string }[] = [];
    let posts = 0;
    const peerSigning = generateEd25519KeyPair();
    let info: PeerInfo;
    let directory: PeerLookup | null;
    let open: PeerLookup;

    beforeAll(async () => {
      peer = await startTlsServer({ domain: 'peer.test' });
      const now = Math.floor(Date.now() / 1000);
      const { prekey } = generatePrekey({ domain: 'peer.test', notBefore: now - 60 });
      const list = JSON.stringify({ prekeys: [await signPrekey(prekey, peerSigning)] });
      peer.routes.set(PREKEYS_PATH, { body: list, headers: { 'content-type': 'application/json' } });
      peer.routes.set(INBOX_PATH, () => {
        posts++;
        const answer = inboxAnswers.shift() ?? { status: 503, code: 'replay_store_full' };
        return {
          status: answer.status,
          body: JSON.stringify({ code: answer.code, ...(answer.receipt ? { receipt: answer.receipt } : {}) }),
          headers: { 'content-type': 'application/json' },
        };
      });
      const own = { labelValid: true, status: 'labelled', domain: 'alpha.test' } as PeerInfo;
      info = {
        domain: 'peer.test',
        status: 'labelled',
        labelValid: true,
        instancePi: 90,
        certificateSha256: peer.certificate.fingerprintSha256,
        keys: { signing: peerSigning.publicJwk },
        signingKeys: [peerSigning.publicJwk],
        endpoints: { federation: `https://127.0.0.1:${peer.port}` },
      } as unknown as PeerInfo;
      open = {
        peer: (domain: string) => (domain === 'peer.test' ? info : domain === 'alpha.test' ? own : null),
      } as PeerLookup;
      directory = open;
    });
    afterAll(async () => {
      await peer.close();
    });
    const federation = async () => {
      const cert = await generateCertificate({ names: ['alpha.test'] });
      return new FederationTransport({
        domain: 'alpha.test',
        clock: () => new Date(),
        peers: () => directory,
        signingKey: generateEd25519KeyPair(),
        clientCert: { certPem: cert.certPem, keyPem: cert.keyPem },
        timeoutMs: 5000,
      });
    };

    test('recipient_unknown: one POST, bounced at once with 5.1.1', async () => {
      assert.equal(FEDERATION_HTTP_ERRORS.recipient_unknown.senderAction, 'fail');
      start(await federation());
      inboxAnswers = [{ status: 404, code: 'recipient_unknown' }];
      posts = 0;
      const job = await sentCopy('peer.test', ['nobody@peer.test']);
      await run('federation', job);
      await waitFor(async () => ingest.bouncesFor(job.accountId).length === 1 && (await idle(FEDERATION_OUT_QUEUE)));
      assert.equal(posts, 1, 'not retried');
      const bounce = ingest.bouncesFor(job.accountId)[0]!;
      assert.match(bounce, /Status: 5\.1\.1/);
      assert.match(bounce, /the peer refused it: recipient_unknown/);
    });

    test('a temporary refusal (peer_rate_limited) is retried with the same envelope id; "done" counts as delivered only with its receipt', async () => {
      const transport = await federation();
      const seen: FederationJob[] = [];
      start({
        name: transport.name,
        attempt: async (job, copy) => {
          seen.push(structuredClone(job));
          // The third attempt: the peer now answers "already accepted" with the receipt it issued for this envelope.
          const envelopeId = (job as FederationJob).envelopeIds?.['bob@peer.test'];
          if (job.attempt === 3 && envelopeId)
            inboxAnswers.push({
              status: 409,
              code: 'envelope_replayed',
              receipt: await signReceipt(
                {
                  envelopeId,
                  to: { instance: 'peer.test', local: 'bob' },
                  receivedAt: Math.floor(Date.now() / 1000),
                  status: 'delivered',
                },
                peerSigning,
              ),
            });
          return transport.attempt(job, copy);
        },
      });
      // 409 without a receipt: the peer may hold a claim whose message it never filed (a crash): not delivered yet.
      inboxAnswers = [
        { status: 429, code: 'peer_rate_limited' },
        { status: 409, code: 'envelope_replayed' },
      ];
      posts = 0;
      const job = await sentCopy('peer.test', ['bob@peer.test']);
      await run('federation', job);
      await waitFor(async () => facts.length === 1 && (await idle(FEDERATION_OUT_QUEUE)));
      assert.equal(posts, 3, 'retried after the 429 and after the 409 without a receipt');
      assert.deepEqual(
        seen.map((j) => j.attempt),
        [1, 2, 3],
      );
      const ids = seen.map((j) => j.envelopeIds?.['bob@peer.test']);
      assert.ok(ids[1] && ids[1] === ids[2], 'every retry carries the envelope id drawn on the first attempt');
      assert.equal(facts[0]!.via, 'federation');
      assert.equal(facts[0]!.federation?.receiptVerified, true, 'delivered on the receipt that came with "done"');
      assert.deepEqual(ingest.bouncesFor(job.accountId), []);
    });

    test('the federation closed and no consent: nothing sent, every recipient bounced with why; with consent, rerouted', async () => {
      start(await federation());
      posts = 0;
      directory = null;
      try {
        const job = await sentCopy('peer.test', ['bob@peer.test']);
        await run('federation', job);
        await waitFor(async () => ingest.bouncesFor(job.accountId).length === 1);
        assert.match(ingest.bouncesFor(job.accountId)[0]!, /not sent over the federation: peer\.test is no longer in/);
        const consented = await sentCopy('peer.test', ['bob@peer.test']);
        await run('federation', { ...consented, emailFallback: true });
        await waitFor(async () =>
          queue.enqueued.some((e) => e.queue === SMTP_OUT_QUEUE && e.payload.messageId === consented.messageId),
        );
        sent.delete(`${consented.accountId}/${consented.messageId}`);
        assert.equal(posts, 0, 'nothing reached the peer');
      } finally {
        directory = open;
      }
    });
  });
});
