import { createSocket } from 'node:dgram';
import { createServer, type Server as TcpServer, type Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import type { Logger } from 'pino';
import { clientKey } from '../shared/client-key.ts';
import type { DnsZone } from './dns-zone.ts';

/**
 * The instance's authoritative DNS responder (dns-packet, UDP and TCP on one port), answering from a DnsZone.
 *
 * - Authoritative answers (AA), NXDOMAIN with the SOA for names of the zone that do not exist, NODATA (NOERROR, no
 *   record, the SOA) for names that exist without the asked type, REFUSED (no AA) for names outside the zone and for
 *   zone transfers, NOTIMP for opcodes other than QUERY, FORMERR for queries that do not parse, BADVERS for EDNS
 *   versions above 0. A message too short for a header, or one that is itself a response, gets no reply at all (so
 *   two servers can never be made to bounce errors at each other).
 * - The question is echoed byte for byte (a resolver's 0x20 case randomisation survives).
 * - UDP answers larger than 512 bytes — or than the EDNS size the client advertised, capped at `maxUdpPayload`
 *   (1232, the DNS flag day 2020 value) — are sent truncated (TC, no records) so that the client asks over TCP.
 * - Bounded: a token bucket per source (IPv4 address or IPv6 /64) over UDP and TCP, at most `maxSources` buckets;
 *   TCP connections in all and per source, idle timeout, queries per connection and waiting per connection; queries
 *   being answered at once (`maxPending`: beyond, UDP queries are dropped and TCP connections closed).
 *   Over UDP a rate-limited query is dropped, except one in `slip` which gets a truncated answer (RRL "slip"): a real
 *   client then retries over TCP, where a spoofed source cannot follow.
 */

export interface DnsResponderLimits {
  /** Sustained queries per second per source (IPv4 address, IPv6 /64). */
  queriesPerSecond: number;
  /** Queries a source may send at once before the sustained rate applies. */
  burst: number;
  /** Sources tracked at once; beyond, the least recently seen is forgotten. */
  maxSources: number;
  /** One in `slip` rate-limited UDP queries gets a truncated answer instead of silence (0 = always silence). */
  slip: number;
  maxUdpPayload: number;
  maxTcpConnections: number;
  maxTcpConnectionsPerSource: number;
  tcpIdleMs: number;
  maxQueriesPerTcpConnection: number;
  /** Queries being answered at once, all transports together. */
  maxPending: number;
}

export const DEFAULT_DNS_LIMITS: DnsResponderLimits = {
  queriesPerSecond: 100,
  burst: 200,
  maxSources: 10_000,
  slip: 2,
  maxUdpPayload: 1232,
  maxTcpConnections: 128,
  maxTcpConnectionsPerSource: 8,
  tcpIdleMs: 10_000,
  maxQueriesPerTcpConnection: 1000,
  maxPending: 512,
};

export interface DnsResponderOptions {
  host: string;
  /** 0 = a free port (the same one for UDP and TCP). */
  port: number;
  zone: DnsZone;
  logger: Logger;
  limits?: Partial<DnsResponderLimits>;
  now?: () => number;
}

export interface DnsResponder {
  readonly host: string;
  readonly udpPort: number;
  readonly tcpPort: number;
  stop(): Promise<void>;
}

const QR = 0x8000;
const OPCODE_MASK = 0x7800;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
type Rcode = keyof typeof RCODE;
const CLASS_IN = 1;
const MAX_TCP_MESSAGE = 0xffff;
const MAX_WAITING_PER_CONNECTION = 16;

export interface AnswerContext {
  transport: 'udp' | 'tcp';
  /** Largest UDP answer this server sends, whatever the client advertises (default 1232). */
  maxUdpPayload?: number;
}

/**
 * The reply to one DNS message (without the TCP length prefix), or null when the message deserves none. Never
 * throws: a zone failure is SERVFAIL.
 */
export async function answerDnsMessage(zone: DnsZone, message: Buffer, context: AnswerContext): Promise<Buffer | null> {
  if (message.length < 12) return null;
  const id = message.readUInt16BE(0);
  const flags = message.readUInt16BE(2);
  if (flags & QR) return null;
  const echoed = flags & (OPCODE_MASK | dnsPacket.RECURSION_DESIRED | dnsPacket.CHECKING_DISABLED);
  const headerOnly = (rcode: Rcode) => {
    const reply = Buffer.alloc(12);
    reply.writeUInt16BE(id, 0);
    reply.writeUInt16BE(QR | echoed | RCODE[rcode], 2);
    return reply;
  };
  if ((flags & OPCODE_MASK) !== 0) return headerOnly('NOTIMP');

  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(message);
    if (dnsPacket.decode.bytes !== message.length) return headerOnly('FORMERR');
  } catch {
    return headerOnly('FORMERR');
  }
  const raw = rawQuestion(message);
  if (
    raw === null ||
    query.questions?.length !== 1 ||
    (query.answers?.length ?? 0) > 0 ||
    (query.authorities?.length ?? 0) > 0
  ) {
    return headerOnly('FORMERR');
  }
  const opts = (query.additionals ?? []).filter((record) => record.type === 'OPT') as {
    name: string;
    udpPayloadSize?: number;
    ednsVersion?: number;
  }[];
  if (opts.length > 1 || opts.some((opt) => opt.name !== '.')) return headerOnly('FORMERR');
  const edns = opts[0];

  const maxUdp = context.maxUdpPayload ?? DEFAULT_DNS_LIMITS.maxUdpPayload;
  const limit =
    context.transport === 'tcp'
      ? MAX_TCP_MESSAGE
      : edns
        ? Math.min(Math.max(512, edns.udpPayloadSize ?? 512), maxUdp)
        : 512;
  const reply = (
    rcode: Rcode,
    authoritative: boolean,
    answers: Answer[] = [],
    authorities: Answer[] = [],
    extendedRcode = 0,
  ): Buffer => {
    let replyFlags = QR | echoed | RCODE[rcode] | (authoritative ? dnsPacket.AUTHORITATIVE_ANSWER : 0);
    const build = (a: Answer[], ns: Answer[]) => {
      const additionals = edns
        ? [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: maxUdp,
              extendedRcode,
              ednsVersion: 0,
              flags: 0,
              options: [],
            } as unknown as Answer,
          ]
        : [];
      const body = dnsPacket.encode({
        id,
        type: 'response',
        flags: replyFlags,
        questions: [],
        answers: a,
        authorities: ns,
        additionals,
      } as Packet);
      // dns-packet writes no compression pointers, so the question can be spliced in as the client sent it.
      const out = Buffer.concat([body.subarray(0, 12), raw.bytes, body.subarray(12)]);
      out.writeUInt16BE(1, 4);
      return out;
    };
    let out = build(answers, authorities);
    if (out.length > limit) {
      if (context.transport === 'tcp') {
        replyFlags = QR | echoed | RCODE.SERVFAIL;
        return build([], []);
      }
      replyFlags |= dnsPacket.TRUNCATED_RESPONSE;
      out = build([], []);
    }
    return out;
  };

  if (edns && (edns.ednsVersion ?? 0) > 0) return reply('NOERROR', false, [], [], 1); // BADVERS = 16: extended rcode 1, rcode 0
  if (raw.qclass !== CLASS_IN) return reply('REFUSED', false);
  if (raw.qtype === 252 || raw.qtype === 251) return reply('REFUSED', false); // AXFR, IXFR: no zone transfers
  if (raw.qtype === 41) return reply('FORMERR', false); // OPT is not a question

  const origin = zone.origin.split('.');
  const labels = raw.labels;
  const inZone =
    labels.length >= origin.length &&
    origin.every((label, i) => asciiLower(labels[labels.length - origin.length + i]!) === label);
  if (!inZone) return reply('REFUSED', false);
  const relative = labels.slice(0, labels.length - origin.length);
  const type = String(query.questions[0]!.type);
  // No name of this zone has a label with a dot inside or bytes other than letters, digits, '-' and '_'.
  if (relative.some((label) => !/^[A-Za-z0-9_-]+$/.test(label.toString('latin1'))))
    return reply('NXDOMAIN', true, [], [zone.soa]);
  const name = labels.map((label) => asciiLower(label)).join('.');
  const answer = await zone.answer(name, type).catch((): { rcode: 'SERVFAIL' } => ({ rcode: 'SERVFAIL' }));
  switch (answer.rcode) {
    case 'NOERROR':
    case 'NXDOMAIN':
      return reply(answer.rcode, true, answer.answers, answer.authorities);
    case 'REFUSED':
      return reply('REFUSED', false);
    default:
      return reply('SERVFAIL', false);
  }
}

function asciiLower(label: Buffer): string {
  return label.toString('latin1').replace(/[A-Z]+/g, (s) => s.toLowerCase());
}

/** The first question exactly as sent: its labels (no compression pointer allowed there), type, class and bytes. */
function rawQuestion(message: Buffer): { labels: Buffer[]; qtype: number; qclass: number; bytes: Buffer } | null {
  const labels: Buffer[] = [];
  let offset = 12;
  let length = 0;
  for (;;) {
    if (offset >= message.length) return null;
    const size = message[offset]!;
    if (size === 0) break;
    if (size > 63) return null;
    if (offset + 1 + size > message.length) return null;
    length += size + 1;
    if (length > 254) return null;
    labels.push(message.subarray(offset + 1, offset + 1 + size));
    offset += 1 + size;
  }
  offset += 1;
  if (offset + 4 > message.length) return null;
  return {
    labels,
    qtype: message.readUInt16BE(offset),
    qclass: message.readUInt16BE(offset + 2),
    bytes: message.subarray(12, offset + 4),
  };
}

/** Token buckets per source, at most `maxSources` (a Map keeps insertion order: the first entry is the stalest). */
class SourceLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number; refused: number }>();

  constructor(
    private readonly limits: DnsResponderLimits,
    private readonly now: () => number,
  ) {}

  /** 'ok', or for a refused query whether to slip a truncated answer. */
  take(address: string): 'ok' | 'drop' | 'slip' {
    const key = clientKey(address);
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.limits.maxSources) {
        const stalest = this.buckets.keys().next().value;
        if (stalest !== undefined) this.buckets.delete(stalest);
      }
      bucket = { tokens: this.limits.burst, at: now, refused: 0 };
    } else {
      this.buckets.delete(key);
      bucket.tokens = Math.min(
        this.limits.burst,
        bucket.tokens + ((now - bucket.at) / 1000) * this.limits.queriesPerSecond,
      );
      bucket.at = now;
    }
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 'ok';
    }
    bucket.refused++;
    return this.limits.slip > 0 && bucket.refused % this.limits.slip === 0 ? 'slip' : 'drop';
  }
}

/** A truncated, empty answer to a query we decline to answer in full over UDP (rate limit), or null. */
function slipReply(message: Buffer): Buffer | null {
  if (message.length < 12 || message.readUInt16BE(2) & QR) return null;
  const raw = rawQuestion(message);
  if (raw === null) return null;
  const flags = message.readUInt16BE(2) & (OPCODE_MASK | dnsPacket.RECURSION_DESIRED);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(message.readUInt16BE(0), 0);
  header.writeUInt16BE(QR | flags | dnsPacket.TRUNCATED_RESPONSE, 2);
  header.writeUInt16BE(1, 4);
  return Buffer.concat([header, raw.bytes]);
}

export async function startDnsResponder(options: DnsResponderOptions): Promise<DnsResponder> {
  const limits: DnsResponderLimits = { ...DEFAULT_DNS_LIMITS, ...options.limits };
  const now = options.now ?? Date.now;
  const { zone, logger, host } = options;
  const limiter = new SourceLimiter(limits, now);
  let pending = 0;
  let stopped = false;
  const counters = { udp: 0, tcp: 0, limited: 0, overloaded: 0, failed: 0 };

  const answer = async (message: Buffer, transport: 'udp' | 'tcp'): Promise<Buffer | null> => {
    pending++;
    try {
      return await answerDnsMessage(zone, message, { transport, maxUdpPayload: limits.maxUdpPayload });
    } catch (error) {
      counters.failed++;
      logger.warn({ err: error, transport }, 'dns: query could not be answered');
      return null;
    } finally {
      pending--;
    }
  };

  for (let attempt = 0; ; attempt++) {
    const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(options.port, host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      udp.removeAllListeners();
      throw error;
    }
    const port = udp.address().port;
    const connections = new Set<TcpSocket>();
    const perSource = new Map<string, number>();
    const tcp: TcpServer = createServer({ pauseOnConnect: false }, (socket) => serveTcp(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, host, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      udp.close();
      // A free UDP port whose TCP twin is taken: try another free port (only when any port would do).
      if (options.port === 0 && (error as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < 10) continue;
      throw error;
    }

    udp.on('error', (error) => logger.warn({ err: error }, 'dns: UDP socket error'));
    udp.on('message', (message, remote) => {
      if (stopped) return;
      counters.udp++;
      const verdict = limiter.take(remote.address);
      if (verdict !== 'ok') {
        counters.limited++;
        const slip = verdict === 'slip' ? slipReply(message) : null;
        if (slip) udp.send(slip, remote.port, remote.address);
        return;
      }
      if (pending >= limits.maxPending) {
        counters.overloaded++;
        return;
      }
      void answer(message, 'udp').then((reply) => {
        if (reply && !stopped) udp.send(reply, remote.port, remote.address);
      });
    });

    function serveTcp(socket: TcpSocket): void {
      const source = clientKey(socket.remoteAddress ?? '');
      const fromSource = perSource.get(source) ?? 0;
      if (stopped || connections.size >= limits.maxTcpConnections || fromSource >= limits.maxTcpConnectionsPerSource) {
        socket.destroy();
        return;
      }
      connections.add(socket);
      perSource.set(source, fromSource + 1);
      socket.setTimeout(limits.tcpIdleMs, () => socket.destroy());
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        connections.delete(socket);
        const n = (perSource.get(source) ?? 1) - 1;
        if (n > 0) perSource.set(source, n);
        else perSource.delete(source);
      });
      let buffered: Buffer = Buffer.alloc(0);
      let queries = 0;
      let waiting = 0;
      // Answers go out in the order the queries came (RFC 7766 allows any order; this one is simplest to reason on).
      let chain = Promise.resolve();
      // Takes whole messages off the buffer while fewer than MAX_WAITING are being answered; beyond, reading pauses
      // until answers have gone out (a pipelining client is slowed down, not cut off).
      const drain = (): void => {
        while (!socket.destroyed && waiting < MAX_WAITING_PER_CONNECTION && buffered.length >= 2) {
          const length = buffered.readUInt16BE(0);
          if (buffered.length < 2 + length) break;
          const message = Buffer.from(buffered.subarray(2, 2 + length));
          buffered = buffered.subarray(2 + length);
          counters.tcp++;
          queries++;
          if (queries > limits.maxQueriesPerTcpConnection || pending >= limits.maxPending) {
            counters.overloaded++;
            socket.destroy();
            return;
          }
          if (limiter.take(socket.remoteAddress ?? '') !== 'ok') {
            counters.limited++;
            socket.destroy();
            return;
          }
          waiting++;
          const replied = answer(message, 'tcp');
          chain = chain.then(async () => {
            const reply = await replied;
            waiting--;
            if (reply === null) {
              // Nothing to say to a message that is no query: the stream cannot be trusted further.
              socket.destroy();
              return;
            }
            if (socket.destroyed) return;
            const prefix = Buffer.alloc(2);
            prefix.writeUInt16BE(reply.length);
            socket.write(Buffer.concat([prefix, reply]));
            drain();
          });
        }
        if (waiting >= MAX_WAITING_PER_CONNECTION) socket.pause();
        else socket.resume();
      };
      socket.on('data', (chunk: Buffer) => {
        // Bounded: what a paused socket may still deliver on top of one whole message.
        if (buffered.length + chunk.length > 4 * (2 + MAX_TCP_MESSAGE)) {
          socket.destroy();
          return;
        }
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        drain();
      });
    }

    logger.info({ host, port }, 'dns responder started (UDP and TCP)');
    return {
      host,
      udpPort: port,
      tcpPort: port,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        for (const socket of connections) socket.destroy();
        await Promise.all([
          new Promise<void>((resolve) => udp.close(() => resolve())),
          new Promise<void>((resolve) => tcp.close(() => resolve())),
        ]);
        logger.info({ ...counters }, 'dns responder stopped');
      },
    };
  }
}
