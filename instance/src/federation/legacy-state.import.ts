import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { Storage } from '../database/storage.port.ts';
import type { StoredPrekey } from './prekey.repository.ts';

/**
 * Moves what older versions kept in per-node files in the data directory into the instance's storage, once:
 * `federation/sharing.db` (the users' trust-sharing choices), `federation/replay.db` (live replay entries and their
 * receipts), `federation/prekeys.json` (the prekeys, private halves still sealed) and `notices.db` (the users'
 * notices and dismissals). Each file is renamed `*.imported` afterwards, so the import runs once and the file stays
 * for inspection (an imported prekeys file still holds sealed private halves: it is deleted instead, for forward
 * secrecy). Resolves how many entries were moved.
 */
export async function importLegacyFederationState(
  dataDir: string,
  storage: Pick<Storage, 'replay' | 'trustSharing' | 'prekeys' | 'notices'>,
  nowSeconds: number,
): Promise<{ sharing: number; replay: number; prekeys: number; notices: number }> {
  const moved = { sharing: 0, replay: 0, prekeys: 0, notices: 0 };
  const sharingPath = join(dataDir, 'federation', 'sharing.db');
  if (existsSync(sharingPath)) {
    const db = openSqlite(sharingPath);
    try {
      const rows = db.prepare('SELECT account_id, share, updated_at FROM trust_sharing').all() as {
        account_id: string;
        share: number;
        updated_at: number;
      }[];
      for (const r of rows) {
        await storage.trustSharing.setSharesTrust(r.account_id, r.share === 1, new Date(r.updated_at));
        moved.sharing++;
      }
    } finally {
      db.close();
    }
    renameSync(sharingPath, `${sharingPath}.imported`);
  }
  const replayPath = join(dataDir, 'federation', 'replay.db');
  if (existsSync(replayPath)) {
    const db = openSqlite(replayPath);
    try {
      const rows = db.prepare('SELECT key, until, receipt FROM replay WHERE until > ?').all(nowSeconds) as {
        key: string;
        until: number;
        receipt: string | null;
      }[];
      for (const r of rows) {
        if ((await storage.replay.rememberOnce(r.key, r.until, nowSeconds)) === 'fresh') moved.replay++;
        if (r.receipt !== null) await storage.replay.setReceipt(r.key, r.receipt);
      }
    } finally {
      db.close();
    }
    renameSync(replayPath, `${replayPath}.imported`);
  }
  const prekeysPath = join(dataDir, 'federation', 'prekeys.json');
  if (existsSync(prekeysPath)) {
    const parsed = JSON.parse(readFileSync(prekeysPath, 'utf8')) as { version?: number; prekeys?: StoredPrekey[] };
    if (parsed.version !== 1 || !Array.isArray(parsed.prekeys))
      throw new Error(`${prekeysPath} is not a prekey file of version 1: move it away and start again.`);
    for (const entry of parsed.prekeys) if (await storage.prekeys.claimSlot(entry)) moved.prekeys++;
    rmSync(prekeysPath);
  }
  const noticesPath = join(dataDir, 'notices.db');
  if (existsSync(noticesPath)) {
    const db = openSqlite(noticesPath);
    try {
      // New ids are given; the dismissals follow them (a standing notice without a record keeps its fixed id).
      const ids = new Map<string, string>();
      const failures = db
        .prepare('SELECT id, account_id, message_id, at, recipients FROM delivery_failure ORDER BY at')
        .all() as { id: string; account_id: string; message_id: string; at: number; recipients: string }[];
      for (const f of failures) {
        const record = await storage.notices.addDeliveryFailure({
          accountId: f.account_id,
          messageId: f.message_id,
          at: new Date(f.at),
          recipients: JSON.parse(f.recipients),
        });
        ids.set(f.id, record.id);
        moved.notices++;
      }
      const changes = db.prepare('SELECT id, at, change, status, reason FROM standing_change ORDER BY at').all() as {
        id: string;
        at: number;
        change: 'stopped' | 'resumed';
        status: string;
        reason: string | null;
      }[];
      for (const c of changes) {
        const record = await storage.notices.addStandingChange({
          at: new Date(c.at),
          change: c.change,
          status: c.status,
          reason: c.reason,
        });
        ids.set(c.id, record.id);
        moved.notices++;
      }
      const dismissed = db.prepare('SELECT account_id, notice_id, at FROM dismissed').all() as {
        account_id: string;
        notice_id: string;
        at: number;
      }[];
      for (const d of dismissed)
        await storage.notices.dismiss(d.account_id, ids.get(d.notice_id) ?? d.notice_id, new Date(d.at));
    } finally {
      db.close();
    }
    renameSync(noticesPath, `${noticesPath}.imported`);
  }
  return moved;
}
