import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { openSqliteJobQueue } from '@caliopen/platform/queue/job-queue.sqlite.ts';
import { openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { waitFor } from '../support/net.ts';
import { tempDir } from '../support/tmp.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const childScript = fileURLToPath(new URL('./fixtures/queue-worker.child.ts', import.meta.url));
const JOBS = 300;
const CONCURRENCY = 4; // the child's
/** Short, so the jobs the killed process held run again quickly; long enough that a busy machine keeps its leases. */
const LEASE_MS = 1000;

it('the embedded queue loses no job when its process is SIGKILLed mid-run', { timeout: 120_000 }, async () => {
  const { dir, cleanup } = tempDir('caliopen-queue-sigkill-');
  const queuePath = join(dir, 'queue.db');
  const results = openSqlite(join(dir, 'results.db'));
  results.exec(`
    CREATE TABLE runs (seq INTEGER PRIMARY KEY, job_id TEXT NOT NULL, pid INTEGER NOT NULL);
    CREATE TABLE completions (job_id TEXT PRIMARY KEY, pid INTEGER NOT NULL);
  `);
  const completed = () => (results.prepare('SELECT COUNT(*) AS n FROM completions').get() as { n: number }).n;
  const queue = openSqliteJobQueue(queuePath, { leaseMs: LEASE_MS });
  const children: ChildProcess[] = [];
  try {
    const ids: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      ids.push(await queue.enqueue('e2e', 'work', { n: i }, { jobId: `job-${String(i).padStart(3, '0')}` }));
    }

    const first = startWorker(queuePath, join(dir, 'results.db'), children);
    await waitFor(async () => completed() >= 40, 60_000, 5);
    first.kill('SIGKILL');
    await exited(first);
    const completedAtKill = completed();
    assert.ok(completedAtKill < JOBS, 'the first worker finished everything before the kill: the test proves nothing');
    const interrupted = results
      .prepare('SELECT DISTINCT job_id FROM runs WHERE pid = ? AND job_id NOT IN (SELECT job_id FROM completions)')
      .all(first.pid) as { job_id: string }[];
    const leftActive = (await queue.counts('e2e')).active;
    console.info(
      `killed after ${completedAtKill} completions; ${leftActive} left active, ${interrupted.length} in handlers`,
    );

    // Two workers on the same file now: they must share the rest without ever running a job twice.
    const second = startWorker(queuePath, join(dir, 'results.db'), children);
    const third = startWorker(queuePath, join(dir, 'results.db'), children);
    await waitFor(async () => {
      const c = await queue.counts('e2e');
      return completed() === JOBS && c.completed === JOBS;
    }, 60_000);
    for (const child of [second, third]) {
      child.kill('SIGTERM');
      assert.equal((await exited(child)).code, 0, 'a worker did not close cleanly on SIGTERM');
    }

    const completions = results.prepare('SELECT job_id FROM completions ORDER BY job_id').all() as { job_id: string }[];
    assert.deepEqual(
      completions.map((r) => r.job_id),
      [...ids].sort(),
      'every job completed, each recorded exactly once',
    );
    assert.deepEqual(await queue.counts('e2e'), { waiting: 0, delayed: 0, active: 0, completed: JOBS, dead: 0 });

    // At-least-once, not more than needed: only jobs the killed process had started may have run twice.
    const rerun = results
      .prepare('SELECT job_id, COUNT(*) AS n, SUM(pid = ?) AS byFirst FROM runs GROUP BY job_id HAVING n > 1')
      .all(first.pid) as { job_id: string; n: number; byFirst: number }[];
    for (const r of rerun) {
      assert.equal(r.n, 2, `${r.job_id} ran ${r.n} times`);
      assert.equal(r.byFirst, 1, `${r.job_id} ran twice although the killed process never started it`);
    }
    assert.ok(rerun.length <= CONCURRENCY, `${rerun.length} jobs ran twice; the killed process held at most 4`);
    for (const { job_id } of interrupted) {
      assert.ok(
        rerun.some((r) => r.job_id === job_id),
        `${job_id}, interrupted by the kill, did not run again`,
      );
    }
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await queue.close();
    results.close();
    cleanup();
  }
});

function startWorker(queuePath: string, resultsPath: string, children: ChildProcess[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', childScript, queuePath, resultsPath, String(LEASE_MS)], {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

async function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, signal: child.signalCode };
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  return { code, signal };
}
