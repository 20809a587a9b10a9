import type { Logger } from 'pino';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { Storage } from '../database/storage.port.ts';
import type { SearchIndex } from '../search/search.port.ts';
import { AppError } from '../shared/errors.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { PendingDeletion } from './account-deletion.repository.ts';

/** The queue of the purges, each a delayed job due at the end of its grace period. */
export const ACCOUNT_DELETION_QUEUE = 'account-deletion';
export const DEFAULT_DELETION_GRACE_SECONDS = 7 * 24 * 3600;

interface PurgeJob {
  accountId: string;
  /** The dueAt (ms) of the request the job was made for: a cancelled then renewed request has another. */
  dueAt: number;
}

export interface AccountDeletionDeps {
  storage: Pick<Storage, 'accounts' | 'accountDeletions' | 'sessions' | 'purgeAccount'>;
  search: Pick<SearchIndex, 'removeAccount'>;
  blobs: Pick<BlobStore, 'deletePrefix'>;
  queue: JobQueue;
  /** The sessions domain re-checks the user (auth.service.ts confirmIdentity). */
  identity: { confirmIdentity(accountId: string, password: string, totp?: string): Promise<void> };
  /** Where the account's raw messages live in the blob store (`raw/<accountId>`). */
  blobPrefixOf: (accountId: string) => string;
  clock: Clock;
  graceSeconds: number;
  logger: Logger;
}

/**
 * Self-service account deletion (issue 18 item 3): the user asks (password, and two-factor code if enabled), every
 * session ends, and the deletion waits a grace period during which signing in again shows it and lets the user
 * cancel. Then a delayed job purges the account from every engine: the search index, the blob store (raw messages,
 * whence attachments are read), and the store (Storage.purgeAccount: rows, keys, contacts...). The published key
 * goes with the account keys: WKD and DNS answer from them. The admin journal keeps its entries (an append-only
 * audit record, see docs/adr/0025-account-deletion.md).
 */
export class AccountDeletionService {
  constructor(private readonly deps: AccountDeletionDeps) {}

  async request(accountId: string, credentials: { password: string; totp?: string }): Promise<PendingDeletion> {
    const { storage, clock } = this.deps;
    await this.deps.identity.confirmIdentity(accountId, credentials.password, credentials.totp);
    const now = clock();
    const deletion: PendingDeletion = {
      accountId,
      requestedAt: now,
      dueAt: new Date(now.getTime() + this.deps.graceSeconds * 1000),
    };
    if (!(await storage.accountDeletions.schedule(deletion))) {
      const pending = await storage.accountDeletions.get(accountId);
      throw new AppError(
        'account_deletion_pending',
        pending ? `The account will be deleted at ${pending.dueAt.toISOString()}.` : undefined,
      );
    }
    try {
      await this.enqueue(deletion);
    } catch (e) {
      await storage.accountDeletions.cancel(accountId);
      throw e;
    }
    await storage.sessions.revokeByAccount(accountId, now);
    this.deps.logger.info({ accountId, dueAt: deletion.dueAt }, 'account deletion scheduled');
    return deletion;
  }

  async status(accountId: string): Promise<PendingDeletion | null> {
    return this.deps.storage.accountDeletions.get(accountId);
  }

  async cancel(accountId: string): Promise<void> {
    if (!(await this.deps.storage.accountDeletions.cancel(accountId)))
      throw new AppError('account_deletion_not_pending');
    this.deps.logger.info({ accountId }, 'account deletion cancelled');
  }

  /** The administrators' view. */
  async list(): Promise<PendingDeletion[]> {
    return this.deps.storage.accountDeletions.list();
  }

  /**
   * Runs a due purge. Nothing happens when the request was cancelled (or replaced by a later one, which has its own
   * job); a job early by the clock goes back to wait. Each step is idempotent and the pending row goes last, with
   * the store's purge, so a crash part-way is completed by the job's retry.
   */
  async purge(job: PurgeJob): Promise<'purged' | 'cancelled' | 'postponed'> {
    const { storage, clock } = this.deps;
    const pending = await storage.accountDeletions.get(job.accountId);
    if (pending === null || pending.dueAt.getTime() !== job.dueAt) return 'cancelled';
    const wait = pending.dueAt.getTime() - clock().getTime();
    if (wait > 0) {
      await this.enqueue(pending, `later-${clock().getTime()}`);
      return 'postponed';
    }
    await storage.sessions.revokeByAccount(job.accountId, clock());
    await this.deps.search.removeAccount(job.accountId);
    const blobs = await this.deps.blobs.deletePrefix(this.deps.blobPrefixOf(job.accountId));
    await storage.purgeAccount(job.accountId);
    this.deps.logger.info({ accountId: job.accountId, blobs }, 'account purged');
    return 'purged';
  }

  startWorker(): Worker {
    return this.deps.queue.process<PurgeJob>(
      ACCOUNT_DELETION_QUEUE,
      async (job) => {
        const p = job.payload;
        if (typeof p?.accountId !== 'string' || typeof p.dueAt !== 'number') return;
        await this.purge(p);
      },
      { concurrency: 1 },
    );
  }

  private async enqueue(d: PendingDeletion, suffix = ''): Promise<void> {
    const delayMs = Math.max(0, d.dueAt.getTime() - this.deps.clock().getTime());
    await this.deps.queue.enqueue<PurgeJob>(
      ACCOUNT_DELETION_QUEUE,
      'purge',
      { accountId: d.accountId, dueAt: d.dueAt.getTime() },
      {
        delayMs,
        attempts: 10,
        backoff: { type: 'exponential', baseDelayMs: 60_000 },
        jobId: `purge-${d.accountId}-${d.dueAt.getTime()}${suffix ? `-${suffix}` : ''}`,
      },
    );
  }
}
