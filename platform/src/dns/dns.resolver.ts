import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { getServers } from 'node:dns';
import { isIP, isIPv6, connect as tcpConnect } from 'node:net';
import type { Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, RecordType } from 'dns-packet';

/**
 * The one DNS stub resolver of Caliopen, on dns-packet: the registry's checks (TXT, MX, TLSA) and the instance's key
 * discovery (OPENPGPKEY, TLSA) and peer lookups both ask through it.
 *
 * Two faces over one engine:
 * - `DnsPacketResolver`: one server (a recursive resolver in production, the test's authoritative server in tests);
 *   a failure throws a `DnsResolverError`;
 * - `dnsQuery(name, type, { servers })`: the configured servers in turn (`ip`, `ip:port`, `[ipv6]:port`; default the
 *   system's first name server), the first that answers (NOERROR or NXDOMAIN) wins; never throws: every failure is
 *   an error object in the result.
 *
 * Each query: a random 16-bit id, a fresh UDP socket (the kernel picks a random source port) connected to the server,
 * retransmissions within the deadline (one, halfway, by default), then TCP when the answer is truncated. A reply must
 * carry our id (others are ignored: stale or spoofed; the query keeps waiting until its deadline), decode completely,
 * be a response to opcode QUERY and echo our exact question (name, type, class); anything else is an error, as is
 * SERVFAIL/REFUSED or a deadline passed. Sizes are bounded (a TCP answer is at most 65535 bytes).
 *
 * Answers carry metadata: the rcode, the transport used and the AD bit, so DANE or a published key can be credited
 * only when the upstream resolver validated the answer with DNSSEC (and, for `dnsQuery` users, only when the operator
 * trusts the resolver and the path to it: `trustAd`). There is no shared "last answer" state: concurrent lookups each
 * get their own answer.
 */

export type DnsResolverErrorCode =
  /** A name that cannot be asked (DnsPacketResolver). */
  | 'dns_invalid_name'
  /** A question that cannot be asked: a bad name (dnsQuery) or one that does not encode. */
  | 'dns_invalid_query'
  /** No server to ask, or a server string that is not an address (dnsQuery). */
  | 'dns_no_server'
  | 'dns_timeout'
  | 'dns_network'
  | 'dns_malformed_reply'
  | 'dns_mismatched_reply'
  | 'dns_server_failure'
  | 'dns_refused'
  | 'dns_error_rcode'
  /** A record of the asked type whose data is unusable (callers that check record data, e.g. key lookups). */
  | 'dns_bad_record';

export class DnsResolverError extends Error {
  override readonly name = 'DnsResolverError';
  readonly code: DnsResolverErrorCode;

  constructor(code: DnsResolverErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface DnsResolverOptions {
  /** The server to ask (an IP address). */
  host: string;
  /** Default 53. */
  port?: number;
  /** Deadline of one lookup, UDP and TCP fallback together, in ms (default 3000). */
  timeoutMs?: number;
  /** UDP transmissions within the deadline (default 2: one retransmission halfway). */
  udpAttempts?: number;
  /** EDNS0 payload size advertised (default 1232, the DNS flag day 2020 value). */
  udpPayloadSize?: number;
}

/** A question type: a dns-packet type name, or `UNKNOWN_<n>` for the ones it lacks (OPENPGPKEY is `UNKNOWN_61`). */
export type DnsQuestionType = RecordType | `UNKNOWN_${number}`;

export interface DnsQueryResult {
  /** `NOERROR` or `NXDOMAIN` (other rcodes are errors). */
  rcode: 'NOERROR' | 'NXDOMAIN';
  /** The AD bit: the server vouches it validated the answer with DNSSEC. */
  authenticatedData: boolean;
  transport: 'udp' | 'tcp';
  /** Records of the asked type for the asked name, following CNAMEs inside the answer section. */
  records: Answer[];
}

/** The record types `resolve` converts, and what each resolves to (TXT: the character-strings of a record, joined). */
export interface ResolvedRecordOf {
  TXT: string;
  MX: { exchange: string; priority: number };
  /** `data`: the certificate association data, lowercase hex. */
  TLSA: { usage: number; selector: number; matchingType: number; data: string };
}

export type ResolvableType = keyof ResolvedRecordOf;

export interface Resolution<T extends ResolvableType> {
  records: ResolvedRecordOf[T][];
  /** The AD bit of the answer: the resolver vouches that it validated the records with DNSSEC. */
  authenticatedData: boolean;
}

const MAX_CNAME_CHAIN = 8;
const DEFAULT_TIMEOUT_MS = 3000;
const MAX_SERVERS = 8;

export class DnsPacketResolver {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  private readonly udpAttempts: number;
  private readonly udpPayloadSize: number;

  constructor(options: DnsResolverOptions) {
    this.host = options.host;
    this.port = options.port ?? 53;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.udpAttempts = Math.max(1, options.udpAttempts ?? 2);
    this.udpPayloadSize = options.udpPayloadSize ?? 1232;
    if (!Number.isInteger(this.port) || this.port < 1 || this.port > 65535)
      throw new RangeError(`Bad DNS server port ${this.port}.`);
    if (!(this.timeoutMs > 0)) throw new RangeError('The DNS timeout must be positive.');
  }

  /** `host:port` of the server, as evidence shows it. */
  get server(): string {
    return isIPv6(this.host) ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  async txt(name: string): Promise<string[]> {
    return (await this.resolve(name, 'TXT')).records;
  }

  async mx(name: string): Promise<{ exchange: string; priority: number }[]> {
    return (await this.resolve(name, 'MX')).records;
  }

  async tlsa(name: string): Promise<{ usage: number; selector: number; matchingType: number; data: string }[]> {
    return (await this.resolve(name, 'TLSA')).records;
  }

  async resolve<T extends ResolvableType>(name: string, type: T): Promise<Resolution<T>> {
    const result = await this.query(name, type);
    const records = result.records.map((record) => convert(record, type, name, this.server)) as ResolvedRecordOf[T][];
    return { records, authenticatedData: result.authenticatedData };
  }

  /** One lookup, with its metadata. NXDOMAIN and NODATA resolve with no records. */
  async query(name: string, type: DnsQuestionType): Promise<DnsQueryResult> {
    const qname = checkName(name);
    const deadline = Date.now() + this.timeoutMs;
    const id = randomInt(0, 0x10000);
    const question: Question = { id, name: qname, type: String(type) };
    let query: Buffer;
    try {
      query = dnsPacket.encode({
        type: 'query',
        id,
        // RD: the server may recurse; AD in a query asks for the AD bit in the answer (RFC 6840 §5.7).
        flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
        questions: [{ type: type as RecordType, name: qname, class: 'IN' }],
        additionals: [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: this.udpPayloadSize,
            extendedRcode: 0,
            ednsVersion: 0,
            flags: 0,
            options: [],
            flag_do: false,
          },
        ],
      } as Packet);
    } catch (error) {
      throw new DnsResolverError(
        'dns_invalid_query',
        `Cannot ask ${this.describe(question)}: ${(error as Error).message}.`,
      );
    }

    let reply = await this.overUdp(query, question, deadline);
    let transport: 'udp' | 'tcp' = 'udp';
    if (reply.flag_tc) {
      reply = await this.overTcp(query, question, deadline);
      transport = 'tcp';
    }
    return this.interpret(reply, question, transport);
  }

  private describe(question: { name: string; type: string }): string {
    return `${question.type === OPENPGPKEY_TYPE ? 'OPENPGPKEY' : question.type} ${question.name} at ${this.server}`;
  }

  private overUdp(query: Buffer, question: Question, deadline: number): Promise<DecodedPacket> {
    return new Promise((resolve, reject) => {
      let socket: UdpSocket | undefined;
      let ignored = 0;
      const timers: NodeJS.Timeout[] = [];
      const finish = (error: Error | undefined, packet?: DecodedPacket) => {
        for (const timer of timers) clearTimeout(timer);
        try {
          socket?.close();
        } catch {
          // already closed
        }
        socket = undefined;
        if (error) reject(error);
        else resolve(packet!);
      };
      const remaining = deadline - Date.now();
      timers.push(
        setTimeout(
          () => {
            const also =
              ignored > 0 ? ` (${ignored} repl${ignored === 1 ? 'y' : 'ies'} with another query id ignored)` : '';
            finish(
              new DnsResolverError(
                'dns_timeout',
                `DNS timeout: no answer within ${this.timeoutMs} ms for ${this.describe(question)}${also}.`,
              ),
            );
          },
          Math.max(0, remaining),
        ),
      );
      const send = () => {
        if (socket === undefined) return;
        socket.send(query, (error) => {
          if (error)
            finish(
              new DnsResolverError(
                'dns_network',
                `DNS query for ${this.describe(question)} could not be sent: ${error.message}.`,
              ),
            );
        });
      };
      try {
        socket = createSocket(isIPv6(this.host) ? 'udp6' : 'udp4');
      } catch (error) {
        finish(
          new DnsResolverError(
            'dns_network',
            `No UDP socket for ${this.describe(question)}: ${(error as Error).message}.`,
          ),
        );
        return;
      }
      socket.on('error', (error) =>
        finish(
          new DnsResolverError('dns_network', `DNS over UDP failed for ${this.describe(question)}: ${error.message}.`),
        ),
      );
      socket.on('message', (message: Buffer) => {
        // A connected UDP socket only hears from the server; a reply with another id is stale or forged: ignore it.
        if (message.length < 2 || message.readUInt16BE(0) !== question.id) {
          ignored++;
          return;
        }
        try {
          finish(undefined, this.decode(message, question));
        } catch (error) {
          finish(error as Error);
        }
      });
      socket.connect(this.port, this.host, () => {
        if (socket === undefined) return;
        send();
        for (let attempt = 1; attempt < this.udpAttempts; attempt++) {
          timers.push(setTimeout(send, (remaining * attempt) / this.udpAttempts));
        }
      });
    });
  }

  private overTcp(query: Buffer, question: Question, deadline: number): Promise<DecodedPacket> {
    return new Promise((resolve, reject) => {
      let socket: TcpSocket | undefined;
      let received = Buffer.alloc(0);
      const finish = (error: Error | undefined, packet?: DecodedPacket) => {
        clearTimeout(timer);
        const s = socket;
        socket = undefined;
        s?.destroy();
        if (error) reject(error);
        else resolve(packet!);
      };
      const timer = setTimeout(
        () =>
          finish(
            new DnsResolverError(
              'dns_timeout',
              `DNS timeout: no TCP answer within ${this.timeoutMs} ms for ${this.describe(question)} (UDP answer was truncated).`,
            ),
          ),
        Math.max(0, deadline - Date.now()),
      );
      socket = tcpConnect({ host: this.host, port: this.port });
      socket.on('error', (error) =>
        finish(
          new DnsResolverError('dns_network', `DNS over TCP failed for ${this.describe(question)}: ${error.message}.`),
        ),
      );
      socket.on('close', () =>
        finish(
          new DnsResolverError(
            'dns_malformed_reply',
            `The server closed the TCP connection before a whole answer for ${this.describe(question)}.`,
          ),
        ),
      );
      socket.on('connect', () => {
        const length = Buffer.alloc(2);
        length.writeUInt16BE(query.length);
        socket?.write(Buffer.concat([length, query]));
      });
      socket.on('data', (chunk: Buffer) => {
        // At most 2 + 65535 bytes are ever kept: the length prefix bounds the message.
        received = Buffer.concat([received, chunk.subarray(0, Math.max(0, 2 + 0xffff - received.length))]);
        if (received.length < 2) return;
        const length = received.readUInt16BE(0);
        if (received.length < 2 + length) return;
        const message = received.subarray(2, 2 + length);
        try {
          if (message.length < 2 || message.readUInt16BE(0) !== question.id) {
            throw new DnsResolverError(
              'dns_mismatched_reply',
              `The TCP answer for ${this.describe(question)} carries another query id.`,
            );
          }
          finish(undefined, this.decode(message, question));
        } catch (error) {
          finish(error as Error);
        }
      });
    });
  }

  /** Decodes a reply that carries our id and checks it answers our question. */
  private decode(message: Buffer, question: Question): DecodedPacket {
    let packet: DecodedPacket;
    try {
      packet = dnsPacket.decode(message);
    } catch (error) {
      throw new DnsResolverError(
        'dns_malformed_reply',
        `Undecodable DNS answer for ${this.describe(question)}: ${(error as Error).message}.`,
      );
    }
    // dns-packet reads some record data past the end without complaint: the records must end where the message does.
    if (dnsPacket.decode.bytes !== message.length) {
      throw new DnsResolverError(
        'dns_malformed_reply',
        `Malformed DNS answer for ${this.describe(question)}: its records take ${dnsPacket.decode.bytes} bytes, the message has ${message.length}.`,
      );
    }
    if (!packet.flag_qr)
      throw new DnsResolverError(
        'dns_mismatched_reply',
        `The reply for ${this.describe(question)} is not a response (QR bit clear).`,
      );
    const opcode = (packet as DecodedPacket & { opcode?: string }).opcode;
    if (opcode !== 'QUERY')
      throw new DnsResolverError(
        'dns_mismatched_reply',
        `The reply for ${this.describe(question)} has opcode ${String(opcode)}.`,
      );
    const echoed = packet.questions ?? [];
    const [first] = echoed;
    if (
      echoed.length !== 1 ||
      first === undefined ||
      normalizeName(first.name) !== question.name ||
      String(first.type) !== question.type ||
      first.class !== 'IN'
    ) {
      const seen = first === undefined ? 'no question' : `${String(first.type)} ${first.name}`;
      throw new DnsResolverError(
        'dns_mismatched_reply',
        `The reply for ${this.describe(question)} does not echo the question (it has ${seen.slice(0, 120)}).`,
      );
    }
    return packet;
  }

  private interpret(packet: DecodedPacket, question: Question, transport: 'udp' | 'tcp'): DnsQueryResult {
    const rcode = (packet as DecodedPacket & { rcode?: string }).rcode;
    if (rcode === 'SERVFAIL')
      throw new DnsResolverError('dns_server_failure', `SERVFAIL for ${this.describe(question)}.`);
    if (rcode === 'REFUSED')
      throw new DnsResolverError('dns_refused', `The server refused ${this.describe(question)}.`);
    if (rcode !== 'NOERROR' && rcode !== 'NXDOMAIN') {
      throw new DnsResolverError(
        'dns_error_rcode',
        `The server answered ${String(rcode)} for ${this.describe(question)}.`,
      );
    }
    const authenticatedData = packet.flag_ad;
    if (rcode === 'NXDOMAIN') return { rcode, authenticatedData, transport, records: [] };
    const answers = (packet.answers ?? []).filter(
      (answer) => answer.type !== 'OPT' && (answer as { class?: string }).class === 'IN',
    );
    const records: Answer[] = [];
    let current = question.name;
    for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
      const here = answers.filter((answer) => normalizeName(answer.name) === current);
      const matching = here.filter((answer) => String(answer.type) === question.type);
      if (matching.length > 0) {
        records.push(...matching);
        break;
      }
      const alias = here.find((answer) => answer.type === 'CNAME') as { data?: unknown } | undefined;
      if (alias === undefined || typeof alias.data !== 'string') break;
      current = normalizeName(alias.data);
    }
    return { rcode, authenticatedData, transport, records };
  }
}

interface Question {
  id: number;
  name: string;
  type: string;
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function checkName(name: string): string {
  const qname = normalizeName(String(name));
  const labels = qname.split('.');
  if (
    qname.length === 0 ||
    qname.length > 253 ||
    labels.some((label) => label.length === 0 || label.length > 63 || !/^[\x21-\x7e]+$/.test(label))
  ) {
    throw new DnsResolverError('dns_invalid_name', `"${qname.slice(0, 80)}" is not a DNS name that can be asked.`);
  }
  return qname;
}

function convert(record: Answer, type: ResolvableType, name: string, server: string): ResolvedRecordOf[ResolvableType] {
  const data = (record as { data?: unknown }).data;
  const malformed = () =>
    new DnsResolverError('dns_malformed_reply', `Malformed ${type} record for ${name} from ${server}.`);
  switch (type) {
    case 'TXT': {
      const chunks = Array.isArray(data) ? data : [data];
      if (!chunks.every((chunk) => Buffer.isBuffer(chunk) || typeof chunk === 'string')) throw malformed();
      // Join the bytes before decoding: a character-string may end inside a UTF-8 sequence.
      return Buffer.concat(
        chunks.map((chunk) => (Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string))),
      ).toString('utf8');
    }
    case 'MX': {
      const mx = data as { preference?: unknown; exchange?: unknown } | undefined;
      if (typeof mx?.exchange !== 'string' || typeof mx.preference !== 'number') throw malformed();
      return { exchange: normalizeName(mx.exchange) || '.', priority: mx.preference };
    }
    case 'TLSA': {
      const tlsa = data as
        | { usage?: unknown; selector?: unknown; matchingType?: unknown; certificate?: unknown }
        | undefined;
      if (
        typeof tlsa?.usage !== 'number' ||
        typeof tlsa.selector !== 'number' ||
        typeof tlsa.matchingType !== 'number' ||
        !Buffer.isBuffer(tlsa.certificate)
      ) {
        throw malformed();
      }
      return {
        usage: tlsa.usage,
        selector: tlsa.selector,
        matchingType: tlsa.matchingType,
        data: tlsa.certificate.toString('hex'),
      };
    }
  }
  throw malformed();
}

// --- several servers, errors as values ------------------------------------------------------------------------

/** The DNS type number of OPENPGPKEY (RFC 7929 §2); dns-packet names it only as `UNKNOWN_61`. */
export const OPENPGPKEY_TYPE = 'UNKNOWN_61' as const;

export interface DnsLookupError {
  code: DnsResolverErrorCode;
  message: string;
}

export interface DnsLookupOptions {
  /** `ip`, `ip:port`, `[ipv6]:port`; tried in order until one gives an answer. Default: the system's first. */
  servers?: readonly string[];
  /** Deadline per server, UDP and TCP together (default 3000 ms). */
  timeoutMs?: number;
  /** Count the AD bit as DNSSEC validation (only for a validating resolver on a trusted path). Default false. */
  trustAd?: boolean;
  /** EDNS payload size advertised (default 1232). */
  udpPayloadSize?: number;
}

export type DnsAnswer = DnsQueryResult;

export interface DnsQueryOutcome {
  answer: DnsAnswer | null;
  /** The server that gave the answer (or the last one tried), as `host:port`. */
  server: string | null;
  error: DnsLookupError | null;
}

/** The servers to ask: the configured ones, else the system's first name server (resolv.conf). */
export function resolverServers(configured: readonly string[]): string[] {
  if (configured.length > 0) return [...configured];
  const system = getServers()[0];
  return system === undefined ? [] : [system];
}

/** `ip`, `ip:port`, `[ip6]`, `[ip6]:port`, bare `ip6` -> host and port (53 by default), or null. */
export function parseServer(server: string): { host: string; port: number } | null {
  let host: string;
  let port = 53;
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(server);
  const v4 = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(server);
  if (bracketed) {
    host = bracketed[1]!;
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (v4) {
    host = v4[1]!;
    if (v4[2] !== undefined) port = Number(v4[2]);
  } else {
    host = server;
  }
  if (isIP(host) === 0 || port < 1 || port > 65535) return null;
  return { host, port };
}

/** One question to the servers in turn; the first server that answers (NOERROR or NXDOMAIN) wins. Never throws. */
export async function dnsQuery(
  name: string,
  type: DnsQuestionType | string,
  options: DnsLookupOptions = {},
): Promise<DnsQueryOutcome> {
  let qname: string;
  try {
    qname = checkName(name);
  } catch {
    return {
      answer: null,
      server: null,
      error: {
        code: 'dns_invalid_query',
        message: `"${String(name).slice(0, 80)}" is not a DNS name that can be asked.`,
      },
    };
  }
  const servers = (options.servers ?? resolverServers([])).slice(0, MAX_SERVERS);
  if (servers.length === 0)
    return {
      answer: null,
      server: null,
      error: { code: 'dns_no_server', message: 'No DNS server to ask: set dns.resolvers.' },
    };
  let last: DnsQueryOutcome = { answer: null, server: null, error: null };
  for (const server of servers) {
    const target = parseServer(server);
    if (target === null) {
      last = {
        answer: null,
        server,
        error: {
          code: 'dns_no_server',
          message: `"${server.slice(0, 60)}" is not a DNS server address (ip, ip:port or [ipv6]:port).`,
        },
      };
      continue;
    }
    const resolver = new DnsPacketResolver({
      host: target.host,
      port: target.port,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(options.udpPayloadSize !== undefined ? { udpPayloadSize: options.udpPayloadSize } : {}),
    });
    try {
      const answer = await resolver.query(qname, type as DnsQuestionType);
      return { answer, server: resolver.server, error: null };
    } catch (error) {
      const failure =
        error instanceof DnsResolverError
          ? error
          : new DnsResolverError('dns_network', `DNS lookup failed: ${(error as Error).message}`);
      last = { answer: null, server: resolver.server, error: { code: failure.code, message: failure.message } };
    }
  }
  return last;
}
