import type { AccountEvents } from '../accounts/account.events.ts';
import type { JournalRecord } from '../admin-journal/journal.service.ts';
import type { JournalRepository } from '../admin-journal/journal.repository.ts';
import type { InstanceConfig } from '../config/config.schema.ts';
import type { Storage } from '../database/storage.port.ts';
import type { CassandraStorage } from '../storage/storage.cassandra.ts';

/**
 * Opens the admin journal on the storage engine in use: its own SQLite file beside the mailbox store, or its own
 * tables (component 'admin-journal') in the instance's Cassandra keyspace.
 */
export async function openJournalRepository(config: InstanceConfig, storage: Storage): Promise<JournalRepository> {
  if (storage.engine === 'cassandra') {
    const { CassandraJournalRepository, migrateJournalKeyspace } = await import(
      '../admin-journal/journal.repository.cassandra.ts'
    );
    const s = storage as CassandraStorage;
    await migrateJournalKeyspace(s.client, s.context, {
      localDataCenter: config.storage.cassandra!.localDataCenter,
    });
    return new CassandraJournalRepository(s.context);
  }
  const { SqliteJournalRepository } = await import('../admin-journal/journal.repository.sqlite.ts');
  return SqliteJournalRepository.inDataDir(config.dataDir);
}

/** What the journal records of an account change an operator made (told by the accounts domain's event). */
export function journalRecordOf(e: AccountEvents['account.administered']): JournalRecord {
  const base = {
    at: e.at,
    actor: e.by,
    subject: { accountId: e.account.id, username: e.account.username },
  };
  const c = e.change;
  switch (c.kind) {
    case 'created':
      return { ...base, action: 'account.created', details: { role: c.role, quotaBytes: c.quotaBytes } };
    case 'quota_changed':
      return { ...base, action: 'account.quota_changed', details: { from: c.from, to: c.to } };
    case 'role_changed':
      return { ...base, action: 'account.role_changed', details: { from: c.from, to: c.to } };
    default:
      return { ...base, action: `account.${c.kind}` };
  }
}
