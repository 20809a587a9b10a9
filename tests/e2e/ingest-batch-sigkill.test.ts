import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'vitest';
import { AccountService } from '@caliopen/instance/accounts/account.service.ts';
import { SqliteInboundSpool } from '@caliopen/instance/email/inbound-spool.sqlite.ts';
import { SqliteStorage } from '@caliopen/instance/storage/storage.sqlite.ts';
import { systemClock } from '@caliopen/platform/clock/clock.port.ts';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { waitFor } from '../support/net.ts';
import { tempDir } from '../support/tmp.ts';

/**
 * Batched ingest is atomic per batch and idempotent per message (R1 for the spool worker): a worker process filing
 * the spool in batches is SIGKILLed inside a batch (rows written, transaction open), after a batch's commit but before
 * its spool entries are removed, and between two batches; a last run drains the spool. Every spooled copy is then in
 * its mailbox exactly once, and everything derived from the messages agrees with them: usage, conversation counters,
 * raw blobs, index jobs. The worker runs the real ingest on real files (fixtures/ingest-batch.child.ts).
 */

const root = fileURLToPath(new URL('../..', import.meta.url));
const childScript = fileURLToPath(new URL('./fixtures/ingest-batch.child.ts', import.meta.url));
const DOMAIN = 'batch.test';
const ENTRIES = 400;
const BATCH = 32;

const body = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n'.repeat(20);
const message = (n: number) =>
  Buffer.from(
    `From: Sender ${n % 7} <s${n % 7}@sender.example>\r\nTo: bob@${DOMAIN}\r\nSubject: batch ${n % 50}\r\n` +
      `Message-ID: <batch-${n}@sender.example>\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\n${body}`,
  );

function startChild(dataDir: string, stopAt: string | null, children: ChildProcess[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, dataDir], {
    cwd: root,
    env: { ...process.env, BATCH_SIZE: String(BATCH), ...(stopAt ? { STOP_AT: stopAt } : {}) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return { child, said: (what: string) => out.includes(what) };
}

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
}

it('SIGKILL inside a batch, after its commit and between batches: every copy filed exactly once, nothing lost', {
  timeout: 300_000,
}, async () => {
  const tmp = tempDir('caliopen-ingest-batch-');
  const dataDir = tmp.dir;
  const children: ChildProcess[] = [];
  try {
    const storage = SqliteStorage.inDataDir(dataDir);
    const accounts = new AccountService(storage, new PasswordHasher(), systemClock, 1024 ** 3);
    const bob = await accounts.create({ username: 'bob', password: 'pw-bob-0123456789' });
    const carol = await accounts.create({ username: 'carol', password: 'pw-carol-0123456789' });
    await storage.close();
    // The spool as SMTP left it: every 5th message also for carol; every 40th arrives twice (a sender's retry after a
    // lost 250: two entries, same bytes), which ingest must file once.
    const spool = SqliteInboundSpool.open(join(dataDir, 'spool.db'));
    const expected = new Map<string, Set<string>>([
      [bob.id, new Set()],
      [carol.id, new Set()],
    ]);
    for (let n = 0; n < ENTRIES; n++) {
      const recipients = [{ address: `bob@${DOMAIN}`, accountId: bob.id }];
      if (n % 5 === 0) recipients.push({ address: `carol@${DOMAIN}`, accountId: carol.id });
      for (const r of recipients) expected.get(r.accountId)!.add(`<batch-${n}@sender.example>`);
      const entry = {
        receivedAt: new Date(1_800_000_000_000 + n),
        mailFrom: `s${n % 7}@sender.example`,
        recipients,
        transport: { tls: null, clientIp: '192.0.2.1', helo: 'mx.sender.example' },
        raw: message(n),
      };
      await spool.append(entry);
      if (n % 40 === 0) await spool.append(entry);
    }
    await spool.close();
    const copies = expected.get(bob.id)!.size + expected.get(carol.id)!.size;

    const db = openSqlite(join(dataDir, 'instance.db'), { readonly: true });
    const storedRows = () => (db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number }).n;
    const spooled = () => {
      const s = openSqlite(join(dataDir, 'spool.db'), { readonly: true });
      try {
        return (s.prepare('SELECT COUNT(*) AS n FROM spool').get() as { n: number }).n;
      } finally {
        s.close();
      }
    };

    // 1. Inside the second batch: its rows are written in the open transaction when the process dies.
    const inside = startChild(dataDir, `inside:${BATCH + 10}`, children);
    await waitFor(async () => inside.said('STOPPED'), 120_000);
    inside.child.kill('SIGKILL');
    await exited(inside.child);
    const afterInside = storedRows();
    assert.ok(afterInside > 0 && afterInside < BATCH + 10, `only committed batches remain (${afterInside} rows)`);
    assert.ok(spooled() > ENTRIES - BATCH, 'the interrupted batch is still in the spool');

    // 2. After a commit, before the spool entries go: they are filed again on the next run, and found as known.
    const afterCommit = startChild(dataDir, 'after-commit:2', children);
    await waitFor(async () => afterCommit.said('STOPPED'), 120_000);
    const spooledAtStop = spooled();
    afterCommit.child.kill('SIGKILL');
    await exited(afterCommit.child);
    assert.ok(storedRows() > afterInside, 'the second run committed batches');
    assert.equal(spooled(), spooledAtStop);

    // 3. Between two batches.
    const between = startChild(dataDir, 'between:2', children);
    await waitFor(async () => between.said('STOPPED'), 120_000);
    between.child.kill('SIGKILL');
    await exited(between.child);

    // 4. A run to the end.
    const last = startChild(dataDir, null, children);
    await waitFor(async () => last.said('DRAINED'), 180_000, 100);
    last.child.kill('SIGTERM');
    await exited(last.child);
    assert.equal(last.child.exitCode, 0, 'a clean stop');
    assert.equal(spooled(), 0);

    // Every copy exactly once, nothing else.
    const rows = db
      .prepare(
        'SELECT id, account_id AS account, external_id AS ext, content_hash AS hash, raw_ref AS ref FROM messages',
      )
      .all() as { id: string; account: string; ext: string; hash: string; ref: string }[];
    assert.equal(rows.length, copies, `${rows.length} rows for ${copies} copies`);
    for (const [account, ids] of expected) {
      const got = rows.filter((r) => r.account === account).map((r) => r.ext);
      assert.equal(new Set(got).size, got.length, 'no copy twice');
      assert.deepEqual(new Set(got), ids, 'no copy lost');
    }
    // What is derived from the messages agrees with them: nothing counted twice by the re-filed batches.
    for (const account of expected.keys()) {
      const { used } = db.prepare('SELECT used_bytes AS used FROM accounts WHERE id = ?').get(account) as {
        used: number;
      };
      const { sum, n } = db
        .prepare('SELECT SUM(size_bytes) AS sum, COUNT(*) AS n FROM messages WHERE account_id = ?')
        .get(account) as { sum: number; n: number };
      assert.equal(used, sum, 'usage is the sum of the stored messages');
      const { counted } = db
        .prepare('SELECT SUM(message_count) AS counted FROM conversations WHERE account_id = ?')
        .get(account) as { counted: number };
      assert.equal(counted, n, 'conversation counters count each message once');
    }
    const blobs = openSqlite(join(dataDir, 'blobs.db'), { readonly: true });
    const blobOf = blobs.prepare<[string], { data: Buffer }>('SELECT data FROM blobs WHERE key = ?');
    for (const r of rows) {
      const raw = blobOf.get(r.ref)?.data;
      assert.ok(raw, `the raw form of ${r.ext} is in blobs.db`);
      assert.equal(createHash('sha256').update(raw).digest('hex'), r.hash, `the raw bytes of ${r.ext}`);
    }
    // Each message queued for indexing (single or batch jobs).
    const queue = openSqlite(join(dataDir, 'queue.db'), { readonly: true });
    const queued = new Set<string>();
    for (const { payload } of queue.prepare("SELECT payload FROM jobs WHERE queue = 'index'").all() as {
      payload: string;
    }[]) {
      const p = JSON.parse(payload) as { messageId?: string; items?: { messageId: string }[] };
      if (p.messageId) queued.add(p.messageId);
      for (const i of p.items ?? []) queued.add(i.messageId);
    }
    queue.close();
    assert.deepEqual(
      rows.filter((r) => !queued.has(r.id)).map((r) => r.ext),
      [],
      'every message queued for indexing',
    );
    // Blobs written by a batch that died before its commit are orphans (never referenced): each of the three kills
    // can leave at most one batch's blobs (the next batch's blobs may be written while one commits), two copies
    // (bob's and carol's) per spool entry.
    const { packed } = blobs.prepare('SELECT COUNT(*) AS packed FROM blobs').get() as { packed: number };
    blobs.close();
    const orphans = packed - rows.length;
    console.info(`${rows.length} copies filed once; ${orphans} orphan blobs from the interrupted batch`);
    assert.ok(orphans >= 0 && orphans <= 3 * 2 * BATCH, `${orphans} orphan blobs`);
    db.close();
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    tmp.cleanup();
  }
});
