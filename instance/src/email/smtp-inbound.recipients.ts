import type { Account } from '../accounts/account.entity.ts';
import { USERNAME_PATTERN } from '../accounts/account.entity.ts';
import type { AccountRepository } from '../accounts/account.repository.ts';

/**
 * Who an RCPT TO address is on this instance: `<username>@<domain>` (case-insensitive; `username+tag@` is delivered
 * to `username`), and `postmaster@` (RFC 5321 §4.5.1: always accepted) to the account named postmaster or else the
 * first administrator. The SMTP reply for each refusal is part of the decision, with its enhanced status code.
 */
export type RecipientDecision = { accept: true; accountId: string } | { accept: false; code: number; message: string };

export interface RecipientResolver {
  resolve(address: string, declaredSize: number): Promise<RecipientDecision>;
}

const refuse = (code: number, message: string): RecipientDecision => ({ accept: false, code, message });

export function createRecipientResolver(accounts: AccountRepository, domain: string): RecipientResolver {
  const ownDomain = domain.toLowerCase();

  async function postmaster(): Promise<Account | null> {
    const named = await accounts.getByUsername('postmaster');
    if (named && !named.disabled) return named;
    let after: string | undefined;
    for (;;) {
      const page = await accounts.list({ limit: 200, ...(after ? { afterUsername: after } : {}) });
      const admin = page.find((a) => a.role === 'admin' && !a.disabled);
      if (admin) return admin;
      if (page.length < 200) return null;
      after = page.at(-1)!.username;
    }
  }

  return {
    async resolve(address, declaredSize) {
      const at = address.lastIndexOf('@');
      const local = (at < 0 ? address : address.slice(0, at)).toLowerCase();
      const addrDomain =
        at < 0
          ? ''
          : address
              .slice(at + 1)
              .toLowerCase()
              .replace(/\.$/, '');
      if (at >= 0 && addrDomain !== ownDomain) {
        return refuse(550, `5.7.1 <${address}>: relay access denied, this server only takes mail for ${ownDomain}`);
      }
      if (at < 0 && local !== 'postmaster') return refuse(550, `5.1.3 <${address}>: the address needs a domain`);

      let account: Account | null;
      if (local === 'postmaster') {
        account = await postmaster();
      } else {
        const username = local.split('+')[0]!;
        account = USERNAME_PATTERN.test(username) ? await accounts.getByUsername(username) : null;
      }
      if (!account) return refuse(550, `5.1.1 <${address}>: no such user here`);
      if (account.disabled) return refuse(550, `5.2.1 <${address}>: this mailbox is disabled`);
      if (
        account.usedBytes >= account.quotaBytes ||
        (declaredSize > 0 && account.usedBytes + declaredSize > account.quotaBytes)
      ) {
        return refuse(452, `4.2.2 <${address}>: mailbox full, try again later`);
      }
      return { accept: true, accountId: account.id };
    },
  };
}
