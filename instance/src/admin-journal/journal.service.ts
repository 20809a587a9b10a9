import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import {
  ChainVerifier,
  type ChainVerdict,
  type JournalAction,
  type JournalActor,
  type JournalDetails,
  type JournalEntry,
  readEntry,
  sealEntry,
} from './journal.entity.ts';
import type { JournalQuery, JournalRepository } from './journal.repository.ts';

/** An action to record: the journal numbers, times (when not given) and chains it. */
export interface JournalRecord {
  at?: Date;
  actor: JournalActor;
  action: JournalAction;
  subject: { accountId: string; username: string } | null;
  details?: JournalDetails;
}

const PAGE = 500;

/** The admin actions journal: records operator actions (told by events), lists, exports and verifies them. */
export class AdminJournalService {
  constructor(
    private readonly repository: JournalRepository,
    private readonly clock: Clock,
  ) {}

  /** Appends one entry after the current head; retried when another writer took the position first. */
  async record(r: JournalRecord): Promise<JournalEntry> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const head = await this.repository.head();
      const stored = sealEntry(head, {
        at: (r.at ?? this.clock()).toISOString(),
        actor: r.actor,
        action: r.action,
        subject: r.subject,
        details: r.details ?? {},
      });
      if (await this.repository.append(stored)) return readEntry(stored);
    }
    throw new Error('admin journal: could not append after 50 attempts (too many concurrent writers)');
  }

  /** A page, newest first; `next` continues below the last entry (null: no more). */
  async list(query: JournalQuery): Promise<{ items: JournalEntry[]; next: number | null }> {
    const rows = await this.repository.list(query);
    return { items: rows.map(readEntry), next: rows.length === query.limit ? rows.at(-1)!.seq : null };
  }

  /** Every matching entry, newest first, page after page (the JSON Lines export). */
  async *all(query: Omit<JournalQuery, 'limit' | 'beforeSeq'>): AsyncGenerator<JournalEntry> {
    let beforeSeq: number | undefined;
    for (;;) {
      const rows = await this.repository.list({ ...query, limit: PAGE, ...(beforeSeq ? { beforeSeq } : {}) });
      for (const r of rows) yield readEntry(r);
      if (rows.length < PAGE) return;
      beforeSeq = rows.at(-1)!.seq;
    }
  }

  /** Walks the whole journal from its first entry and checks the hash chain. */
  async verify(): Promise<ChainVerdict> {
    const verifier = new ChainVerifier();
    let from = 1;
    for (;;) {
      const rows = await this.repository.range(from, PAGE);
      for (const r of rows) if (!verifier.add(r)) return verifier.verdict();
      if (rows.length < PAGE) return verifier.verdict();
      from = rows.at(-1)!.seq + 1;
    }
  }
}
