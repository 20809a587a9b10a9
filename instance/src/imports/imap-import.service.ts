import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { RemoteIdentity, SyncStatus } from '../identities/remote-identity.entity.ts';
import type { JobInfo, JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { AppError } from '../shared/errors.ts';
import type { Storage } from '../database/storage.port.ts';
import { isRunningFresh, type ImapSync } from './imap-sync.ts';

export const IMPORT_QUEUE = 'imap-import';

/** A manual import, started through the API or the CLI. */
interface ImportJob {
  accountId: string;
  identityId: string;
  importId: string;
}

/** A scheduled re-sync: one per identity and time slot. */
interface ResyncJob {
  accountId: string;
  identityId: string;
}

/** A queued import that never started within this long is considered lost, and a new one may be queued. */
const QUEUED_TOO_LONG_MS = 30 * 60_000;

/**
 * IMAP imports through the queue: starting one (202 + import id), reporting progress, and the scheduled re-sync of
 * every identity. Re-syncs form one chain per identity whose job ids are `resync:<identity>:<slot>` (slot = the
 * interval number), so a restart, a retried job or a second scheduler cannot multiply them: enqueueing the same
 * slot twice keeps one job.
 */
export class ImapImportService {
  private readonly intervalMs: number;

  constructor(
    private readonly deps: { storage: Storage; queue: JobQueue; sync: ImapSync; clock: Clock; logger: Logger },
    options: { resyncMinutes: number },
  ) {
    this.intervalMs = options.resyncMinutes * 60_000;
  }

  private async identity(accountId: string, identityId: string): Promise<RemoteIdentity> {
    const identity = await this.deps.storage.remoteIdentities.get(accountId, identityId);
    if (!identity) throw new AppError('not_found');
    return identity;
  }

  /**
   * Queues an import of the identity and resolves its status (state `queued`). When one is already queued or
   * running, resolves that one instead: imports of one identity never run side by side.
   */
  async start(accountId: string, identityId: string): Promise<SyncStatus> {
    const identity = await this.identity(accountId, identityId);
    const now = this.deps.clock();
    const current = identity.sync;
    if (isRunningFresh(current, now)) return current;
    if (this.queuedRecently(current, now)) return current;
    const importId = randomUUID();
    const status: SyncStatus = {
      ...current,
      importId,
      state: 'queued',
      trigger: 'manual',
      queuedAt: now,
      startedAt: null,
      finishedAt: null,
      heartbeatAt: null,
      lastError: null,
      folders: [],
    };
    if (!(await this.deps.storage.remoteIdentities.updateSync(accountId, identityId, status, now)))
      throw new AppError('not_found');
    const job: ImportJob = { accountId, identityId, importId };
    await this.deps.queue.enqueue(IMPORT_QUEUE, 'import', job, { jobId: `import:${importId}`, attempts: 1 });
    await this.scheduleResync(accountId, identityId);
    return status;
  }

  private queuedRecently(sync: SyncStatus, now: Date): boolean {
    return (
      sync.state === 'queued' && sync.queuedAt !== null && now.getTime() - sync.queuedAt.getTime() < QUEUED_TOO_LONG_MS
    );
  }

  async status(accountId: string, identityId: string): Promise<SyncStatus> {
    return (await this.identity(accountId, identityId)).sync;
  }

  /**
   * Runs an import now, in this process (the CLI), reporting progress as it goes. Refuses while another import of
   * the identity is running.
   */
  async runNow(accountId: string, identityId: string, onProgress: (s: SyncStatus) => void): Promise<SyncStatus> {
    const identity = await this.identity(accountId, identityId);
    if (isRunningFresh(identity.sync, this.deps.clock())) {
      throw new AppError(
        'conflict',
        'An import of this identity is running already; follow it with GET /api/v1/identities/:id/import.',
      );
    }
    const result = await this.deps.sync.run(identity, randomUUID(), 'manual', onProgress);
    if (!result) throw new AppError('not_found');
    await this.scheduleResync(accountId, identityId);
    return result;
  }

  /** Queues the next scheduled re-sync of the identity (idempotent per time slot). No-op when re-sync is off. */
  async scheduleResync(accountId: string, identityId: string): Promise<void> {
    if (this.intervalMs <= 0) return;
    const now = this.deps.clock().getTime();
    const slot = Math.floor(now / this.intervalMs) + 1;
    const job: ResyncJob = { accountId, identityId };
    await this.deps.queue.enqueue(IMPORT_QUEUE, 'resync', job, {
      jobId: `resync:${identityId}:${slot}`,
      delayMs: slot * this.intervalMs - now,
      attempts: 1,
    });
  }

  /** The queue worker for imports and re-syncs. */
  startWorker(concurrency: number): Worker {
    return this.deps.queue.process<ImportJob | ResyncJob>(IMPORT_QUEUE, (job) => this.handle(job), { concurrency });
  }

  private async handle(job: JobInfo<ImportJob | ResyncJob>): Promise<void> {
    const { accountId, identityId } = job.payload;
    const identity = await this.deps.storage.remoteIdentities.get(accountId, identityId);
    if (!identity) return; // deleted: its chain ends here
    const now = this.deps.clock();
    if (job.name === 'resync') {
      // The next link first: the chain survives this run crashing.
      await this.scheduleResync(accountId, identityId);
      if (isRunningFresh(identity.sync, now) || this.queuedRecently(identity.sync, now)) return;
      await this.deps.sync.run(identity, randomUUID(), 'scheduled');
      return;
    }
    const { importId } = job.payload as ImportJob;
    // Superseded by a newer import, or already being run by another worker: nothing to do.
    if (identity.sync.importId !== importId || isRunningFresh(identity.sync, now)) return;
    if (identity.sync.state === 'completed' || identity.sync.state === 'failed') return;
    await this.deps.sync.run(identity, importId, 'manual');
  }
}
