/**
 * Storage writes/s and search latency over N synthetic messages on the embedded engines (SQLite, FTS5).
 *
 *   npm run bench:storage                 # N = 100000
 *   N=20000 REPS=5 npm run bench:storage
 *
 * Prints figures; numbers go in docs/benchmarks.md. Never used as a test (no wall-clock assertion anywhere).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSearchQuery } from '@caliopen/instance/search/search.query-parser.ts';
import { openSqliteSearchIndex } from '@caliopen/instance/search/search.sqlite.ts';
import type { Message } from '@caliopen/instance/mail/message.entity.ts';
import { SqliteStorage } from '@caliopen/instance/storage/storage.sqlite.ts';
import { generateSearchDocuments, queries } from './search-fixture.ts';

const N = Number(process.env.N ?? 100_000);
const REPS = Number(process.env.REPS ?? 5);
const SINGLE = Math.min(Number(process.env.SINGLE ?? 2_000), N);
const BATCH = 500;

const dir = mkdtempSync(join(tmpdir(), 'caliopen-bench-'));
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });

async function main() {
  console.log(
    `storage + search bench: N=${N} messages, ${SINGLE} single durable writes, batches of ${BATCH}, REPS=${REPS}`,
  );
  console.log(`data in ${dir}`);
  const storage = SqliteStorage.inDataDir(dir);
  const accountId = randomUUID();
  await storage.accounts.create({
    id: accountId,
    username: 'bench',
    displayName: 'Bench',
    role: 'user',
    passwordHash: 'x',
    totpSecretSealed: null,
    totpPendingSealed: null,
    totpLastStep: 0,
    quotaBytes: 1e15,
    usedBytes: 0,
    disabled: false,
    createdAt: new Date(),
    updatedAt: new Date(),
  });

  // One mailbox of N messages: the fixture's documents re-homed to the bench account.
  const docs = [...generateSearchDocuments(N)].map((d) => ({ ...d, accountId }));
  const conversations = new Map<string, string>();
  const toMessage = (d: (typeof docs)[number], i: number): Message => {
    const key = d.from[0] ?? 'unknown';
    let conversationId = conversations.get(key);
    if (!conversationId) conversations.set(key, (conversationId = randomUUID()));
    d.conversationId = conversationId;
    return {
      id: d.messageId,
      accountId,
      conversationId,
      protocol: d.protocol,
      direction: 'inbound',
      externalId: `<${i}@bench.test>`,
      contentHash: `h${i}`,
      from: { protocol: d.protocol, address: key, name: null, contactId: null },
      to: [],
      cc: [],
      subject: d.subject,
      snippet: d.body.slice(0, 200),
      sentAt: d.date,
      receivedAt: d.date,
      sizeBytes: d.body.length + 600,
      rawRef: null,
      threadKey: null,
      tags: d.tags,
      read: false,
      archived: false,
      deletedAt: null,
      pi: { score: d.pi, level: 'basic', modelVersion: 'bench' },
      importance: 0,
      facts: { transport: { tls: 'TLSv1.3' } },
    };
  };

  // 1. Single durable writes: each put is its own transaction, committed with synchronous=FULL (an fsync each).
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < SINGLE; i++) await storage.messages.put(toMessage(docs[i]!, i));
  const singleMs = ms(t0);
  console.log(
    `storage  single durable puts : ${fmt(SINGLE / (singleMs / 1000))} msg/s (${fmt(singleMs)} ms for ${SINGLE})`,
  );

  // 2. Group commit: BATCH puts per transaction, one fsync per batch (what the ingest path will do).
  t0 = process.hrtime.bigint();
  for (let i = SINGLE; i < N; i += BATCH) {
    const end = Math.min(N, i + BATCH);
    const tx = storage.db.transaction(() => {
      for (let j = i; j < end; j++) void storage.messages.put(toMessage(docs[j]!, j));
    });
    tx.immediate();
  }
  const batchMs = ms(t0);
  console.log(
    `storage  grouped puts (${BATCH}/tx) : ${fmt((N - SINGLE) / (batchMs / 1000))} msg/s (${fmt(batchMs)} ms for ${N - SINGLE})`,
  );
  console.log(`storage  instance.db size      : ${fmt(statSync(join(dir, 'instance.db')).size / 1024 / 1024)} MiB`);

  // 3. Reads: a conversation page.
  const convIds = [...conversations.values()];
  const pageTimes: number[] = [];
  for (let i = 0; i < 200; i++) {
    t0 = process.hrtime.bigint();
    await storage.messages.listByConversation(accountId, convIds[i % convIds.length]!, { limit: 50 });
    pageTimes.push(ms(t0));
  }
  console.log(
    `storage  conversation page (50): median ${fmt(median(pageTimes))} ms, p95 ${fmt(pct(pageTimes, 0.95))} ms`,
  );

  // 4. Search indexing.
  const index = openSqliteSearchIndex(join(dir, 'search.db'));
  await index.init();
  t0 = process.hrtime.bigint();
  for (let i = 0; i < N; i += 1000) await index.index(docs.slice(i, i + 1000));
  await index.refresh();
  const indexMs = ms(t0);
  console.log(
    `search   indexing              : ${fmt(N / (indexMs / 1000))} msg/s (${fmt(indexMs / 1000)} s for ${N})`,
  );
  console.log(`search   search.db size        : ${fmt(statSync(join(dir, 'search.db')).size / 1024 / 1024)} MiB`);

  // 5. Queries: median of REPS runs each, first page of 50.
  const medians: number[] = [];
  for (const q of queries) {
    const query = { ...parseSearchQuery(q), limit: 50 };
    const times: number[] = [];
    let total = 0;
    for (let r = 0; r < REPS; r++) {
      t0 = process.hrtime.bigint();
      total = (await index.search(accountId, query)).total;
      times.push(ms(t0));
    }
    medians.push(median(times));
    console.log(`  ${median(times).toFixed(2).padStart(8)} ms  ${String(total).padStart(7)} hits  ${q}`);
  }
  console.log(
    `search   query latency         : median of medians ${fmt(median(medians))} ms, slowest ${fmt(Math.max(...medians))} ms`,
  );

  await index.close();
  await storage.close();
  if (process.env.KEEP !== '1') rmSync(dir, { recursive: true, force: true });
}

await main();
