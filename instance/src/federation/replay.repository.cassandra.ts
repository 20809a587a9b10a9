import type { ReplayVerdict } from '@caliopen/federation-protocol';
import { textOrNull, toNumber } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import { TABLES } from '../database/cassandra.schema.ts';
import type { CassandraContext } from '@caliopen/platform/cassandra/cassandra.context.ts';
import type { ReplayRepository } from './replay.repository.ts';

/** Cassandra's largest TTL (20 years); a claim never asks for more. */
const MAX_TTL_SECONDS = 20 * 365 * 24 * 3600;
/** How many times a claim that found an entry expired by our clock (but still alive by its TTL) clears it and retries. */
const EXPIRED_RETRIES = 3;

const ttlUntil = (until: number, now: number) => Math.min(MAX_TTL_SECONDS, Math.max(1, Math.ceil(until - now)));

/**
 * The replay record on Cassandra (table federation_replay, one partition per key). A claim is one lightweight
 * transaction, `INSERT ... IF NOT EXISTS USING TTL` (until - now: the entry disappears when the envelope can no longer
 * be accepted anyway), so of two processes claiming one key exactly one wins. Every write to the table is an LWT
 * (the receipt, the release), as the schema's rules require for a cell written by one. Never answers `full`.
 */
export class CassandraReplayRepository implements ReplayRepository {
  private readonly ctx: CassandraContext;
  private readonly q;

  constructor(ctx: CassandraContext) {
    this.ctx = ctx;
    const t = ctx.table(TABLES.federationReplay);
    this.q = {
      claim: `INSERT INTO ${t} (key, until) VALUES (?, ?) IF NOT EXISTS USING TTL ?`,
      clearExpired: `DELETE FROM ${t} WHERE key = ? IF until = ?`,
      forget: `DELETE FROM ${t} WHERE key = ? IF EXISTS`,
      entry: `SELECT until, TTL(until) AS ttl_left, receipt FROM ${t} WHERE key = ?`,
      setReceipt: `UPDATE ${t} USING TTL ? SET receipt = ? WHERE key = ? IF until = ?`,
    };
  }

  async rememberOnce(key: string, until: number, now: number): Promise<ReplayVerdict> {
    for (let attempt = 0; attempt <= EXPIRED_RETRIES; attempt++) {
      const claim = await this.ctx.lwt(this.q.claim, [key, until, ttlUntil(until, now)]);
      if (claim.applied) return 'fresh';
      const held = claim.row ? toNumber(claim.row.get('until'), Number.NaN) : Number.NaN;
      if (Number.isNaN(held) || held > now) return 'seen';
      // Expired by the caller's clock, not yet by the server's TTL (clocks differ by a little): clear it, claim again.
      await this.ctx.lwt(this.q.clearExpired, [key, held]);
    }
    return 'seen';
  }

  async forget(key: string): Promise<void> {
    await this.ctx.lwt(this.q.forget, [key]);
  }

  async setReceipt(key: string, receipt: string): Promise<void> {
    const row = await this.ctx.serialOne(this.q.entry, [key]);
    if (row === null) return;
    const ttlLeft = toNumber(row.get('ttl_left'), 0);
    if (ttlLeft <= 0) return;
    await this.ctx.lwt(this.q.setReceipt, [ttlLeft, receipt, key, row.get('until')]);
  }

  async receiptOf(key: string): Promise<string | null> {
    const row = await this.ctx.serialOne(this.q.entry, [key]);
    return row ? textOrNull(row.get('receipt')) : null;
  }
}
