import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { Account } from '../accounts/account.entity.ts';
import { normaliseEmailAddress } from '../mail/address.normalise.ts';
import { resolverServers } from '@caliopen/platform/dns/dns.resolver.ts';
import { lookupOpenPgpKey, type OpenPgpKeyLookup } from '../discovery/dns-key.lookup.ts';
import { parseMailAddress } from '../discovery/key-names.ts';
import { lookupWkd, type WkdLookup, type WkdLookupOptions } from '../discovery/wkd.ts';
import type { MessageFacts } from '../mail/message.facts.ts';
import { readHeaderBlock, headerValue } from '../mail/mime-headers.ts';
import { readAutocryptHeader } from '../openpgp/openpgp.compose.ts';
import { detectOpenPgp } from '../openpgp/openpgp.detect.ts';
import { fullConfig, isKeyError, keyIdsOf, parsePublicKey, sharedPublicKey } from '../openpgp/openpgp.keys.ts';
import { signatureIssuers } from '../openpgp/openpgp.verify.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { isAppError } from '../shared/errors.ts';
import { isPublicAddress } from '@caliopen/platform/net/public-address.policy.ts';
import type { AccountKeys } from './account-key.port.ts';
import type { CorrespondentKey, KeySource } from './public-key.entity.ts';
import type { AddKeyOutcome, CorrespondentKeyService } from './public-key.service.ts';

/**
 * Finding the OpenPGP key to encrypt to for an address, and learning correspondents' keys from what arrives:
 * - `keyFor`: a key of this instance's own account (AccountKeys, for a same-instance address), else the
 *   correspondent's active key the account holds (trust on first use applies: a key in conflict is never used), else —
 *   when asked — a lookup: Web Key Directory first, then DNS OPENPGPKEY (RFC 7929) through the instance's resolvers
 *   (`dns.resolvers`; the source is `dnssec` only when a trusted resolver set the AD bit, `dns.trustAd`). A key found is
 *   filed for the account through CorrespondentKeyService.addKey with its source (so TOFU applies to it as to any
 *   other), which attaches it to the contact of that address.
 * - Lookups are cached per address, answers and absences alike, with a TTL and a bound on the number of entries; one
 *   lookup per address runs at a time (concurrent callers share it).
 * - WKD fetches go to the address's domain over HTTPS: the domain is resolved first and refused when it points at a
 *   loopback, private or otherwise non-public address (unless allowed), and the connection is pinned to the address
 *   checked (no second resolution in between).
 * - `learnAutocrypt`: the key of an inbound message's `Autocrypt:` header (Autocrypt Level 1), only when the message
 *   came over local delivery or carries a DKIM signature that verified, aligned with its From domain (so the domain
 *   vouches for the header), only when `addr` is the From address, and only as the weakest source (`autocrypt`).
 */

/** Where an encryption key comes from: a correspondent key's source, or `local` (an account of this instance). */
/** (A `signature` key is only a fingerprint: never one to encrypt to.) */
export type RecipientKeySource = Exclude<KeySource, 'signature'> | 'local';

export interface RecipientKey {
  address: string;
  fingerprint: string;
  /** Binary transferable public key. */
  publicKey: Uint8Array;
  source: RecipientKeySource;
  /** The user compared the fingerprint (correspondent keys only). */
  verified: boolean;
}

export type LookupMethod = 'federation' | 'wkd' | 'dns';

export interface LookupAttempt {
  method: LookupMethod;
  /** found: a key was served; none: no key published; refused: a key was served but is not acceptable; error; skipped. */
  result: 'found' | 'none' | 'refused' | 'error' | 'skipped';
  detail: string | null;
}

export interface DiscoveryResult {
  address: string;
  /** The key filed for the account, when one was found and accepted. */
  key: CorrespondentKey | null;
  /** TOFU's verdict on it: new, known, or conflict (a different key than the one pinned: not used). */
  outcome: AddKeyOutcome | null;
  attempts: LookupAttempt[];
  /** The answer came from the cache (no lookup now). */
  cached: boolean;
}

export interface KeyDiscoveryOptions {
  /** DNS OPENPGPKEY lookups through these resolvers (empty: the system's first); false: no DNS lookups. */
  dns: { resolvers: readonly string[]; trustAd: boolean; timeoutMs?: number } | false;
  /**
   * WKD lookups (direct method); false: none. `allowPrivateHosts` lets them reach non-public addresses (tests, a
   * private deployment); `ca` / `connectTo` as lookupWkd takes them (a pinned `connectTo` skips the address check).
   */
  wkd:
    | (Pick<WkdLookupOptions, 'ca' | 'connectTo' | 'timeoutMs' | 'maxBytes'> & { allowPrivateHosts?: boolean })
    | false;
  /** How long an absence is remembered (default 1 hour). */
  negativeTtlMs?: number;
  /** How long a key found is remembered for other accounts asking (default 1 hour). */
  positiveTtlMs?: number;
  /** Addresses remembered at most (default 10 000; the oldest go first). */
  maxEntries?: number;
  /** Stand-ins for the network lookups (unit tests). */
  lookups?: {
    wkd?: (address: string, options: WkdLookupOptions) => Promise<WkdLookup>;
    dns?: typeof lookupOpenPgpKey;
    resolveHost?: (host: string) => Promise<string[]>;
  };
}

export interface KeyDiscoveryDeps {
  keys: Pick<CorrespondentKeyService, 'addKey' | 'keysForAddress' | 'recordSignerConflict'>;
  accountKeys: AccountKeys;
  /** Accounts of this instance by username (same-instance recipients). */
  accounts: { getByUsername(username: string): Promise<Account | null> };
  /** This instance's mail domain. */
  domain: string;
  clock: Clock;
  logger?: Pick<Logger, 'debug' | 'warn'>;
  /** The federated key directory, asked before WKD and DNS for addresses at labelled member instances. */
  federation?: FederationKeyLookup;
}

interface Found {
  bytes: Uint8Array;
  source: KeySource;
}

interface CachedLookup {
  expires: number;
  found: Found[];
  attempts: LookupAttempt[];
}

const HOUR = 3600_000;
/** How long an absence at a labelled member instance's key directory is remembered. */
const FEDERATION_NEGATIVE_TTL_MS = 5 * 60 * 1000;

/**
 * Whether a key can encrypt at `now`. Asked at every message composed to its holder: through the shared key object,
 * whose self-signatures openpgp.js verifies once, not once per message (sharedPublicKey).
 */
async function canEncrypt(bytes: Uint8Array, now: Date): Promise<boolean> {
  const key = await sharedPublicKey(bytes);
  if (key === null) return false;
  try {
    await key.getEncryptionKey(undefined, now, undefined, fullConfig());
    return true;
  } catch {
    return false;
  }
}

const usableStatus = (k: CorrespondentKey, now: Date) =>
  k.status === 'active' && (k.keyExpiresAt === null || k.keyExpiresAt > now);

/** The federated key directory (SPEC.md §12): null when the address is not at a labelled member instance (not asked). */
export type FederationKeyLookup = (address: string) => Promise<{ found: Uint8Array | null; detail: string } | null>;

export class KeyDiscoveryService {
  private readonly cache = new Map<string, CachedLookup>();
  private readonly running = new Map<string, Promise<CachedLookup>>();
  private readonly federation: FederationKeyLookup | null;

  constructor(
    private readonly deps: KeyDiscoveryDeps,
    private readonly options: KeyDiscoveryOptions,
  ) {
    this.federation = deps.federation ?? null;
  }

  /** The domain part, lowercase, when the address is one of this instance's. */
  private isLocal(address: string): boolean {
    return address.slice(address.lastIndexOf('@') + 1) === this.deps.domain.toLowerCase();
  }

  /** The account of a same-instance address, or null (unknown or disabled). */
  async localAccount(address: string): Promise<Account | null> {
    const normalised = normaliseEmailAddress(address);
    if (normalised === null || !this.isLocal(normalised)) return null;
    const account = await this.deps.accounts.getByUsername(
      normalised.slice(0, normalised.lastIndexOf('@')).toLowerCase(),
    );
    return account === null || account.disabled ? null : account;
  }

  /**
   * The key to encrypt to for `address` as seen by the account, or null: the recipient's own key when the address is
   * an account of this instance; else the correspondent's active, unexpired key that can encrypt (a verified one
   * first); else, with `discover`, what a lookup finds (and TOFU accepts).
   */
  async keyFor(accountId: string, address: string, options: { discover: boolean }): Promise<RecipientKey | null> {
    const normalised = normaliseEmailAddress(address);
    if (normalised === null) return null;
    const now = this.deps.clock();
    if (this.isLocal(normalised)) {
      const account = await this.localAccount(normalised);
      const own = account === null ? null : await this.deps.accountKeys.publicKey(account.id);
      if (own === null || !(await canEncrypt(own.publicKey, now))) return null;
      return {
        address: normalised,
        fingerprint: own.fingerprint.toLowerCase(),
        publicKey: own.publicKey,
        source: 'local',
        verified: false,
      };
    }
    const held = await this.heldKey(accountId, normalised, now);
    if (held !== null || !options.discover) return held;
    // What a lookup finds is filed under TOFU: a key in conflict with a pinned one is not used.
    await this.discover(accountId, normalised);
    return this.heldKey(accountId, normalised, now);
  }

  private async heldKey(accountId: string, address: string, now: Date): Promise<RecipientKey | null> {
    const keys = (await this.deps.keys.keysForAddress(accountId, address)).filter((k) => usableStatus(k, now));
    keys.sort((a, b) => Number(b.verifiedAt !== null) - Number(a.verifiedAt !== null));
    for (const k of keys) {
      if (k.source !== 'signature' && (await canEncrypt(k.publicKey, now)))
        return {
          address,
          fingerprint: k.fingerprint,
          publicKey: k.publicKey,
          source: k.source,
          verified: k.verifiedAt !== null,
        };
    }
    return null;
  }

  /**
   * Looks the address's key up (WKD, then DNS) and files what is found for the account (source wkd, dns or dnssec).
   * Never throws: what went wrong is in `attempts`.
   */
  async discover(accountId: string, address: string): Promise<DiscoveryResult> {
    const normalised = normaliseEmailAddress(address);
    if (normalised === null || parseMailAddress(normalised) === null) {
      return {
        address,
        key: null,
        outcome: null,
        attempts: [{ method: 'wkd', result: 'skipped', detail: 'Not a mail address.' }],
        cached: false,
      };
    }
    const now = this.deps.clock().getTime();
    const hit = this.cache.get(normalised);
    let lookup: CachedLookup;
    let cached = false;
    if (hit !== undefined && hit.expires > now) {
      lookup = hit;
      cached = true;
    } else {
      let pending = this.running.get(normalised);
      if (pending === undefined) {
        pending = this.lookUp(normalised).finally(() => this.running.delete(normalised));
        this.running.set(normalised, pending);
      }
      lookup = await pending;
    }
    const attempts = lookup.attempts.map((a) => ({ ...a }));
    for (const found of lookup.found) {
      try {
        const { key, outcome } = await this.deps.keys.addKey(accountId, normalised, found.bytes, found.source);
        return { address: normalised, key, outcome, attempts, cached };
      } catch (e) {
        // Checked when found; it may have expired since (a cached answer): refused for this account.
        const method: LookupMethod = found.source === 'wkd' || found.source === 'federation' ? found.source : 'dns';
        const attempt = attempts.find((a) => a.method === method && a.result === 'found');
        if (attempt) {
          attempt.result = 'refused';
          attempt.detail = isAppError(e) ? `${e.code}: ${e.message}` : 'The key could not be filed.';
        }
      }
    }
    return { address: normalised, key: null, outcome: null, attempts, cached };
  }

  private async lookUp(address: string): Promise<CachedLookup> {
    const attempts: LookupAttempt[] = [];
    const found: Found[] = [];
    const federated = this.federation === null ? null : await this.viaFederation(this.federation, address);
    if (federated !== null) {
      attempts.push(federated.attempt);
      found.push(...(await this.acceptable(address, federated.found ? [federated.found] : [], federated.attempt)));
    }
    const wkd = found.length > 0 ? null : await this.viaWkd(address);
    if (wkd !== null) {
      attempts.push(wkd.attempt);
      found.push(...(await this.acceptable(address, wkd.found ? [wkd.found] : [], wkd.attempt)));
    }
    if (found.length === 0) {
      const dns = await this.viaDns(address);
      attempts.push(dns.attempt);
      found.push(...(await this.acceptable(address, dns.found, dns.attempt)));
    }
    // An absence at a labelled member instance is remembered briefly: asking its key directory is cheap and private,
    // and a user there who has just made a key becomes reachable within minutes, not an hour.
    const negative =
      federated !== null
        ? Math.min(this.options.negativeTtlMs ?? HOUR, FEDERATION_NEGATIVE_TTL_MS)
        : (this.options.negativeTtlMs ?? HOUR);
    const ttl = found.length > 0 ? (this.options.positiveTtlMs ?? HOUR) : negative;
    const entry: CachedLookup = { expires: this.deps.clock().getTime() + ttl, found, attempts };
    this.remember(address, entry);
    return entry;
  }

  /**
   * The keys served that are keys of this address, usable now (parsePublicKey: not garbage, not private, not expired
   * or revoked, a valid user ID with the address); the attempt says why none was when all are refused.
   */
  private async acceptable(address: string, served: Found[], attempt: LookupAttempt): Promise<Found[]> {
    const ok: Found[] = [];
    const reasons: string[] = [];
    for (const f of served.slice(0, 8)) {
      try {
        const parsed = await parsePublicKey(f.bytes, { now: this.deps.clock(), address });
        ok.push({ bytes: parsed.publicKey, source: f.source });
      } catch (e) {
        reasons.push(isKeyError(e) ? `${e.code}: ${e.message}` : 'The key cannot be read.');
      }
    }
    if (served.length > 0 && ok.length === 0) {
      attempt.result = 'refused';
      attempt.detail = `${attempt.detail ?? ''} Refused: ${reasons.join(' ')}`.trim().slice(0, 500);
    }
    return ok;
  }

  private remember(address: string, entry: CachedLookup): void {
    this.cache.delete(address);
    this.cache.set(address, entry);
    const max = this.options.maxEntries ?? 10_000;
    while (this.cache.size > max) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }

  /** How many addresses the cache holds (for tests and metrics). */
  cacheSize(): number {
    return this.cache.size;
  }

  private async viaFederation(
    lookup: FederationKeyLookup,
    address: string,
  ): Promise<{ attempt: LookupAttempt; found: Found | null } | null> {
    try {
      const answer = await lookup(address);
      if (answer === null) return null;
      if (answer.found === null)
        return { attempt: { method: 'federation', result: 'none', detail: answer.detail }, found: null };
      return {
        attempt: { method: 'federation', result: 'found', detail: answer.detail },
        found: { bytes: answer.found, source: 'federation' },
      };
    } catch (e) {
      return {
        attempt: { method: 'federation', result: 'error', detail: (e as Error).message.slice(0, 200) },
        found: null,
      };
    }
  }

  private async viaWkd(address: string): Promise<{ attempt: LookupAttempt; found: Found | null }> {
    const o = this.options.wkd;
    if (o === false)
      return {
        attempt: { method: 'wkd', result: 'skipped', detail: 'Web Key Directory lookups are off.' },
        found: null,
      };
    const domain = address.slice(address.lastIndexOf('@') + 1);
    const options: WkdLookupOptions = {
      method: 'direct',
      timeoutMs: o.timeoutMs ?? 5000,
      ...(o.maxBytes ? { maxBytes: o.maxBytes } : {}),
      ...(o.ca ? { ca: o.ca } : {}),
    };
    if (o.connectTo) {
      options.connectTo = o.connectTo;
    } else {
      const vetted = await this.vetHost(domain, o.allowPrivateHosts === true, options.timeoutMs!);
      if ('refused' in vetted)
        return { attempt: { method: 'wkd', result: 'skipped', detail: vetted.refused }, found: null };
      options.connectTo = { [domain]: vetted.connect };
    }
    const result = await (this.options.lookups?.wkd ?? lookupWkd)(address, options);
    if (result.error)
      return {
        attempt: { method: 'wkd', result: 'error', detail: `${result.error.code}: ${result.error.message}` },
        found: null,
      };
    if (result.key === null)
      return {
        attempt: { method: 'wkd', result: 'none', detail: `No key at ${domain} (HTTP ${result.status ?? '?'}).` },
        found: null,
      };
    return {
      attempt: { method: 'wkd', result: 'found', detail: `Served by ${domain}.` },
      found: { bytes: result.key, source: 'wkd' },
    };
  }

  /** `ip:443` to connect to for the domain's WKD, or why not (a non-public address, no address, a timeout). */
  private async vetHost(
    domain: string,
    allowPrivate: boolean,
    timeoutMs: number,
  ): Promise<{ connect: string } | { refused: string }> {
    const resolve =
      this.options.lookups?.resolveHost ??
      (async (host: string) => (await dnsLookup(host, { all: true, verbatim: true })).map((a) => a.address));
    let timer: NodeJS.Timeout | undefined;
    try {
      const addresses = await Promise.race([
        resolve(domain),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out')), timeoutMs);
          timer.unref();
        }),
      ]);
      if (addresses.length === 0) return { refused: `${domain} has no address.` };
      if (!allowPrivate && addresses.some((a) => !isPublicAddress(a)))
        return { refused: `${domain} resolves to a non-public address: not asked.` };
      const first = addresses[0]!;
      return { connect: isIP(first) === 6 ? `[${first}]:443` : `${first}:443` };
    } catch (e) {
      return {
        refused: `${domain} could not be resolved: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}.`,
      };
    } finally {
      clearTimeout(timer);
    }
  }

  private async viaDns(address: string): Promise<{ attempt: LookupAttempt; found: Found[] }> {
    const o = this.options.dns;
    if (o === false)
      return { attempt: { method: 'dns', result: 'skipped', detail: 'DNS key lookups are off.' }, found: [] };
    let result: OpenPgpKeyLookup;
    try {
      result = await (this.options.lookups?.dns ?? lookupOpenPgpKey)(address, {
        servers: resolverServers(o.resolvers),
        trustAd: o.trustAd,
        ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
      });
    } catch (e) {
      return { attempt: { method: 'dns', result: 'error', detail: (e as Error).message.slice(0, 200) }, found: [] };
    }
    if (result.error)
      return {
        attempt: { method: 'dns', result: 'error', detail: `${result.error.code}: ${result.error.message}` },
        found: [],
      };
    if (result.keys.length === 0)
      return {
        attempt: { method: 'dns', result: 'none', detail: `No OPENPGPKEY record (${result.rcode ?? 'no answer'}).` },
        found: [],
      };
    const source: KeySource = result.dnssecValidated ? 'dnssec' : 'dns';
    return {
      attempt: {
        method: 'dns',
        result: 'found',
        detail: `${result.keys.length} record(s) from ${result.server}${result.dnssecValidated ? ', DNSSEC-validated' : ''}.`,
      },
      found: result.keys.map((bytes) => ({ bytes, source })),
    };
  }

  /**
   * Learns the key of an inbound message's Autocrypt header (see the class comment for when). Resolves what happened;
   * never throws.
   */
  async learnAutocrypt(
    accountId: string,
    sender: string,
    raw: Buffer,
    facts: MessageFacts | null,
  ): Promise<{ learned: AddKeyOutcome | null; problem: string | null }> {
    try {
      const from = normaliseEmailAddress(sender);
      if (from === null) return { learned: null, problem: 'No usable From address.' };
      const reading = readAutocryptHeader(raw);
      if (reading.header === null) return { learned: null, problem: reading.problem };
      if (!vouchedFor(from, facts))
        return {
          learned: null,
          problem: 'The Autocrypt header is not vouched for (no DKIM signature of the From domain verified): ignored.',
        };
      const contentType = headerValue(readHeaderBlock(raw), 'content-type') ?? '';
      if (/^\s*multipart\/report/i.test(contentType))
        return { learned: null, problem: 'Reports (bounces) are not read for Autocrypt.' };
      if (reading.header.address !== from)
        return {
          learned: null,
          problem: `The Autocrypt header is for ${reading.header.address.slice(0, 100)}, not for the sender: ignored.`,
        };
      const { outcome } = await this.deps.keys.addKey(accountId, from, reading.header.keydata, 'autocrypt');
      return { learned: outcome, problem: null };
    } catch (e) {
      const problem = isAppError(e) ? `${e.code}: ${e.message}` : 'The Autocrypt key could not be filed.';
      if (!isAppError(e)) this.deps.logger?.warn({ err: e }, 'autocrypt: the key could not be filed');
      return { learned: null, problem };
    }
  }

  /**
   * Point 11 of the TOFU review: a message from an address whose pinned key is another key, signed by a key none of
   * the address's keys has (primary or subkey), raises the key alert a different key in a header would — recorded
   * without key material when only the signature's issuer fingerprint is known (CorrespondentKeyService
   * .recordSignerConflict). Only for mail the sender's domain vouches for, as for Autocrypt (local delivery, or a
   * DKIM signature of the From domain that verified): otherwise anyone could cap a contact's PI by forging their
   * address on signed mail. A signature naming only a 64-bit key ID is not filed (nothing to compare aloud); the
   * message's facts still say conflict (privacy/openpgp.facts.ts). Must not throw.
   */
  async learnSignatureConflict(
    accountId: string,
    sender: string,
    raw: Buffer,
    facts: MessageFacts | null,
  ): Promise<{ recorded: string | null; problem: string | null }> {
    try {
      const from = normaliseEmailAddress(sender);
      if (from === null) return { recorded: null, problem: 'No usable From address.' };
      const issuers = await signatureIssuers(detectOpenPgp(raw));
      if (issuers === null || issuers.keyIds.length === 0) return { recorded: null, problem: null };
      const keys = await this.deps.keys.keysForAddress(accountId, from);
      if (!keys.some((k) => k.status === 'active')) return { recorded: null, problem: null };
      const known = new Set<string>();
      for (const k of keys) {
        known.add(k.fingerprint);
        const loaded = k.publicKey.length > 0 ? await sharedPublicKey(k.publicKey) : null;
        for (const id of loaded ? keyIdsOf(loaded) : []) known.add(id);
        for (const sub of loaded?.getSubkeys() ?? []) known.add(sub.getFingerprint().toLowerCase());
      }
      if (issuers.keyIds.some((id) => known.has(id)) || issuers.fingerprints.some((fp) => known.has(fp)))
        return { recorded: null, problem: null };
      if (!vouchedFor(from, facts))
        return {
          recorded: null,
          problem: 'Signed by another key than the pinned one, on mail not vouched for: no alert.',
        };
      const fingerprint = issuers.fingerprints[0];
      if (fingerprint === undefined)
        return { recorded: null, problem: 'The signature names only a key ID, not a fingerprint: no alert filed.' };
      const filed = await this.deps.keys.recordSignerConflict(accountId, from, fingerprint);
      return { recorded: filed?.key.fingerprint ?? null, problem: null };
    } catch (e) {
      if (!isAppError(e)) this.deps.logger?.warn({ err: e }, 'signature conflict: not filed');
      return { recorded: null, problem: isAppError(e) ? `${e.code}: ${e.message}` : 'Not filed.' };
    }
  }
}

/**
 * The sender's domain vouches for what a message says about its keys: it came over local delivery, or it carries a
 * DKIM signature of the From domain (or a parent) that verified, aligned.
 */
function vouchedFor(from: string, facts: MessageFacts | null): boolean {
  if (facts?.transport?.via === 'local') return true;
  const domain = from.slice(from.lastIndexOf('@') + 1);
  return (facts?.authentication?.dkim ?? []).some(
    (d) =>
      d.result === 'pass' &&
      d.aligned &&
      typeof d.domain === 'string' &&
      (domain === d.domain.toLowerCase() || domain.endsWith(`.${d.domain.toLowerCase()}`)),
  );
}
