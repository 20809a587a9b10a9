import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { ImportanceFeedback } from '../mail/importance.model.ts';
import type { Message } from '../mail/message.entity.ts';
import type { SpamFacts } from '../mail/message.facts.ts';
import type { EventPublisher } from '../shared/event-bus.ts';
import type { SpamEvents } from './spam.events.ts';
import { SpamFilterError, type LearnClass, type SpamEnvelope, type SpamFilter } from './spam-filter.port.ts';
import {
  checkedFacts,
  isUnchecked,
  rejectReply,
  rejects,
  uncheckedFacts,
  type SpamScreening,
  type SpamThresholds,
} from './spam.verdict.ts';

/** Messages filed unchecked (the filter could not answer), checked again later: one job per message copy. */
export const SPAM_CHECK_QUEUE = 'spam-check';
/** The users' junk / not junk, taught to the filter: one job per lesson (the filter may be down meanwhile). */
export const SPAM_LEARN_QUEUE = 'spam-learn';

export interface SpamCheckJob {
  accountId: string;
  messageId: string;
}

export interface SpamLearnJob {
  accountId: string;
  messageId: string;
  as: LearnClass;
}

interface Logger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/**
 * Central spam filtering (docs/adr/0020-central-spam-filtering-with-rspamd.md):
 * - **At SMTP time** (`screen`, called by the SMTP session before the spool append): the filter's score against the
 *   instance's thresholds. Far beyond junk (`rejectScore`): refused with a 5xx, the sender's server keeps it. Otherwise
 *   accepted, with the verdict in `facts.spam`: spam is filed as junk importance, never dropped. The filter down or
 *   slow: accepted and filed as `unchecked`.
 * - **Later** (`spam-check` queue): an unchecked message is checked again from its stored raw form, with backoff,
 *   and its verdict applied then (its importance moves); nothing is lost while the filter is away.
 * - **Training** (`spam-learn` queue): a user's junk teaches spam, not junk teaches ham, through the filter's
 *   controller, retried while it is away.
 * Metrics: `caliopen_spam_checks_total{when,outcome}`, `caliopen_spam_lessons_total{as,outcome}`.
 * Logs carry ids and outcomes only, never content or addresses.
 */
export class SpamService {
  private readonly checks: Counter<'when' | 'outcome'>;
  private readonly lessons: Counter<'as' | 'outcome'>;

  constructor(
    private readonly deps: {
      filter: SpamFilter;
      thresholds: SpamThresholds;
      queue: JobQueue;
      /** The stored message (read back for a re-check or a lesson). */
      message: (accountId: string, id: string) => Promise<Message | null>;
      blobs: Pick<BlobStore, 'get'>;
      /** Records the verdict on the message and moves its importance (MessageService.recordSpamVerdict). */
      applyVerdict: (accountId: string, messageId: string, spam: SpamFacts) => Promise<Message | null>;
      registry: Registry;
      clock: Clock;
      logger: Logger;
      recheck: { delayMs: number; attempts: number };
      events?: EventPublisher<SpamEvents>;
    },
  ) {
    this.checks = new Counter({
      name: 'caliopen_spam_checks_total',
      help: 'Spam filter checks by moment (smtp, recheck) and outcome (ham, spam, rejected, unchecked): the spam rate is spam+rejected over all checked.',
      labelNames: ['when', 'outcome'] as const,
      registers: [deps.registry],
    });
    this.lessons = new Counter({
      name: 'caliopen_spam_lessons_total',
      help: "Users' junk / not junk taught to the spam filter, by class and outcome (learned, already-learned, skipped, failed).",
      labelNames: ['as', 'outcome'] as const,
      registers: [deps.registry],
    });
  }

  /** The SMTP session's look at a message before it is spooled: refuse it, or accept it with its spam facts. */
  async screen(raw: Buffer, envelope: SpamEnvelope): Promise<SpamScreening> {
    const { filter, thresholds, clock } = this.deps;
    try {
      const check = await filter.check(raw, envelope);
      if (rejects(check, thresholds)) {
        this.checks.inc({ when: 'smtp', outcome: 'rejected' });
        return { kind: 'reject', reply: rejectReply(check), score: check.score };
      }
      const facts = checkedFacts(filter.name, check, thresholds, clock());
      this.checks.inc({ when: 'smtp', outcome: facts.status === 'checked' ? facts.verdict : 'unchecked' });
      return { kind: 'accept', facts };
    } catch (e) {
      if (!(e instanceof SpamFilterError)) throw e;
      this.checks.inc({ when: 'smtp', outcome: 'unchecked' });
      this.deps.logger.warn({ reason: e.reason, error: e.message }, 'spam filter unavailable: message filed unchecked');
      return { kind: 'accept', facts: uncheckedFacts(filter.name, e, clock()) };
    }
  }

  /** A message was stored: when it was filed unchecked, its re-check is queued. */
  async stored(e: { accountId: string; messageId: string; direction: 'inbound' | 'outbound' }): Promise<void> {
    if (e.direction !== 'inbound') return;
    const m = await this.deps.message(e.accountId, e.messageId);
    if (m === null || !isUnchecked(m.facts)) return;
    const { delayMs, attempts } = this.deps.recheck;
    await this.deps.queue.enqueue<SpamCheckJob>(
      SPAM_CHECK_QUEUE,
      'spam-check',
      { accountId: e.accountId, messageId: e.messageId },
      {
        jobId: `spam-check:${e.accountId}:${e.messageId}`,
        delayMs,
        attempts,
        backoff: { type: 'exponential', baseDelayMs: delayMs },
      },
    );
  }

  /** The user's word on a message: junk teaches spam, not junk teaches ham (when the filter can learn). */
  async feedback(e: { accountId: string; messageId: string; feedback: ImportanceFeedback | null }): Promise<void> {
    if (!this.deps.filter.canLearn) return;
    const as: LearnClass | null = e.feedback === 'junk' ? 'spam' : e.feedback === 'not-junk' ? 'ham' : null;
    if (as === null) return;
    await this.deps.queue.enqueue<SpamLearnJob>(
      SPAM_LEARN_QUEUE,
      'spam-learn',
      { accountId: e.accountId, messageId: e.messageId, as },
      {
        attempts: this.deps.recheck.attempts,
        backoff: { type: 'exponential', baseDelayMs: this.deps.recheck.delayMs },
      },
    );
  }

  /** Checks an unchecked message again and applies the verdict; throws while the filter cannot answer (retried). */
  async recheck(job: SpamCheckJob): Promise<'applied' | 'nothing-to-do'> {
    const { filter, thresholds, clock } = this.deps;
    const m = await this.deps.message(job.accountId, job.messageId);
    if (m === null || !isUnchecked(m.facts)) return 'nothing-to-do';
    const raw = m.rawRef === null ? null : await this.deps.blobs.get(m.rawRef);
    if (raw === null) return 'nothing-to-do';
    const transport = (m.facts.transport ?? null) as { clientIp?: unknown; helo?: unknown } | null;
    const check = await filter.check(raw, {
      clientIp: typeof transport?.clientIp === 'string' ? transport.clientIp : null,
      helo: typeof transport?.helo === 'string' ? transport.helo : null,
    });
    const facts = checkedFacts(filter.name, check, thresholds, clock());
    const verdict = facts.status === 'checked' ? facts.verdict : 'ham';
    await this.deps.applyVerdict(job.accountId, job.messageId, facts);
    this.checks.inc({ when: 'recheck', outcome: verdict });
    this.deps.logger.info({ messageId: job.messageId, verdict }, 'spam filter: unchecked message checked');
    await this.deps.events?.publish('spam.rechecked', { accountId: job.accountId, messageId: job.messageId, verdict });
    return 'applied';
  }

  /** Teaches one message; throws while the filter cannot take it (retried), never for a lesson it declines. */
  async learn(job: SpamLearnJob): Promise<void> {
    const m = await this.deps.message(job.accountId, job.messageId);
    const raw = m === null || m.rawRef === null ? null : await this.deps.blobs.get(m.rawRef);
    if (raw === null) return;
    try {
      const outcome = await this.deps.filter.learn(raw, job.as);
      this.lessons.inc({ as: job.as, outcome });
    } catch (e) {
      this.lessons.inc({ as: job.as, outcome: 'failed' });
      if (e instanceof SpamFilterError)
        this.deps.logger.warn({ messageId: job.messageId, reason: e.reason }, 'spam filter: lesson not taken yet');
      throw e;
    }
  }

  /** The workers of the re-check and lesson queues (startInstance runs them). */
  startWorkers(): Worker[] {
    const valid = (p: unknown): p is SpamCheckJob => {
      const o = p as Partial<SpamCheckJob> | null;
      return typeof o?.accountId === 'string' && typeof o.messageId === 'string';
    };
    return [
      this.deps.queue.process<SpamCheckJob>(
        SPAM_CHECK_QUEUE,
        async (job) => {
          if (!valid(job.payload)) return; // a malformed job is dropped, not retried
          await this.recheck(job.payload);
        },
        { concurrency: 2 },
      ),
      this.deps.queue.process<SpamLearnJob>(
        SPAM_LEARN_QUEUE,
        async (job) => {
          const p = job.payload;
          if (!valid(p) || (p.as !== 'spam' && p.as !== 'ham')) return;
          await this.learn(p);
        },
        { concurrency: 1 },
      ),
    ];
  }
}
