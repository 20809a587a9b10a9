/** An allowance: a burst of requests, refilled at `perSecond`. */
export interface RateAllowance {
  burst: number;
  perSecond: number;
}

/**
 * A token bucket per key (a peer instance, a client address), in memory and bounded: past `maxKeys` the least
 * recently seen keys are dropped (they start again with a full burst, which only ever errs towards allowing).
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: RateAllowance,
    private readonly nowMs: () => number,
    private readonly maxKeys = 10_000,
  ) {
    if (!(rate.burst >= 1) || !(rate.perSecond > 0))
      throw new RangeError('A rate needs a burst >= 1 and perSecond > 0.');
  }

  /** Takes one token for `key`: 0 when allowed, else the whole seconds to wait before the next one (>= 1). */
  take(key: string): number {
    const now = this.nowMs();
    const b = this.buckets.get(key) ?? { tokens: this.rate.burst, at: now };
    b.tokens = Math.min(this.rate.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.rate.perSecond);
    b.at = now;
    this.buckets.delete(key);
    this.buckets.set(key, b);
    while (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.rate.perSecond));
  }
}
