import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import type { Logger } from 'pino';
import type { Storage } from '../database/storage.port.ts';
import { normaliseIdentityAddress } from '../mail/address.normalise.ts';
import type { Message } from '../mail/message.entity.ts';
import type { MessageFacts, XmppFacts } from '../mail/message.facts.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import { AppError } from '../shared/errors.ts';
import { chatToMime, MAX_CHAT_BODY_CHARS } from './xmpp-chat.mime.ts';
import { xmppCredentialPurpose, type XmppAccount } from './xmpp-account.entity.ts';
import type { ChatStanza, XmppConnector, XmppSession, XmppTlsFacts } from './xmpp-session.port.ts';

export interface NewXmppLink {
  jid: string;
  password: string;
  host?: string | undefined;
  port?: number | undefined;
  label?: string | undefined;
}

/** Most XMPP accounts one account may link (each is a connection the instance keeps open). */
export const MAX_XMPP_LINKS_PER_ACCOUNT = 5;
/** Archive page size asked of the server during a catch-up. */
const ARCHIVE_PAGE = 50;
/** Most archive pages read in one catch-up (a first catch-up of a huge archive continues at the next reconnect). */
const MAX_ARCHIVE_PAGES = 200;
/** After the server refused the password on a reconnection, the next try (the user may have changed it there). */
const AUTH_RETRY_MS = 10 * 60_000;

/** What the service needs of the running sessions' lifecycle (a Worker for startInstance). */
export interface XmppSessions {
  close(): Promise<void>;
}

interface Running {
  link: XmppAccount;
  session: XmppSession | null;
  /** A catch-up in progress, and whether another was asked meanwhile (run once more after it). */
  catchingUp: Promise<void> | null;
  again: boolean;
  stopped: boolean;
  retry: NodeJS.Timeout | null;
}

/**
 * XMPP as a second protocol of the same mailbox. A user links an XMPP account (JID + password, checked by a login
 * before anything is stored; the password sealed for this link only). The instance keeps a client session open per
 * link and files every chat message through the one ingest port, with the participants as `xmpp` addresses: they
 * resolve to the contacts holding those JIDs, so a person's email and chat share one conversation. The user's
 * replies leave over the same session.
 *
 * Durability: each message is filed under a key that does not change between hearings (the archive id our server
 * stamped on it, XEP-0359; for our own messages their origin-id), in a raw form built from that key and the content
 * only, so hearing it twice files it once. On every (re)connection the server archive (XEP-0313) is read from the
 * last position caught up to: what was missed while disconnected is filed then. Never logged: bodies, passwords.
 */
export class XmppService {
  private readonly running = new Map<string, Running>();
  private closed = false;

  constructor(
    private readonly deps: {
      storage: Storage;
      box: SecretBox;
      connector: XmppConnector;
      ingest: MessageIngest;
      clock: Clock;
      logger?: Logger;
      /** Delay before reopening a session that could not start (tests shorten it). */
      retryMs?: number;
    },
  ) {}

  // --- links ------------------------------------------------------------------------------------------------------

  async link(accountId: string, input: NewXmppLink): Promise<XmppAccount> {
    const jid = normaliseIdentityAddress('xmpp', input.jid);
    if (jid === null || !jid.includes('@') || jid.startsWith('@'))
      throw new AppError('validation_failed', 'jid: not a bare XMPP address (local@domain).');
    const existing = await this.deps.storage.xmppAccounts.listByAccount(accountId);
    if (existing.some((l) => l.jid === jid)) throw new AppError('xmpp_account_exists');
    if (existing.length >= MAX_XMPP_LINKS_PER_ACCOUNT)
      throw new AppError('conflict', `An account links at most ${MAX_XMPP_LINKS_PER_ACCOUNT} XMPP accounts.`);
    const host = input.host?.trim().toLowerCase().replace(/\.$/, '') || null;
    const port = input.port ?? null;
    await this.deps.connector.verify({ jid, password: input.password, host, port });
    const id = randomUUID();
    const now = this.deps.clock();
    const link: XmppAccount = {
      id,
      accountId,
      jid,
      host,
      port,
      label: input.label?.trim().slice(0, 100) || jid,
      credentialSealed: this.deps.box.seal(input.password, xmppCredentialPurpose(id)),
      archiveCursor: null,
      createdAt: now,
      updatedAt: now,
    };
    if (!(await this.deps.storage.xmppAccounts.create(link))) throw new AppError('xmpp_account_exists');
    this.deps.logger?.info({ accountId, linkId: id }, 'xmpp account linked');
    if (!this.closed && this.started) this.run(link);
    return link;
  }

  list(accountId: string): Promise<XmppAccount[]> {
    return this.deps.storage.xmppAccounts.listByAccount(accountId);
  }

  async get(accountId: string, id: string): Promise<XmppAccount> {
    const link = await this.deps.storage.xmppAccounts.get(accountId, id);
    if (link === null) throw new AppError('not_found');
    return link;
  }

  /** Whether the instance's session of this link is connected now. */
  connected(id: string): boolean {
    return this.running.get(id)?.session?.online() ?? false;
  }

  /** The TLS of the link's session while it is connected; null otherwise (the route preview's chat route). */
  sessionTls(id: string): XmppTlsFacts | null {
    const session = this.running.get(id)?.session;
    return session?.online() ? session.tls() : null;
  }

  /** Forgets the link and closes its session. Chat already filed stays in the mailbox. */
  async unlink(accountId: string, id: string): Promise<XmppAccount> {
    const link = await this.get(accountId, id);
    await this.deps.storage.xmppAccounts.delete(accountId, id);
    await this.stop(id);
    return link;
  }

  // --- sessions -----------------------------------------------------------------------------------------------------

  private started = false;

  /** Opens a session for every link of the instance (startInstance; the returned handle closes them all). */
  startSessions(): XmppSessions {
    this.started = true;
    void this.deps.storage.xmppAccounts
      .listAll()
      .then((links) => {
        for (const link of links) this.run(link);
      })
      .catch((err: unknown) => this.deps.logger?.error({ err }, 'xmpp links could not be listed'));
    return {
      close: async () => {
        this.closed = true;
        await Promise.all([...this.running.keys()].map((id) => this.stop(id)));
      },
    };
  }

  private run(link: XmppAccount): void {
    if (this.running.has(link.id)) return;
    const r: Running = { link, session: null, catchingUp: null, again: false, stopped: false, retry: null };
    this.running.set(link.id, r);
    void this.open(r);
  }

  private async open(r: Running): Promise<void> {
    const { link } = r;
    const log = this.deps.logger;
    let password: string;
    try {
      password = this.deps.box.open(link.credentialSealed, xmppCredentialPurpose(link.id));
    } catch {
      log?.error({ linkId: link.id }, 'xmpp credential cannot be opened: session not started');
      return;
    }
    try {
      const session = await this.deps.connector.open(
        { jid: link.jid, password, host: link.host, port: link.port },
        {
          onMessage: (chat) => {
            void this.file(r, chat).catch((err: unknown) => {
              // Not filed now: a catch-up reads it again from the archive (now, and at every reconnection).
              log?.warn(
                { linkId: link.id, code: (err as AppError)?.code },
                'xmpp message not filed; left for catch-up',
              );
              if (!r.stopped) this.catchUp(r);
            });
          },
          onOnline: () => this.catchUp(r),
          onOffline: (reason) => {
            log?.info({ linkId: link.id, reason }, 'xmpp session offline; reconnecting');
            if (reason === 'auth_failed') void this.reopenLater(r, AUTH_RETRY_MS);
          },
          onNotice: (event, detail) => log?.info({ linkId: link.id, ...detail }, event),
        },
      );
      if (r.stopped) {
        await session.close();
        return;
      }
      r.session = session;
      this.catchUp(r);
    } catch (err) {
      log?.warn({ linkId: link.id, code: (err as AppError)?.code }, 'xmpp session could not start; retrying');
      if (!r.stopped)
        r.retry = setTimeout(() => {
          r.retry = null;
          void this.open(r);
        }, this.deps.retryMs ?? 30_000);
    }
  }

  /** Closes the link's session and opens it again after `ms` (the password was refused: not every second). */
  private async reopenLater(r: Running, ms: number): Promise<void> {
    const session = r.session;
    r.session = null;
    await session?.close().catch(() => undefined);
    if (!r.stopped && !r.retry)
      r.retry = setTimeout(() => {
        r.retry = null;
        void this.open(r);
      }, ms);
  }

  private async stop(id: string): Promise<void> {
    const r = this.running.get(id);
    if (!r) return;
    r.stopped = true;
    if (r.retry) clearTimeout(r.retry);
    this.running.delete(id);
    await r.catchingUp?.catch(() => undefined);
    await r.session?.close().catch(() => undefined);
  }

  /** Reads the archive after the last position caught up to, filing every message, then records the new position. */
  private catchUp(r: Running): void {
    if (r.catchingUp) {
      r.again = true;
      return;
    }
    r.catchingUp = (async () => {
      do {
        r.again = false;
        await this.catchUpOnce(r).catch((err: unknown) =>
          this.deps.logger?.warn({ linkId: r.link.id, code: (err as AppError)?.code }, 'xmpp catch-up interrupted'),
        );
      } while (r.again && !r.stopped);
    })().finally(() => {
      r.catchingUp = null;
    });
  }

  private async catchUpOnce(r: Running): Promise<void> {
    const session = r.session;
    if (!session || !session.online()) return;
    const fresh = await this.deps.storage.xmppAccounts.get(r.link.accountId, r.link.id);
    if (fresh === null) return;
    let after = fresh.archiveCursor;
    for (let page = 0; page < MAX_ARCHIVE_PAGES && !r.stopped; page++) {
      const got = await session.archive(after, ARCHIVE_PAGE);
      // In order, each filed before the position moves past it: a failure leaves the position before it.
      for (const chat of got.messages) await this.file(r, chat);
      if (got.last !== null && got.last !== after) {
        after = got.last;
        await this.deps.storage.xmppAccounts.setArchiveCursor(r.link.accountId, r.link.id, after, this.deps.clock());
      }
      if (got.complete || got.messages.length === 0) break;
    }
  }

  /**
   * Files one chat message (live or from the archive) through the ingest. Its key: for a message from someone else,
   * the archive id our own server stamped (stable between live and archive; a sender cannot forge it: servers strip
   * any claiming to be theirs); for our own messages, their origin-id (we set it when the instance sends them).
   */
  private async file(r: Running, chat: ChatStanza): Promise<Message | null> {
    const own = r.link.jid;
    const from = normaliseIdentityAddress('xmpp', chat.from);
    const to = normaliseIdentityAddress('xmpp', chat.to);
    if (from === null || to === null) {
      this.deps.logger?.info({ linkId: r.link.id }, 'xmpp message with an unreadable address ignored');
      return null;
    }
    const outbound = from === own;
    if (!outbound && to !== own) {
      this.deps.logger?.info({ linkId: r.link.id }, 'xmpp message not addressed to this account ignored');
      return null;
    }
    const peer = outbound ? to : from;
    const key = outbound
      ? `out:${peer}:${chat.originId ?? chat.archiveId ?? digest(chat.body)}`
      : chat.archiveId !== null
        ? `archive:${chat.archiveId}`
        : `in:${peer}:${chat.originId ?? ''}:${digest(chat.body)}`;
    return this.fileChat(r.link, {
      direction: outbound ? 'outbound' : 'inbound',
      peer,
      key,
      body: chat.body,
      receivedAt: chat.delayedAt ?? this.deps.clock(),
      // The connection it was heard on (live messages may come before the session is handed over).
      tls: chat.tls,
      e2e: chat.e2e,
      fromArchive: chat.fromArchive,
    });
  }

  private async fileChat(
    link: XmppAccount,
    c: {
      direction: 'inbound' | 'outbound';
      peer: string;
      key: string;
      body: string;
      receivedAt: Date;
      tls: XmppTlsFacts | null;
      e2e: XmppFacts['e2eClaim'];
      fromArchive: boolean;
    },
  ): Promise<Message> {
    const chars = Array.from(c.body);
    const bodyTruncated = chars.length > MAX_CHAT_BODY_CHARS;
    const body = bodyTruncated ? chars.slice(0, MAX_CHAT_BODY_CHARS).join('') : c.body;
    const own = link.jid;
    const inbound = c.direction === 'inbound';
    const raw = chatToMime({ from: inbound ? c.peer : own, to: inbound ? own : c.peer, key: c.key, body }, own);
    const server = own.slice(own.lastIndexOf('@') + 1);
    const xmpp: XmppFacts = { server, e2eClaim: c.e2e, fromArchive: c.fromArchive, bodyTruncated };
    const facts: MessageFacts = inbound
      ? {
          transport: {
            via: 'xmpp',
            // The c2s hop as this instance negotiated it. Heard from the archive: how it reached the server then was
            // on an earlier connection; the archive was read over this one.
            tls: c.tls,
            clientIp: null,
            helo: server,
            receivedChain: [],
            externalHops: 0,
            plaintextHops: 0,
          },
          authentication: null,
          xmpp,
        }
      : {
          transport: null,
          authentication: null,
          xmpp,
          delivery: [
            {
              domain: c.peer.slice(c.peer.lastIndexOf('@') + 1),
              via: 'xmpp',
              tls: c.tls,
              peer: server,
              at: c.receivedAt.toISOString(),
            },
          ],
        };
    const address = (a: string) => ({ address: a, written: a, name: null });
    const result = await this.deps.ingest.ingest({
      accountId: link.accountId,
      raw,
      direction: c.direction,
      receivedAt: c.receivedAt,
      facts,
      protocol: 'xmpp',
      participants: inbound
        ? { from: address(c.peer), to: [address(own)] }
        : { from: address(own), to: [address(c.peer)] },
      tags: ['chat'],
      read: !inbound,
    });
    return result.message;
  }

  // --- sending ------------------------------------------------------------------------------------------------------

  /**
   * Sends a chat message from one of the account's linked XMPP accounts (the given one, else the first connected) to
   * a JID, or to a contact's first XMPP address; files it in the mailbox once it is written to the server.
   */
  async send(
    accountId: string,
    input: { to?: string; contactId?: string; text: string; linkId?: string },
  ): Promise<Message> {
    const text = input.text;
    if (text.trim() === '') throw new AppError('validation_failed', 'text: empty.');
    if (Array.from(text).length > MAX_CHAT_BODY_CHARS)
      throw new AppError('validation_failed', `text: longer than ${MAX_CHAT_BODY_CHARS} characters.`);
    if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/.test(text))
      throw new AppError('validation_failed', 'text: holds control characters XMPP cannot carry.');
    let peer: string | null = null;
    if (input.contactId !== undefined) {
      const contact = await this.deps.storage.contacts.get(accountId, input.contactId);
      if (contact === null) throw new AppError('not_found', 'No such contact.');
      peer = contact.identities.find((i) => i.protocol === 'xmpp')?.address ?? null;
      if (peer === null) throw new AppError('route_unavailable', 'This contact has no XMPP address.');
    } else if (input.to !== undefined) {
      peer = normaliseIdentityAddress('xmpp', input.to);
      if (peer === null || !peer.includes('@'))
        throw new AppError('recipient_invalid', 'to: not a bare XMPP address (local@domain).');
    } else throw new AppError('validation_failed', 'Give `to` (a JID) or `contactId`.');

    const links = await this.deps.storage.xmppAccounts.listByAccount(accountId);
    if (links.length === 0) throw new AppError('xmpp_not_linked');
    const link =
      input.linkId !== undefined
        ? links.find((l) => l.id === input.linkId)
        : (links.find((l) => this.connected(l.id)) ?? links[0]);
    if (!link) throw new AppError('not_found', 'No such linked XMPP account.');
    if (peer === link.jid) throw new AppError('recipient_invalid', 'to: that is this XMPP account itself.');
    const r = this.running.get(link.id);
    const session = r?.session;
    if (!r || !session || !session.online()) throw new AppError('xmpp_offline');
    const id = randomUUID();
    const tls = session.tls();
    await session.send(peer, text, id);
    return this.fileChat(link, {
      direction: 'outbound',
      peer,
      key: `out:${peer}:${id}`,
      body: text,
      receivedAt: this.deps.clock(),
      tls,
      e2e: null,
      fromArchive: false,
    });
  }
}

const digest = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 32);
