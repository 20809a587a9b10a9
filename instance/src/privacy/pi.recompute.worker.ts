import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { Conversation } from '../conversations/conversation.entity.ts';
import type { Storage } from '../database/storage.port.ts';
import type { Message, StoredPi } from '../mail/message.entity.ts';
import { messagePiFacts } from '../pi-model/message-pi.facts.ts';
import { computeMessagePi } from '../pi-model/message-pi.model.ts';
import { PI_MODEL_VERSION } from '../pi-model/pi.tally.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { PiOpenPgp } from './pi.openpgp.ts';
import { type PiScoring, type SeenFrom, summaryOf } from './pi.scoring.ts';

export const PI_QUEUE = 'pi';

/** What a recomputation covers. Jobs carry ids only; every handler recomputes from stored facts, so a retry is harmless. */
export type PiJob =
  /** A contact's keys changed: re-check the OpenPGP facts of their messages, then their messages, conversations, the contact and the account. */
  | { kind: 'contact'; accountId: string; contactId: string }
  /** Everything of one account, in bulk (model version change, instance standing change). */
  | { kind: 'account'; accountId: string }
  /** The contact's own PI only (a contact created from mail, new mail from them). */
  | { kind: 'contact-pi'; accountId: string; contactId: string }
  /** The same for the new correspondents of a batch of ingested mail (one job instead of one each). */
  | { kind: 'contacts-pi'; accountId: string; contactIds: string[] }
  /** Devices and the account PI only (a device revoked or seen, two-factor turned on). */
  | { kind: 'summary'; accountId: string };

const BULK_PAGE = 500;

/** What recomputation needs (part of PiService's dependencies, and the two other parts). */
export interface PiRecomputeDeps {
  storage: Storage;
  blobs: BlobStore;
  queue: JobQueue;
  scoring: PiScoring;
  openPgp: PiOpenPgp;
}

/**
 * Recomputation through the 'pi' queue: a change of input enqueues a PiJob for what depends on it, scoped to one
 * account; the worker rescores in bulk. Part of PiService (pi.service.ts), split out by responsibility.
 */
export class PiRecompute {
  constructor(private readonly deps: PiRecomputeDeps) {}

  async enqueue(job: PiJob): Promise<void> {
    await this.deps.queue.enqueue(PI_QUEUE, job.kind, job, {
      attempts: 5,
      backoff: { type: 'exponential', baseDelayMs: 1000 },
    });
  }

  startWorker(): Worker {
    return this.deps.queue.process<PiJob>(PI_QUEUE, (job) => this.run(job.payload), { concurrency: 1 });
  }

  async run(job: PiJob): Promise<void> {
    switch (job.kind) {
      case 'contact':
        await this.recomputeContact(job.accountId, job.contactId);
        break;
      case 'account':
        await this.recomputeAccount(job.accountId);
        break;
      case 'contact-pi':
        await this.deps.scoring.refreshContact(job.accountId, job.contactId);
        break;
      case 'contacts-pi':
        for (const contactId of job.contactIds) await this.deps.scoring.refreshContact(job.accountId, contactId);
        break;
      case 'summary':
        await this.deps.scoring.refreshSummary(job.accountId);
        break;
    }
  }

  /**
   * A contact's keys changed: messages from them whose signature named a key (or was checked with one) are
   * re-verified against the keys now held, then every message of their conversations is rescored in bulk, then the
   * conversations, the contact and the account. Only this account's rows are read or written.
   */
  async recomputeContact(accountId: string, contactId: string): Promise<void> {
    const { storage, blobs } = this.deps;
    const contact = await storage.contacts.get(accountId, contactId);
    if (contact === null) return;
    const addresses = new Set(contact.identities.map((i) => i.address));
    const conversations: Conversation[] = [];
    for (let page = await storage.conversations.list(accountId, { limit: BULK_PAGE }); page.length > 0; ) {
      conversations.push(
        ...page.filter((c) => c.participants.some((p) => p.contactId === contactId || addresses.has(p.address))),
      );
      const last = page[page.length - 1]!;
      page =
        page.length < BULK_PAGE
          ? []
          : await storage.conversations.list(accountId, {
              limit: BULK_PAGE,
              before: { at: last.lastMessageAt, id: last.id },
            });
    }
    const seen: SeenFrom = new Map();
    for (const c of conversations) {
      await this.rescoreConversation(accountId, c.id, seen, async (m) => {
        const pgp = (m.facts as Record<string, unknown>)['openpgp'] as Record<string, unknown> | undefined;
        if (
          m.direction !== 'inbound' ||
          !addresses.has(m.from.address) ||
          !pgp ||
          pgp['kind'] === 'none' ||
          m.rawRef === null
        )
          return undefined;
        const raw = await blobs.get(m.rawRef);
        if (raw === null) return undefined;
        return { ...m.facts, openpgp: await this.deps.openPgp.openPgpFacts(accountId, m.from.address, raw, pgp) };
      });
    }
    await this.deps.scoring.refreshContact(accountId, contactId, seen);
    await this.deps.scoring.refreshSummary(accountId);
  }

  /** Every element of the account, in bulk: messages page by page (one write transaction per page), then the rest. */
  async recomputeAccount(accountId: string): Promise<{ messages: number }> {
    const { storage } = this.deps;
    let count = 0;
    const seen: SeenFrom = new Map();
    let page = await storage.conversations.list(accountId, { limit: BULK_PAGE });
    while (page.length > 0) {
      for (const c of page) count += await this.rescoreConversation(accountId, c.id, seen);
      const last = page[page.length - 1]!;
      page =
        page.length < BULK_PAGE
          ? []
          : await storage.conversations.list(accountId, {
              limit: BULK_PAGE,
              before: { at: last.lastMessageAt, id: last.id },
            });
    }
    let after: { displayName: string; id: string } | undefined;
    for (;;) {
      const contacts = await storage.contacts.list(accountId, { limit: BULK_PAGE, ...(after ? { after } : {}) });
      for (const c of contacts) await this.deps.scoring.refreshContact(accountId, c.id, seen);
      if (contacts.length < BULK_PAGE) break;
      after = { displayName: contacts[contacts.length - 1]!.displayName, id: contacts[contacts.length - 1]!.id };
    }
    await this.deps.scoring.refreshSummary(accountId);
    return { messages: count };
  }

  /**
   * Rescores the messages of one conversation (optionally refreshing their facts first) and stores what changed in
   * one write per page, then the conversation's PI. Resolves how many messages were scored.
   */
  private async rescoreConversation(
    accountId: string,
    conversationId: string,
    seen: SeenFrom,
    refreshFacts?: (m: Message) => Promise<Record<string, unknown> | undefined>,
  ): Promise<number> {
    const { storage } = this.deps;
    let count = 0;
    let before: { at: Date; id: string } | undefined;
    for (;;) {
      const messages = await storage.messages.listByConversation(accountId, conversationId, {
        limit: BULK_PAGE,
        ...(before ? { before } : {}),
      });
      const updates: { id: string; pi: StoredPi; facts?: Record<string, unknown> }[] = [];
      const known = new Map<string, boolean>();
      for (const m of messages) {
        const facts = refreshFacts ? await refreshFacts(m) : undefined;
        const current = facts ? { ...m, facts } : m;
        const other = current.direction === 'inbound' ? current.from : (current.to[0] ?? current.cc[0] ?? null);
        const key = other === null ? '' : `${other.contactId ?? ''} ${other.address}`;
        let isKnown = known.get(key);
        if (isKnown === undefined) {
          isKnown = other === null ? false : await this.deps.scoring.isKnown(accountId, other.contactId, other.address);
          known.set(key, isKnown);
        }
        const piFacts = messagePiFacts(current, { knownContact: isKnown });
        if (current.direction === 'inbound' && current.from.address !== '') {
          const s = seen.get(current.from.address) ?? { tlsSeen: false, authenticatedSeen: false };
          if (piFacts.transport?.tls) s.tlsSeen = true;
          if (piFacts.authentication?.dkim.result === 'aligned' || piFacts.authentication?.dmarc.pass)
            s.authenticatedSeen = true;
          seen.set(current.from.address, s);
        }
        const pi = summaryOf(computeMessagePi(piFacts));
        if (
          facts !== undefined ||
          m.pi?.score !== pi.score ||
          m.pi.modelVersion !== pi.modelVersion ||
          m.pi.level !== pi.level
        ) {
          updates.push({ id: m.id, pi, ...(facts !== undefined ? { facts } : {}) });
        }
      }
      await storage.messages.setPis(accountId, updates);
      count += messages.length;
      if (messages.length < BULK_PAGE) break;
      const last = messages[messages.length - 1]!;
      before = { at: last.receivedAt, id: last.id };
    }
    await this.deps.scoring.refreshConversation(accountId, conversationId);
    return count;
  }

  /**
   * At start: accounts whose stored PI was computed by another model version (or never) get a bulk recomputation
   * job. Resolves how many were queued.
   */
  async scheduleModelUpgrade(): Promise<number> {
    const { storage } = this.deps;
    let queued = 0;
    let afterUsername: string | undefined;
    for (;;) {
      const accounts = await storage.accounts.list({ limit: 500, ...(afterUsername ? { afterUsername } : {}) });
      for (const a of accounts) {
        const pi = await storage.accounts.getPi(a.id);
        if (pi?.modelVersion !== PI_MODEL_VERSION) {
          await this.enqueue({ kind: 'account', accountId: a.id });
          queued++;
        }
      }
      if (accounts.length < 500) break;
      afterUsername = accounts[accounts.length - 1]!.username;
    }
    return queued;
  }
}
