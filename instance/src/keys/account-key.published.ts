import type { AccountRepository } from '../accounts/account.repository.ts';
import type { PublishedKeySource } from '../discovery/published-keys.port.ts';
import { parsePublicKey } from '../openpgp/openpgp.keys.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { AccountKeyRepository } from './account-key.repository.ts';

const MEMO_LIMIT = 10_000;

/**
 * What the instance publishes for its users (DNS OPENPGPKEY records, WKD): the active key of an enabled account,
 * unexpired, and only when one of its valid user IDs carries `<username>@<domain>` (checked once per key and
 * address in this process: parsing and verifying self-signatures on every DNS query would cost more than the answer).
 * Retired and revoked keys are never published; a disabled account publishes nothing.
 */
export class AccountKeyPublishedSource implements PublishedKeySource {
  private readonly checked = new Map<string, boolean>();

  constructor(
    private readonly deps: { accounts: AccountRepository; keys: AccountKeyRepository; domain: string; clock: Clock },
  ) {}

  async publicKeyOf(localPart: string): Promise<Uint8Array | null> {
    const account = await this.deps.accounts.getByUsername(localPart.toLowerCase());
    if (account === null || account.disabled) return null;
    const now = this.deps.clock();
    const active = (await this.deps.keys.listByAccount(account.id)).find((k) => k.status === 'active');
    if (active === undefined || (active.keyExpiresAt !== null && active.keyExpiresAt <= now)) return null;
    const address = `${account.username}@${this.deps.domain}`;
    const memo = `${active.fingerprint} ${active.updatedAt.getTime()} ${address}`;
    let ok = this.checked.get(memo);
    if (ok === undefined) {
      ok = await parsePublicKey(active.publicKey, { now, address }).then(
        () => true,
        () => false,
      );
      if (this.checked.size >= MEMO_LIMIT) this.checked.clear();
      this.checked.set(memo, ok);
    }
    return ok ? active.publicKey : null;
  }
}
