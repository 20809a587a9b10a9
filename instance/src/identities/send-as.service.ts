import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import type { Storage } from '../database/storage.port.ts';
import { AppError } from '../shared/errors.ts';
import { type SendAsRelay, type SubmissionTls, sendAsPurpose } from './send-as.entity.ts';
import type { SmtpRelay } from './smtp-relay.port.ts';

export interface SendAsInput {
  /** The From address of the imported mailbox. */
  address: string;
  host: string;
  port: number;
  tls: SubmissionTls;
  /** Default: the identity's IMAP username. */
  username?: string | undefined;
  password: string;
}

/** What the API shows of a relay: never the password. */
export interface SendAsView {
  identityId: string;
  address: string;
  host: string;
  port: number;
  tls: SubmissionTls;
  username: string;
  updatedAt: Date;
}

const view = (r: SendAsRelay): SendAsView => ({
  identityId: r.identityId,
  address: r.address,
  host: r.host,
  port: r.port,
  tls: r.tls,
  username: r.username,
  updatedAt: r.updatedAt,
});

// RFC 5322 dot-atom local part, a domain of labels: what a From address of a mailbox elsewhere looks like.
const ADDRESS =
  /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

/**
 * Send as an imported address (issue 17 item 4): the provider's submission server and credentials for a remote
 * identity. Setting them tries the sign-in first (nothing is stored when it fails); the password is then sealed for
 * this identity only. Mail from that address is relayed through the provider (`relay`), never sent in this
 * instance's name: the provider's SPF and DKIM are the ones that hold for its domain.
 */
export class SendAsService {
  constructor(
    private readonly deps: {
      storage: Pick<Storage, 'remoteIdentities' | 'sendAs'>;
      box: SecretBox;
      relay: SmtpRelay;
      clock: Clock;
      /** This instance's domain: its addresses are sent as directly, never relayed. */
      domain: string;
    },
  ) {}

  async set(accountId: string, identityId: string, input: SendAsInput): Promise<SendAsView> {
    const identity = await this.deps.storage.remoteIdentities.get(accountId, identityId);
    if (!identity) throw new AppError('not_found');
    const address = input.address.trim().toLowerCase();
    if (address.length > 254 || !ADDRESS.test(address))
      throw new AppError('send_as_invalid', `"${address.slice(0, 80)}" is not an email address.`);
    if (address.endsWith(`@${this.deps.domain.toLowerCase()}`))
      throw new AppError('send_as_invalid', `${address} is an address of this instance: it is sent as directly.`);
    const others = (await this.deps.storage.sendAs.listByAccount(accountId)).filter((r) => r.identityId !== identityId);
    if (others.some((r) => r.address === address))
      throw new AppError('send_as_invalid', `${address} is already sent through another of your identities.`);
    const host = input.host.trim().toLowerCase().replace(/\.$/, '');
    const username = input.username?.trim() || identity.username;
    await this.deps.relay.verify({ host, port: input.port, tls: input.tls, username, password: input.password });
    const now = this.deps.clock();
    const existing = await this.deps.storage.sendAs.get(accountId, identityId);
    const relay: SendAsRelay = {
      accountId,
      identityId,
      address,
      host,
      port: input.port,
      tls: input.tls,
      username,
      credentialSealed: this.deps.box.seal(input.password, sendAsPurpose(identityId)),
      createdAt: existing?.createdAt ?? now,
      updatedAt: now,
    };
    await this.deps.storage.sendAs.put(relay);
    return view(relay);
  }

  /** Every imported address the account can send as, by address (what a compose screen offers as From). */
  async list(accountId: string): Promise<SendAsView[]> {
    const relays = await this.deps.storage.sendAs.listByAccount(accountId);
    return relays.map(view).sort((a, b) => a.address.localeCompare(b.address));
  }

  async get(accountId: string, identityId: string): Promise<SendAsView> {
    const relay = await this.deps.storage.sendAs.get(accountId, identityId);
    if (!relay) throw new AppError('not_found', 'This identity has no submission server set: it cannot be sent as.');
    return view(relay);
  }

  async remove(accountId: string, identityId: string): Promise<void> {
    if (!(await this.deps.storage.sendAs.delete(accountId, identityId))) throw new AppError('not_found');
  }

  private async relayOf(accountId: string, address: string): Promise<SendAsRelay | null> {
    const wanted = address.trim().toLowerCase();
    return (await this.deps.storage.sendAs.listByAccount(accountId)).find((r) => r.address === wanted) ?? null;
  }

  /** Whether the account may send as `address` through one of its imported identities. */
  async has(accountId: string, address: string): Promise<boolean> {
    return (await this.relayOf(accountId, address)) !== null;
  }

  /** Relays one message through the provider of `address`; resolves the provider's host once it accepted it. */
  async relay(
    accountId: string,
    address: string,
    envelope: { from: string; to: string[] },
    raw: Buffer,
  ): Promise<{ host: string }> {
    const relay = await this.relayOf(accountId, address);
    if (!relay) throw new AppError('sender_not_owned', `${address} is not an address you can send as.`);
    let password: string;
    try {
      password = this.deps.box.open(relay.credentialSealed, sendAsPurpose(relay.identityId));
    } catch {
      throw new AppError('internal_error', 'The submission password cannot be opened with this instance key.');
    }
    await this.deps.relay.send(
      { host: relay.host, port: relay.port, tls: relay.tls, username: relay.username, password },
      envelope,
      raw,
    );
    return { host: relay.host };
  }
}
