import { clientKey } from '../shared/client-key.ts';

export { clientKey };

/**
 * Per-client limits of the SMTP server: concurrent connections and messages per minute, counted per client address
 * (IPv4 address, or IPv6 /64 — one customer's network — so a sender cannot dodge the limit by rotating addresses
 * inside its own prefix).
 */
export interface ClientLimitsOptions {
  /** 0 = no limit. */
  maxConnectionsPerIp: number;
  /** 0 = no limit. */
  messagesPerMinutePerIp: number;
  now?: () => number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class ClientLimits {
  private readonly connections = new Map<string, number>();
  private readonly buckets = new Map<string, Bucket>();
  private readonly now: () => number;
  private lastSweep: number;

  constructor(private readonly options: ClientLimitsOptions) {
    this.now = options.now ?? Date.now;
    this.lastSweep = this.now();
  }

  /** Counts a new connection; false (nothing counted) when the client already holds the maximum. */
  openConnection(ip: string): boolean {
    const key = clientKey(ip);
    const n = this.connections.get(key) ?? 0;
    if (this.options.maxConnectionsPerIp > 0 && n >= this.options.maxConnectionsPerIp) return false;
    this.connections.set(key, n + 1);
    return true;
  }

  closeConnection(ip: string): void {
    const key = clientKey(ip);
    const n = (this.connections.get(key) ?? 0) - 1;
    if (n > 0) this.connections.set(key, n);
    else this.connections.delete(key);
  }

  /** Takes one message from the client's allowance (a token bucket refilled evenly over the minute). */
  takeMessage(ip: string): boolean {
    const perMinute = this.options.messagesPerMinutePerIp;
    if (perMinute <= 0) return true;
    const now = this.now();
    this.sweep(now);
    const key = clientKey(ip);
    const bucket = this.buckets.get(key) ?? { tokens: perMinute, at: now };
    bucket.tokens = Math.min(perMinute, bucket.tokens + ((now - bucket.at) * perMinute) / 60_000);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Forgets buckets that have refilled: memory stays proportional to the clients of the last minute. */
  private sweep(now: number): void {
    if (now - this.lastSweep < 60_000) return;
    this.lastSweep = now;
    for (const [key, b] of this.buckets) if (now - b.at >= 60_000) this.buckets.delete(key);
  }
}
