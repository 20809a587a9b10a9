import { randomInt } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { getServers } from 'node:dns';
import { connect as tcpConnect, isIP, type Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';
import { OPENPGPKEY_TYPE, normaliseDomain, openPgpKeyName, parseMailAddress } from './key-names.ts';

/**
 * A DNS stub resolver on dns-packet for looking up correspondents' keys (RFC 7929 OPENPGPKEY) and TLSA records
 * through the configured resolvers (`dns.resolvers`, else the system's first name server).
 *
 * Each query: a random 16-bit id, a fresh UDP socket (the kernel picks a random source port) connected to the
 * server, one retransmission halfway to the deadline, then TCP when the answer is truncated. A reply must carry our
 * id (others are ignored: stale or spoofed), decode completely, be a response to opcode QUERY and echo our exact
 * question (name, type, class); anything else is an error for that server, and the next server is tried. Sizes are
 * bounded (a TCP answer is at most 65535 bytes; keys above `maxKeyBytes` are refused). Nothing a server sends makes
 * these functions throw: every failure is an error object in the result.
 *
 * DNSSEC: this stub does not validate. `dnssecValidated` is the AD bit of the answer, and only when `trustAd` is set
 * — i.e. the operator says the resolver validates and the path to it cannot be tampered with (a resolver on the same
 * host, or reached over a trusted network). Otherwise anyone on the path could set the bit, and it counts for nothing.
 */

export type DnsLookupErrorCode =
  | 'dns_invalid_query'
  | 'dns_no_server'
  | 'dns_timeout'
  | 'dns_network'
  | 'dns_malformed_reply'
  | 'dns_mismatched_reply'
  | 'dns_server_failure'
  | 'dns_refused'
  | 'dns_error_rcode'
  | 'dns_bad_record';

export interface DnsLookupError {
  code: DnsLookupErrorCode;
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

export interface DnsAnswer {
  rcode: 'NOERROR' | 'NXDOMAIN';
  /** The AD bit as received. */
  authenticatedData: boolean;
  transport: 'udp' | 'tcp';
  /** Records of the asked type at the asked name (CNAMEs inside the answer followed). */
  records: Answer[];
}

export interface DnsQueryOutcome {
  answer: DnsAnswer | null;
  /** The server that gave the answer (or the last one tried), as `host:port`. */
  server: string | null;
  error: DnsLookupError | null;
}

export interface OpenPgpKeyLookup {
  /** The first key published (binary transferable public key), null when none. */
  key: Uint8Array | null;
  /** Every OPENPGPKEY record at the name (RFC 7929 allows several), in answer order. */
  keys: Uint8Array[];
  /** The answer came from a trusted resolver that set the AD bit. */
  dnssecValidated: boolean;
  /** The owner name asked (`<hash>._openpgpkey.<domain>`). */
  name: string | null;
  server: string | null;
  rcode: 'NOERROR' | 'NXDOMAIN' | null;
  /** How the answer came (TCP after a truncated UDP answer). */
  transport: 'udp' | 'tcp' | null;
  error: DnsLookupError | null;
}

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  /** Certificate association data, hex. */
  data: string;
}

export interface TlsaLookup {
  records: TlsaRecord[];
  dnssecValidated: boolean;
  name: string | null;
  server: string | null;
  rcode: 'NOERROR' | 'NXDOMAIN' | null;
  error: DnsLookupError | null;
}

const DEFAULT_TIMEOUT_MS = 3000;
const MAX_CNAME_CHAIN = 8;
const MAX_SERVERS = 8;
const DEFAULT_MAX_KEY_BYTES = 64 * 1024;
const MAX_KEYS = 16;

class LookupFailure extends Error {
  constructor(
    readonly code: DnsLookupErrorCode,
    message: string,
  ) {
    super(message);
  }
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

function display(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** One question to the servers in turn; the first server that answers (NOERROR or NXDOMAIN) wins. Never throws. */
export async function dnsQuery(name: string, type: string, options: DnsLookupOptions = {}): Promise<DnsQueryOutcome> {
  const qname = normaliseDomain(name);
  if (qname === null)
    return {
      answer: null,
      server: null,
      error: {
        code: 'dns_invalid_query',
        message: `"${String(name).slice(0, 80)}" is not a DNS name that can be asked.`,
      },
    };
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
    const shown = display(target.host, target.port);
    try {
      const answer = await queryServer(target.host, target.port, qname, type, options);
      return { answer, server: shown, error: null };
    } catch (error) {
      const failure =
        error instanceof LookupFailure
          ? error
          : new LookupFailure('dns_network', `DNS lookup failed: ${(error as Error).message}`);
      last = { answer: null, server: shown, error: { code: failure.code, message: failure.message } };
    }
  }
  return last;
}

/**
 * The OPENPGPKEY record(s) of `address` (RFC 7929). The local part is hashed as written; when that name does not
 * exist and the local part has capitals, the lowercase form is tried too (most providers' local parts are
 * case-insensitive, and publishers hash the lowercase form — this instance does).
 */
export async function lookupOpenPgpKey(
  address: string,
  options: DnsLookupOptions & { maxKeyBytes?: number } = {},
): Promise<OpenPgpKeyLookup> {
  const parsed = parseMailAddress(address);
  const none = { key: null, keys: [], dnssecValidated: false, transport: null };
  if (parsed === null) {
    return {
      ...none,
      name: null,
      server: null,
      rcode: null,
      error: { code: 'dns_invalid_query', message: `"${String(address).slice(0, 80)}" is not a mail address.` },
    };
  }
  const maxKeyBytes = options.maxKeyBytes ?? DEFAULT_MAX_KEY_BYTES;
  let name = openPgpKeyName(parsed.localPart, parsed.domain);
  let outcome = await dnsQuery(name, OPENPGPKEY_TYPE, options);
  const lower = parsed.localPart.toLowerCase();
  if (outcome.answer?.rcode === 'NXDOMAIN' && lower !== parsed.localPart) {
    name = openPgpKeyName(lower, parsed.domain);
    outcome = await dnsQuery(name, OPENPGPKEY_TYPE, options);
  }
  const { answer, server, error } = outcome;
  if (answer === null) return { ...none, name, server, rcode: null, error };
  const dnssecValidated = options.trustAd === true && answer.authenticatedData;
  const transport = answer.transport;
  const keys: Uint8Array[] = [];
  for (const record of answer.records.slice(0, MAX_KEYS)) {
    const data = (record as { data?: unknown }).data;
    if (!Buffer.isBuffer(data) || data.length === 0 || data.length > maxKeyBytes) {
      const size = Buffer.isBuffer(data) ? `${data.length} bytes` : 'no data';
      return {
        ...none,
        dnssecValidated,
        transport,
        name,
        server,
        rcode: answer.rcode,
        error: {
          code: 'dns_bad_record',
          message: `The OPENPGPKEY record of ${parsed.localPart}@${parsed.domain} from ${server} is unusable (${size}; at most ${maxKeyBytes}).`,
        },
      };
    }
    keys.push(new Uint8Array(data));
  }
  return { key: keys[0] ?? null, keys, dnssecValidated, name, server, rcode: answer.rcode, transport, error: null };
}

/** The TLSA records of a service: `_<port>._<protocol>.<host>` (RFC 6698 §3). */
export async function lookupTlsa(
  host: string,
  port: number,
  options: DnsLookupOptions & { protocol?: 'tcp' | 'udp' } = {},
): Promise<TlsaLookup> {
  const domain = normaliseDomain(host);
  if (domain === null || !Number.isInteger(port) || port < 1 || port > 65535) {
    return {
      records: [],
      dnssecValidated: false,
      name: null,
      server: null,
      rcode: null,
      error: { code: 'dns_invalid_query', message: `No TLSA name for ${String(host).slice(0, 80)} port ${port}.` },
    };
  }
  const name = `_${port}._${options.protocol ?? 'tcp'}.${domain}`;
  const { answer, server, error } = await dnsQuery(name, 'TLSA', options);
  if (answer === null) return { records: [], dnssecValidated: false, name, server, rcode: null, error };
  const dnssecValidated = options.trustAd === true && answer.authenticatedData;
  const records: TlsaRecord[] = [];
  for (const record of answer.records) {
    const data = (
      record as { data?: { usage?: unknown; selector?: unknown; matchingType?: unknown; certificate?: unknown } }
    ).data;
    if (
      typeof data?.usage !== 'number' ||
      typeof data.selector !== 'number' ||
      typeof data.matchingType !== 'number' ||
      !Buffer.isBuffer(data.certificate)
    ) {
      return {
        records: [],
        dnssecValidated,
        name,
        server,
        rcode: answer.rcode,
        error: { code: 'dns_bad_record', message: `A TLSA record of ${name} from ${server} is malformed.` },
      };
    }
    records.push({
      usage: data.usage,
      selector: data.selector,
      matchingType: data.matchingType,
      data: data.certificate.toString('hex'),
    });
  }
  return { records, dnssecValidated, name, server, rcode: answer.rcode, error: null };
}

interface Question {
  id: number;
  name: string;
  type: string;
  shown: string;
}

async function queryServer(
  host: string,
  port: number,
  name: string,
  type: string,
  options: DnsLookupOptions,
): Promise<DnsAnswer> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const id = randomInt(0, 0x10000);
  let query: Buffer;
  try {
    query = dnsPacket.encode({
      type: 'query',
      id,
      // RD: a recursive resolver may recurse; AD in a query asks for the AD bit in the answer (RFC 6840 §5.7).
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.AUTHENTIC_DATA,
      questions: [{ type, name, class: 'IN' }],
      additionals: [
        {
          type: 'OPT',
          name: '.',
          udpPayloadSize: options.udpPayloadSize ?? 1232,
          extendedRcode: 0,
          ednsVersion: 0,
          flags: 0,
          options: [],
        },
      ],
    } as unknown as Packet);
  } catch (error) {
    throw new LookupFailure('dns_invalid_query', `Cannot ask ${type} ${name}: ${(error as Error).message}.`);
  }
  const question: Question = {
    id,
    name,
    type,
    shown: `${type === OPENPGPKEY_TYPE ? 'OPENPGPKEY' : type} ${name} at ${display(host, port)}`,
  };
  let reply = await overUdp(host, port, query, question, deadline, timeoutMs);
  let transport: 'udp' | 'tcp' = 'udp';
  if (reply.flag_tc) {
    reply = await overTcp(host, port, query, question, deadline, timeoutMs);
    transport = 'tcp';
  }
  return interpret(reply, question, transport);
}

function overUdp(
  host: string,
  port: number,
  query: Buffer,
  question: Question,
  deadline: number,
  timeoutMs: number,
): Promise<DecodedPacket> {
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
    const remaining = Math.max(0, deadline - Date.now());
    timers.push(
      setTimeout(() => {
        const also = ignored > 0 ? ` (${ignored} repl${ignored === 1 ? 'y' : 'ies'} with another id ignored)` : '';
        finish(new LookupFailure('dns_timeout', `No answer within ${timeoutMs} ms for ${question.shown}${also}.`));
      }, remaining),
    );
    const send = () =>
      socket?.send(query, (error) => {
        if (error)
          finish(
            new LookupFailure('dns_network', `The query for ${question.shown} could not be sent: ${error.message}.`),
          );
      });
    try {
      socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    } catch (error) {
      finish(new LookupFailure('dns_network', `No UDP socket for ${question.shown}: ${(error as Error).message}.`));
      return;
    }
    socket.on('error', (error) =>
      finish(new LookupFailure('dns_network', `DNS over UDP failed for ${question.shown}: ${error.message}.`)),
    );
    socket.on('message', (message: Buffer) => {
      // Only the server can reach a connected socket; a reply with another id is stale or forged: keep waiting.
      if (message.length < 2 || message.readUInt16BE(0) !== question.id) {
        ignored++;
        return;
      }
      try {
        finish(undefined, decodeReply(message, question));
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.connect(port, host, () => {
      if (socket === undefined) return;
      send();
      timers.push(setTimeout(send, remaining / 2));
    });
  });
}

function overTcp(
  host: string,
  port: number,
  query: Buffer,
  question: Question,
  deadline: number,
  timeoutMs: number,
): Promise<DecodedPacket> {
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
          new LookupFailure(
            'dns_timeout',
            `No TCP answer within ${timeoutMs} ms for ${question.shown} (the UDP answer was truncated).`,
          ),
        ),
      Math.max(0, deadline - Date.now()),
    );
    socket = tcpConnect({ host, port });
    socket.on('error', (error) =>
      finish(new LookupFailure('dns_network', `DNS over TCP failed for ${question.shown}: ${error.message}.`)),
    );
    socket.on('close', () =>
      finish(
        new LookupFailure(
          'dns_malformed_reply',
          `The server closed the TCP connection before a whole answer for ${question.shown}.`,
        ),
      ),
    );
    socket.on('connect', () => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(query.length);
      socket?.write(Buffer.concat([prefix, query]));
    });
    socket.on('data', (chunk: Buffer) => {
      // Never more than 2 + 65535 bytes are kept: the length prefix bounds the message.
      received = Buffer.concat([received, chunk.subarray(0, Math.max(0, 2 + 0xffff - received.length))]);
      if (received.length < 2) return;
      const length = received.readUInt16BE(0);
      if (received.length < 2 + length) return;
      const message = received.subarray(2, 2 + length);
      try {
        if (message.length < 2 || message.readUInt16BE(0) !== question.id) {
          throw new LookupFailure(
            'dns_mismatched_reply',
            `The TCP answer for ${question.shown} carries another query id.`,
          );
        }
        finish(undefined, decodeReply(message, question));
      } catch (error) {
        finish(error as Error);
      }
    });
  });
}

/** Decodes a reply that carries our id and checks it answers our question. */
function decodeReply(message: Buffer, question: Question): DecodedPacket {
  let packet: DecodedPacket;
  try {
    packet = dnsPacket.decode(message);
  } catch (error) {
    throw new LookupFailure(
      'dns_malformed_reply',
      `Undecodable answer for ${question.shown}: ${(error as Error).message}.`,
    );
  }
  // dns-packet reads some record data past the end without complaint: the records must end where the message does.
  if (dnsPacket.decode.bytes !== message.length) {
    throw new LookupFailure(
      'dns_malformed_reply',
      `Malformed answer for ${question.shown}: its records take ${dnsPacket.decode.bytes} bytes, the message ${message.length}.`,
    );
  }
  if (!packet.flag_qr)
    throw new LookupFailure(
      'dns_mismatched_reply',
      `The reply for ${question.shown} is not a response (QR bit clear).`,
    );
  const opcode = (packet as DecodedPacket & { opcode?: string }).opcode;
  if (opcode !== 'QUERY')
    throw new LookupFailure('dns_mismatched_reply', `The reply for ${question.shown} has opcode ${String(opcode)}.`);
  const echoed = packet.questions ?? [];
  const first = echoed[0];
  if (
    echoed.length !== 1 ||
    first === undefined ||
    lower(first.name) !== question.name ||
    String(first.type) !== question.type ||
    first.class !== 'IN'
  ) {
    const seen = first === undefined ? 'no question' : `${String(first.type)} ${first.name}`;
    throw new LookupFailure(
      'dns_mismatched_reply',
      `The reply for ${question.shown} does not echo the question (it has ${seen.slice(0, 120)}).`,
    );
  }
  return packet;
}

function interpret(packet: DecodedPacket, question: Question, transport: 'udp' | 'tcp'): DnsAnswer {
  const rcode = (packet as DecodedPacket & { rcode?: string }).rcode;
  if (rcode === 'SERVFAIL') throw new LookupFailure('dns_server_failure', `SERVFAIL for ${question.shown}.`);
  if (rcode === 'REFUSED') throw new LookupFailure('dns_refused', `The server refused ${question.shown}.`);
  if (rcode !== 'NOERROR' && rcode !== 'NXDOMAIN')
    throw new LookupFailure('dns_error_rcode', `The server answered ${String(rcode)} for ${question.shown}.`);
  const authenticatedData = packet.flag_ad;
  if (rcode === 'NXDOMAIN') return { rcode, authenticatedData, transport, records: [] };
  const answers = (packet.answers ?? []).filter(
    (answer) => answer.type !== 'OPT' && (answer as { class?: string }).class === 'IN',
  );
  const records: Answer[] = [];
  let current = question.name;
  for (let hop = 0; hop <= MAX_CNAME_CHAIN; hop++) {
    const here = answers.filter((answer) => lower(answer.name) === current);
    const matching = here.filter((answer) => String(answer.type) === question.type);
    if (matching.length > 0) {
      records.push(...matching);
      break;
    }
    const alias = here.find((answer) => answer.type === 'CNAME') as { data?: unknown } | undefined;
    if (alias === undefined || typeof alias.data !== 'string') break;
    current = lower(alias.data);
  }
  return { rcode, authenticatedData, transport, records };
}

function lower(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
