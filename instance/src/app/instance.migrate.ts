import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { JOB_QUEUE_SQLITE_MIGRATIONS } from '@caliopen/platform/queue/job-queue.sqlite.ts';
import {
  type Migration,
  migrateSqlite,
  openSqlite,
  pendingSqliteMigrations,
} from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { BLOB_MIGRATIONS } from '../blobs/blob-store.sqlite.ts';
import { JOURNAL_SQLITE_MIGRATIONS } from '../admin-journal/journal.repository.sqlite.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import { SPOOL_MIGRATIONS } from '../email/inbound-spool.sqlite.ts';
import { SEARCH_SQLITE_MIGRATIONS } from '../search/search.sqlite.ts';
import { SQLITE_MIGRATIONS } from '../storage/sqlite.migrations.ts';
import { openStorage } from './instance.services.ts';

/**
 * Upgrades (`caliopen instance migrate [--check]`): the embedded databases of a data directory, each with its
 * numbered migrations, checked or applied before a new release is started (a start applies them too). Which files
 * exist depends on the engines chosen: one that does not exist yet is made, current, when first used.
 */
export interface DatabaseSchema {
  /** The file in the data directory. */
  file: string;
  label: string;
  migrations: readonly Migration[];
  /** Used with these settings only (the others live in Cassandra, OpenSearch, Redis...). */
  inUse: (config: InstanceConfig) => boolean;
}

export const INSTANCE_DATABASES: readonly DatabaseSchema[] = [
  {
    file: 'instance.db',
    label: 'instance',
    migrations: SQLITE_MIGRATIONS,
    inUse: (c) => c.storage.engine === 'sqlite',
  },
  {
    file: 'queue.db',
    label: 'job queue',
    migrations: JOB_QUEUE_SQLITE_MIGRATIONS,
    inUse: (c) => c.queue.engine === 'sqlite',
  },
  {
    file: 'search.db',
    label: 'search',
    migrations: SEARCH_SQLITE_MIGRATIONS,
    inUse: (c) => c.search.engine === 'sqlite',
  },
  { file: 'blobs.db', label: 'blobs', migrations: BLOB_MIGRATIONS, inUse: (c) => c.storage.engine === 'sqlite' },
  { file: 'spool.db', label: 'spool', migrations: SPOOL_MIGRATIONS, inUse: () => true },
  { file: 'admin-journal.db', label: 'admin journal', migrations: JOURNAL_SQLITE_MIGRATIONS, inUse: () => true },
  // notices.db (before issue 15): moved into the instance storage by the first start (federation/legacy-state.import.ts).
];

export interface SchemaStatus {
  file: string;
  label: string;
  /** absent: made when first used; current: nothing to do; pending: `pending` would be applied. */
  state: 'absent' | 'current' | 'pending';
  version: number;
  latest: number;
  pending: { version: number; name: string }[];
}

/** What `migrate` would do, doing nothing: read-only connections, no file created. */
export function schemaStatus(config: InstanceConfig): SchemaStatus[] {
  return INSTANCE_DATABASES.filter((d) => d.inUse(config)).map((d) => {
    const path = join(config.dataDir, d.file);
    const latest = Math.max(0, ...d.migrations.map((m) => m.version));
    if (!existsSync(path)) return { file: d.file, label: d.label, state: 'absent', version: 0, latest, pending: [] };
    const db = openSqlite(path, { readonly: true });
    try {
      const { current, pending } = pendingSqliteMigrations(db, d.migrations, d.label);
      return {
        file: d.file,
        label: d.label,
        state: pending.length > 0 ? 'pending' : 'current',
        version: current,
        latest,
        pending: pending.map((m) => ({ version: m.version, name: m.name })),
      };
    } finally {
      db.close();
    }
  });
}

/**
 * Applies the pending migrations of every existing database (each migration in its own transaction), and, with
 * Cassandra storage, the keyspace's (under its cluster-wide lock). Resolves what was applied.
 */
export async function migrateDataDir(config: InstanceConfig): Promise<SchemaStatus[]> {
  const before = schemaStatus(config);
  for (const status of before.filter((s) => s.state === 'pending')) {
    const schema = INSTANCE_DATABASES.find((d) => d.file === status.file)!;
    const db = openSqlite(join(config.dataDir, schema.file));
    try {
      migrateSqlite(db, schema.migrations, schema.label);
    } finally {
      db.close();
    }
  }
  if (config.storage.engine === 'cassandra') await (await openStorage(config)).close();
  return before.filter((s) => s.state === 'pending');
}
