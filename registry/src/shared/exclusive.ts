/**
 * Runs async sections one at a time, in call order: what the registry's publication path (labels, log, feed) needs so
 * that a feed is never built from a half-applied change. Within one process; across processes the storage's
 * conditional writes (log append at an expected size, feed serial after serial) refuse the loser.
 */
export class Exclusive {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(section: () => Promise<T>): Promise<T> {
    const result = this.tail.then(section, section);
    this.tail = result.catch(() => undefined);
    return result;
  }
}
