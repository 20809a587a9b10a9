import type { Logger } from 'pino';
import { deliverLocalNotice, type LocalNoticeDeps } from '../messages/local-notice.ts';

export interface OperatorNoticeDeps extends LocalNoticeDeps {
  logger: Pick<Logger, 'info' | 'error'>;
}

/**
 * Tells the instance's operators something they must act on (a certificate that could not be renewed...): a local
 * message tagged `notice` in the mailbox of every enabled admin account. Returns how many were told.
 */
export async function notifyOperators(deps: OperatorNoticeDeps, subject: string, text: string): Promise<number> {
  const told = await deliverLocalNotice(deps, {
    fromName: `${deps.domain} instance`,
    subject,
    text: `${text}\n\n-- \nThe ${deps.domain} instance\n`,
    to: (account) => account.role === 'admin',
  });
  deps.logger.info({ subject, admins: told }, 'operator notice delivered');
  return told;
}
