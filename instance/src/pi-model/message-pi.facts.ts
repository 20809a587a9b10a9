import { isDataExploitingDomain } from '@caliopen/charter';
import type { Message } from '../mail/message.entity.ts';
import type { AuthenticationFacts, TransportFacts } from '../mail/message.facts.ts';
import type { MessagePiFacts } from './message-pi.model.ts';
import type { KeyTrust } from './pi.shared.ts';

/**
 * From a stored message's recorded facts (`Message.facts`, JSON written at arrival) to the model's input. Only
 * verified facts cross: a DKIM entry counts when its result is `pass`, TLS only as we negotiated it. Anything
 * missing or malformed in the stored JSON reads as "not verified" (never as a safer fact).
 */
export interface MessageContext {
  /** The correspondent is a contact the user made or kept. */
  knownContact: boolean;
}

export function messagePiFacts(message: Message, context: MessageContext): MessagePiFacts {
  const facts = message.facts as Record<string, unknown>;
  const inbound = message.direction === 'inbound';
  const correspondent = inbound
    ? message.from.address || null
    : (message.to[0]?.address ?? message.cc[0]?.address ?? null);
  return {
    direction: message.direction,
    transport: transportOf(facts['transport'], inbound, facts['delivery']),
    authentication: inbound ? authenticationOf(facts['authentication']) : null,
    provider: providerOf(message, facts),
    openpgp: openPgpOf(facts['openpgp']),
    knownContact: context.knownContact,
    correspondent,
    federation: inbound ? federationOf(facts['federation']) : deliveredFederation(facts['delivery']),
    xmpp: xmppOf(facts['xmpp']),
  };
}

/** A chat message's XMPP section: the server, and the encryption its stanza claims (a claim: it earns nothing). */
function xmppOf(raw: unknown): MessagePiFacts['xmpp'] {
  if (!isObject(raw)) return null;
  const server = str(raw['server']);
  if (server === null) return null;
  const claim = raw['e2eClaim'];
  return { server, e2eClaim: claim === 'omemo' || claim === 'openpgp' ? claim : null };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v.length > 0 && v.length <= 256 ? v : null;
}

function transportOf(raw: unknown, inbound: boolean, delivery: unknown): MessagePiFacts['transport'] {
  if (!inbound) {
    // Outbound: what our delivery negotiated with each recipient's server; the weakest delivery counts.
    if (!Array.isArray(delivery) || delivery.length === 0) return null;
    let weakest: MessagePiFacts['transport'] = null;
    for (const d of delivery.slice(0, 100)) {
      if (!isObject(d)) return null;
      const tls =
        isObject(d['tls']) && str(d['tls']['version']) && str(d['tls']['cipher'])
          ? { version: str(d['tls']['version'])!, cipher: str(d['tls']['cipher'])! }
          : null;
      const t = {
        via:
          d['via'] === 'local'
            ? ('local' as const)
            : d['via'] === 'federation'
              ? ('federation' as const)
              : d['via'] === 'xmpp'
                ? ('xmpp' as const)
                : ('smtp' as const),
        tls,
        peer: str(d['peer']),
        plaintextHops: 0,
      };
      if (weakest === null || (weakest.tls !== null && tls === null) || (weakest.via === 'local' && t.via !== 'local'))
        weakest = t;
    }
    return weakest;
  }
  if (!isObject(raw)) return null;
  const t = raw as Partial<TransportFacts>;
  const via =
    t.via === 'smtp' || t.via === 'imap-import' || t.via === 'local' || t.via === 'federation' || t.via === 'xmpp'
      ? t.via
      : null;
  if (via === null) return null;
  const tls =
    isObject(t.tls) && str(t.tls.version) && str(t.tls.cipher)
      ? { version: t.tls.version, cipher: t.tls.cipher }
      : null;
  const plaintextHops =
    Number.isInteger(t.plaintextHops) && (t.plaintextHops as number) >= 0 ? (t.plaintextHops as number) : 0;
  return { via, tls, peer: str(t.helo), plaintextHops };
}

function authenticationOf(raw: unknown): MessagePiFacts['authentication'] {
  if (!isObject(raw)) return null;
  const a = raw as Partial<AuthenticationFacts>;
  const spfPass = isObject(a.spf) && a.spf.result === 'pass';
  const dkims = Array.isArray(a.dkim) ? a.dkim.filter(isObject) : [];
  const aligned = dkims.find((d) => d.result === 'pass' && d.aligned === true);
  const unaligned = dkims.find((d) => d.result === 'pass');
  const failed = dkims.find((d) => d.result !== 'none');
  const dkim: NonNullable<MessagePiFacts['authentication']>['dkim'] = aligned
    ? { result: 'aligned', domain: str(aligned.domain) }
    : unaligned
      ? { result: 'unaligned', domain: str(unaligned.domain) }
      : failed
        ? { result: 'failed', domain: str(failed.domain) }
        : { result: 'none', domain: null };
  const dmarcPass = isObject(a.dmarc) && a.dmarc.result === 'pass';
  return {
    spf: { pass: spfPass, domain: isObject(a.spf) ? str(a.spf.domain) : null },
    dkim,
    dmarc: { pass: dmarcPass, domain: isObject(a.dmarc) ? str(a.dmarc.domain) : null },
  };
}

/** isDataExploitingDomain, remembered per domain (bounded): bulk recomputation meets the same few domains again and again. */
const PROVIDER_CACHE = new Map<string, ReturnType<typeof isDataExploitingDomain>>();
const PROVIDER_CACHE_MAX = 10_000;
function providerOfDomain(domain: string): ReturnType<typeof isDataExploitingDomain> {
  const key = domain.toLowerCase();
  let hit = PROVIDER_CACHE.get(key);
  if (hit === undefined) {
    hit = isDataExploitingDomain(key);
    if (PROVIDER_CACHE.size >= PROVIDER_CACHE_MAX) PROVIDER_CACHE.clear();
    PROVIDER_CACHE.set(key, hit);
  }
  return hit;
}

function domainOf(address: string): string | null {
  const at = address.lastIndexOf('@');
  return at > 0 ? address.slice(at + 1) : null;
}

/**
 * A data-exploiting provider on the other side of the message: the correspondent's address domain, a verified DKIM
 * signer, or a server on the way in (HELO name, Received hops). Any one of these is enough: a worse fact, even
 * claimed, may lower a PI.
 */
function providerOf(message: Message, facts: Record<string, unknown>): MessagePiFacts['provider'] {
  const candidates: { domain: string; evidence: string }[] = [];
  if (message.direction === 'inbound') {
    const d = domainOf(message.from.address);
    if (d) candidates.push({ domain: d, evidence: `Sent from ${d}` });
    const auth = facts['authentication'];
    if (isObject(auth) && Array.isArray(auth['dkim'])) {
      for (const k of auth['dkim'].slice(0, 10))
        if (isObject(k) && k['result'] === 'pass' && str(k['domain']))
          candidates.push({ domain: k['domain'] as string, evidence: `Signed (DKIM) by ${k['domain'] as string}` });
    }
    const tr = facts['transport'];
    if (isObject(tr)) {
      if (str(tr['helo']))
        candidates.push({ domain: tr['helo'] as string, evidence: `Handed over by ${tr['helo'] as string}` });
      if (Array.isArray(tr['receivedChain'])) {
        for (const hop of tr['receivedChain'].slice(0, 20)) {
          if (!isObject(hop)) continue;
          for (const k of ['from', 'by'] as const)
            if (str(hop[k]))
              candidates.push({
                domain: (hop[k] as string).split(/\s/)[0]!,
                evidence: `Relayed by ${hop[k] as string}`,
              });
        }
      }
    }
  } else {
    for (const p of [...message.to, ...message.cc]) {
      const d = domainOf(p.address);
      if (d) candidates.push({ domain: d, evidence: `Sent to ${d}` });
    }
  }
  for (const c of candidates) {
    const hit = providerOfDomain(c.domain);
    if (hit) return { id: hit.id, name: hit.name, evidence: c.evidence };
  }
  return null;
}

const SIGNATURES = new Set(['none', 'valid', 'invalid', 'unknown_key', 'unverifiable']);
const TRUSTS = new Set(['verified', 'autocrypt', 'attached', 'wkd', 'dns', 'dnssec', 'federation']);

function openPgpOf(raw: unknown): MessagePiFacts['openpgp'] {
  if (!isObject(raw)) return null;
  const signature = SIGNATURES.has(raw['signature'] as string)
    ? (raw['signature'] as NonNullable<MessagePiFacts['openpgp']>['signature'])
    : 'none';
  const trust = TRUSTS.has(raw['signerKeyTrust'] as string) ? (raw['signerKeyTrust'] as KeyTrust) : null;
  return {
    encrypted: raw['encrypted'] === true,
    signature: signature === 'valid' && trust === null ? 'unverifiable' : signature,
    signerKeyTrust: signature === 'valid' ? trust : null,
    signerFingerprint: str(raw['signerFingerprint']),
    problem: str(raw['problem']),
    ...(signature === 'unknown_key' && raw['keyConflict'] === true ? { keyConflict: true } : {}),
  };
}

function federationOf(raw: unknown): MessagePiFacts['federation'] {
  if (!isObject(raw) || !str(raw['peerDomain'])) return null;
  const pi = raw['peerInstancePi'];
  return {
    peerDomain: raw['peerDomain'] as string,
    labelValid: raw['labelValid'] === true,
    peerInstancePi: Number.isInteger(pi) && (pi as number) >= 0 && (pi as number) <= 100 ? (pi as number) : null,
    sealed: raw['sealed'] === true,
    forwardSecret: raw['forwardSecret'] === true,
    senderAuthenticated: raw['senderAuthenticated'] === true,
  };
}

/**
 * Outbound (a Sent copy): the federation facts its deliveries recorded (`facts.delivery`, one entry per recipient
 * domain, DeliveryFact.federation). The weakest delivery counts, as for the transport: one delivery by email (or one
 * over the federation without verified facts) and the message is worth what email is (null); local deliveries never
 * left this instance and weaken nothing. Across peers: the least trusted peer (no valid label, then the lowest
 * instance PI) names the facts, and sealed / forward secret / authenticated hold only when they held for every one.
 */
function deliveredFederation(delivery: unknown): MessagePiFacts['federation'] {
  if (!Array.isArray(delivery) || delivery.length === 0) return null;
  let weakest: NonNullable<MessagePiFacts['federation']> | null = null;
  let sealed = true;
  let forwardSecret = true;
  let authenticated = true;
  for (const d of delivery.slice(0, 100)) {
    if (!isObject(d)) return null;
    if (d['via'] === 'local') continue;
    if (d['via'] !== 'federation') return null;
    const f = d['federation'];
    const peerDomain = str(d['domain']);
    if (!isObject(f) || peerDomain === null) return null;
    const pi = f['peerInstancePi'];
    const entry = {
      peerDomain,
      labelValid: f['labelValid'] === true,
      peerInstancePi: Number.isInteger(pi) && (pi as number) >= 0 && (pi as number) <= 100 ? (pi as number) : null,
      sealed: f['sealed'] === true,
      forwardSecret: f['forwardSecret'] === true,
      senderAuthenticated: f['receiptVerified'] === true,
    };
    sealed &&= entry.sealed;
    forwardSecret &&= entry.forwardSecret;
    authenticated &&= entry.senderAuthenticated;
    const rank = (e: typeof entry) => [e.labelValid ? 1 : 0, e.peerInstancePi ?? -1] as const;
    if (weakest === null) weakest = entry;
    else {
      const [la, pa] = rank(entry);
      const [lb, pb] = rank(weakest);
      if (la < lb || (la === lb && pa < pb)) weakest = entry;
    }
  }
  return weakest === null ? null : { ...weakest, sealed, forwardSecret, senderAuthenticated: authenticated };
}
