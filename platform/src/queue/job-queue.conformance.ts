import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import type { JobInfo, JobQueue, QueueCounts } from './job-queue.port.ts';

/**
 * The one conformance suite every JobQueue adapter runs (ENGINEERING.md: "every adapter runs the shared conformance
 * suite for its port"). Durations are tens of milliseconds so the suite stays quick; timings are only ever checked as
 * lower bounds or orderings, never as upper bounds, so a slow machine cannot make it flaky.
 */
export interface ConformanceSubject {
  /** A fresh, empty queue store. */
  queue: JobQueue;
  /** Opens the same store again, as a restarted process would; called after `queue.close()`. */
  reopen: () => Promise<JobQueue>;
  /** Removes what `open` created (files, keys). The suite closes every queue itself first. */
  cleanup: () => Promise<void>;
}

export function jobQueueConformance(
  name: string,
  open: () => Promise<ConformanceSubject>,
  options: { skip?: boolean } = {},
): void {
  const test = (title: string, body: (s: ConformanceSubject) => Promise<void>) =>
    it(title, { timeout: 30_000 }, () => withSubject(open, body));

  describe(`JobQueue conformance: ${name}`, { skip: options.skip ?? false }, () => {
    test('runs an enqueued job and reports it completed', async ({ queue }) => {
      const seen: JobInfo<{ to: string }>[] = [];
      const id = await queue.enqueue('mail', 'greet', { to: 'alice' });
      assert.equal(typeof id, 'string');
      queue.process<{ to: string }>('mail', async (job) => {
        seen.push(job);
      });
      await eventually(async () => (await queue.getJob('mail', id))?.state === 'completed', 'job completed');

      assert.equal(seen.length, 1);
      assert.deepEqual(seen[0], {
        id,
        queue: 'mail',
        name: 'greet',
        payload: { to: 'alice' },
        attemptsMade: 1,
        maxAttempts: 5,
        state: 'active',
        lastError: null,
      });
      const done = await queue.getJob('mail', id);
      assert.equal(done?.attemptsMade, 1);
      assert.equal(done?.lastError, null);
      assert.equal(await queue.getJob('mail', 'no-such-job'), null);
    });

    test('round-trips the payload unchanged', async ({ queue }) => {
      const payload = {
        text: 'Grüße, 世界 \u{1F510} "quoted" \\ back\nslash',
        int: 42,
        float: -1.5,
        flags: [true, false, null],
        nested: { deep: { list: [{ a: 1 }, { b: [2, 3] }], empty: {} } },
      };
      let received: unknown;
      const id = await queue.enqueue('payloads', 'echo', payload);
      assert.deepEqual((await queue.getJob('payloads', id))?.payload, payload);
      queue.process('payloads', async (job) => {
        received = job.payload;
      });
      await eventually(async () => (await queue.getJob('payloads', id))?.state === 'completed', 'job completed');
      assert.deepEqual(received, payload);
    });

    test('keeps a delayed job delayed, then runs it after its delay', async ({ queue }) => {
      const delayMs = 150;
      const ran: { name: string; at: number }[] = [];
      const enqueuedAt = Date.now();
      const later = await queue.enqueue('timers', 'later', {}, { delayMs });
      const now = await queue.enqueue('timers', 'now', {});
      assert.equal((await queue.getJob('timers', later))?.state, 'delayed');
      assert.equal((await queue.getJob('timers', now))?.state, 'waiting');
      assert.deepEqual(await queue.counts('timers'), counts({ waiting: 1, delayed: 1 }));

      queue.process('timers', async (job) => {
        ran.push({ name: job.name, at: Date.now() });
      });
      await eventually(async () => (await queue.counts('timers')).completed === 2, 'both jobs completed');

      assert.deepEqual(
        ran.map((r) => r.name),
        ['now', 'later'],
      );
      assert.ok(ran[1]!.at >= enqueuedAt + delayMs, 'the delayed job ran before its delay elapsed');
    });

    test('retries a failing job with exponential backoff', async ({ queue }) => {
      const baseDelayMs = 40;
      const runs: { at: number; attemptsMade: number; lastError: string | null }[] = [];
      const backoff = { type: 'exponential', baseDelayMs } as const;
      const id = await queue.enqueue('flaky', 'try', {}, { attempts: 4, backoff });
      queue.process('flaky', async (job) => {
        runs.push({ at: Date.now(), attemptsMade: job.attemptsMade, lastError: job.lastError });
        if (job.attemptsMade < 4) throw new Error(`attempt ${job.attemptsMade} failed`);
      });
      await eventually(async () => (await queue.getJob('flaky', id))?.state === 'completed', 'job completed');

      assert.deepEqual(
        runs.map((r) => [r.attemptsMade, r.lastError]),
        [
          [1, null],
          [2, 'attempt 1 failed'],
          [3, 'attempt 2 failed'],
          [4, 'attempt 3 failed'],
        ],
      );
      for (let retry = 1; retry < runs.length; retry++) {
        const gap = runs[retry]!.at - runs[retry - 1]!.at;
        const wait = baseDelayMs * 2 ** (retry - 1);
        assert.ok(gap >= wait, `retry ${retry} came ${gap} ms after attempt ${retry}, under its ${wait} ms backoff`);
      }
      assert.equal((await queue.getJob('flaky', id))?.attemptsMade, 4);
    });

    test('dead-letters a job after its last attempt, keeping the last error', async ({ queue }) => {
      let runs = 0;
      const backoff = { type: 'exponential', baseDelayMs: 10 } as const;
      queue.process('doomed', async (job) => {
        if (job.name === 'healthy') return;
        runs++;
        throw new Error(`failure ${job.attemptsMade}`);
      });
      const first = await queue.enqueue('doomed', 'broken', { n: 1 }, { attempts: 3, backoff });
      await queue.enqueue('doomed', 'healthy', {});
      await eventually(async () => (await queue.getJob('doomed', first))?.state === 'dead', 'first job dead');
      const second = await queue.enqueue('doomed', 'broken', { n: 2 }, { attempts: 1 });
      await eventually(async () => (await queue.getJob('doomed', second))?.state === 'dead', 'second job dead');
      await eventually(async () => (await queue.counts('doomed')).completed === 1, 'healthy job completed');

      assert.equal(runs, 4);
      const dead = await queue.getJob('doomed', first);
      assert.equal(dead?.attemptsMade, 3);
      assert.equal(dead?.maxAttempts, 3);
      assert.equal(dead?.lastError, 'failure 3');

      const letters = await queue.deadLetters<{ n: number }>('doomed');
      assert.deepEqual(
        letters.map((j) => [j.id, j.state, j.payload.n, j.lastError]),
        [
          [first, 'dead', 1, 'failure 3'],
          [second, 'dead', 2, 'failure 1'],
        ],
      );
      assert.deepEqual(
        (await queue.deadLetters('doomed', 1)).map((j) => j.id),
        [first],
      );
      assert.deepEqual(await queue.counts('doomed'), counts({ completed: 1, dead: 2 }));
    });

    test('keeps one job per jobId and queue', async ({ queue }) => {
      // ':' and integer-looking ids are legal here even though some engines reserve them.
      const jobId = 'order:42/ü';
      const runs: unknown[] = [];
      assert.equal(await queue.enqueue('orders', 'ship', { v: 1 }, { jobId }), jobId);
      assert.equal(await queue.enqueue('orders', 'ship', { v: 2 }, { jobId }), jobId);
      assert.equal(await queue.enqueue('orders', 'ship', { v: 3 }, { jobId: '42' }), '42');
      assert.equal(await queue.enqueue('returns', 'ship', { v: 4 }, { jobId }), jobId);
      assert.deepEqual(await queue.counts('orders'), counts({ waiting: 2 }));
      assert.deepEqual((await queue.getJob('returns', jobId))?.payload, { v: 4 });

      queue.process('orders', async (job) => {
        runs.push(job.payload);
      });
      await eventually(async () => (await queue.counts('orders')).completed === 2, 'both jobs completed');
      assert.equal((await queue.getJob('orders', jobId))?.id, jobId);
      assert.equal((await queue.getJob('orders', '42'))?.id, '42');

      // Still kept as completed: enqueueing it again is a no-op. A sentinel behind it proves the worker moved on.
      assert.equal(await queue.enqueue('orders', 'ship', { v: 5 }, { jobId }), jobId);
      const sentinel = await queue.enqueue('orders', 'sentinel', { v: 6 });
      await eventually(async () => (await queue.getJob('orders', sentinel))?.state === 'completed', 'sentinel done');
      assert.deepEqual(runs, [{ v: 1 }, { v: 3 }, { v: 6 }]);
      assert.deepEqual((await queue.getJob('returns', jobId))?.state, 'waiting');
    });

    test('never runs more handlers at once than the concurrency, and does run them in parallel', async ({ queue }) => {
      const concurrency = 3;
      let running = 0;
      let peak = 0;
      for (let i = 0; i < 12; i++) await queue.enqueue('parallel', 'work', { i });
      queue.process(
        'parallel',
        async () => {
          running++;
          peak = Math.max(peak, running);
          await sleep(30);
          running--;
        },
        { concurrency },
      );
      await eventually(async () => (await queue.counts('parallel')).completed === 12, 'all jobs completed');
      assert.ok(peak <= concurrency, `${peak} handlers ran at once with concurrency ${concurrency}`);
      assert.ok(peak > 1, 'handlers never overlapped although concurrency allows it');
    });

    test('loses no job across a restart, and runs each exactly once', async ({ queue, reopen }) => {
      const ids = Array.from({ length: 20 }, (_, i) => `job-${i}`);
      const runs: string[] = [];
      const handler = async (job: JobInfo) => {
        runs.push(job.id);
        await sleep(20);
      };
      for (const jobId of ids) await queue.enqueue('durable', 'work', { jobId }, { jobId });
      queue.process('durable', handler, { concurrency: 2 });
      await eventually(async () => runs.length >= 4, 'a few jobs started');
      await queue.close();
      const ranBeforeRestart = runs.length;
      assert.ok(ranBeforeRestart < ids.length, 'every job ran before the restart: the test proves nothing');

      const restarted = await reopen();
      assert.deepEqual(
        await restarted.counts('durable'),
        counts({ completed: ranBeforeRestart, waiting: ids.length - ranBeforeRestart }),
      );
      restarted.process('durable', handler, { concurrency: 2 });
      await eventually(async () => (await restarted.counts('durable')).completed === ids.length, 'all jobs done');
      assert.deepEqual([...runs].sort(), [...ids].sort());
    });

    test('counts jobs in every state', async ({ queue }) => {
      await queue.enqueue('tally', 'ok', {});
      await queue.enqueue('tally', 'ok', {});
      await queue.enqueue('tally', 'fail', {}, { attempts: 1 });
      await queue.enqueue('tally', 'ok', {}, { delayMs: 60_000 });
      assert.deepEqual(await queue.counts('tally'), counts({ waiting: 3, delayed: 1 }));
      assert.deepEqual(await queue.counts('untouched'), counts({}));

      const gate = deferred();
      queue.process('tally', async (job) => {
        if (job.name === 'fail') throw new Error('no');
        if (job.name === 'block') await gate.promise;
      });
      await eventually(async () => (await queue.counts('tally')).dead === 1, 'failing job dead');
      await eventually(async () => (await queue.counts('tally')).completed === 2, 'ok jobs completed');
      assert.deepEqual(await queue.counts('tally'), counts({ delayed: 1, completed: 2, dead: 1 }));

      const blocked = await queue.enqueue('tally', 'block', {});
      await eventually(async () => (await queue.counts('tally')).active === 1, 'blocking job active');
      assert.equal((await queue.getJob('tally', blocked))?.state, 'active');
      assert.deepEqual(await queue.counts('tally'), counts({ delayed: 1, active: 1, completed: 2, dead: 1 }));
      gate.resolve();
      await eventually(async () => (await queue.counts('tally')).completed === 3, 'blocking job completed');
      assert.deepEqual(await queue.counts('tally'), counts({ delayed: 1, completed: 3, dead: 1 }));
    });

    test('Worker.close() waits for the running handlers and records their outcome', async ({ queue }) => {
      const probe = slowHandler();
      const worker = queue.process('closing', probe.handler);
      const id = await queue.enqueue('closing', 'slow', {});
      await eventually(async () => probe.started, 'handler started');
      await worker.close();
      assert.equal(probe.finished, true, 'Worker.close() resolved before the running handler finished');
      assert.equal((await queue.getJob('closing', id))?.state, 'completed');

      // A closed worker takes nothing more.
      const next = await queue.enqueue('closing', 'slow', {});
      await sleep(100);
      assert.equal((await queue.getJob('closing', next))?.state, 'waiting');
    });

    test('JobQueue.close() waits for the running handlers and records their outcome', async ({ queue, reopen }) => {
      const probe = slowHandler();
      queue.process('closing', probe.handler);
      const id = await queue.enqueue('closing', 'slow', {});
      await eventually(async () => probe.started, 'handler started');
      await queue.close();
      assert.equal(probe.finished, true, 'JobQueue.close() resolved before the running handler finished');
      const restarted = await reopen();
      assert.equal((await restarted.getJob('closing', id))?.state, 'completed');
    });
  });
}

/** Opens a subject, runs the test, then closes every queue it opened (reopened ones too) and cleans up. */
async function withSubject(
  open: () => Promise<ConformanceSubject>,
  body: (subject: ConformanceSubject) => Promise<void>,
): Promise<void> {
  const subject = await open();
  const opened = [subject.queue];
  const reopen = async () => {
    const queue = await subject.reopen();
    opened.push(queue);
    return queue;
  };
  try {
    await body({ ...subject, reopen });
  } finally {
    try {
      for (const queue of opened) await queue.close();
    } finally {
      await subject.cleanup();
    }
  }
}

async function eventually(probe: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > until) throw new Error(`timed out waiting for: ${what}`);
    await sleep(10);
  }
}

function counts(partial: Partial<QueueCounts>): QueueCounts {
  return { waiting: 0, delayed: 0, active: 0, completed: 0, dead: 0, ...partial };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function slowHandler() {
  const probe = {
    started: false,
    finished: false,
    handler: async () => {
      probe.started = true;
      await sleep(100);
      probe.finished = true;
    },
  };
  return probe;
}
