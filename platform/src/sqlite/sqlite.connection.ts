import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDb = Database.Database;

/**
 * Opens (creating when needed) an SQLite database in WAL mode with the pragmas every embedded store of the instance
 * uses. `synchronous=FULL` makes each commit durable before it returns: callers that acknowledge something to the
 * outside (a 250 to an SMTP client, a 2xx to an API client) only do so after the commit.
 * Use ':memory:' for throwaway databases in tests.
 */
export function openSqlite(path: string, options: { readonly?: boolean } = {}): SqliteDb {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly: options.readonly ?? false });
  if (!options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  }
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Applies, in order and each in its own transaction, the migrations whose version is above the database's
 * `user_version`. Idempotent. Resolves the resulting version. Refuses a database newer than the code.
 */
export function migrateSqlite(
  db: SqliteDb,
  migrations: readonly Migration[],
  label: string,
  options: { upTo?: number } = {},
): number {
  const sorted = [...migrations]
    .sort((a, b) => a.version - b.version)
    .filter((m) => options.upTo === undefined || m.version <= options.upTo);
  const latest = sorted.at(-1)?.version ?? 0;
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > latest) {
    throw new Error(
      `${label} database schema is version ${current}, newer than this code (${latest}): upgrade the software, or restore a backup.`,
    );
  }
  for (const m of sorted) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
  return Math.max(current, latest);
}

/**
 * What `migrateSqlite` would apply to this database, applying nothing: its version, the code's latest, and the
 * pending migrations in order. Refuses a database newer than the code, as migrateSqlite does.
 */
export function pendingSqliteMigrations(
  db: SqliteDb,
  migrations: readonly Migration[],
  label: string,
): { current: number; latest: number; pending: Migration[] } {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  const latest = sorted.at(-1)?.version ?? 0;
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > latest) {
    throw new Error(
      `${label} database schema is version ${current}, newer than this code (${latest}): upgrade the software, or restore a backup.`,
    );
  }
  return { current, latest, pending: sorted.filter((m) => m.version > current) };
}
