import { isDataExploitingDomain } from '@caliopen/charter';
import type { EventPublisher } from '../shared/event-bus.ts';
import type { PrivacyEvents } from './privacy.events.ts';
import type { PiSuggestion, PrivacyIndex } from '@caliopen/federation-protocol';
import type { Contact } from '../contacts/contact.entity.ts';
import type { Storage } from '../database/storage.port.ts';
import type { Device } from '../devices/device.entity.ts';
import { deviceSupport } from '../devices/os-support.ts';
import type { CorrespondentKey } from '../keys/public-key.entity.ts';
import type { DeliveryFact } from '../mail/delivery.fact.ts';
import type { Message, StoredPi } from '../mail/message.entity.ts';
import { computeAccountPi, type AccountPiFacts } from '../pi-model/account-pi.model.ts';
import { computeContactPi, type ContactPiFacts } from '../pi-model/contact-pi.model.ts';
import { computeConversationPi, RECENT_MESSAGES } from '../pi-model/conversation-pi.model.ts';
import { computeDevicePi } from '../pi-model/device-pi.model.ts';
import type { InstanceStanding } from '../pi-model/instance-standing.ts';
import { messagePiFacts } from '../pi-model/message-pi.facts.ts';
import { computeMessagePi } from '../pi-model/message-pi.model.ts';
import { KEY_TRUST_RANK, type KeyTrust } from '../pi-model/pi.shared.ts';
import { PI_MODEL_VERSION } from '../pi-model/pi.tally.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';

/** How many recent messages make the account's "exchanges" factor. */
export const RECENT_EXCHANGES = 100;
const CONTACT_CONVERSATION_SCAN = 200;

/** What mail from an address showed (TLS we negotiated, verified authentication), gathered while rescoring in bulk. */
export type SeenFrom = Map<string, { tlsSeen: boolean; authenticatedSeen: boolean }>;

export const summaryOf = (pi: PrivacyIndex): StoredPi => ({
  score: pi.score,
  level: pi.level,
  modelVersion: pi.modelVersion,
});

/** What scoring needs (part of PiService's dependencies). */
export interface PiScoringDeps {
  storage: Storage;
  clock: Clock;
  standing: InstanceStanding;
  /** Where the account's private key lives (the keys service answers; 'none' until it exists). */
  keyStorageOf?: (accountId: string) => Promise<'none' | 'server' | 'client'>;
  /** Correspondents' keys for some addresses (storage.keys once it exists). */
  keysFor?: (accountId: string, addresses: readonly string[]) => Promise<CorrespondentKey[]>;
  /** A contact's facts as a member instance gives them (label, instance PI, shared account PI): the federation's. */
  federationFacts?: (addresses: readonly string[]) => Promise<ContactPiFacts['federation']>;
  /** Told `conversation.pi-changed` when a discussion's stored PI moves (the users' open apps redraw it). */
  events?: EventPublisher<PrivacyEvents>;
}

/**
 * Scoring: gathers each element's facts from storage, runs the pure models (pi-model/) and stores the results, one
 * element at a time. Part of PiService (pi.service.ts), split out by responsibility.
 */
export class PiScoring {
  private readonly deliveryWrites = new Map<string, Promise<void>>();
  private readonly federationFacts: ((addresses: readonly string[]) => Promise<ContactPiFacts['federation']>) | null;

  constructor(private readonly deps: PiScoringDeps) {
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
      // One commit for the message and its conversation, durable off the event loop (a unit of work, ADR 0028): a
      // delivery is recorded for every message sent, and two synchronous commits each held the event loop in fsync.
      await this.deps.storage.unitOfWork((unit) =>
        unit.item(async () => {
          await this.deps.storage.messages.setPis(accountId, [{ id: m.id, pi, facts }]);
          await this.refreshConversation(accountId, m.conversationId);
        }),
      );
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
    const recent = (await storage.messages.recentPis(accountId, conversationId, RECENT_MESSAGES + 5))
      .filter((m) => m.deletedAt === null && m.pi !== null)
      .slice(0, RECENT_MESSAGES);
    const pi = summaryOf(
      computeConversationPi({ recent: recent.map((m) => ({ id: m.id, receivedAt: m.receivedAt, pi: m.pi! })) }),
    );
    if (conversation.pi?.score === pi.score && conversation.pi.modelVersion === pi.modelVersion) return;
    // Re-read right before writing: counters may have moved since.
    const fresh = await storage.conversations.get(accountId, conversationId);
    if (fresh === null) return;
    await storage.conversations.update({ ...fresh, pi });
    await this.deps.events?.publish('conversation.pi-changed', { accountId, conversationId, score: pi.score });
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
