import assert from 'node:assert/strict';
import { test } from 'vitest';
import { SqliteAccountRepository } from '../accounts/account.repository.sqlite.ts';
import { anAccount, aMessage } from '../storage/storage.conformance.ts';
import { migrateSqlite, openSqlite } from '@caliopen/platform/sqlite/sqlite.connection.ts';
import { SQLITE_MIGRATIONS } from '../storage/sqlite.migrations.ts';
import { SqliteCorrespondenceRepository } from './correspondence.repository.sqlite.ts';
import { SqliteMessageRepository } from './message.repository.sqlite.ts';

// The correspondence contract itself is in storage.conformance.ts (both engines); this checks the SQLite migration.
test('migration 5 fills the correspondence ledger from the outbound messages already stored', async () => {
  const db = openSqlite(':memory:');
  try {
    migrateSqlite(
      db,
      SQLITE_MIGRATIONS.filter((m) => m.version < 5),
      'instance',
    );
    const account = anAccount();
    await new SqliteAccountRepository(db).create(account);
    const messages = new SqliteMessageRepository(db);
    const participant = (address: string) => ({ protocol: 'email', address, name: null, contactId: null });
    await messages.put(
      aMessage(account.id, 'c1', {
        direction: 'outbound',
        externalId: '<old-sent@alpha.test>',
        to: [participant('dave@d.example'), participant('')],
        cc: [participant('erin@e.example')],
      }),
    );
    await messages.put(
      aMessage(account.id, 'c1', { direction: 'outbound', externalId: null, to: [participant('dave@d.example')] }),
    );
    await messages.put(
      aMessage(account.id, 'c2', {
        direction: 'inbound',
        externalId: '<inbound@x.example>',
        from: participant('mallory@m.example'),
      }),
    );

    migrateSqlite(db, SQLITE_MIGRATIONS, 'instance');
    const ledger = new SqliteCorrespondenceRepository(db);
    assert.deepEqual(
      [...(await ledger.sentAmong(account.id, ['<old-sent@alpha.test>', '<inbound@x.example>']))],
      ['<old-sent@alpha.test>'],
    );
    assert.equal(await ledger.hasWrittenTo(account.id, 'email', 'dave@d.example'), true);
    assert.equal(await ledger.hasWrittenTo(account.id, 'email', 'erin@e.example'), true, 'Cc counts');
    assert.equal(
      await ledger.hasWrittenTo(account.id, 'email', 'mallory@m.example'),
      false,
      'a sender of inbound mail was not written to',
    );
    assert.equal(await ledger.hasWrittenTo(account.id, 'email', ''), false);
    for (const sql of [
      'SELECT * FROM conversations WHERE account_id = ? ORDER BY importance DESC, last_message_at DESC, id DESC LIMIT 5',
      `SELECT * FROM conversations WHERE account_id = ? AND (importance, last_message_at, id) < (1, 5, 'x')
       ORDER BY importance DESC, last_message_at DESC, id DESC LIMIT 5`,
    ]) {
      const plan = JSON.stringify(db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('x'));
      assert.match(plan, /conversations_by_importance/, 'listing by importance reads the index');
      assert.doesNotMatch(plan, /TEMP B-TREE/, 'and needs no sort');
    }
  } finally {
    db.close();
  }
});
