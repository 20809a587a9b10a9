/**
 * Serialises the writes that keep one mailbox consistent (a message, its conversation's counters, the contacts it
 * resolved to, merges): one runs at a time per account in this process, in call order. Reads never wait.
 *
 * Scope: one process. Several API/worker processes on a shared Cassandra each serialise their own writes; two
 * processes writing the same conversation at the same instant may leave a counter off by one (the messages
 * themselves are never lost nor duplicated: the repositories make those writes idempotent).
 */
export class MailboxLocks {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(accountId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(accountId) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => mine);
    this.tails.set(accountId, tail);
    await previous;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(accountId) === tail) this.tails.delete(accountId);
    }
  }
}
