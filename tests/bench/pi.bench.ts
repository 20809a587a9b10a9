/**
 * Privacy Index: the pure message model, and bulk recomputation of a stored mailbox on the embedded engines.
 *
 *   npm run bench:pi                       # FACTS = 10000 fact sets, N = 100000 stored messages
 *   (= node --import tsx tests/bench/pi.bench.ts)
 *   FACTS=10000 ROUNDS=5 REPS=5 N=20000 npm run bench:pi
 *
 * 1. computeMessagePi over FACTS realistic fact sets (made from stored-message facts by messagePiFacts, as the service
 *    does), ROUNDS passes per run, median of REPS runs: computations/second with the full breakdown and suggestions,
 *    the same facts without a correspondent (no suggestion applies: the cost of the breakdown alone), and the whole
 *    per-message path from stored JSON (messagePiFacts + computeMessagePi).
 * 2. PiService.recomputeAccount over N messages stored in SQLite (accounts, contacts, conversations and messages
 *    seeded in one transaction, stored PIs from an older model version so that every row is rewritten, as after a
 *    model upgrade), then once more with nothing to change. The recomputation runs in a child process of its own, so
 *    that its RSS figures are not the seeding's.
 *
 * Prints figures; numbers go in docs/benchmarks.md. Never used as a test (no wall-clock assertion anywhere).
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FsBlobStore } from '@caliopen/instance/blobs/blob-store.fs.ts';
import type { Contact } from '@caliopen/instance/contacts/contact.entity.ts';
import type { Conversation } from '@caliopen/instance/conversations/conversation.entity.ts';
import { peopleKey } from '@caliopen/instance/conversations/conversation.resolver.ts';
import type { CorrespondentKey } from '@caliopen/instance/keys/public-key.entity.ts';
import type { Message } from '@caliopen/instance/mail/message.entity.ts';
import { generateTestKey } from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import { UNLABELLED } from '@caliopen/instance/pi-model/instance-standing.ts';
import { messagePiFacts } from '@caliopen/instance/pi-model/message-pi.facts.ts';
import { computeMessagePi, type MessagePiFacts } from '@caliopen/instance/pi-model/message-pi.model.ts';
import { PiService } from '@caliopen/instance/privacy/pi.service.ts';
import { PI_MODEL_VERSION } from '@caliopen/instance/pi-model/pi.tally.ts';
import { openSqliteJobQueue } from '@caliopen/platform/queue/job-queue.sqlite.ts';
import { SqliteStorage } from '@caliopen/instance/storage/storage.sqlite.ts';
import { prng } from './search-fixture.ts';

const FACTS = Number(process.env.FACTS ?? 10_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const REPS = Number(process.env.REPS ?? 5);
const N = Number(process.env.N ?? 100_000);
const CORRESPONDENTS = Number(process.env.CORRESPONDENTS ?? 2_000);

const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 });
const mib = (bytes: number) => `${fmt(bytes / 1024 / 1024)} MiB`;

// --- a realistic mailbox -----------------------------------------------------------------------------------------

const random = prng(Number(process.env.SEED ?? 4));
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const chance = (p: number) => random() < p;

/** Sending domains: a quarter of correspondents on data-exploiting webmail, the rest on providers of every quality. */
const EXPLOITING = ['gmail.com', 'gmail.com', 'gmail.com', 'outlook.com', 'hotmail.fr', 'yahoo.com', 'gmx.de'];
const ORDINARY = [
  'orange.fr',
  'free.fr',
  'posteo.de',
  'mailbox.example',
  'exemple.fr',
  'uni-example.de',
  'asso.example.org',
  'cabinet-example.fr',
  'mairie-example.fr',
];

interface Correspondent {
  address: string;
  name: string;
  domain: string;
  /** Their provider's outgoing server: TLS it offers, its authentication setup. */
  tls: 'TLSv1.3' | 'TLSv1.2' | 'TLSv1' | null;
  dkim: boolean;
  dmarc: boolean;
  /** Uses OpenPGP: signs most mail, encrypts some; the account may hold their key. */
  pgp: boolean;
  keyKnown: boolean;
  /** A contact the user made or kept. */
  userContact: boolean;
  contactId: string;
  conversationId: string;
}

function makeCorrespondents(n: number): Correspondent[] {
  const out: Correspondent[] = [];
  for (let i = 0; i < n; i++) {
    const exploiting = chance(0.25);
    const domain = exploiting ? pick(EXPLOITING) : pick(ORDINARY);
    const pgp = !exploiting && chance(0.06);
    const t = random();
    out.push({
      address:
        `c${i}.${pick(['martin', 'bernard', 'dubois', 'smith', 'müller', 'rossi', 'garcia'])}@${domain}`.normalize(
          'NFC',
        ),
      name: `Correspondent ${i}`,
      domain,
      tls: exploiting ? 'TLSv1.3' : t < 0.62 ? 'TLSv1.3' : t < 0.88 ? 'TLSv1.2' : t < 0.9 ? 'TLSv1' : null,
      dkim: exploiting || chance(0.78),
      dmarc: exploiting || chance(0.6),
      pgp,
      keyKnown: pgp && chance(0.6),
      userContact: chance(0.3),
      contactId: randomUUID(),
      conversationId: randomUUID(),
    });
  }
  return out;
}

/** Samples correspondents with a Zipf law (a few write most of the mail). */
function zipfPicker(n: number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) cdf[r] = sum += 1 / (r + 1);
  return () => {
    const x = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const CIPHERS = {
  'TLSv1.3': 'TLS_AES_256_GCM_SHA384',
  'TLSv1.2': 'ECDHE-RSA-AES256-GCM-SHA384',
  TLSv1: 'AES128-SHA',
} as const;

/** The facts ingest records for a message from this correspondent (MessageFacts + openpgp + mime + importance). */
function storedFacts(c: Correspondent, inbound: boolean, fingerprint: string): Record<string, unknown> {
  const mime = {
    parsed: true,
    problem: null,
    attachments: chance(0.15) ? 1 : 0,
    truncatedHeaders: false,
    droppedAddresses: 0,
    listId: null,
  };
  const importance = { repliesTo: null, feedback: null, feedbackAt: null, reasons: [] };
  const pgpFacts = (): Record<string, unknown> => {
    if (!c.pgp || chance(0.2))
      return {
        kind: 'none',
        encrypted: false,
        encryptedTo: [],
        signature: 'none',
        signerKeyId: null,
        signerFingerprint: null,
        signerKeyTrust: null,
        problem: null,
      };
    if (chance(0.3)) {
      return {
        kind: 'pgp-mime-encrypted',
        encrypted: true,
        encryptedTo: ['0123456789abcdef'],
        signature: 'unverifiable',
        signerKeyId: null,
        signerFingerprint: null,
        signerKeyTrust: null,
        problem: null,
      };
    }
    const valid = c.keyKnown && !chance(0.01);
    return {
      kind: 'pgp-mime-signed',
      encrypted: false,
      encryptedTo: [],
      signature: valid ? 'valid' : c.keyKnown ? 'invalid' : 'unknown_key',
      signerKeyId: fingerprint.slice(-16),
      signerFingerprint: c.keyKnown ? fingerprint : null,
      signerKeyTrust: valid ? pick(['attached', 'attached', 'wkd', 'verified'] as const) : null,
      problem: valid ? null : c.keyKnown ? 'The signature does not match the content (tampered?).' : null,
    };
  };
  if (!inbound) {
    const tls = c.tls === null ? null : { version: c.tls, cipher: CIPHERS[c.tls] };
    return {
      transport: null,
      authentication: null,
      delivery: [{ via: 'smtp', tls, peer: `mx.${c.domain}` }],
      mime,
      importance,
      ...(c.pgp && chance(0.5) ? { openpgp: pgpFacts() } : {}),
    };
  }
  const imported = chance(0.08);
  const tls = c.tls === null || chance(0.01) ? null : { version: c.tls, cipher: CIPHERS[c.tls] };
  const hops = 1 + Math.floor(random() * 3);
  const receivedChain = Array.from({ length: hops }, (_, i) => {
    const plain = chance(0.03);
    return {
      from: i === hops - 1 ? `laptop.${c.domain}` : `relay${i}.${c.domain}`,
      by: `relay${i + 1}.${c.domain}`,
      with: plain ? 'SMTP' : 'ESMTPS',
      tls: !plain,
      date: 'Sun, 22 Nov 2026 09:59:58 +0000',
    };
  });
  const helo = c.domain === 'gmail.com' ? 'mail-wr1-f41.google.com' : `smtp-out.${c.domain}`;
  const transport = imported
    ? {
        via: 'imap-import',
        tls: null,
        clientIp: null,
        helo: null,
        receivedChain,
        externalHops: hops,
        plaintextHops: receivedChain.filter((h) => !h.tls).length,
      }
    : {
        via: 'smtp',
        tls,
        clientIp: '192.0.2.10',
        helo,
        receivedChain,
        externalHops: hops,
        plaintextHops: receivedChain.filter((h) => !h.tls).length,
      };
  const dkimOk = c.dkim && !chance(0.02);
  const authentication = imported
    ? null
    : {
        spf: { result: chance(0.9) ? 'pass' : pick(['softfail', 'none', 'neutral']), domain: c.domain },
        dkim: c.dkim ? [{ result: dkimOk ? 'pass' : 'fail', domain: c.domain, selector: 's1', aligned: true }] : [],
        dmarc: {
          result: c.dmarc && dkimOk ? 'pass' : c.dmarc ? 'fail' : 'none',
          domain: c.domain,
          policy: c.dmarc ? 'quarantine' : null,
        },
      };
  return { transport, authentication, openpgp: pgpFacts(), mime, importance };
}

function message(accountId: string, own: string, c: Correspondent, i: number, at: Date, fingerprint: string): Message {
  const inbound = chance(0.85);
  const me = { protocol: 'email', address: own, name: 'Bench', contactId: null };
  const them = { protocol: 'email', address: c.address, name: c.name, contactId: c.contactId };
  return {
    id: randomUUID(),
    accountId,
    conversationId: c.conversationId,
    protocol: 'email',
    direction: inbound ? 'inbound' : 'outbound',
    externalId: `<${i}.${randomUUID()}@${c.domain}>`,
    contentHash: `h${i}`,
    from: inbound ? them : me,
    to: [inbound ? me : them],
    cc: [],
    subject: `Message ${i}`,
    snippet: 'Hello, the minutes of Tuesday are below.',
    sentAt: at,
    receivedAt: at,
    sizeBytes: 4_000 + Math.floor(random() * 40_000),
    rawRef: null,
    threadKey: `message ${i}`,
    tags: [],
    read: true,
    archived: false,
    deletedAt: null,
    // Computed by an older model: every row is rescored and rewritten, as after a model upgrade.
    pi: { score: 0, level: 'exposed', modelVersion: 'hub-pi/0' },
    importance: 0,
    facts: storedFacts(c, inbound, fingerprint),
  };
}

// --- 1. the pure model -------------------------------------------------------------------------------------------

function timeRuns(
  label: string,
  inputs: readonly MessagePiFacts[] | readonly Message[],
  run: (x: any) => unknown,
): number {
  const rates: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const t0 = process.hrtime.bigint();
    for (let round = 0; round < ROUNDS; round++) for (const x of inputs) run(x);
    rates.push((inputs.length * ROUNDS) / (ms(t0) / 1000));
  }
  const rate = median(rates);
  console.log(
    `model  ${label.padEnd(44)}: ${fmt(rate).padStart(9)} /s  (${fmt(1e6 / rate)} µs each; runs ${rates.map((x) => fmt(x)).join(', ')})`,
  );
  return rate;
}

async function pureModel(): Promise<void> {
  console.log(
    `\n1. computeMessagePi over ${FACTS} generated fact sets, ${ROUNDS} passes per run, median of ${REPS} runs`,
  );
  const people = makeCorrespondents(CORRESPONDENTS);
  const next = zipfPicker(people.length);
  const fingerprint = 'a'.repeat(40);
  const messages = Array.from({ length: FACTS }, (_, i) =>
    message('acct', 'bench@bench.test', people[next()]!, i, new Date(), fingerprint),
  );
  const facts = messages.map((m) =>
    messagePiFacts(m, {
      knownContact: people.find((p) => p.contactId === (m.direction === 'inbound' ? m.from : m.to[0]!).contactId)!
        .userContact,
    }),
  );
  const anonymous = facts.map((f) => ({ ...f, correspondent: null }));

  // Warm-up (JIT), then the runs.
  for (const f of facts) computeMessagePi(f);
  const full = timeRuns('breakdown + suggestions (computeMessagePi)', facts, computeMessagePi);
  const bare = timeRuns('breakdown alone (no suggestion applies)', anonymous, computeMessagePi);
  timeRuns('from stored facts (messagePiFacts + compute)', messages, (m: Message) =>
    computeMessagePi(messagePiFacts(m, { knownContact: false })),
  );
  console.log(`model  suggestions' share of the cost                 : ${fmt(100 * (1 - full / bare))} %`);

  const pis = facts.map(computeMessagePi);
  const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
  const hist = new Map<string, number>();
  for (const p of pis) hist.set(p.level, (hist.get(p.level) ?? 0) + 1);
  console.log(
    `model  per PI: ${fmt(avg(pis.map((p) => p.factors.length)))} factors, ${fmt(avg(pis.map((p) => p.suggestions.length)))} suggestions, ` +
      `${fmt(avg(pis.map((p) => JSON.stringify(p).length)))} bytes of JSON; mean score ${fmt(avg(pis.map((p) => p.score)))}`,
  );
  console.log(
    `model  levels of the mix: ${[...hist.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([l, n]) => `${l} ${fmt((100 * n) / pis.length)} %`)
      .join(', ')}`,
  );
}

// --- 2. bulk recomputation ---------------------------------------------------------------------------------------

async function bulk(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'caliopen-pi-bench-'));
  console.log(
    `\n2. PiService.recomputeAccount over ${N} stored messages, ${CORRESPONDENTS} correspondents (SQLite in ${dir})`,
  );
  const storage = SqliteStorage.inDataDir(dir);
  const queue = openSqliteJobQueue(join(dir, 'queue.db'));
  const accountId = randomUUID();
  const now = new Date();
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
    createdAt: now,
    updatedAt: now,
  });
  const own = 'bench@bench.test';
  const people = makeCorrespondents(CORRESPONDENTS);
  // One real key (openpgp.js), filed for every correspondent whose key the account holds: the contact model reads
  // its status, source and expiry; message signatures are not re-verified by recomputeAccount.
  const key = await generateTestKey('someone@bench.test');
  const next = zipfPicker(people.length);
  const start = Date.UTC(2023, 0, 1);
  const span = 3 * 365 * 86_400_000;
  const dates = Array.from({ length: N }, () => start + Math.floor(random() * span)).sort((a, b) => a - b);

  const t0 = process.hrtime.bigint();
  const last = new Map<string, number>();
  const counts = new Map<string, number>();
  const rows = dates.map((at, i) => {
    const c = people[next()]!;
    last.set(c.conversationId, at);
    counts.set(c.conversationId, (counts.get(c.conversationId) ?? 0) + 1);
    return message(accountId, own, c, i, new Date(at), key.fingerprint);
  });
  storage.db
    .transaction(() => {
      for (const c of people) {
        const contact: Contact = {
          id: c.contactId,
          accountId,
          displayName: c.name,
          identities: [{ protocol: 'email', address: c.address, label: null }],
          notes: '',
          automatic: !c.userContact,
          pi: null,
          createdAt: now,
          updatedAt: now,
        };
        void storage.contacts.create(contact);
        if (c.keyKnown) {
          const k: CorrespondentKey = {
            accountId,
            address: c.address,
            fingerprint: key.fingerprint,
            version: 4,
            algorithm: 'curve25519',
            publicKey: key.publicKey.write(),
            source: 'attached',
            status: 'active',
            keyCreatedAt: now,
            keyExpiresAt: null,
            verifiedAt: null,
            firstSeenAt: now,
            lastSeenAt: now,
          };
          void storage.keys.put(k);
        }
        if (!counts.has(c.conversationId)) continue;
        const conversation: Conversation = {
          id: c.conversationId,
          accountId,
          kind: 'people',
          key: peopleKey([c.contactId]),
          title: c.name,
          participants: [{ contactId: c.contactId, address: c.address, name: c.name }],
          lastMessageAt: new Date(last.get(c.conversationId)!),
          messageCount: counts.get(c.conversationId)!,
          unreadCount: 0,
          pi: null,
          importance: 0,
          createdAt: now,
        };
        void storage.conversations.getOrCreate(conversation);
      }
      for (const m of rows) void storage.messages.put(m);
    })
    .immediate();
  const seedMs = ms(t0);
  const conversations = counts.size;
  console.log(
    `seed   ${N} messages, ${conversations} conversations, ${people.length} contacts (${people.filter((p) => p.keyKnown).length} with a key) in one transaction: ${fmt(seedMs / 1000)} s`,
  );
  console.log(
    `seed   instance.db size: ${mib(statSync(join(dir, 'instance.db')).size)}; RSS ${mib(process.memoryUsage().rss)}`,
  );
  await queue.close();
  await storage.close();

  // The recomputation runs in a fresh process over the stored data: its memory figures are its own, not the seeding's.
  const child = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
    stdio: 'inherit',
    env: {
      ...process.env,
      PI_BENCH_DIR: dir,
      PI_BENCH_ACCOUNT: accountId,
      PI_BENCH_CONTACTS: JSON.stringify(people.map((p) => p.contactId)),
    },
  });
  if (process.env.KEEP !== '1') rmSync(dir, { recursive: true, force: true });
  if (child.status !== 0) throw new Error(`the recomputation process failed (${child.status ?? child.signal})`);
}

/** Part 2, in its own process: recomputeAccount over the mailbox seeded by the parent. */
async function recompute(dir: string, accountId: string, contactIds: string[]): Promise<void> {
  const storage = SqliteStorage.inDataDir(dir);
  const queue = openSqliteJobQueue(join(dir, 'queue.db'));
  const service = new PiService({
    storage,
    blobs: new FsBlobStore(join(dir, 'blobs')),
    queue,
    clock: () => new Date(),
    standing: UNLABELLED,
    keysFor: (id, addresses) => storage.keys.listByAddresses(id, addresses),
  });
  const rssBefore = process.memoryUsage().rss;
  let t0: bigint;
  for (const [label, what] of [
    ['model upgrade: every row rescored and rewritten', 'first'],
    ['again, nothing changed: rescored, no write', 'second'],
  ] as const) {
    t0 = process.hrtime.bigint();
    const { messages } = await service.recomputeAccount(accountId);
    const s = ms(t0) / 1000;
    console.log(
      `bulk   ${label.padEnd(48)}: ${fmt(messages / s).padStart(8)} msg/s (${fmt(s)} s for ${messages}) [${what}]`,
    );
  }
  const maxRss = process.resourceUsage().maxRSS * 1024;
  const mem = process.memoryUsage();
  console.log(
    `bulk   RSS of the recomputing process: ${mib(rssBefore)} at start, peak ${mib(maxRss)}, ${mib(mem.rss)} at the end (JS heap used ${mib(mem.heapUsed)})`,
  );
  // The contacts' share: recomputeAccount ends with every contact refreshed (and the account summary).
  t0 = process.hrtime.bigint();
  for (const id of contactIds) await service.refreshContact(accountId, id);
  console.log(
    `bulk   of which contacts: refreshContact for each of ${contactIds.length} contacts alone: ${fmt(ms(t0) / 1000)} s`,
  );

  // What the rescoring produced (the stored summaries), by level, and that every row now carries this model's version.
  const levels = storage.db
    .prepare(
      `SELECT json_extract(pi_json, '$.level') AS level, json_extract(pi_json, '$.modelVersion') AS version, count(*) AS n FROM messages GROUP BY 1, 2 ORDER BY n DESC`,
    )
    .all() as { level: string; version: string; n: number }[];
  const total = levels.reduce((sum, l) => sum + l.n, 0);
  console.log(
    `bulk   stored levels: ${levels.map((l) => `${l.level} ${fmt((100 * l.n) / total)} %${l.version === PI_MODEL_VERSION ? '' : ` (${l.version}!)`}`).join(', ')}`,
  );
  const account = await storage.accounts.getPi(accountId);
  console.log(
    `bulk   account PI ${account?.score} (${account?.level}); contacts scored: ${(storage.db.prepare('SELECT count(*) AS n FROM contacts WHERE pi_json IS NOT NULL').get() as { n: number }).n}`,
  );
  await queue.close();
  await storage.close();
}

if (process.env.PI_BENCH_DIR) {
  await recompute(
    process.env.PI_BENCH_DIR,
    process.env.PI_BENCH_ACCOUNT!,
    JSON.parse(process.env.PI_BENCH_CONTACTS ?? '[]') as string[],
  );
} else {
  console.log(
    `Privacy Index bench (model ${PI_MODEL_VERSION}): FACTS=${FACTS} ROUNDS=${ROUNDS} REPS=${REPS} N=${N} CORRESPONDENTS=${CORRESPONDENTS}`,
  );
  await pureModel();
  await bulk();
}
