import { isDataExploitingDomain } from '@caliopen/charter';
import type { PiSuggestion, PrivacyIndex } from '@caliopen/federation-protocol';
import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { Contact } from '../contacts/contact.entity.ts';
import type { Conversation } from '../conversations/conversation.entity.ts';
import type { Device } from '../devices/device.entity.ts';
import { deviceSupport } from '../devices/os-support.ts';
import type { CorrespondentKey } from '../keys/public-key.entity.ts';
import type { DeliveryFact } from '../mail/delivery.fact.ts';
import type { Message, StoredPi } from '../mail/message.entity.ts';
import type { DecryptionKeys } from '../openpgp/openpgp.decrypt.ts';
import { carryDecryptedFacts, examineOpenPgp, examineOwnOpenPgp, type OpenPgpExamination } from './openpgp.facts.ts';
import type { JobQueue, Worker } from '@caliopen/platform/queue/job-queue.port.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { Storage } from '../database/storage.port.ts';
import { computeAccountPi, type AccountPiFacts } from '../pi-model/account-pi.model.ts';
import { computeContactPi, type ContactPiFacts } from '../pi-model/contact-pi.model.ts';
import { computeConversationPi, RECENT_MESSAGES } from '../pi-model/conversation-pi.model.ts';
import { computeDevicePi } from '../pi-model/device-pi.model.ts';
import type { InstanceStanding } from '../pi-model/instance-standing.ts';
import { messagePiFacts } from '../pi-model/message-pi.facts.ts';
import { computeMessagePi } from '../pi-model/message-pi.model.ts';
import { PI_MODEL_VERSION } from '../pi-model/pi.tally.ts';
import { KEY_TRUST_RANK, type KeyTrust } from '../pi-model/pi.shared.ts';

export const PI_QUEUE = 'pi';

/** What a recomputation covers. Jobs carry ids only; every handler recomputes from stored facts, so a retry is harmless. */
export type PiJob =
  /** A contact's keys changed: re-check the OpenPGP facts of their messages, then their messages, conversations, the contact and the account. */
  | { kind: 'contact'; accountId: string; contactId: string }
  /** Everything of one account, in bulk (model version change, instance standing change). */
  | { kind: 'account'; accountId: string }
  /** The contact's own PI only (a contact created from mail, new mail from them). */
  | { kind: 'contact-pi'; accountId: string; contactId: string }
  /** Devices and the account PI only (a device revoked or seen, two-factor turned on). */
  | { kind: 'summary'; accountId: string };

/** How many recent messages make the account's "exchanges" factor. */
export const RECENT_EXCHANGES = 100;
const BULK_PAGE = 500;
const CONTACT_CONVERSATION_SCAN = 200;

/** What mail from an address showed (TLS we negotiated, verified authentication), gathered while rescoring in bulk. */
export type SeenFrom = Map<string, { tlsSeen: boolean; authenticatedSeen: boolean }>;

export const summaryOf = (pi: PrivacyIndex): StoredPi => ({
  score: pi.score,
  level: pi.level,
  modelVersion: pi.modelVersion,
});

/**
 * Computes, stores and recomputes the Privacy Index of every element. The models are pure (./*.model.ts); this
 * service gathers their facts from storage and writes the results back. Recomputation goes through the 'pi' queue:
 * a change of input enqueues a PiJob for what depends on it, scoped to one account.
 */
export class PiService {
  private readonly deliveryWrites = new Map<string, Promise<void>>();
  private readonly federationFacts: ((addresses: readonly string[]) => Promise<ContactPiFacts['federation']>) | null;

  constructor(
    private readonly deps: {
      storage: Storage;
      blobs: BlobStore;
      queue: JobQueue;
      clock: Clock;
      standing: InstanceStanding;
      /** Where the account's private key lives (the keys service answers; 'none' until it exists). */
      keyStorageOf?: (accountId: string) => Promise<'none' | 'server' | 'client'>;
      /** Correspondents' keys for some addresses (storage.keys once it exists). */
      keysFor?: (accountId: string, addresses: readonly string[]) => Promise<CorrespondentKey[]>;
      /**
       * The account's private key when the server may use it (server-side key mode, unlocked by a session); null
       * otherwise. Encrypted mail is then decrypted to check the signature inside (openpgp.facts.ts examineOpenPgp).
       */
      decryptionKeyOf?: (accountId: string) => Promise<DecryptionKeys | null>;
      /** A contact's facts as a member instance gives them (label, instance PI, shared account PI): the federation's. */
      federationFacts?: (addresses: readonly string[]) => Promise<ContactPiFacts['federation']>;
    },
  ) {
    this.federationFacts = deps.federationFacts ?? null;
  }

  // --- messages -------------------------------------------------------------------------------------------------

  /** A correspondent the user made or kept, or has written to. */
  async isKnown(accountId: string, contactId: string | null, address: string): Promise<boolean> {
    if (contactId !== null) {
      const contact = await this.deps.storage.contacts.get(accountId, contactId);
      if (contact !== null && !contact.automatic) return true;
    }
    return address !== '' && (await this.deps.storage.correspondence.hasWrittenTo(accountId, 'email', address));
  }

  /** The message's full PI, computed now from its stored facts. */
  async messagePi(message: Message): Promise<PrivacyIndex> {
    const other = message.direction === 'inbound' ? message.from : (message.to[0] ?? message.cc[0] ?? null);
    const knownContact = other === null ? false : await this.isKnown(message.accountId, other.contactId, other.address);
    return computeMessagePi(messagePiFacts(message, { knownContact }));
  }

  /**
   * The OpenPGP facts of raw bytes, checked against the keys the account holds for the sender (decrypting with the
   * account's key when the server may use it). `stored`: the facts recorded before; a message decrypted at arrival
   * whose key is now locked keeps them, brought up to date with the keys held now (carryDecryptedFacts).
   */
  async openPgpFacts(
    accountId: string,
    sender: string,
    raw: Buffer,
    stored?: unknown,
  ): Promise<Record<string, unknown>> {
    const keys = sender === '' || !this.deps.keysFor ? [] : await this.deps.keysFor(accountId, [sender]);
    const { facts } = await this.examineOpenPgp(accountId, sender, raw, 'inbound', keys);
    if (facts.decrypted !== true && stored !== undefined) {
      const carried = carryDecryptedFacts(stored, keys);
      if (carried !== null) return { ...carried };
    }
    return { ...facts };
  }

  /**
   * What ingest records about a message's OpenPGP: inbound, checked against the sender's keys; outbound (a Sent copy),
   * the structure only. Decrypted with the account's key when the server may use it; the content comes back then.
   */
  async examineOpenPgp(
    accountId: string,
    sender: string,
    raw: Buffer,
    direction: 'inbound' | 'outbound',
    senderKeys?: CorrespondentKey[],
  ): Promise<OpenPgpExamination> {
    const now = this.deps.clock();
    const key = this.deps.decryptionKeyOf ? await this.deps.decryptionKeyOf(accountId).catch(() => null) : null;
    if (direction === 'outbound') return examineOwnOpenPgp(raw, now, key);
    const keys =
      senderKeys ?? (sender === '' || !this.deps.keysFor ? [] : await this.deps.keysFor(accountId, [sender]));
    return examineOpenPgp(raw, keys, now, key);
  }

  /**
   * Records what a delivery of a Sent copy negotiated (one entry per recipient domain, the latest wins) and rescores
   * it and its conversation. Serialised per message within this process, so two domains delivered at once both land.
   */
  async recordDelivery(accountId: string, messageId: string, fact: DeliveryFact): Promise<void> {
    const key = `${accountId}/${messageId}`;
    const previous = this.deliveryWrites.get(key) ?? Promise.resolve();
    const next = previous.then(async () => {
      const m = await this.deps.storage.messages.get(accountId, messageId);
      if (m === null || m.direction !== 'outbound') return;
      const recorded = Array.isArray(m.facts['delivery']) ? (m.facts['delivery'] as DeliveryFact[]) : [];
      const facts = { ...m.facts, delivery: [...recorded.filter((d) => d.domain !== fact.domain), fact].slice(-100) };
      const pi = summaryOf(await this.messagePi({ ...m, facts }));
      await this.deps.storage.messages.setPis(accountId, [{ id: m.id, pi, facts }]);
      await this.refreshConversation(accountId, m.conversationId);
    });
    const settled = next.catch(() => undefined);
    this.deliveryWrites.set(key, settled);
    void settled.then(() => {
      if (this.deliveryWrites.get(key) === settled) this.deliveryWrites.delete(key);
    });
    return next;
  }

  /** Recomputes the conversation's PI from its newest messages and stores it. */
  async refreshConversation(accountId: string, conversationId: string): Promise<void> {
    const { storage } = this.deps;
    const conversation = await storage.conversations.get(accountId, conversationId);
    if (conversation === null) return;
    const recent = (
      await storage.messages.listByConversation(accountId, conversationId, { limit: RECENT_MESSAGES + 5 })
    )
      .filter((m) => m.deletedAt === null && m.pi !== null)
      .slice(0, RECENT_MESSAGES);
    const pi = summaryOf(
      computeConversationPi({ recent: recent.map((m) => ({ id: m.id, receivedAt: m.receivedAt, pi: m.pi! })) }),
    );
    if (conversation.pi?.score === pi.score && conversation.pi.modelVersion === pi.modelVersion) return;
    // Re-read right before writing: counters may have moved since.
    const fresh = await storage.conversations.get(accountId, conversationId);
    if (fresh !== null) await storage.conversations.update({ ...fresh, pi });
  }

  // --- contacts -------------------------------------------------------------------------------------------------

  async contactPi(contact: Contact, seen?: SeenFrom): Promise<PrivacyIndex> {
    return computeContactPi(await this.contactFacts(contact, seen));
  }

  /** Recomputes and stores a contact's PI; `seen` (from a bulk pass over their messages) spares the scan. */
  async refreshContact(accountId: string, contactId: string, seen?: SeenFrom): Promise<void> {
    const contact = await this.deps.storage.contacts.get(accountId, contactId);
    if (contact === null) return;
    const pi = summaryOf(await this.contactPi(contact, seen));
    if (contact.pi?.score === pi.score && contact.pi.modelVersion === pi.modelVersion) return;
    await this.deps.storage.contacts.update({ ...contact, pi });
  }

  private async contactFacts(contact: Contact, seen?: SeenFrom): Promise<ContactPiFacts> {
    const addresses = contact.identities.filter((i) => i.protocol === 'email').map((i) => i.address);
    const now = this.deps.clock();
    const keys =
      addresses.length === 0 || !this.deps.keysFor ? [] : await this.deps.keysFor(contact.accountId, addresses);
    let best: { trust: KeyTrust; fingerprint: string } | null = null;
    for (const k of keys) {
      if (k.status !== 'active' || (k.keyExpiresAt !== null && k.keyExpiresAt <= now)) continue;
      const trust: KeyTrust = k.verifiedAt !== null ? 'verified' : k.source;
      if (best === null || KEY_TRUST_RANK[trust] > KEY_TRUST_RANK[best.trust])
        best = { trust, fingerprint: k.fingerprint };
    }
    const email = seen ? mergeSeen(seen, addresses) : await this.seenFrom(contact, new Set(addresses));
    let provider: ContactPiFacts['provider'] = null;
    for (const a of addresses) {
      const hit = isDataExploitingDomain(a.slice(a.lastIndexOf('@') + 1));
      if (hit) {
        provider = { id: hit.id, name: hit.name };
        break;
      }
    }
    return {
      address: addresses[0] ?? null,
      email: { reachable: addresses.length > 0, ...email },
      key: best,
      keyConflict: keys.some((k) => k.status === 'conflict'),
      provider,
      federation:
        this.federationFacts === null || addresses.length === 0
          ? null
          : await this.federationFacts(addresses).catch(() => null),
    };
  }

  /**
   * What recent mail from the contact showed: TLS we negotiated, verified authentication. Looks at their conversations
   * among the account's CONTACT_CONVERSATION_SCAN most recent (a contact being scored alone is usually a recent one);
   * bulk recomputations gather it from every message instead (SeenFrom).
   */
  private async seenFrom(
    contact: Contact,
    addresses: ReadonlySet<string>,
  ): Promise<{ tlsSeen: boolean; authenticatedSeen: boolean }> {
    const seen = { tlsSeen: false, authenticatedSeen: false };
    if (addresses.size === 0) return seen;
    const { storage } = this.deps;
    const conversations = (
      await storage.conversations.list(contact.accountId, { limit: CONTACT_CONVERSATION_SCAN })
    ).filter((c) => c.participants.some((p) => p.contactId === contact.id || addresses.has(p.address)));
    for (const c of conversations.slice(0, 5)) {
      for (const m of await storage.messages.listByConversation(contact.accountId, c.id, { limit: 20 })) {
        if (m.direction !== 'inbound' || !addresses.has(m.from.address)) continue;
        const f = messagePiFacts(m, { knownContact: false });
        if (f.transport?.tls) seen.tlsSeen = true;
        if (f.authentication?.dkim.result === 'aligned' || f.authentication?.dmarc.pass) seen.authenticatedSeen = true;
      }
    }
    return seen;
  }

  // --- devices and the account ----------------------------------------------------------------------------------

  devicePi(device: Device): PrivacyIndex {
    const verdict = deviceSupport(device, this.deps.clock());
    return computeDevicePi({ id: device.id, ...verdict });
  }

  async accountPi(accountId: string): Promise<PrivacyIndex> {
    return computeAccountPi(await this.accountFacts(accountId));
  }

  private async accountFacts(accountId: string): Promise<AccountPiFacts> {
    const { storage } = this.deps;
    const account = await storage.accounts.get(accountId);
    const devices = (await storage.devices.listByAccount(accountId)).filter((d) => d.revokedAt === null);
    const exchanges = await this.recentExchanges(accountId);
    return {
      authentication: account?.totpSecretSealed ? 'password+totp' : 'password',
      clientCertificateAvailable: false,
      keyStorage: this.deps.keyStorageOf ? await this.deps.keyStorageOf(accountId) : 'none',
      devices: devices.map((d) => ({
        id: d.id,
        name: d.name,
        score: (d.pi?.modelVersion === PI_MODEL_VERSION ? d.pi.score : null) ?? this.devicePi(d).score,
      })),
      exchanges,
      instance: this.deps.standing.current(),
    };
  }

  private async recentExchanges(accountId: string): Promise<{ count: number; meanScore: number }> {
    const { storage } = this.deps;
    const scores: { at: number; score: number }[] = [];
    for (const c of await storage.conversations.list(accountId, { limit: 30 })) {
      for (const m of await storage.messages.listByConversation(accountId, c.id, { limit: 20 })) {
        if (m.deletedAt === null && m.pi !== null) scores.push({ at: m.receivedAt.getTime(), score: m.pi.score });
      }
    }
    const recent = scores.sort((a, b) => b.at - a.at).slice(0, RECENT_EXCHANGES);
    if (recent.length === 0) return { count: 0, meanScore: 0 };
    return { count: recent.length, meanScore: Math.round(recent.reduce((s, r) => s + r.score, 0) / recent.length) };
  }

  async storeAccountPi(accountId: string, pi: StoredPi): Promise<void> {
    const stored = await this.deps.storage.accounts.getPi(accountId);
    if (stored?.score !== pi.score || stored.modelVersion !== pi.modelVersion)
      await this.deps.storage.accounts.setPi(accountId, pi);
  }

  /** Recomputes and stores the devices' and the account's PIs. */
  async refreshSummary(accountId: string): Promise<StoredPi> {
    const { storage } = this.deps;
    for (const d of await storage.devices.listByAccount(accountId)) {
      const pi = summaryOf(this.devicePi(d));
      if (d.pi?.score !== pi.score || d.pi.modelVersion !== pi.modelVersion)
        await storage.devices.setPi(accountId, d.id, pi);
    }
    const pi = summaryOf(await this.accountPi(accountId));
    await storage.accounts.setPi(accountId, pi);
    return pi;
  }

  /**
   * The account's privacy overview (GET /api/v1/privacy): its PI, and the ranked suggestions to raise it — the
   * account's own, then those of its contacts and devices, each with the element it concerns and its measured gain.
   */
  async overview(
    accountId: string,
  ): Promise<{ account: PrivacyIndex; suggestions: (PiSuggestion & { elementScore: number })[] }> {
    const account = await this.accountPi(accountId);
    const merged = new Map<string, PiSuggestion & { elementScore: number }>();
    const add = (s: PiSuggestion, elementScore: number) => {
      const key = `${s.action} ${s.element}`;
      const known = merged.get(key);
      if (!known || known.gain < s.gain) merged.set(key, { ...s, elementScore });
    };
    for (const s of account.suggestions) add(s, account.score);
    for (const d of await this.deps.storage.devices.listByAccount(accountId)) {
      if (d.revokedAt !== null) continue;
      const pi = this.devicePi(d);
      for (const s of pi.suggestions) add(s, pi.score);
    }
    for (const c of await this.deps.storage.contacts.list(accountId, { limit: 200 })) {
      if (c.automatic && c.pi === null) continue;
      const pi = await this.contactPi(c);
      for (const s of pi.suggestions) add({ ...s, element: `contact:${c.id}` }, pi.score);
    }
    const suggestions = [...merged.values()]
      .sort((a, b) => b.gain - a.gain || a.elementScore - b.elementScore || (a.element < b.element ? -1 : 1))
      .slice(0, 50);
    return { account, suggestions };
  }

  // --- recomputation --------------------------------------------------------------------------------------------

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
        await this.refreshContact(job.accountId, job.contactId);
        break;
      case 'summary':
        await this.refreshSummary(job.accountId);
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
        return { ...m.facts, openpgp: await this.openPgpFacts(accountId, m.from.address, raw, pgp) };
      });
    }
    await this.refreshContact(accountId, contactId, seen);
    await this.refreshSummary(accountId);
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
      for (const c of contacts) await this.refreshContact(accountId, c.id, seen);
      if (contacts.length < BULK_PAGE) break;
      after = { displayName: contacts[contacts.length - 1]!.displayName, id: contacts[contacts.length - 1]!.id };
    }
    await this.refreshSummary(accountId);
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
          isKnown = other === null ? false : await this.isKnown(accountId, other.contactId, other.address);
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
    await this.refreshConversation(accountId, conversationId);
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

function mergeSeen(seen: SeenFrom, addresses: readonly string[]): { tlsSeen: boolean; authenticatedSeen: boolean } {
  const out = { tlsSeen: false, authenticatedSeen: false };
  for (const a of addresses) {
    const s = seen.get(a);
    if (s?.tlsSeen) out.tlsSeen = true;
    if (s?.authenticatedSeen) out.authenticatedSeen = true;
  }
  return out;
}
