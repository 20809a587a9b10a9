import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { buildMime } from '../mail/compose.mime.ts';
import { LOCAL_FACTS } from '../mail/message.facts.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';

export interface OperatorNoticeDeps {
  domain: string;
  accounts: {
    list(options: {
      limit: number;
      afterUsername?: string;
    }): Promise<readonly { id: string; username: string; role: string; disabled?: boolean }[]>;
  };
  ingest: MessageIngest;
  clock: () => Date;
  logger: Pick<Logger, 'info' | 'error'>;
}

/**
 * Tells the instance's operators something they must act on (a certificate that could not be renewed...): a local
 * message tagged `notice` in the mailbox of every enabled admin account. Returns how many were told.
 */
export async function notifyOperators(deps: OperatorNoticeDeps, subject: string, text: string): Promise<number> {
  let told = 0;
  let afterUsername: string | undefined;
  for (;;) {
    const page = await deps.accounts.list({ limit: 500, ...(afterUsername ? { afterUsername } : {}) });
    for (const account of page) {
      if (account.disabled || account.role !== 'admin') continue;
      const raw = await buildMime({
        from: { name: `${deps.domain} instance`, address: `postmaster@${deps.domain}` },
        to: [{ name: null, address: `${account.username}@${deps.domain}` }],
        cc: [],
        bcc: [],
        subject,
        text: `${text}\n\n-- \nThe ${deps.domain} instance\n`,
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
    if (page.length < 500) break;
    afterUsername = page[page.length - 1]!.username;
  }
  deps.logger.info({ subject, admins: told }, 'operator notice delivered');
  return told;
}
