import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { AppError } from '../shared/errors.ts';
import type { NoticeRepository } from './notice.repository.ts';

/** The standings under which this instance does not federate, told to its users even without a recorded change. */
const STOPPED = new Set(['revoked', 'suspended', 'expired']);

export type Notice =
  | {
      id: string;
      kind: 'standing';
      at: Date | null;
      /** stopped: federation stopped for this instance; resumed: labelled again. */
      change: 'stopped' | 'resumed';
      status: string;
      reason: string | null;
      dismissed: boolean;
    }
  | {
      id: string;
      kind: 'delivery';
      at: Date;
      messageId: string;
      /** The Sent copy's discussion and subject (null once the user deleted it). */
      conversationId: string | null;
      subject: string | null;
      recipients: { address: string; status: string; diagnostic: string }[];
      dismissed: boolean;
    };

/**
 * What the user should know that is not a message: this instance's standing at the registry (when federation stopped
 * or resumed) and the deliveries of their sent messages that failed, newest first; each dismissable, kept dismissed.
 */
export class NoticeService {
  constructor(
    private readonly deps: {
      store: NoticeRepository;
      clock: Clock;
      /** This instance's standing now (null: federation is off, nothing to tell). */
      standing: () => { status: string } | null;
      /** The Sent copy a failure is about (null: deleted since). */
      sentCopy: (accountId: string, messageId: string) => Promise<{ conversationId: string; subject: string } | null>;
    },
  ) {}

  async list(accountId: string): Promise<Notice[]> {
    const { store } = this.deps;
    const dismissed = await store.dismissed(accountId);
    const out: Notice[] = [];
    const change = await store.lastStandingChange();
    const now = this.deps.standing();
    if (change !== null && now !== null) {
      out.push({ ...change, kind: 'standing', dismissed: dismissed.has(change.id) });
    } else if (now !== null && STOPPED.has(now.status)) {
      // Federation is off and no change was recorded (it stopped before this instance kept notices): told as it is.
      const id = `standing-${now.status}`;
      out.push({
        id,
        kind: 'standing',
        at: null,
        change: 'stopped',
        status: now.status,
        reason: null,
        dismissed: dismissed.has(id),
      });
    }
    for (const f of await store.deliveryFailures(accountId)) {
      const copy = await this.deps.sentCopy(accountId, f.messageId);
      out.push({
        id: f.id,
        kind: 'delivery',
        at: f.at,
        messageId: f.messageId,
        conversationId: copy?.conversationId ?? null,
        subject: copy?.subject ?? null,
        recipients: f.recipients.map((r) => ({ address: r.address, status: r.status, diagnostic: r.diagnostic })),
        dismissed: dismissed.has(f.id),
      });
    }
    return out;
  }

  /** Dismisses one of the account's notices for good; an id that is not one of them is a 404. */
  async dismiss(accountId: string, id: string): Promise<void> {
    const notices = await this.list(accountId);
    if (!notices.some((n) => n.id === id)) throw new AppError('not_found', 'No such notice.');
    await this.deps.store.dismiss(accountId, id, this.deps.clock());
  }
}
