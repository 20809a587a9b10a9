import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import type { Storage } from '../database/storage.port.ts';

/**
 * Moves what older versions kept in per-node SQLite files beside the data directory into the instance's storage,
 * once: `federation/sharing.db` (the users' trust-sharing choices) and `federation/replay.db` (live replay entries and
 * their receipts). Each file is renamed `*.imported` afterwards, so the import runs once and the file stays for
 * inspection. Resolves how many entries were moved.
 */
export async function importLegacyFederationState(
  dataDir: string,
  storage: Pick<Storage, 'replay' | 'trustSharing'>,
  nowSeconds: number,
): Promise<{ sharing: number; replay: number }> {
  const moved = { sharing: 0, replay: 0 };
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
  return moved;
}
