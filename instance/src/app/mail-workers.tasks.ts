/**
 * What the mail worker threads run (mail-workers.piscina.ts): the CPU-bound, stateless reading of raw messages, off
 * the thread that serves SMTP, HTTP and the storage. A task carries a batch (what arrived together): one message
 * between the threads per batch, not per message, since a message's own cost is most of a parse. Plain data in and
 * out (structured clone): raw messages arrive as Uint8Arrays, parsed ones leave with their Dates.
 */
import {
  systemDnsResolver,
  verifyAuthentication,
  type AuthenticationInput,
  type DnsResolver,
} from '../email/smtp-inbound.authentication.ts';
import type { AuthenticationFacts } from '../mail/message.facts.ts';
import { parseMessage, type ParsedMessage } from '../mail/message.parser.ts';

const asBuffer = (raw: Uint8Array) => Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);

/** parseMessage of each (it never throws: what cannot be read is left out and `problem` says why). */
export function parse(raws: readonly Uint8Array[]): Promise<ParsedMessage[]> {
  return Promise.all(raws.map((raw) => parseMessage(asBuffer(raw))));
}

export interface AuthenticateItem {
  raw: Uint8Array;
  input: Omit<AuthenticationInput, 'resolver'>;
}

export interface AuthenticateTask {
  items: readonly AuthenticateItem[];
  /** The instance's DNS servers for SPF/DKIM/DMARC (empty: the system's). */
  dnsServers: readonly string[];
}

/** Each item's facts, or why they could not be verified. */
export type AuthenticateOutcome = { facts: AuthenticationFacts } | { error: string };

/** One resolver per server list, kept for the thread's life. */
const resolvers = new Map<string, DnsResolver>();

/** verifyAuthentication of each, concurrently (they mostly wait for DNS), with the instance's resolvers. */
export function authenticate(task: AuthenticateTask): Promise<AuthenticateOutcome[]> {
  const key = task.dnsServers.join(',');
  let resolver = resolvers.get(key);
  if (!resolver) resolvers.set(key, (resolver = systemDnsResolver(task.dnsServers)));
  const using = resolver;
  return Promise.all(
    task.items.map((item) =>
      verifyAuthentication(asBuffer(item.raw), { ...item.input, resolver: using }).then(
        (facts): AuthenticateOutcome => ({ facts }),
        (e: unknown): AuthenticateOutcome => ({ error: e instanceof Error ? e.message : String(e) }),
      ),
    ),
  );
}
