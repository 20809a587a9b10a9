import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqlite } from '../sqlite/sqlite.connection.ts';
import { jobQueueConformance } from './job-queue.conformance.ts';
import { openSqliteJobQueue } from './job-queue.sqlite.ts';
import type { SqliteJobQueueOptions } from './job-queue.sqlite.ts';

/**
 * As an instance opens it: one process per file, no polling. Every hand-off (enqueue, a delay or retry falling due, a
 * lease lapsing, a slot freeing up) must wake the worker by itself, so the whole suite proves there is no need to poll.
 */
const options: SqliteJobQueueOptions = {};

function tempQueuePath(): { path: string; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'caliopen-queue-'));
  return { path: join(dir, 'queue.db'), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
}

jobQueueConformance('sqlite', async () => {
  const { path, cleanup } = tempQueuePath();
  return { queue: openSqliteJobQueue(path, options), reopen: async () => openSqliteJobQueue(path, options), cleanup };
});

describe('SQLite job queue specifics', () => {
  it('prunes completed jobs beyond the configured count, newest kept', async () => {
    const { path, cleanup } = tempQueuePath();
    const queue = openSqliteJobQueue(path, { ...options, keepCompleted: { maxCount: 3 } });
    try {
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) ids.push(await queue.enqueue('pruned', 'work', { i }));
      queue.process('pruned', async () => sleep(2));
      // Pruning runs at most once a second from the worker's poll loop.
      await waitUntil(async () => {
        const { waiting, active, completed } = await queue.counts('pruned');
        return waiting + active === 0 && completed === 3;
      });
      assert.equal(await queue.getJob('pruned', ids[0]!), null);
      assert.equal((await queue.getJob('pruned', ids[7]!))?.state, 'completed');
    } finally {
      await queue.close();
      await cleanup();
    }
  });

  it('runs again, once its lease lapses, a job left active by a process that died', async () => {
    const { path, cleanup } = tempQueuePath();
    const before = openSqliteJobQueue(path, options);
    const id = await before.enqueue('leases', 'work', { n: 1 }, { attempts: 1 });
    await before.close();
    simulateDeadClaim(path, 'leases', id, Date.now() + 300);

    const queue = openSqliteJobQueue(path, options);
    const runs: number[] = [];
    try {
      queue.process('leases', async (job) => {
        runs.push(job.attemptsMade);
      });
      await sleep(50);
      assert.equal((await queue.getJob('leases', id))?.state, 'active', 'the job ran while its lease still held');
      await waitUntil(async () => (await queue.getJob('leases', id))?.state === 'completed');
      // The dead process's attempt never reached an outcome: it is not counted against the job.
      assert.deepEqual(runs, [1]);
    } finally {
      await queue.close();
      await cleanup();
    }
  });

  it('dead-letters a job that lost its lease more than maxStalls times', async () => {
    const { path, cleanup } = tempQueuePath();
    const before = openSqliteJobQueue(path, options);
    const id = await before.enqueue('stalls', 'work', {});
    await before.close();
    simulateDeadClaim(path, 'stalls', id, Date.now() - 1);

    const queue = openSqliteJobQueue(path, { ...options, maxStalls: 0 });
    let runs = 0;
    try {
      queue.process('stalls', async () => {
        runs++;
      });
      await waitUntil(async () => (await queue.getJob('stalls', id))?.state === 'dead');
      assert.equal(runs, 0);
      assert.match((await queue.getJob('stalls', id))?.lastError ?? '', /lease expired 1 times/);
      assert.deepEqual(
        (await queue.deadLetters('stalls')).map((j) => j.id),
        [id],
      );
    } finally {
      await queue.close();
      await cleanup();
    }
  });

  it('never polls: a job enqueued in this process runs at once, and an idle worker holds no timer', async () => {
    const { path, cleanup } = tempQueuePath();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const baseline = timers();
    const queue = openSqliteJobQueue(path, options);
    try {
      const done: number[] = [];
      queue.process('idle', async (job) => {
        done.push((job.payload as { n: number }).n);
      });
      await waitUntil(async () => timers() <= baseline);
      await queue.enqueue('idle', 'work', { n: 1 });
      await waitUntil(async () => done.length === 1);
      await waitUntil(async () => (await queue.counts('idle')).completed === 1);
      // Nothing is waiting, delayed or leased: the worker sleeps until the next enqueue, with no timer pending.
      await waitUntil(async () => timers() <= baseline);
      await queue.enqueue('idle', 'work', { n: 2 });
      await waitUntil(async () => done.length === 2);
      assert.deepEqual(done, [1, 2]);
    } finally {
      await queue.close();
      await cleanup();
    }
  });

  it('a job delayed beyond what a timer can hold (30 days) leaves the worker asleep, not spinning', async () => {
    const { path, cleanup } = tempQueuePath();
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.name);
    process.on('warning', onWarning);
    const queue = openSqliteJobQueue(path, options);
    try {
      let runs = 0;
      queue.process('far', async () => {
        runs++;
      });
      await queue.enqueue('far', 'work', {}, { delayMs: 30 * 24 * 3600_000 });
      // A spinning worker would claim (and find nothing) every millisecond; a sleeping one does not run at all.
      await queue.enqueue('far', 'work', { now: true });
      await waitUntil(async () => runs === 1);
      assert.equal((await queue.counts('far')).delayed, 1);
      assert.deepEqual(
        warnings.filter((w) => w === 'TimeoutOverflowWarning'),
        [],
      );
    } finally {
      process.off('warning', onWarning);
      await queue.close();
      await cleanup();
    }
  });

  it('the control: configured for several processes, a worker keeps a poll timer and finds work another process enqueued', async () => {
    const { path, cleanup } = tempQueuePath();
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const baseline = timers();
    const queue = openSqliteJobQueue(path, { pollIntervalMs: 25 });
    const otherProcess = openSqliteJobQueue(path, options);
    try {
      const done: number[] = [];
      queue.process('shared', async (job) => {
        done.push((job.payload as { n: number }).n);
      });
      await waitUntil(async () => timers() > baseline);
      // Another connection to the file stands in for another process: its enqueue cannot wake this worker.
      await otherProcess.enqueue('shared', 'work', { n: 7 });
      await waitUntil(async () => done.length === 1);
      // Only a look at the file could find it: that is the poll.
      assert.deepEqual(done, [7]);
    } finally {
      await otherProcess.close();
      await queue.close();
      await cleanup();
    }
  });

  it('jobs enqueued together are committed together: each durable when its promise resolves, a bad one failing alone', async () => {
    const { path, cleanup } = tempQueuePath();
    const queue = openSqliteJobQueue(path, options);
    try {
      const outcomes = await Promise.allSettled([
        ...Array.from({ length: 100 }, (_, i) => queue.enqueue('grouped', 'work', { i }, { jobId: `job-${i}` })),
        queue.enqueue('grouped', 'work', { again: true }, { jobId: 'job-7' }), // same id: one job kept
        queue.enqueue('grouped', 'work', { n: 1n }), // not JSON: refused, alone
        queue.enqueue('grouped', 'work', {}, { attempts: 0 }), // bad option: refused, alone
        queue.enqueue('other', 'work', { other: true }, { jobId: 'other-1' }),
      ]);
      assert.deepEqual(
        outcomes.slice(0, 101).map((o) => o.status),
        Array(101).fill('fulfilled'),
      );
      assert.equal(outcomes[101]!.status, 'rejected');
      assert.equal(outcomes[102]!.status, 'rejected');
      assert.match(String((outcomes[102] as PromiseRejectedResult).reason), /attempts/);
      assert.equal(outcomes[103]!.status, 'fulfilled');
      // Enqueued without waiting, then closed at once: close inserts it first.
      const last = queue.enqueue('grouped', 'work', { last: true }, { jobId: 'job-last' });
      await queue.close();
      assert.equal(await last, 'job-last');
      await assert.rejects(queue.enqueue('grouped', 'work', {}), /closed/);

      const reopened = openSqliteJobQueue(path, options);
      try {
        assert.equal((await reopened.counts('grouped')).waiting, 101);
        assert.deepEqual((await reopened.getJob('grouped', 'job-7'))?.payload, { i: 7 });
        assert.deepEqual((await reopened.getJob('grouped', 'job-last'))?.payload, { last: true });
        assert.equal((await reopened.counts('other')).waiting, 1);
      } finally {
        await reopened.close();
      }
    } finally {
      await queue.close();
      await cleanup();
    }
  });

  it('rejects invalid options with a message naming them', async () => {
    const { path, cleanup } = tempQueuePath();
    const queue = openSqliteJobQueue(path, options);
    try {
      await assert.rejects(queue.enqueue('q', 'n', {}, { attempts: 0 }), /attempts must be an integer >= 1/);
      await assert.rejects(queue.enqueue('q', 'n', {}, { delayMs: -1 }), /delayMs/);
      await assert.rejects(queue.enqueue('q', 'n', {}, { jobId: '' }), /jobId/);
      assert.throws(() => queue.process('q', async () => undefined, { concurrency: 0 }), /concurrency/);
      assert.throws(() => openSqliteJobQueue(path, { leaseMs: 0 }), /leaseMs/);
    } finally {
      await queue.close();
      await cleanup();
    }
  });
});

/** Leaves the job as a process that claimed it and then died would: active, under a lease nobody renews. */
function simulateDeadClaim(path: string, queue: string, id: string, lockedUntil: number): void {
  const db = openSqlite(path);
  try {
    db.prepare(
      `UPDATE jobs SET state = 'active', attempts_made = attempts_made + 1, locked_until = ?, lease_token = 'dead'
       WHERE queue = ? AND id = ?`,
    ).run(lockedUntil, queue, id);
  } finally {
    db.close();
  }
}

async function waitUntil(probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await sleep(10);
  }
}
