import type { CassandraContext } from '@caliopen/platform/cassandra/cassandra.context.ts';
import { dayBucket } from '@caliopen/platform/cassandra/cassandra.schema.ts';
import { TABLES } from '../database/cassandra.schema.ts';
import type { AccountRepository } from '../accounts/account.repository.ts';
import type { ContactRepository } from '../contacts/contact.repository.ts';
import type { ConversationRepository } from '../conversations/conversation.repository.ts';
import type { RemoteIdentityRepository } from '../identities/remote-identity.repository.ts';
import type { MessageRepository } from '../messages/message.repository.ts';
import type { Message } from '../mail/message.entity.ts';
import { ACCOUNT_DELETIONS_SCOPE } from '../account-deletion/account-deletion.repository.cassandra.ts';
import { IMPORTANCE_LEVELS, IMPORTANCE_VALUES } from '../mail/importance.model.ts';

export interface CassandraPurgeDeps {
  ctx: CassandraContext;
  accounts: AccountRepository;
  messages: MessageRepository;
  conversations: ConversationRepository;
  contacts: ContactRepository;
  remoteIdentities: RemoteIdentityRepository;
}

/** Tables partitioned by `account_id` alone: one partition delete each. */
const ACCOUNT_PARTITIONS = [
  TABLES.devicesByAccount,
  TABLES.devicePi,
  TABLES.sessionsByAccount,
  TABLES.contactsByName,
  TABLES.contactsByAccount,
  TABLES.conversationsByAccount,
  TABLES.conversationActivityMonths,
  TABLES.messageCounts,
  TABLES.messagesPendingDecryption,
  TABLES.remoteIdentitiesByAccount,
  TABLES.correspondentKeyConflicts,
  TABLES.accountKeys,
  TABLES.accountPi,
  TABLES.trustSharing,
  TABLES.noticeDeliveryFailures,
  TABLES.noticeDismissals,
  TABLES.xmppAccountsByAccount,
  TABLES.appPasswords,
  TABLES.sendAsRelays,
] as const;

const addressesOf = (m: Message) => [m.from, ...m.to, ...m.cc];

/**
 * Storage.purgeAccount on Cassandra. Every partition of the account is found from the account's own tables: the
 * conversations from conversations_by_account, their months from message_months and conversation_activity_months,
 * the messages from messages_by_conversation; the correspondents' keys (partitioned by account and address) from
 * the addresses the account has met (its messages, contacts, key conflicts). What holds a uniqueness claim
 * (messages, contacts, conversations, the username) goes through the owner's release (an LWT, as every write of a
 * claimed cell must), the rest is plain idempotent deletes. Keys and ledgers go before the messages they are found
 * from, the account row last, so that running the purge again after an interruption finds what is left.
 *
 * A correspondent key stored for an address the account never met in a message or a contact (a lookup for an
 * address never written to) has no index to find it by and is not removed: it holds a public key, no content.
 */
export async function purgeAccountCassandra(deps: CassandraPurgeDeps, accountId: string): Promise<void> {
  const { ctx } = deps;
  const t = (name: string) => ctx.table(name);
  const rows = (query: string, params: unknown[]) => ctx.rows(query, params);
  const del = (query: string, params: unknown[]) => ctx.write(query, params);

  const account = await deps.accounts.get(accountId);

  // 1. What the account holds, from its own listings.
  const conversations = await rows(
    `SELECT conversation_id FROM ${t(TABLES.conversationsByAccount)} WHERE account_id = ?`,
    [accountId],
  );
  const conversationIds = conversations.map((r) => r.get('conversation_id') as string);
  const messages: Message[] = [];
  const monthsByConversation = new Map<string, number[]>();
  for (const conversationId of conversationIds) {
    const months = (
      await rows(`SELECT month FROM ${t(TABLES.messageMonths)} WHERE account_id = ? AND conversation_id = ?`, [
        accountId,
        conversationId,
      ])
    ).map((r) => r.get('month') as number);
    monthsByConversation.set(conversationId, months);
    for (const month of months) {
      const keys = await rows(
        `SELECT message_id FROM ${t(TABLES.messagesByConversation)} WHERE account_id = ? AND conversation_id = ? AND month = ?`,
        [accountId, conversationId, month],
      );
      for (const k of keys) {
        const m = await deps.messages.get(accountId, k.get('message_id') as string);
        if (m !== null) messages.push(m);
      }
    }
  }
  const contactIds = (
    await rows(`SELECT contact_id FROM ${t(TABLES.contactsByAccount)} WHERE account_id = ?`, [accountId])
  ).map((r) => r.get('contact_id') as string);
  const addresses = new Set<string>();
  for (const m of messages) for (const p of addressesOf(m)) addresses.add(p.address);
  for (const id of contactIds) {
    const c = await deps.contacts.get(accountId, id);
    for (const i of c?.identities ?? []) addresses.add(i.address);
  }
  for (const r of await rows(`SELECT address FROM ${t(TABLES.correspondentKeyConflicts)} WHERE account_id = ?`, [
    accountId,
  ]))
    addresses.add(r.get('address') as string);

  // 2. Keys of correspondents and the correspondence ledger (found from the messages, so before them).
  for (const address of addresses)
    await del(`DELETE FROM ${t(TABLES.correspondentKeys)} WHERE account_id = ? AND address = ?`, [accountId, address]);
  for (const m of messages) {
    if (m.direction !== 'outbound') continue;
    if (m.externalId !== null)
      await del(`DELETE FROM ${t(TABLES.sentMessageIds)} WHERE account_id = ? AND external_id = ?`, [
        accountId,
        m.externalId,
      ]);
    for (const p of [...m.to, ...m.cc])
      await del(`DELETE FROM ${t(TABLES.writtenAddresses)} WHERE account_id = ? AND protocol = ? AND address = ?`, [
        accountId,
        p.protocol,
        p.address,
      ]);
  }

  // 3. Messages (their dedupe claims released by the repository), then what listed them.
  for (const m of messages) await deps.messages.purge(accountId, m.id);
  for (const [conversationId, months] of monthsByConversation) {
    for (const month of months)
      await del(
        `DELETE FROM ${t(TABLES.messagesByConversation)} WHERE account_id = ? AND conversation_id = ? AND month = ?`,
        [accountId, conversationId, month],
      );
    await del(`DELETE FROM ${t(TABLES.messageMonths)} WHERE account_id = ? AND conversation_id = ?`, [
      accountId,
      conversationId,
    ]);
  }

  // 4. Conversations (their key claims released), and every activity / importance partition of the account.
  for (const id of conversationIds) await deps.conversations.delete(accountId, id);
  const activityMonths = (
    await rows(`SELECT month FROM ${t(TABLES.conversationActivityMonths)} WHERE account_id = ?`, [accountId])
  ).map((r) => r.get('month') as number);
  for (const month of activityMonths) {
    await del(`DELETE FROM ${t(TABLES.conversationsByActivity)} WHERE account_id = ? AND month = ?`, [
      accountId,
      month,
    ]);
    for (const level of IMPORTANCE_LEVELS)
      await del(
        `DELETE FROM ${t(TABLES.conversationsByImportance)} WHERE account_id = ? AND importance = ? AND month = ?`,
        [accountId, IMPORTANCE_VALUES[level], month],
      );
  }

  // 5. Contacts (identity claims released), remote identities (with their folder states), sessions.
  for (const id of contactIds) await deps.contacts.delete(accountId, id);
  for (const identity of await deps.remoteIdentities.listByAccount(accountId))
    await deps.remoteIdentities.delete(accountId, identity.id);
  const sessions = await rows(
    `SELECT session_id, token_hash, expires_at FROM ${t(TABLES.sessionsByAccount)} WHERE account_id = ?`,
    [accountId],
  );
  for (const r of sessions) {
    const expiresAt = r.get('expires_at') as Date;
    await del(`DELETE FROM ${t(TABLES.sessionsByTokenHash)} WHERE token_hash = ?`, [r.get('token_hash')]);
    await del(`DELETE FROM ${t(TABLES.sessionsByExpiry)} WHERE expiry_day = ? AND expires_at = ? AND session_id = ?`, [
      dayBucket(expiresAt),
      expiresAt,
      r.get('session_id'),
    ]);
  }

  // 6. Every partition keyed by the account alone.
  for (const table of ACCOUNT_PARTITIONS) await del(`DELETE FROM ${t(table)} WHERE account_id = ?`, [accountId]);

  // 7. The pending deletion, then the account itself, last: its username claim (LWT), its directory row, its usage (LWT-only), its row.
  await ctx.lwt(`DELETE FROM ${t(TABLES.accountDeletions)} WHERE scope = ? AND account_id = ? IF EXISTS`, [
    ACCOUNT_DELETIONS_SCOPE,
    accountId,
  ]);
  if (account !== null) {
    await ctx.claims(TABLES.accountsByUsername, ['username'], 'account_id').release([account.username], accountId);
    await del(`DELETE FROM ${t(TABLES.accountDirectory)} WHERE directory = ? AND username = ?`, [
      'accounts',
      account.username,
    ]);
  }
  await ctx.lwt(`DELETE FROM ${t(TABLES.accountUsage)} WHERE account_id = ? IF EXISTS`, [accountId]);
  await del(`DELETE FROM ${t(TABLES.accountsById)} WHERE account_id = ?`, [accountId]);
}
