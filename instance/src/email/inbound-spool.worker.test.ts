import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'vitest';
import { dkimSign } from 'mailauth';
import pino from 'pino';
import type { IngestRequest, IngestResult, MessageIngest } from '../messages/message-ingest.port.ts';
import { AppError } from '../shared/errors.ts';
import type { SpoolEntryInput } from './inbound-spool.port.ts';
import { SqliteInboundSpool } from './inbound-spool.sqlite.ts';
import { InboundSpoolWorker } from './inbound-spool.worker.ts';
import type { DnsResolver } from './smtp-inbound.authentication.ts';

/** The MessageIngest port, recording what it is given; `fail` decides per call whether to throw. */
class RecordingIngest implements MessageIngest {
  calls: IngestRequest[] = [];
  fail: (request: IngestRequest, call: number) => Error | null = () => null;
  async ingest(request: IngestRequest): Promise<IngestResult> {
    const error = this.fail(request, this.calls.length);
    this.calls.push(request);
    if (error) throw error;
    return { message: { id: `m${this.calls.length}` } as IngestResult['message'], inserted: true };
  }
}

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const resolver: DnsResolver = async (name, type) => {
  if (type === 'TXT' && name === 'sel._domainkey.sender.example')
    return [[`v=DKIM1; k=rsa; p=${rsa.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')}`]];
  if (type === 'TXT' && name === 'sender.example') return [['v=spf1 ip4:192.0.2.10 -all']];
  throw Object.assign(new Error(`ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
};

const silent = pino({ level: 'silent' });
const until = async (probe: () => boolean | Promise<boolean>, what: string) => {
  for (let i = 0; i < 500; i++) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`timed out waiting for ${what}`);
};

async function signedMessage(n: number): Promise<Buffer> {
  const msg = `Received: from old.example by mx.sender.example with ESMTP; Sun, 22 Nov 2026 10:00:00 +0000\r\nFrom: alice@sender.example\r\nTo: bob@alpha.test\r\nSubject: n${n}\r\nMessage-ID: <${n}@sender.example>\r\n\r\nbody ${n}\r\n`;
  const signed = await dkimSign(msg, {
    signTime: new Date(),
    signatureData: [
      {
        signingDomain: 'sender.example',
        selector: 'sel',
        privateKey: rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }),
      },
    ],
  } as Parameters<typeof dkimSign>[1]);
  return Buffer.from(signed.signatures + msg);
}

const entry = async (
  n: number,
  recipients = [{ address: 'bob@alpha.test', accountId: 'bob' }],
): Promise<SpoolEntryInput> => ({
  receivedAt: new Date(1_800_000_000_000 + n),
  mailFrom: 'alice@sender.example',
  recipients,
  transport: {
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' },
    clientIp: '192.0.2.10',
    helo: 'mx.sender.example',
  },
  raw: await signedMessage(n),
});

describe('InboundSpoolWorker', () => {
  let dir: string;
  let spool: SqliteInboundSpool;
  let ingest: RecordingIngest;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'caliopen-spool-worker-'));
    spool = SqliteInboundSpool.open(join(dir, 'spool.db'));
    ingest = new RecordingIngest();
  });
  afterEach(async () => {
    await spool.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('delivers what a previous run left, then what arrives; one copy per recipient; entries removed after', async () => {
    const leftover = await entry(1);
    await spool.append(leftover);
    const worker = new InboundSpoolWorker({ spool, ingest, domain: 'alpha.test', logger: silent, resolver });
    worker.start();
    await until(async () => (await spool.counts()).queued === 0, 'the leftover entry');
    await spool.append(
      await entry(2, [
        { address: 'bob@alpha.test', accountId: 'bob' },
        { address: 'carol@alpha.test', accountId: 'carol' },
      ]),
    );
    await until(async () => ingest.calls.length === 3 && (await spool.counts()).queued === 0, 'the new entry');
    await worker.close();
    assert.deepEqual(
      ingest.calls.map((c) => [c.accountId, c.direction]),
      [
        ['bob', 'inbound'],
        ['bob', 'inbound'],
        ['carol', 'inbound'],
      ],
    );
    assert.ok(ingest.calls[0]!.raw.equals(leftover.raw), 'the exact bytes received');
    assert.equal(ingest.calls[0]!.receivedAt.getTime(), 1_800_000_000_001);
  });

  it('hands over the transport facts measured on the session, the parsed trace and verified authentication', async () => {
    await spool.append(await entry(1));
    const worker = new InboundSpoolWorker({ spool, ingest, domain: 'alpha.test', logger: silent, resolver });
    worker.start();
    await until(() => ingest.calls.length === 1, 'delivery');
    await worker.close();
    const { facts } = ingest.calls[0]!;
    assert.deepEqual(facts.transport, {
      via: 'smtp',
      tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' },
      clientIp: '192.0.2.10',
      helo: 'mx.sender.example',
      receivedChain: [
        {
          from: 'old.example',
          by: 'mx.sender.example',
          with: 'ESMTP',
          tls: false,
          date: 'Sun, 22 Nov 2026 10:00:00 +0000',
        },
      ],
      externalHops: 1,
      plaintextHops: 1,
    });
    assert.deepEqual(facts.authentication, {
      spf: { result: 'pass', domain: 'sender.example' },
      dkim: [{ result: 'pass', domain: 'sender.example', selector: 'sel', aligned: true }],
      dmarc: { result: 'none', domain: 'sender.example', policy: null },
    });
  });

  it('retries a failed delivery with backoff, keeps the entry meanwhile, and gives up into "dead" — never dropping it', async () => {
    let now = 1_900_000_000_000;
    ingest.fail = () => new AppError('quota_exceeded', 'full');
    const id = await spool.append(await entry(1));
    const worker = new InboundSpoolWorker({
      spool,
      ingest,
      domain: 'alpha.test',
      logger: silent,
      resolver,
      clock: () => new Date(now),
      maxAttempts: 3,
      retryDelayMs: (n) => n * 1000,
    });
    worker.start();
    await until(async () => (await spool.get(id))?.attempts === 1, 'the first failure');
    assert.equal((await spool.nextDueAt())?.getTime(), now + 1000);
    now += 1000;
    await spool.append(await entry(2)); // any append wakes the worker; the deferred entry is due by now
    await until(async () => (await spool.get(id))?.attempts === 2, 'the second failure');
    now += 2000;
    await spool.append(await entry(3));
    await until(async () => (await spool.counts()).dead === 1, 'the last failure');
    await worker.close();
    assert.equal((await spool.get(id))?.attempts, 3);
    assert.deepEqual(await spool.counts(), { queued: 2, dead: 1 }, 'the other entries failed once each and wait');
  });

  it('a transient failure followed by success delivers once and removes the entry', async () => {
    ingest.fail = (_r, call) => (call === 0 ? new Error('database is locked') : null);
    const id = await spool.append(await entry(1));
    const worker = new InboundSpoolWorker({
      spool,
      ingest,
      domain: 'alpha.test',
      logger: silent,
      resolver,
      retryDelayMs: () => 60,
    });
    worker.start();
    await until(async () => (await spool.get(id)) === null, 'the retry');
    await worker.close();
    assert.equal(ingest.calls.length, 2);
  });

  it('drops the copy of a recipient whose account was deleted meanwhile, still delivering the others', async () => {
    ingest.fail = (r) => (r.accountId === 'gone' ? new AppError('not_found', 'No such account.') : null);
    await spool.append(
      await entry(1, [
        { address: 'gone@alpha.test', accountId: 'gone' },
        { address: 'bob@alpha.test', accountId: 'bob' },
      ]),
    );
    const worker = new InboundSpoolWorker({ spool, ingest, domain: 'alpha.test', logger: silent, resolver });
    worker.start();
    await until(async () => (await spool.counts()).queued === 0, 'delivery');
    await worker.close();
    assert.deepEqual(
      ingest.calls.map((c) => c.accountId),
      ['gone', 'bob'],
    );
  });

  it('delivers without authentication facts when verification cannot finish, rather than holding the message', async () => {
    const hanging: DnsResolver = () => new Promise(() => {});
    await spool.append(await entry(1));
    const worker = new InboundSpoolWorker({
      spool,
      ingest,
      domain: 'alpha.test',
      logger: silent,
      resolver: hanging,
      authenticationTimeoutMs: 100,
    });
    worker.start();
    await until(() => ingest.calls.length === 1, 'delivery');
    await worker.close();
    assert.equal(ingest.calls[0]!.facts.authentication, null);
    assert.equal(ingest.calls[0]!.facts.transport?.tls?.version, 'TLSv1.3');
  });

  it('files what is waiting in batches (ingestBatch), at most concurrentBatches at once; entries leave the spool only after their batch resolves', async () => {
    const batches: number[] = [];
    let running = 0;
    let peak = 0;
    let release!: () => void;
    let gate = new Promise<void>((r) => (release = r));
    const batching: MessageIngest = {
      ingest: (request) => ingest.ingest(request),
      ingestBatch: async (requests) => {
        running++;
        peak = Math.max(peak, running);
        batches.push(requests.length);
        await gate;
        running--;
        return Promise.allSettled(requests.map((r) => ingest.ingest(r)));
      },
    };
    for (let i = 0; i < 5; i++) await spool.append(await entry(i));
    const worker = new InboundSpoolWorker({
      spool,
      ingest: batching,
      domain: 'alpha.test',
      logger: silent,
      resolver,
      batchSize: 4,
      concurrentBatches: 2,
      busyWindowMs: 1,
    });
    worker.start();
    await until(() => running === 2, 'the first two batches');
    assert.deepEqual(batches, [4, 1], 'the first batch took what was waiting, up to batchSize; the second the rest');
    // The batches are being filed: nothing is removed before they resolve (a crash now re-files all of it).
    assert.deepEqual(await spool.counts(), { queued: 5, dead: 0 });
    for (let i = 5; i < 8; i++) await spool.append(await entry(i));
    await until(async () => (await spool.counts()).queued === 8, 'the new entries spooled');
    await new Promise((r) => setImmediate(r));
    assert.equal(peak, 2, 'no third batch while two are in progress');
    assert.equal(batches.length, 2);
    gate = Promise.resolve();
    release();
    await until(async () => (await spool.counts()).queued === 0, 'the backlog');
    await worker.close();
    assert.equal(peak, 2);
    assert.equal(
      batches.reduce((x, y) => x + y, 0),
      8,
    );
    assert.ok(batches.length <= 4, `what arrived meanwhile was filed in batches too (${batches.join(', ')})`);
    assert.equal(new Set(ingest.calls.map((c) => c.raw.toString())).size, 8, 'each entry filed once');
  });

  it('with concurrentBatches 1, one batch at a time', async () => {
    let running = 0;
    let peak = 0;
    const batching: MessageIngest = {
      ingest: (request) => ingest.ingest(request),
      ingestBatch: async (requests) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return Promise.allSettled(requests.map((r) => ingest.ingest(r)));
      },
    };
    for (let i = 0; i < 9; i++) await spool.append(await entry(i));
    const worker = new InboundSpoolWorker({
      spool,
      ingest: batching,
      domain: 'alpha.test',
      logger: silent,
      resolver,
      batchSize: 2,
      concurrentBatches: 1,
    });
    worker.start();
    await until(async () => (await spool.counts()).queued === 0, 'the backlog');
    await worker.close();
    assert.equal(peak, 1);
    assert.equal(new Set(ingest.calls.map((c) => c.raw.toString())).size, 9, 'each entry filed once');
  });

  it('in a batch, a failed copy defers its own entry only; the others are delivered and removed', async () => {
    const batching: MessageIngest = {
      ingest: (request) => ingest.ingest(request),
      ingestBatch: (requests) => Promise.allSettled(requests.map((r) => ingest.ingest(r))),
    };
    ingest.fail = (r) => (r.raw.includes('Subject: n2\r\n') ? new Error('disk full') : null);
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) ids.push(await spool.append(await entry(i)));
    const worker = new InboundSpoolWorker({
      spool,
      ingest: batching,
      domain: 'alpha.test',
      logger: silent,
      resolver,
      retryDelayMs: () => 3600_000,
    });
    worker.start();
    await until(async () => (await spool.get(ids[1]!))?.attempts === 1, 'the failed entry deferred');
    await until(async () => (await spool.counts()).queued === 1, 'the others removed');
    await worker.close();
    for (const [n, id] of ids.entries()) assert.equal((await spool.get(id)) === null, n !== 1);
  });

  it('close waits for deliveries in progress and commits their removal', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: MessageIngest = {
      ingest: async (request) => {
        await gate;
        return ingest.ingest(request);
      },
    };
    await spool.append(await entry(1));
    const worker = new InboundSpoolWorker({ spool, ingest: slow, domain: 'alpha.test', logger: silent, resolver });
    worker.start();
    await new Promise((r) => setTimeout(r, 300));
    const closed = worker.close();
    release();
    await closed;
    assert.equal(ingest.calls.length, 1);
    assert.deepEqual(await spool.counts(), { queued: 0, dead: 0 });
  });
});
