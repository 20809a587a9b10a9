import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'vitest';
import type { SpoolEntryInput } from './inbound-spool.port.ts';
import { SqliteInboundSpool } from './inbound-spool.sqlite.ts';

const entry = (n: number, bytes = 100): SpoolEntryInput => ({
  receivedAt: new Date(1_800_000_000_000 + n),
  mailFrom: `sender${n}@remote.example`,
  recipients: [{ address: `Bob@alpha.test`, accountId: `acc-${n % 3}` }],
  transport: {
    tls: n % 2 ? { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' } : null,
    clientIp: '192.0.2.1',
    helo: 'mx.remote.example',
  },
  raw: Buffer.concat([Buffer.from(`Message-ID: <${n}@remote.example>\r\n\r\n`), Buffer.alloc(bytes, 0xe9)]),
});

describe('SqliteInboundSpool', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'caliopen-spool-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('countsAt reads the counts beside the running writer (the operator console), null without a spool file', async () => {
    assert.equal(SqliteInboundSpool.countsAt(join(dir, 'spool.db')), null);
    const spool = SqliteInboundSpool.open(join(dir, 'spool.db'));
    const [first, second, third] = await Promise.all([
      spool.append(entry(1)),
      spool.append(entry(2)),
      spool.append(entry(3)),
    ]);
    await spool.defer(first!, 'no such user', null);
    await spool.defer(second!, 'busy', new Date(1_900_000_000_000));
    await spool.remove([third!]);
    await spool.append(entry(4));
    assert.deepEqual(SqliteInboundSpool.countsAt(join(dir, 'spool.db')), {
      queued: 2,
      dead: 1,
      oldestQueuedAt: new Date(1_800_000_000_002),
    });
    await spool.close();
  });

  it('groups appends made in the same event-loop turn into one commit, and each resolves after it', async () => {
    const spool = SqliteInboundSpool.open(join(dir, 'spool.db'));
    const ids = await Promise.all(Array.from({ length: 50 }, (_, i) => spool.append(entry(i))));
    assert.equal(new Set(ids).size, 50);
    assert.equal(spool.stats.commits, 1);
    assert.equal(spool.stats.appended, 50);
    await spool.append(entry(50));
    assert.equal(spool.stats.commits, 2);
    await spool.close();
  });

  it('commits at once when a batch reaches its size bound', async () => {
    const spool = SqliteInboundSpool.open(join(dir, 'spool.db'), { maxBatch: 8, maxBatchBytes: 1_000_000 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => spool.append(entry(i))));
    assert.equal(spool.stats.commits, 3, '8 + 8 + 4');
    const big = SqliteInboundSpool.open(join(dir, 'big.db'), { maxBatchBytes: 250_000 });
    await Promise.all(Array.from({ length: 4 }, (_, i) => big.append(entry(i, 100_000))));
    assert.equal(big.stats.commits, 2, 'at most 250 kB per commit: two 100 kB messages each');
    await spool.close();
    await big.close();
  });

  it('keeps what it acknowledged across a reopen: envelope, transport facts and the exact bytes', async () => {
    const path = join(dir, 'spool.db');
    const spool = SqliteInboundSpool.open(path);
    const written = entry(7, 3000);
    const id = await spool.append(written);
    await spool.close();
    const again = SqliteInboundSpool.open(path);
    const read = await again.get(id);
    assert.ok(read);
    assert.deepEqual(
      { ...read, raw: read.raw.toString('base64') },
      { ...written, raw: written.raw.toString('base64'), id, attempts: 0 },
    );
    assert.equal(await again.get('999999'), null);
    await again.close();
  });

  it('lists due entries oldest first without those being worked on; defers, kills and removes', async () => {
    const spool = SqliteInboundSpool.open(join(dir, 'spool.db'));
    const ids = await Promise.all([0, 1, 2, 3].map((n) => spool.append(entry(n))));
    const now = new Date();
    assert.deepEqual(await spool.due(now, 10, new Set()), ids);
    assert.deepEqual(await spool.due(now, 2, new Set([ids[0]!])), [ids[1], ids[2]]);

    await spool.defer(ids[1]!, 'temporary: mailbox locked', new Date(now.getTime() + 60_000));
    await spool.defer(ids[2]!, 'permanent', null);
    assert.deepEqual(await spool.due(now, 10, new Set()), [ids[0], ids[3]]);
    assert.deepEqual(await spool.due(new Date(now.getTime() + 60_000), 10, new Set()), [ids[0], ids[3], ids[1]]);
    assert.equal((await spool.get(ids[1]!))?.attempts, 1);
    assert.deepEqual(await spool.counts(), { queued: 3, dead: 1 });

    await spool.remove([ids[0]!, ids[3]!]);
    assert.deepEqual(await spool.counts(), { queued: 1, dead: 1 });
    assert.equal((await spool.nextDueAt())?.getTime(), now.getTime() + 60_000);
    await spool.remove([]);
    await spool.close();
  });

  it('tells its listeners after each commit; close commits what is pending and refuses appends after', async () => {
    const spool = SqliteInboundSpool.open(join(dir, 'spool.db'));
    let wakeups = 0;
    spool.onAppend(() => wakeups++);
    const pending = spool.append(entry(1));
    await spool.close();
    assert.match(await pending, /^\d+$/);
    assert.equal(wakeups, 1);
    await assert.rejects(spool.append(entry(2)), /closed/);
    const reopened = SqliteInboundSpool.open(join(dir, 'spool.db'));
    assert.deepEqual(await reopened.counts(), { queued: 1, dead: 0 });
    await reopened.close();
  });

  it('rejects every append of a batch whose commit failed (nothing acknowledged that is not stored)', async () => {
    const spool = SqliteInboundSpool.open(join(dir, 'spool.db'));
    const bad = { ...entry(1), raw: null as unknown as Buffer };
    const results = await Promise.allSettled([
      spool.append(entry(0)),
      spool.append({ ...bad, raw: Buffer.alloc(0) }),
      spool.append({ ...entry(2), mailFrom: null as unknown as string }),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected', 'rejected'],
    );
    assert.deepEqual(await spool.counts(), { queued: 0, dead: 0 });
    await spool.close();
  });
});
