import type { EventPublisher } from '../shared/event-bus.ts';
import type { RemoteIdentityEvents } from './remote-identity.events.ts';
import { randomUUID } from 'node:crypto';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import type { ImapConnector } from './imap-session.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { AppError } from '../shared/errors.ts';
import type { Storage } from '../database/storage.port.ts';
import {
  credentialPurpose,
  defaultLabel,
  IDLE_SYNC,
  type ImapTls,
  type RemoteIdentity,
} from './remote-identity.entity.ts';

export interface NewRemoteIdentity {
  kind: 'imap';
  host: string;
  port: number;
  tls: ImapTls;
  username: string;
  password: string;
  label?: string | undefined;
}

/** Most remote identities one account may hold (each is a connection the instance keeps syncing). */
export const MAX_IDENTITIES_PER_ACCOUNT = 20;

/**
 * The remote mailboxes of an account. Adding one tests the login first (nothing is stored when it fails), then
 * stores the password sealed for this identity only; nothing here ever returns or logs it.
 */
export class RemoteIdentityService {
  constructor(
    private readonly deps: {
      storage: Storage;
      box: SecretBox;
      connector: ImapConnector;
      clock: Clock;
      /** Told `remote-identity.added` once an identity exists (its re-sync is scheduled then). */
      events?: EventPublisher<RemoteIdentityEvents>;
    },
  ) {}

  async create(accountId: string, input: NewRemoteIdentity): Promise<RemoteIdentity> {
    const host = input.host.trim().toLowerCase().replace(/\.$/, '');
    const existing = await this.deps.storage.remoteIdentities.listByAccount(accountId);
    if (existing.some((i) => i.host === host && i.port === input.port && i.username === input.username)) {
      throw new AppError('identity_exists');
    }
    if (existing.length >= MAX_IDENTITIES_PER_ACCOUNT) {
      throw new AppError(
        'conflict',
        `An account holds at most ${MAX_IDENTITIES_PER_ACCOUNT} remote identities; delete one first.`,
      );
    }
    await this.deps.connector.verify({
      host,
      port: input.port,
      tls: input.tls,
      username: input.username,
      password: input.password,
    });
    const id = randomUUID();
    const now = this.deps.clock();
    const identity: RemoteIdentity = {
      id,
      accountId,
      kind: 'imap',
      label: input.label?.trim() || defaultLabel(input.username, host),
      host,
      port: input.port,
      tls: input.tls,
      username: input.username,
      credentialSealed: this.deps.box.seal(input.password, credentialPurpose(id)),
      createdAt: now,
      updatedAt: now,
      sync: { ...IDLE_SYNC },
    };
    await this.deps.storage.remoteIdentities.create(identity);
    await this.deps.events?.publish('remote-identity.added', { accountId, identityId: identity.id });
    return identity;
  }

  list(accountId: string): Promise<RemoteIdentity[]> {
    return this.deps.storage.remoteIdentities.listByAccount(accountId);
  }

  async get(accountId: string, id: string): Promise<RemoteIdentity> {
    const identity = await this.deps.storage.remoteIdentities.get(accountId, id);
    if (!identity) throw new AppError('not_found');
    return identity;
  }

  /**
   * A new password (the provider's changed, or an app password replaced) and/or a new name. A new password is tried
   * first, on the same server as the user (nothing changes when the login fails); the sync positions are kept, so the
   * next import takes only what is new.
   */
  async update(accountId: string, id: string, change: { password?: string; label?: string }): Promise<RemoteIdentity> {
    const identity = await this.get(accountId, id);
    let credentialSealed = identity.credentialSealed;
    if (change.password !== undefined) {
      await this.deps.connector.verify({
        host: identity.host,
        port: identity.port,
        tls: identity.tls,
        username: identity.username,
        password: change.password,
      });
      credentialSealed = this.deps.box.seal(change.password, credentialPurpose(id));
    }
    const label =
      change.label === undefined
        ? identity.label
        : change.label.trim() || defaultLabel(identity.username, identity.host);
    const now = this.deps.clock();
    if (!(await this.deps.storage.remoteIdentities.updateCredential(accountId, id, { credentialSealed, label }, now)))
      throw new AppError('not_found');
    return { ...identity, credentialSealed, label, updatedAt: now };
  }

  /** Forgets the identity, its credential and its sync positions. Mail already imported stays in the mailbox. */
  async delete(accountId: string, id: string): Promise<RemoteIdentity> {
    const identity = await this.get(accountId, id);
    // Its send-as relay goes with it (SQLite cascades; Cassandra has no foreign keys).
    await this.deps.storage.sendAs.delete(accountId, id);
    await this.deps.storage.remoteIdentities.delete(accountId, id);
    return identity;
  }
}
