import type { InstanceConfig } from '../config/config.schema.ts';
import type { SearchDocument } from '../search/search.port.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { buildServices, type ServiceOptions } from './instance.services.ts';

const BATCH = 64;

/**
 * Rebuilds the search index of every account from the mailbox (after a restore: the backup holds no index). Each
 * message's document is made by the indexer itself, so the result is what live indexing would have written. Only
 * for the embedded store (the backup's engine); the search engine is the one the configuration names.
 */
export async function rebuildSearchIndex(
  config: InstanceConfig,
  options: Pick<ServiceOptions, 'env' | 'logger'> = {},
): Promise<{ accounts: number; messages: number }> {
  const services = await buildServices(config, { ...options, open: { queue: true, search: true } });
  try {
    if (!(services.storage instanceof SqliteStorage))
      throw new Error('the search index is rebuilt from the embedded store only (storage.engine sqlite).');
    const { db } = services.storage;
    const accounts = (db.prepare('SELECT id FROM accounts ORDER BY id').all() as { id: string }[]).map((r) => r.id);
    let messages = 0;
    for (const accountId of accounts) {
      await services.search.removeAccount(accountId);
      const ids = (
        db
          .prepare('SELECT id FROM messages WHERE account_id = ? AND deleted_at IS NULL ORDER BY id')
          .all(accountId) as { id: string }[]
      ).map((r) => r.id);
      for (let i = 0; i < ids.length; i += BATCH) {
        const docs: SearchDocument[] = [];
        for (const id of ids.slice(i, i + BATCH)) {
          const doc = await services.indexer.documentFor(accountId, id);
          if (doc) docs.push(doc);
        }
        if (docs.length > 0) await services.search.index(docs);
        messages += docs.length;
      }
    }
    await services.search.refresh();
    return { accounts: accounts.length, messages };
  } finally {
    await services.close();
  }
}
