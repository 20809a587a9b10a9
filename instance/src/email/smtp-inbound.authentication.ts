import { promises as dnsPromises } from 'node:dns';
import { LRUCache } from 'lru-cache';
import { authenticate, type AuthenticateOptions } from 'mailauth';
import type { AuthenticationFacts, DkimResult, DmarcResult, SpfResult } from '../mail/message.facts.ts';

/**
 * Looks up DNS records the way `dns.promises.resolve` does (`TXT` answers as arrays of strings, errors with a `code`
 * such as ENOTFOUND/ENODATA). The default asks the system's resolvers or the configured servers; tests pass a function
 * that plays the remote domains' DNS (the only part of the internet this needs).
 */
export type DnsResolver = (name: string, rrtype: string) => Promise<unknown>;

/** Answers kept by systemDnsResolver's cache (see there). */
export interface DnsCacheOptions {
  /** How long an answer is kept (default 60 s). */
  ttlMs?: number;
  /** How long "no such name" / "no such record" is kept (default 30 s). */
  negativeTtlMs?: number;
  /** Most names kept (default 10,000; the least recently used go first). */
  maxEntries?: number;
}

type DnsOutcome = { answer: unknown } | { error: Error };

/** Answers that mean the record does not exist (cached briefly); anything else (timeout, SERVFAIL...) is not cached. */
const NEGATIVE = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * A resolver on the given servers (`host` or `host:port`; empty = the system's), with bounded timeouts and a small
 * cache: the SPF, DKIM and DMARC records of a sending domain are asked once for all the mail it sends within a
 * minute, not six times per message (what a local caching resolver gives an MTA). Answers are kept at most `ttlMs`
 * whatever their DNS TTL (Node's resolver does not report TTLs of TXT records), absences `negativeTtlMs`; failures
 * are never kept. Concurrent questions for the same name share one query.
 */
export function systemDnsResolver(servers: readonly string[] = [], cache: DnsCacheOptions = {}): DnsResolver {
  const resolver = new dnsPromises.Resolver({ timeout: 3000, tries: 2 });
  if (servers.length) resolver.setServers([...servers]);
  const negativeTtl = cache.negativeTtlMs ?? 30_000;
  const answers = new LRUCache<string, DnsOutcome>({
    max: cache.maxEntries ?? 10_000,
    ttl: cache.ttlMs ?? 60_000,
    fetchMethod: async (key, _stale, { options }) => {
      const space = key.indexOf(' ');
      try {
        return { answer: await resolver.resolve(key.slice(space + 1), key.slice(0, space) as 'TXT') };
      } catch (e) {
        if (!NEGATIVE.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
        options.ttl = negativeTtl;
        return { error: e as Error };
      }
    },
  });
  return async (name, rrtype) => {
    const outcome = await answers.fetch(`${rrtype.toUpperCase()} ${name.toLowerCase()}`);
    if (!outcome) throw new Error(`DNS: no answer for ${name} ${rrtype}`);
    if ('error' in outcome) throw outcome.error;
    // Each caller gets its own copy: a verifier may not change what the next one reads.
    return structuredClone(outcome.answer);
  };
}

export interface AuthenticationInput {
  /** Client address of the SMTP session. */
  ip: string;
  /** Name the client gave in HELO/EHLO. */
  helo: string | null;
  /** MAIL FROM address ('' for the null sender). */
  sender: string;
  /** Our host name, as written in Authentication-Results. */
  mta: string;
  resolver?: DnsResolver;
}

/** verifyAuthentication's signature: what checks a message's SPF/DKIM/DMARC (on this thread or a worker thread). */
export type Authenticator = (raw: Buffer, input: AuthenticationInput) => Promise<AuthenticationFacts>;

const SPF_RESULTS = new Set<SpfResult>([
  'pass',
  'fail',
  'softfail',
  'neutral',
  'none',
  'temperror',
  'permerror',
  'policy',
]);
const DMARC_RESULTS = new Set<DmarcResult>(['pass', 'fail', 'none', 'temperror', 'permerror']);

function normalise(result: string | undefined): string {
  if (result === 'temperr') return 'temperror';
  if (result === 'permerr') return 'permerror';
  if (result === 'skipped' || !result) return 'none';
  return result;
}

interface MailauthDkimRow {
  signingDomain?: string;
  selector?: string;
  status: { result: string; comment?: string; aligned?: string | false; underSized?: number };
}

/**
 * One DKIM result, stated strictly: 'pass' only for a signature that verified over the whole body. mailauth says
 * 'neutral' for a body-hash mismatch (the content was changed after signing): that is a failed verification, so 'fail'.
 * Missing or unusable keys are 'permerror'. A signature that covers only part of the body (`l=`) is 'policy': what
 * follows the signed part could have been added by anyone.
 */
export function dkimResultOf(row: MailauthDkimRow): DkimResult {
  const result = normalise(row.status.result);
  const comment = row.status.comment ?? '';
  if (result === 'pass') return row.status.underSized ? 'policy' : 'pass';
  if (result === 'neutral') {
    if (/body hash did not verify/i.test(comment)) return 'fail';
    if (/no key|unknown key|invalid public key/i.test(comment)) return 'permerror';
    return 'neutral';
  }
  if (result === 'fail' || result === 'none' || result === 'temperror' || result === 'permerror' || result === 'policy')
    return result;
  return 'neutral';
}

/**
 * Verifies SPF (for the client address, HELO and MAIL FROM), every DKIM signature and DMARC alignment of a message
 * with mailauth. Nothing is trusted from the message's own Authentication-Results or Received headers.
 */
export async function verifyAuthentication(raw: Buffer, input: AuthenticationInput): Promise<AuthenticationFacts> {
  const result = await authenticate(raw, {
    ip: input.ip,
    ...(input.helo ? { helo: input.helo } : {}),
    sender: input.sender,
    mta: input.mta,
    trustReceived: false,
    disableArc: true,
    disableBimi: true,
    ...(input.resolver ? { resolver: input.resolver as NonNullable<AuthenticateOptions['resolver']> } : {}),
  });

  const spfStatus = result.spf ? normalise(result.spf.status?.result) : 'none';
  const spf = {
    result: (SPF_RESULTS.has(spfStatus as SpfResult) ? spfStatus : 'none') as SpfResult,
    domain: (result.spf && result.spf.domain) || null,
  };

  const rows = ((result.dkim?.results ?? []) as MailauthDkimRow[]).filter(
    // mailauth reports an unsigned message as one 'none' row without a domain: that is no signature at all.
    (r) => !(normalise(r.status.result) === 'none' && !r.signingDomain),
  );
  const dkim = rows.map((r) => ({
    result: dkimResultOf(r),
    domain: r.signingDomain ? r.signingDomain.toLowerCase() : null,
    selector: r.selector ?? null,
    aligned: typeof r.status.aligned === 'string' && r.status.aligned.length > 0,
  }));

  const d = result.dmarc;
  const dmarcStatus = d ? normalise(d.status?.result) : 'none';
  const dmarc = {
    result: (DMARC_RESULTS.has(dmarcStatus as DmarcResult) ? dmarcStatus : 'none') as DmarcResult,
    domain: (d && d.domain) || null,
    policy: (d && d.policy) || null,
  };
  return { spf, dkim, dmarc };
}
