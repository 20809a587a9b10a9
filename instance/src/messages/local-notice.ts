import { randomUUID } from 'node:crypto';
import type { MessageIngest } from './message-ingest.port.ts';
import { buildMime } from '../mail/compose.mime.ts';
import { LOCAL_FACTS } from '../mail/message.facts.ts';

/** An account as the notice walk reads it. */
export interface NoticeRecipient {
  id: string;
  username: string;
  role?: string;
  disabled?: boolean;
}

export interface LocalNoticeDeps {
  domain: string;
  accounts: {
    list(options: { limit: number; afterUsername?: string }): Promise<readonly NoticeRecipient[]>;
  };
  ingest: MessageIngest;
  clock: () => Date;
}

const PAGE = 500;

/**
 * The instance writing to its own users: one local message from postmaster, tagged `notice`, filed unread in the
 * mailbox of every enabled account `to` keeps (walked by username, a page at a time). Returns how many were told.
 */
export async function deliverLocalNotice(
  deps: LocalNoticeDeps,
  notice: { fromName: string; subject: string; text: string; to?: (account: NoticeRecipient) => boolean },
): Promise<number> {
  let told = 0;
  let afterUsername: string | undefined;
  for (;;) {
    const page = await deps.accounts.list({ limit: PAGE, ...(afterUsername ? { afterUsername } : {}) });
    for (const account of page) {
      if (account.disabled || (notice.to && !notice.to(account))) continue;
      const raw = await buildMime({
        from: { name: notice.fromName, address: `postmaster@${deps.domain}` },
        to: [{ name: null, address: `${account.username}@${deps.domain}` }],
        cc: [],
        bcc: [],
        subject: notice.subject,
        text: notice.text,
        html: null,
        attachments: [],
        messageId: `<${randomUUID()}@${deps.domain}>`,
        date: deps.clock(),
        inReplyTo: null,
        references: [],
      });
      await deps.ingest.ingest({
        accountId: account.id,
        raw,
        direction: 'inbound',
        receivedAt: deps.clock(),
        facts: LOCAL_FACTS,
        tags: ['notice'],
        read: false,
      });
      told++;
    }
    if (page.length < PAGE) break;
    afterUsername = page[page.length - 1]!.username;
  }
  return told;
}
