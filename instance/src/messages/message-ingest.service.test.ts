import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import { FsBlobStore } from '../blobs/blob-store.fs.ts';
import { openSqliteJobQueue } from '@caliopen/platform/queue/job-queue.sqlite.ts';
import type { JobQueue } from '@caliopen/platform/queue/job-queue.port.ts';
import { openSqliteSearchIndex } from '../search/search.sqlite.ts';
import type { SearchIndex } from '../search/search.port.ts';
import { parseSearchQuery } from '../search/search.query-parser.ts';
import { AppError } from '../shared/errors.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { buildEmailCore, type EmailCore } from './email-core.ts';
import type { IngestRequest } from './message-ingest.port.ts';

const DOMAIN = 'alpha.test';

function mail(
  opts: { from?: string; to?: string; subject?: string; id?: string | null; body?: string; extra?: string[] } = {},
): Buffer {
  const headers = [
    `From: ${opts.from ?? 'Alice <alice@x.example>'}`,
    `To: ${opts.to ?? `ursula@${DOMAIN}`}`,
    `Subject: ${opts.subject ?? 'hello'}`,
    ...(opts.id === null ? [] : [`Message-ID: <${opts.id ?? randomUUID()}@x.example>`]),
    'Date: Mon, 02 Mar 2026 09:00:00 +0000',
    ...(opts.extra ?? []),
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${opts.body ?? 'Hello there.'}\r\n`);
}

describe('message ingest (real SQLite storage, blob store, queue and search)', () => {
  let dir: string;
  let storage: SqliteStorage;
  let queue: JobQueue;
  let search: SearchIndex;
  let core: EmailCore;
  let accountId: string;

  const request = (raw: Buffer, over: Partial<IngestRequest> = {}): IngestRequest => ({
    accountId,
    raw,
    direction: 'inbound',
    receivedAt: new Date(),
    facts: { transport: null, authentication: null },
    ...over,
  });
  const blobCount = () => {
    const root = join(dir, 'blobs', 'raw', accountId);
    return existsSync(root) ? readdirSync(root).length : 0;
  };
  const usage = async () => (await storage.accounts.get(accountId))!.usedBytes;
  const waitForIndexed = async (messageId: string) => {
    for (let i = 0; i < 600; i++) {
      const job = await queue.getJob(INDEX_QUEUE_NAME, `index-${messageId}`);
      if (job?.state === 'completed') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail('the index job did not complete');
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'caliopen-ingest-'));
    storage = SqliteStorage.inDataDir(dir);
    queue = openSqliteJobQueue(join(dir, 'queue.db'));
    search = openSqliteSearchIndex(join(dir, 'search.db'));
    await search.init();
    core = buildEmailCore({
      storage,
      blobs: new FsBlobStore(join(dir, 'blobs')),
      queue,
      search,
      clock: () => new Date(),
      domain: DOMAIN,
    });
  });
  afterAll(async () => {
    await queue.close();
    await search.close();
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    accountId = randomUUID();
    const now = new Date();
    await storage.accounts.create({
      id: accountId,
      username: `u${accountId.slice(0, 8)}`,
      displayName: 'Ursula',
      role: 'user',
      passwordHash: 'not-a-real-hash',
      totpSecretSealed: null,
      totpPendingSealed: null,
      totpLastStep: 0,
      quotaBytes: 10_000,
      usedBytes: 0,
      disabled: false,
      createdAt: now,
      updatedAt: now,
    });
  });

  test('stores the raw bytes, the parsed message, a contact and a conversation, and queues indexing', async () => {
    const raw = mail({ subject: 'Re: Budget', to: `Me <U${accountId.slice(0, 8)}@ALPHA.test>` });
    const { message, inserted } = await core.ingest.ingest(request(raw, { tags: ['INBOX', ' INBOX ', 'work\u0000'] }));
    assert.equal(inserted, true);
    assert.equal(message.subject, 'Re: Budget');
    assert.equal(message.threadKey, 'budget');
    assert.equal(message.from.address, 'alice@x.example');
    assert.ok(message.from.contactId);
    assert.equal(message.to[0]!.contactId, null, 'the account’s own address resolves to no contact');
    assert.deepEqual(message.tags, ['INBOX', 'work']);
    assert.equal(message.read, false);
    assert.deepEqual(await core.blobs.get(message.rawRef!), raw);
    assert.equal(message.rawRef, `raw/${accountId}/${message.id}`);
    assert.equal(await usage(), raw.length);
    const conv = await storage.conversations.get(accountId, message.conversationId);
    assert.equal(conv?.messageCount, 1);
    assert.equal(conv?.unreadCount, 1);
    assert.equal(conv?.title, 'Alice');
    const job = await queue.getJob(INDEX_QUEUE_NAME, `index-${message.id}`);
    assert.deepEqual(job?.payload, { accountId, messageId: message.id });
  });

  test('idempotent by (Message-ID, content hash): a retry writes nothing, even when retried concurrently', async () => {
    const raw = mail();
    const first = await core.ingest.ingest(request(raw));
    const again = await core.ingest.ingest(request(raw, { receivedAt: new Date(Date.now() + 1000) }));
    assert.equal(again.inserted, false);
    assert.equal(again.message.id, first.message.id);
    const burst = await Promise.all(
      Array.from({ length: 8 }, () => core.ingest.ingest(request(mail({ id: 'burst' })))),
    );
    assert.equal(burst.filter((r) => r.inserted).length, 1, 'eight concurrent copies: one stored');
    assert.equal(new Set(burst.map((r) => r.message.id)).size, 1);
    assert.equal(await storage.messages.countByAccount(accountId), 2);
    assert.equal(blobCount(), 2, 'no stray blob');
    assert.equal((await storage.conversations.get(accountId, first.message.conversationId))?.messageCount, 2);
  });

  test('same Message-ID with other content, or no Message-ID at all: distinct messages', async () => {
    const a = await core.ingest.ingest(request(mail({ id: 'same', body: 'one' })));
    const b = await core.ingest.ingest(request(mail({ id: 'same', body: 'two' })));
    assert.notEqual(a.message.id, b.message.id);
    const c = await core.ingest.ingest(request(mail({ id: null, body: 'x' })));
    const d = await core.ingest.ingest(request(mail({ id: null, body: 'x' })));
    assert.equal(c.message.externalId, null);
    assert.equal(d.inserted, false, 'no Message-ID: the content hash alone dedupes');
  });

  test('quota: a message that does not fit is refused, nothing written, and the usage is unchanged', async () => {
    await core.ingest.ingest(request(mail({ body: 'x'.repeat(6000) })));
    const used = await usage();
    const before = {
      messages: await storage.messages.countByAccount(accountId),
      blobs: blobCount(),
      contacts: (await storage.contacts.list(accountId, { limit: 100 })).length,
    };
    await assert.rejects(
      core.ingest.ingest(request(mail({ from: 'newcomer@n.example', body: 'y'.repeat(6000) }))),
      (e: unknown) => e instanceof AppError && e.code === 'quota_exceeded',
    );
    assert.equal(await usage(), used);
    assert.equal(await storage.messages.countByAccount(accountId), before.messages);
    assert.equal(blobCount(), before.blobs, 'the blob written before the quota check is gone');
    assert.equal(
      (await storage.contacts.list(accountId, { limit: 100 })).length,
      before.contacts,
      'no automatic contact for a refused message',
    );
    assert.equal(await storage.contacts.findByIdentity(accountId, 'email', 'newcomer@n.example'), null);
  });

  test('purge releases the quota, the blob and the conversation', async () => {
    const { message } = await core.ingest.ingest(request(mail()));
    assert.ok((await usage()) > 0);
    await core.messages.purge(accountId, message.id);
    assert.equal(await usage(), 0);
    assert.equal(await core.blobs.get(message.rawRef!), null);
    assert.equal(
      await storage.conversations.get(accountId, message.conversationId),
      null,
      'a conversation left empty goes',
    );
    await assert.rejects(
      core.messages.purge(accountId, message.id),
      (e: unknown) => e instanceof AppError && e.code === 'not_found',
    );
  });

  test('a batch: one commit for the lot, each outcome its own (duplicate within the batch, over quota, unknown account)', async () => {
    const dup = mail({ id: 'twice', body: 'same bytes' });
    const requests = [
      request(mail({ from: 'Bea <bea@b.example>', subject: 'one' })),
      request(dup),
      request(mail({ from: 'Bea <bea@b.example>', subject: 'two' })),
      request(dup),
      request(mail({ body: 'z'.repeat(20_000) })),
      { ...request(mail()), accountId: randomUUID() },
      request(mail({ subject: 'three' })),
    ];
    const piBefore = (await queue.counts('pi')).waiting;
    const results = await core.ingest.ingestBatch(requests);
    assert.deepEqual(
      results.map((r) =>
        r.status === 'fulfilled' ? (r.value.inserted ? 'stored' : 'known') : (r.reason as AppError).code,
      ),
      ['stored', 'stored', 'stored', 'known', 'quota_exceeded', 'not_found', 'stored'],
    );
    const stored = results.flatMap((r) => (r.status === 'fulfilled' && r.value.inserted ? [r.value.message] : []));
    const dupResults = [results[1], results[3]] as PromiseFulfilledResult<{ message: { id: string } }>[];
    assert.equal(dupResults[0]!.value.message.id, dupResults[1]!.value.message.id, 'the duplicate is the same message');
    assert.equal(await storage.messages.countByAccount(accountId), 4);
    assert.equal(blobCount(), 4, 'the refused message left no blob');
    assert.equal(
      await usage(),
      stored.reduce((n, m) => n + m.sizeBytes, 0),
    );
    for (const m of stored) {
      const blob = await core.blobs.get(m.rawRef!);
      assert.equal(createHash('sha256').update(blob!).digest('hex'), m.contentHash, 'its own raw bytes');
      assert.ok(m.pi !== null, 'scored at ingest');
    }
    const bea = stored.filter((m) => m.from.address === 'bea@b.example');
    assert.equal(bea.length, 2);
    assert.equal(bea[0]!.from.contactId, bea[1]!.from.contactId, 'one contact for the same sender within a batch');
    assert.equal(bea[0]!.conversationId, bea[1]!.conversationId);
    assert.equal((await storage.conversations.get(accountId, bea[0]!.conversationId))?.messageCount, 2);
    // The new correspondents (Bea, Alice) are scored through one 'pi' job for the batch, not one per message.
    assert.equal((await queue.counts('pi')).waiting - piBefore, 1);
    // One index job for the batch, naming every stored message (and the known duplicate, queued again harmlessly).
    const counts = await queue.counts(INDEX_QUEUE_NAME);
    assert.ok(counts.waiting + counts.active + counts.completed >= 1);
    for (const m of stored) assert.equal(await queue.getJob(INDEX_QUEUE_NAME, `index-${m.id}`), null);
    // Filed again (a retry after a crash): nothing new, nothing doubled.
    const again = await core.ingest.ingestBatch(requests);
    assert.ok(again.every((r, i) => (r.status === 'fulfilled' ? !r.value.inserted : i === 4 || i === 5)));
    assert.equal(await storage.messages.countByAccount(accountId), 4);
    assert.equal(blobCount(), 4);
  });

  test('indexed from the text parsed at ingest: the body and attachment names are searchable, as when parsed again', async () => {
    const boundary = 'b1';
    const raw = Buffer.from(
      [
        'From: Alice <alice@x.example>',
        `To: ursula@${DOMAIN}`,
        'Subject: report',
        `Message-ID: <${randomUUID()}@x.example>`,
        'MIME-Version: 1.0',
        `Content-Type: multipart/mixed; boundary="${boundary}"`,
        '',
        `--${boundary}`,
        'Content-Type: text/plain; charset=utf-8',
        '',
        'The quarterly zorblax figures.',
        `--${boundary}`,
        'Content-Type: application/pdf; name="flimflam-2026.pdf"',
        'Content-Disposition: attachment; filename="flimflam-2026.pdf"',
        'Content-Transfer-Encoding: base64',
        '',
        'JVBERi0xLjQK',
        `--${boundary}--`,
        '',
      ].join('\r\n'),
    );
    const { message } = await core.ingest.ingest(request(raw));
    const worker = core.indexer.start();
    try {
      await waitForIndexed(message.id);
    } finally {
      await worker.close();
    }
    for (const word of ['zorblax', 'flimflam']) {
      const found = await search.search(accountId, { ...parseSearchQuery(word), limit: 10 });
      assert.deepEqual(
        found.hits.map((h) => h.messageId),
        [message.id],
        word,
      );
    }
    // Parsed again from the raw message (what a job in another process does): the same document.
    const doc = await core.indexer.documentFor(accountId, message.id);
    assert.match(doc!.body, /zorblax[\s\S]*flimflam-2026\.pdf/);
  });

  test('an unknown account is refused before anything is written', async () => {
    await assert.rejects(
      core.ingest.ingest({ ...request(mail()), accountId: randomUUID() }),
      (e: unknown) => e instanceof AppError && e.code === 'not_found',
    );
  });

  test('outbound mail: the recipients are the other participants, it starts read', async () => {
    const raw = mail({
      from: `Ursula <${`u${accountId.slice(0, 8)}`}@${DOMAIN}>`,
      to: 'Dave <dave@d.example>, erin@e.example',
    });
    const { message } = await core.ingest.ingest(request(raw, { direction: 'outbound', tags: ['sent'] }));
    assert.equal(message.read, true);
    assert.equal(message.from.contactId, null);
    const conv = await storage.conversations.get(accountId, message.conversationId);
    assert.deepEqual(conv?.participants.map((p) => p.address).sort(), ['dave@d.example', 'erin@e.example']);
    assert.equal(conv?.unreadCount, 0);
  });
});

const INDEX_QUEUE_NAME = 'index';
