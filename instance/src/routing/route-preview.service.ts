import { isDataExploitingDomain } from '@caliopen/charter';
import type { PrivacyIndex } from '@caliopen/federation-protocol';
import type { Account } from '../accounts/account.entity.ts';
import { parseAddress } from '../email/compose.address.ts';
import type { DeliveryFact } from '../mail/delivery.fact.ts';
import type { AccountKeys } from '../keys/account-key.port.ts';
import type { KeyDiscoveryService, RecipientKey, RecipientKeySource } from '../keys/key-discovery.service.ts';
import type { MessagePiFacts } from '../pi-model/message-pi.model.ts';
import { computeMessagePi } from '../pi-model/message-pi.model.ts';
import type { PiService } from '../privacy/pi.service.ts';
import { AppError } from '../shared/errors.ts';
import { armorPublic } from '../keys/account-key.context.ts';
import type { Storage } from '../database/storage.port.ts';

/**
 * "Which routes exist to this recipient, and what Privacy Index does each give?" (`GET /api/v1/routes?to=`): the
 * routes, most private first, each with whether it is available now and why, the PI a message sent that way would get
 * (the message model itself, computeMessagePi, over the facts that route produces for an outbound message), and the
 * route the instance would choose: the most private available one — never plaintext when a safer route exists.
 *
 * Routes come from RouteProviders, each ranked by how private its routes are. Email is the one provider today
 * (`openpgp-email`, `local`, `tls-email`, `email`); the inter-instance protocol adds its own (a labelled peer instance,
 * sealed envelope) with a higher rank through `providers`, without touching this one.
 */

/** `federation` is reserved for the inter-instance protocol's provider. */
export type RouteKind = 'federation' | 'openpgp-email' | 'local' | 'tls-email' | 'email' | 'xmpp';

/** Routes offered beside compose's (a chat reply: POST /api/v1/xmpp/messages), never `chosen` for a composed mail. */
const NOT_COMPOSE: ReadonlySet<RouteKind> = new Set(['xmpp']);

export type RouteStatus =
  /** The route can be used now. */
  | 'available'
  /** It cannot (no key, plaintext refused by policy, the server refused TLS last time...). */
  | 'unavailable'
  /** It may work: nothing tells yet (TLS with a domain we never delivered to; STARTTLS is tried first). */
  | 'unknown';

export interface RouteOption {
  route: RouteKind;
  /** Higher is more private; routes are listed by rank, highest first. */
  rank: number;
  status: RouteStatus;
  available: boolean;
  /** Why it is (not) available, in words. */
  reason: string;
  /** The content would be encrypted end to end on this route. */
  encrypted: boolean;
  /** The recipient's key this route encrypts to (openpgp-email), and how it is known. */
  /** The key the route encrypts to; `armored`: the public key, for a client that encrypts on the user's device. */
  key: { fingerprint: string; source: RecipientKeySource; verified: boolean; armored: string } | null;
  /** The PI a message sent this way would get. */
  pi: PrivacyIndex;
}

export interface RoutePreview {
  to: string;
  routes: RouteOption[];
  /** The most private available route (a TLS route whose support is unknown counts: STARTTLS is always tried first). */
  chosen: RouteKind | null;
  /** Whether a message sent now would be encrypted end to end. */
  encrypted: boolean;
}

/** What a provider knows about the sender and the recipient. */
export interface RouteContext {
  sender: Account;
  /** Normalised recipient address. */
  address: string;
  domain: string;
  /** The recipient is a contact the sender made or kept, or has written to. */
  knownContact: boolean;
}

/** The extension point: something that offers routes to a recipient (email today; federation next). */
export interface RouteProvider {
  name: string;
  routesFor(context: RouteContext): Promise<RouteOption[]>;
}

/** Ranks of the email routes (federation will rank above them). */
export const EMAIL_ROUTE_RANKS = { 'openpgp-email': 40, local: 30, 'tls-email': 20, email: 10 } as const;

export interface RoutePreviewDeps {
  storage: Storage;
  privacy: Pick<PiService, 'isKnown'>;
  keys: Pick<KeyDiscoveryService, 'keyFor' | 'localAccount'>;
  accountKeys: Pick<AccountKeys, 'publicKey'>;
  domain: string;
  tlsPolicy: 'opportunistic' | 'required';
  /** More providers of routes beside email's (the federation's: federation.wiring.ts federationRouteProvider). */
  providers?: readonly RouteProvider[];
  /**
   * Asks the recipient's member instance whether the address exists (SPEC.md §12.1, PeerDirectoryClient): `unknown`
   * makes the preview a `recipient_unknown` refusal, before anything is written or sent.
   */
  recipients?: (address: string) => Promise<{ verdict: 'exists' | 'unknown' | 'unverified'; domain: string | null }>;
}

export class RoutePreviewService {
  private readonly providers: RouteProvider[];

  constructor(private readonly deps: RoutePreviewDeps) {
    this.providers = [new EmailRoutes(deps), ...(deps.providers ?? [])];
  }

  async preview(sender: Account, to: string): Promise<RoutePreview> {
    const parsed = parseAddress(to);
    if (!parsed.ok)
      throw new AppError(
        'recipient_invalid',
        `"${to.slice(0, 80).replace(/[\u0000-\u001f\u007f]/g, '?')}" ${parsed.reason}.`,
      );
    const address = parsed.value.address.toLowerCase();
    const domain = parsed.value.domain.toLowerCase();
    if (domain !== this.deps.domain.toLowerCase() && this.deps.recipients) {
      const check = await this.deps.recipients(address);
      if (check.verdict === 'unknown')
        throw new AppError('recipient_unknown', `${check.domain ?? domain} says it has no user ${address}.`);
    }
    const contact = await this.deps.storage.contacts.findByIdentity(sender.id, 'email', address);
    const knownContact = await this.deps.privacy.isKnown(sender.id, contact?.id ?? null, address);
    const context: RouteContext = { sender, address, domain, knownContact };
    const routes = (await Promise.all(this.providers.map((p) => p.routesFor(context))))
      .flat()
      .sort((a, b) => b.rank - a.rank);
    // In rank order: the first available route, or TLS email whose support is not known yet (STARTTLS is tried first,
    // so it is what sending does; plaintext is only what an MX that offers no TLS gets).
    const chosen =
      routes.find(
        (r) => !NOT_COMPOSE.has(r.route) && (r.available || (r.route === 'tls-email' && r.status === 'unknown')),
      ) ?? null;
    return { to: address, routes, chosen: chosen?.route ?? null, encrypted: chosen?.encrypted ?? false };
  }
}

/** Email routes: OpenPGP when keys allow, delivery inside the instance, or SMTP with or without TLS. */
class EmailRoutes implements RouteProvider {
  readonly name = 'email';

  constructor(private readonly deps: RoutePreviewDeps) {}

  async routesFor(c: RouteContext): Promise<RouteOption[]> {
    const local = c.domain === this.deps.domain.toLowerCase();
    const localAccount = local ? await this.deps.keys.localAccount(c.address) : null;
    if (local && localAccount === null) {
      const pi = this.pi(c, { via: 'local', tls: null, peer: null }, false);
      return [this.option('local', 'unavailable', `${c.address} is not an account of this instance.`, false, null, pi)];
    }
    const [key, own] = await Promise.all([
      this.deps.keys.keyFor(c.sender.id, c.address, { discover: true }),
      this.deps.accountKeys.publicKey(c.sender.id),
    ]);
    const last = local ? null : await this.lastDelivery(c.sender.id, c.domain);
    const routes: RouteOption[] = [];

    // End to end: the recipient's key, and the sender's own (the Sent copy is encrypted to it as well).
    const smtpTls = last?.tls ? { via: 'smtp' as const, tls: last.tls, peer: last.peer } : null;
    const e2eTransport = local ? { via: 'local' as const, tls: null, peer: null } : smtpTls;
    const e2ePi = this.pi(c, e2eTransport, true);
    if (key === null) {
      routes.push(
        this.option(
          'openpgp-email',
          'unavailable',
          local
            ? `${c.address} has no OpenPGP key on this instance.`
            : `No OpenPGP key is known for ${c.address} (none held, none published by WKD or DNS).`,
          true,
          null,
          e2ePi,
        ),
      );
    } else if (own === null) {
      routes.push(
        this.option(
          'openpgp-email',
          'unavailable',
          'You have no OpenPGP key of your own: your copy of the message could not be encrypted for you.',
          true,
          key,
          e2ePi,
        ),
      );
    } else {
      routes.push(
        this.option(
          'openpgp-email',
          'available',
          `Encrypted to key ${key.fingerprint.slice(-16).toUpperCase()} (${howKnown(key)}) and to yours.`,
          true,
          key,
          e2ePi,
        ),
      );
    }

    if (local) {
      routes.push(
        this.option(
          'local',
          'available',
          'Delivered inside this instance: it never crosses a network.',
          false,
          null,
          this.pi(c, { via: 'local', tls: null, peer: null }, false),
        ),
      );
      return routes;
    }

    // TLS on the hop to their server: known from our last delivery to that domain (the sender's own Sent copies).
    const required = this.deps.tlsPolicy === 'required';
    if (last?.tls) {
      routes.push(
        this.option(
          'tls-email',
          'available',
          `${last.tls.version} was negotiated with ${last.peer ?? c.domain} on our last delivery (${last.at}).`,
          false,
          null,
          this.pi(c, smtpTls, false),
        ),
      );
    } else if (last !== null) {
      routes.push(
        this.option(
          'tls-email',
          required ? 'unknown' : 'unavailable',
          `Our last delivery to ${c.domain} (${last.at}) went without TLS: their server did not offer it.${required ? ' This instance now requires TLS: it will be tried again.' : ''}`,
          false,
          null,
          this.pi(c, null, false),
        ),
      );
    } else {
      routes.push(
        this.option(
          'tls-email',
          'unknown',
          `Not known yet: you never delivered to ${c.domain}. STARTTLS is always tried first.`,
          false,
          null,
          this.pi(c, null, false),
        ),
      );
    }
    const plainPi = this.pi(c, { via: 'smtp', tls: null, peer: last?.peer ?? null }, false);
    routes.push(
      required
        ? this.option(
            'email',
            'unavailable',
            'This instance never sends mail without TLS (outbound.tlsPolicy = required).',
            false,
            null,
            plainPi,
          )
        : this.option(
            'email',
            'available',
            'Plain email: readable on the way when their server offers no TLS, like a postcard.',
            false,
            null,
            plainPi,
          ),
    );
    return routes;
  }

  private option(
    route: keyof typeof EMAIL_ROUTE_RANKS,
    status: RouteStatus,
    reason: string,
    encrypted: boolean,
    key: RecipientKey | null,
    pi: PrivacyIndex,
  ): RouteOption {
    return {
      route,
      rank: EMAIL_ROUTE_RANKS[route],
      status,
      available: status === 'available',
      reason,
      encrypted,
      key:
        key === null
          ? null
          : {
              fingerprint: key.fingerprint,
              source: key.source,
              verified: key.verified,
              armored: armorPublic(key.publicKey),
            },
      pi,
    };
  }

  /** The model's PI for an outbound message that travels this way. */
  private pi(
    c: RouteContext,
    transport: { via: 'smtp' | 'local'; tls: { version: string; cipher: string } | null; peer: string | null } | null,
    encrypted: boolean,
  ): PrivacyIndex {
    const hit = isDataExploitingDomain(c.domain);
    const facts: MessagePiFacts = {
      direction: 'outbound',
      transport: transport === null ? null : { ...transport, plaintextHops: 0 },
      authentication: null,
      provider: hit ? { id: hit.id, name: hit.name, evidence: `Sent to ${c.domain}` } : null,
      openpgp: encrypted
        ? { encrypted: true, signature: 'none', signerKeyTrust: null, signerFingerprint: null, problem: null }
        : null,
      knownContact: c.knownContact,
      correspondent: c.address,
      federation: null,
    };
    return computeMessagePi(facts);
  }

  /**
   * What our newest delivery to the domain negotiated, from the sender's own Sent copies (`facts.delivery`, recorded
   * per recipient domain): the conversations with someone at that domain, newest first, a bounded number of each.
   */
  private async lastDelivery(accountId: string, domain: string): Promise<DeliveryFact | null> {
    const { storage } = this.deps;
    const suffix = `@${domain}`;
    const conversations = (await storage.conversations.list(accountId, { limit: 200 })).filter((c) =>
      c.participants.some((p) => p.address.toLowerCase().endsWith(suffix)),
    );
    let best: DeliveryFact | null = null;
    for (const c of conversations.slice(0, 20)) {
      for (const m of await storage.messages.listByConversation(accountId, c.id, { limit: 50 })) {
        if (m.direction !== 'outbound' || !Array.isArray(m.facts['delivery'])) continue;
        for (const d of (m.facts['delivery'] as unknown[]).slice(0, 100)) {
          const fact = deliveryFact(d);
          if (
            fact !== null &&
            fact.domain === domain &&
            fact.via === 'smtp' &&
            (best === null || Date.parse(fact.at) > Date.parse(best.at))
          )
            best = fact;
        }
      }
    }
    return best;
  }
}

/** A stored delivery fact, checked field by field (stored JSON: anything malformed reads as nothing). */
function deliveryFact(raw: unknown): DeliveryFact | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const d = raw as Record<string, unknown>;
  const s = (v: unknown) => (typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : null);
  const domain = s(d['domain']);
  const at = s(d['at']);
  if (
    domain === null ||
    at === null ||
    !Number.isFinite(Date.parse(at)) ||
    (d['via'] !== 'smtp' && d['via'] !== 'local')
  )
    return null;
  const t = d['tls'] as Record<string, unknown> | null | undefined;
  const tls = t && s(t['version']) && s(t['cipher']) ? { version: s(t['version'])!, cipher: s(t['cipher'])! } : null;
  return { domain: domain.toLowerCase(), via: d['via'] as 'smtp' | 'local', tls, peer: s(d['peer']), at };
}

function howKnown(key: RecipientKey): string {
  if (key.source === 'local') return 'their key on this instance';
  if (key.verified) return 'fingerprint compared';
  switch (key.source) {
    case 'autocrypt':
      return 'learnt from their Autocrypt header';
    case 'attached':
      return 'added by you';
    case 'wkd':
      return "published by their provider's Web Key Directory";
    case 'dns':
      return 'published in DNS';
    case 'dnssec':
      return 'published in DNSSEC-validated DNS';
    case 'federation':
      return "from their instance's key directory";
  }
}
