import type { PeerFeed } from './peer-directory.lookup.ts';
import type { OwnStanding, PeerDirectoryOptions } from './peer-directory.types.ts';

/**
 * Standing changes and rescoring: this instance's standing caps every account's PI, so a change of it (a new feed,
 * the label lapsing with time) is told on the event bus (`standing.changed`), which sets off the recomputation of the
 * accounts' PI summaries. Part of PeerDirectory (peer-directory.ts), split out by responsibility.
 */
export class StandingWatch {
  /** The own standing last told as `standing.changed` (initially what the stored feed says). */
  private reported: OwnStanding;

  constructor(
    private readonly feed: PeerFeed,
    private readonly options: PeerDirectoryOptions,
  ) {
    this.reported = feed.standing();
  }

  /** Reports a change of own standing since the last report (a new feed, or the label lapsing with time). */
  check(): void {
    const now = this.feed.standing();
    const before = this.reported;
    this.reported = now;
    if (before.status !== now.status || before.labelValid !== now.labelValid || before.instancePi !== now.instancePi) {
      void this.options.events?.publish('standing.changed', { now, before });
    }
  }
}

/**
 * What a change of this instance's standing (label gained or lost, instance PI moved) sets off: every account's PI
 * summary is recomputed through the 'pi' queue, since the instance standing caps it. Pages through the accounts.
 */
export async function rescoreAccountSummaries(
  accounts: {
    list(options: { limit: number; afterUsername?: string }): Promise<readonly { id: string; username: string }[]>;
  },
  enqueue: (job: { kind: 'summary'; accountId: string }) => Promise<void>,
): Promise<number> {
  let queued = 0;
  let afterUsername: string | undefined;
  for (;;) {
    const page = await accounts.list({ limit: 500, ...(afterUsername ? { afterUsername } : {}) });
    for (const account of page) {
      await enqueue({ kind: 'summary', accountId: account.id });
      queued++;
    }
    if (page.length < 500) return queued;
    afterUsername = page[page.length - 1]!.username;
  }
}
