import type { LookupFunction } from 'node:net';
import {
  FEDERATION_HTTP_ERRORS,
  REQUEST_SIGNATURE_HEADER,
  keyDirectoryPath,
  recipientCheckPath,
  recipientCheckVerdict,
  signRequest,
  trustPath,
  verifyKeyDirectoryEntry,
  verifyTrustStatement,
  type Ed25519KeyPair,
  type KeyDirectoryEntry,
  type RecipientCheckVerdict,
  type TrustStatement,
} from '@caliopen/federation-protocol';
import type { Logger } from 'pino';
import { normaliseEmailAddress } from '../mail/address.normalise.ts';
import { isKeyError, parsePublicKey } from '../openpgp/openpgp.keys.ts';
import type { ContactPiFacts } from '../pi-model/contact-pi.model.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { peerRequest, PeerTransportError, type PeerRequest, type PeerResponse } from './federation.client.ts';
import type { PeerLookup } from './peer-auth.ts';
import type { PeerInfo } from './peer-directory.ts';

/** What a lookup at a peer gave: the verified answer, or a stable code (the protocol's, or `peer_unreachable`, `peer_not_member`, `key_fingerprint_mismatch`). */
export type PeerAnswer<T> = { ok: true; value: T } | { ok: false; code: string; message: string };

/** What this instance presents to a peer: its signing key (request signatures) and its TLS client certificate. */
export interface PeerCredentials {
  signingKey: Ed25519KeyPair;
  clientCert: { certPem: string; keyPem: string };
}

export interface PeerDirectoryClientDeps {
  /** This instance's domain. */
  domain: string;
  peers: () => PeerLookup | null;
  /**
   * This instance's signing key and TLS client certificate, read from its identity when first asked (building the
   * client opens no secret: a process that never asks a peer never loads them).
   */
  credentials: () => Promise<PeerCredentials>;
  clock: Clock;
  logger?: Pick<Logger, 'debug'>;
  timeoutMs?: number;
  /** How peers' host names are resolved (peer-host.lookup.ts); the system's resolver when absent. */
  lookup?: LookupFunction;
  /** How long a trust answer is kept (at most until it expires; default 10 minutes). */
  trustTtlMs?: number;
  /** How long "not shared" or a failure is remembered (default 5 minutes). */
  negativeTtlMs?: number;
  /** Addresses remembered at most (default 10 000; the oldest go first). */
  maxEntries?: number;
  /** A stand-in for the HTTPS call (unit tests). */
  request?: (options: PeerRequest) => Promise<PeerResponse>;
}

const MINUTE = 60_000;

/**
 * Asks labelled peers for their users' keys (SPEC.md §12) and shared trust (§13): each request signed by this
 * instance, sent over TLS pinned to the feed's certificate with our certificate as client certificate, each answer
 * verified against the feed's signing key for the peer (and a key's fingerprint against the key itself). Only asked
 * when the peer and this instance both hold a valid label. Trust answers are cached per address (bounded, with a TTL,
 * absences too); one lookup per address runs at a time.
 */
export class PeerDirectoryClient {
  private readonly trustCache = new Map<string, { expires: number; value: TrustStatement | null }>();
  private readonly running = new Map<string, Promise<TrustStatement | null>>();
  private readonly recipientCache = new Map<string, { expires: number; verdict: RecipientCheckVerdict }>();
  private readonly checking = new Map<string, Promise<RecipientCheckVerdict>>();

  constructor(private readonly deps: PeerDirectoryClientDeps) {}

  /** The labelled peer serving `domain`, when the federation is open to it now. */
  private openPeer(domain: string): PeerInfo | null {
    const directory = this.deps.peers();
    const peer = directory?.peer(domain) ?? null;
    if (peer === null || !peer.labelValid) return null;
    const own = directory!.peer(this.deps.domain);
    return own?.labelValid ? peer : null;
  }

  /** Whether `address` is at a labelled peer the federation is open to now. */
  isPeerAddress(address: string): boolean {
    const split = splitAddress(address);
    return split !== null && this.openPeer(split.domain) !== null;
  }

  /** A signed GET to the peer (SPEC.md §6), over TLS pinned to the feed's certificate; null when unreachable. */
  private async ask(
    peer: PeerInfo,
    path: string,
    accept: string,
  ): Promise<{ ok: true; response: PeerResponse } | { ok: false; message: string }> {
    const now = Math.floor(this.deps.clock().getTime() / 1000);
    const { signingKey, clientCert } = await this.deps.credentials();
    const signature = await signRequest(
      { instance: this.deps.domain, method: 'GET', path, destination: peer.domain, created: now },
      signingKey,
    );
    const base = (peer.endpoints.federation ?? peer.endpoints['https'] ?? '').replace(/\/+$/, '');
    try {
      const response = await (this.deps.request ?? peerRequest)({
        url: `${base}${path}`,
        method: 'GET',
        headers: { accept, [REQUEST_SIGNATURE_HEADER]: signature },
        pinSha256: peer.certificateSha256,
        clientCert,
        timeoutMs: this.deps.timeoutMs ?? 10_000,
        ...(this.deps.lookup ? { lookup: this.deps.lookup } : {}),
        maxResponseBytes: 256 * 1024,
      });
      return { ok: true, response };
    } catch (e) {
      return { ok: false, message: e instanceof PeerTransportError ? e.message : 'The peer could not be reached.' };
    }
  }

  private async get(peer: PeerInfo, path: string): Promise<PeerAnswer<string>> {
    const asked = await this.ask(peer, path, 'application/jose');
    if (!asked.ok) return { ok: false, code: 'peer_unreachable', message: asked.message };
    const response = asked.response;
    const body = response.body.toString('utf8');
    if (response.status === 200) return { ok: true, value: body.trim() };
    const code = problemCode(body) ?? 'peer_error';
    return { ok: false, code, message: `${peer.domain} answered HTTP ${response.status} (${code}).` };
  }

  /**
   * Whether `address` exists at its member instance (SPEC.md §12.1, the recipient check), asked while the federation
   * is open to it: `unknown` only when the peer says `recipient_unknown`; anything else (not a member, unreachable,
   * rate-limited, an older peer) is `unverified` and leaves the decision to the peer's inbox. Cached per address
   * (an answer "exists" 5 minutes, "unknown" 1 minute; bounded); one lookup per address at a time.
   */
  async checkRecipient(address: string): Promise<{ verdict: RecipientCheckVerdict; domain: string | null }> {
    const split = splitAddress(address);
    const peer = split === null ? null : this.openPeer(split.domain);
    if (split === null || peer === null) return { verdict: 'unverified', domain: split?.domain ?? null };
    let path: string;
    try {
      path = recipientCheckPath(split.local);
    } catch {
      return { verdict: 'unverified', domain: peer.domain };
    }
    const key = `${split.local}@${peer.domain}`;
    const now = this.deps.clock().getTime();
    const hit = this.recipientCache.get(key);
    if (hit !== undefined && hit.expires > now) return { verdict: hit.verdict, domain: peer.domain };
    let pending = this.checking.get(key);
    if (pending === undefined) {
      pending = (async () => {
        const asked = await this.ask(peer, path, 'application/problem+json');
        const verdict = asked.ok
          ? recipientCheckVerdict(asked.response.status, problemCode(asked.response.body.toString('utf8')))
          : 'unverified';
        if (verdict !== 'unverified') {
          const at = this.deps.clock().getTime();
          this.recipientCache.delete(key);
          this.recipientCache.set(key, { expires: at + (verdict === 'exists' ? 5 : 1) * MINUTE, verdict });
          while (this.recipientCache.size > (this.deps.maxEntries ?? 10_000))
            this.recipientCache.delete(this.recipientCache.keys().next().value!);
        } else this.deps.logger?.debug({ peer: peer.domain }, 'federation recipient check: no answer');
        return verdict;
      })().finally(() => this.checking.delete(key));
      this.checking.set(key, pending);
    }
    return { verdict: await pending, domain: peer.domain };
  }

  /** The key `address`'s instance publishes for it (SPEC.md §12), verified; the fingerprint checked against the key. */
  async fetchKey(address: string): Promise<PeerAnswer<KeyDirectoryEntry>> {
    const split = splitAddress(address);
    const peer = split === null ? null : this.openPeer(split.domain);
    if (split === null || peer === null)
      return { ok: false, code: 'peer_not_member', message: 'The address is not at a labelled member instance.' };
    const answer = await this.get(peer, keyDirectoryPath(split.local));
    if (!answer.ok) return answer;
    const now = this.deps.clock();
    const verified = await verifyKeyDirectoryEntry(answer.value, {
      signingKeys: peer.signingKeys,
      expectedDomain: peer.domain,
      expectedLocal: split.local,
      now: Math.floor(now.getTime() / 1000),
    });
    if (!verified.ok) return { ok: false, code: verified.error.code, message: verified.error.message };
    try {
      const parsed = await parsePublicKey(verified.value.openpgpKey, { now });
      if (parsed.fingerprint !== verified.value.fingerprint)
        return {
          ok: false,
          code: 'key_fingerprint_mismatch',
          message: `The key served by ${peer.domain} is not the one its fingerprint names.`,
        };
    } catch (e) {
      return {
        ok: false,
        code: isKeyError(e) ? e.code : 'key_malformed',
        message: `The key served by ${peer.domain} is not usable.`,
      };
    }
    return verified;
  }

  /** What `address`'s instance shares of its account PI (SPEC.md §13), verified, uncached. */
  async fetchTrust(address: string): Promise<PeerAnswer<TrustStatement>> {
    const split = splitAddress(address);
    const peer = split === null ? null : this.openPeer(split.domain);
    if (split === null || peer === null)
      return { ok: false, code: 'peer_not_member', message: 'The address is not at a labelled member instance.' };
    const answer = await this.get(peer, trustPath(split.local));
    if (!answer.ok) return answer;
    const verified = await verifyTrustStatement(answer.value, {
      signingKeys: peer.signingKeys,
      expectedDomain: peer.domain,
      expectedLocal: split.local,
      now: Math.floor(this.deps.clock().getTime() / 1000),
    });
    return verified.ok ? verified : { ok: false, code: verified.error.code, message: verified.error.message };
  }

  /** The shared trust of `address`, cached (null: not shared, not a member, or the lookup failed). */
  async trustFor(address: string): Promise<TrustStatement | null> {
    const key = normaliseEmailAddress(address);
    if (key === null) return null;
    const now = this.deps.clock().getTime();
    const hit = this.trustCache.get(key);
    if (hit !== undefined && hit.expires > now && (hit.value === null || hit.value.expiresAt * 1000 > now))
      return hit.value;
    let pending = this.running.get(key);
    if (pending === undefined) {
      pending = this.lookUpTrust(key).finally(() => this.running.delete(key));
      this.running.set(key, pending);
    }
    return pending;
  }

  private async lookUpTrust(address: string): Promise<TrustStatement | null> {
    const answer = await this.fetchTrust(address);
    if (!answer.ok) this.deps.logger?.debug({ code: answer.code }, 'federation trust lookup: none');
    const value = answer.ok ? answer.value : null;
    const now = this.deps.clock().getTime();
    const ttl =
      value !== null
        ? Math.min(this.deps.trustTtlMs ?? 10 * MINUTE, value.expiresAt * 1000 - now)
        : (this.deps.negativeTtlMs ?? 5 * MINUTE);
    this.trustCache.delete(address);
    this.trustCache.set(address, { expires: now + ttl, value });
    const max = this.deps.maxEntries ?? 10_000;
    while (this.trustCache.size > max) {
      const oldest = this.trustCache.keys().next().value;
      if (oldest === undefined) break;
      this.trustCache.delete(oldest);
    }
    return value;
  }

  /**
   * The federation facts of a contact (ContactPiFacts.federation) from their addresses: the first address at a member
   * instance, its label and instance PI from the feed, and the account PI its instance shares (asked only while the
   * federation is open to it).
   */
  async contactFederation(addresses: readonly string[]): Promise<ContactPiFacts['federation']> {
    const directory = this.deps.peers();
    if (directory === null) return null;
    for (const address of addresses) {
      const split = splitAddress(address);
      if (split === null || split.domain === this.deps.domain.toLowerCase()) continue;
      const peer = directory.peer(split.domain);
      if (peer === null) continue;
      const open = this.openPeer(split.domain) !== null;
      const trust = open ? await this.trustFor(address) : null;
      return {
        peerDomain: peer.domain,
        labelValid: peer.labelValid,
        peerInstancePi: peer.instancePi,
        sharedAccountPi: trust?.pi.score ?? null,
      };
    }
    return null;
  }
}

function splitAddress(address: string): { local: string; domain: string } | null {
  const normalised = normaliseEmailAddress(address);
  if (normalised === null) return null;
  const at = normalised.lastIndexOf('@');
  if (at <= 0) return null;
  return { local: normalised.slice(0, at), domain: normalised.slice(at + 1) };
}

/** The `code` of a problem document, when it is one of the protocol's codes. */
function problemCode(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { code?: unknown };
    return typeof parsed.code === 'string' && parsed.code in FEDERATION_HTTP_ERRORS ? parsed.code : null;
  } catch {
    return null;
  }
}
