import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { createServer } from 'node:net';
import type { Server as TcpServer, Socket as TcpSocket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';
import { freePort } from './net.ts';

/**
 * A real authoritative DNS server for tests, on a free loopback port, UDP and TCP, built on dns-packet. It answers
 * from a zone object the test can change at any time, sets the AD bit when asked to (a stand-in for a validating
 * resolver), truncates UDP answers larger than the client's EDNS size (or 512 bytes) as a real server does, and
 * misbehaves on demand: garbage, cut or truncated answers, wrong ids, questions or flags, compression loops, error
 * rcodes, silence.
 */

export type ZoneRecord =
  | { type: 'TXT'; data: string | string[] }
  | { type: 'MX'; data: { preference: number; exchange: string } }
  | { type: 'TLSA'; data: { usage: number; selector: number; matchingType: number; certificate: Buffer | string } }
  | { type: 'A' | 'AAAA' | 'CNAME'; data: string }
  /** Types dns-packet does not name (OPENPGPKEY is `UNKNOWN_61`): raw RDATA. */
  | { type: `UNKNOWN_${number}`; data: Buffer };

/** Names (case-insensitive, no trailing dot) to their records. */
export type Zone = Record<string, ZoneRecord[]>;

export type DnsBehaviour =
  | 'normal'
  /** Never answers. */
  | 'silent'
  /** Random bytes after our id: the id matches, nothing else decodes. */
  | 'garbage'
  /** Random bytes with a random id. */
  | 'garbage-random-id'
  /** A well-formed answer with another id. */
  | 'wrong-id'
  /** A well-formed answer to another question. */
  | 'wrong-question'
  /** The answer with the QR bit clear. */
  | 'not-response'
  /** The answer cut in the middle of its records (no TC bit). */
  | 'cut'
  /** Over UDP: TC bit and no records, as for an answer too large; over TCP: the full answer. */
  | 'truncated'
  /** Over UDP: TC bit; over TCP: the connection closed without an answer. */
  | 'truncated-tcp-closed'
  /** An answer whose record name is a compression pointer to itself. */
  | 'compression-loop'
  | 'servfail'
  | 'refused';

export interface DnsQueryLog {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
  /** EDNS payload size the client advertised, if any. */
  udpPayloadSize?: number;
}

export interface TestDnsServer {
  readonly host: string;
  readonly port: number;
  /** The zone served; mutate it or replace its entries at will. */
  zone: Zone;
  /** What the server does; a function decides per question, and may return the exact bytes to send (`{ raw }`). */
  behaviour:
    | DnsBehaviour
    | ((question: {
        name: string;
        type: string;
        transport: 'udp' | 'tcp';
        id: number;
      }) => DnsBehaviour | { raw: Buffer });
  /** Set the AD bit on answers (as a DNSSEC-validating resolver would). */
  authenticatedData: boolean;
  readonly queries: DnsQueryLog[];
  close(): Promise<void>;
}

export async function startDnsServer(
  options: { zone?: Zone; authenticatedData?: boolean } = {},
): Promise<TestDnsServer> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    try {
      return await listen(port, options);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= 10) throw error;
    }
  }
}

const host = '127.0.0.1';

async function listen(port: number, options: { zone?: Zone; authenticatedData?: boolean }): Promise<TestDnsServer> {
  const udp: UdpSocket = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    udp.once('error', reject);
    udp.bind(port, host, () => {
      udp.off('error', reject);
      resolve();
    });
  });
  const connections = new Set<TcpSocket>();
  const tcp: TcpServer = createServer((socket) => {
    connections.add(socket);
    socket.on('close', () => connections.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2) {
        const length = buffered.readUInt16BE(0);
        if (buffered.length < 2 + length) return;
        const message = buffered.subarray(2, 2 + length);
        buffered = buffered.subarray(2 + length);
        const reply = server.answer(message, 'tcp');
        if (reply === 'close') {
          socket.destroy();
          return;
        }
        if (reply !== undefined) {
          const prefix = Buffer.alloc(2);
          // A DNS message over TCP is at most 65535 bytes: a zone that makes a larger one gets the connection closed.
          if (reply.length > 0xffff) {
            socket.destroy();
            return;
          }
          prefix.writeUInt16BE(reply.length);
          socket.write(Buffer.concat([prefix, reply]));
        }
      }
    });
  });
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
    throw error;
  }
  udp.on('error', () => {});
  udp.on('message', (message, remote) => {
    const reply = server.answer(message, 'udp');
    if (reply !== undefined && reply !== 'close') udp.send(reply, remote.port, remote.address);
  });

  const server = {
    host,
    port,
    zone: options.zone ?? {},
    behaviour: 'normal' as TestDnsServer['behaviour'],
    authenticatedData: options.authenticatedData ?? false,
    queries: [] as DnsQueryLog[],
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of connections) socket.destroy();
        udp.close(() => tcp.close(() => resolve()));
      }),
    answer(message: Buffer, transport: 'udp' | 'tcp'): Buffer | 'close' | undefined {
      let query: DecodedPacket;
      try {
        query = dnsPacket.decode(message);
      } catch {
        return undefined;
      }
      const question = query.questions?.[0];
      if (question === undefined || query.flag_qr) return undefined;
      const name = question.name.toLowerCase().replace(/\.$/, '');
      const type = String(question.type);
      const opt = query.additionals?.find((record) => record.type === 'OPT') as { udpPayloadSize?: number } | undefined;
      this.queries.push({
        name,
        type,
        transport,
        ...(opt?.udpPayloadSize === undefined ? {} : { udpPayloadSize: opt.udpPayloadSize }),
      });
      const id = query.id ?? 0;
      const behaviour =
        typeof this.behaviour === 'function' ? this.behaviour({ name, type, transport, id }) : this.behaviour;
      if (typeof behaviour === 'object') return behaviour.raw;
      const base = { id, question, flags: (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED };
      switch (behaviour) {
        case 'silent':
          return undefined;
        case 'garbage':
          return Buffer.concat([idBytes(id), randomBytes(40)]);
        case 'garbage-random-id':
          return Buffer.concat([idBytes((id + 1 + Math.floor(Math.random() * 65000)) % 65536), randomBytes(40)]);
        case 'servfail':
          return encodeReply({ ...base, rcode: 2 });
        case 'refused':
          return encodeReply({ ...base, rcode: 5 });
        case 'truncated':
        case 'truncated-tcp-closed':
          if (transport === 'udp') return encodeReply({ ...base, truncated: true });
          if (behaviour === 'truncated-tcp-closed') return 'close';
          break;
        case 'compression-loop': {
          const header = encodeReply({ ...base });
          // One answer whose owner name is a pointer to its own offset, then type TXT, class IN, TTL, empty RDATA.
          header.writeUInt16BE(1, 6);
          const at = header.length;
          const record = Buffer.from([0xc0 | (at >> 8), at & 0xff, 0, 16, 0, 1, 0, 0, 0, 60, 0, 0]);
          return Buffer.concat([header, record]);
        }
        default:
          break;
      }
      const answers = lookup(this.zone, name, type);
      const nxdomain = answers.length === 0 && !nameExists(this.zone, name);
      let reply = encodeReply({
        ...base,
        rcode: nxdomain ? 3 : 0,
        answers,
        authenticatedData: this.authenticatedData,
      });
      if (transport === 'udp') {
        const limit = Math.max(512, opt?.udpPayloadSize ?? 512);
        if (reply.length > limit)
          reply = encodeReply({ ...base, truncated: true, authenticatedData: this.authenticatedData });
      }
      switch (behaviour) {
        case 'wrong-id':
          reply.writeUInt16BE((id + 1) % 65536, 0);
          return reply;
        case 'not-response':
          reply.writeUInt16BE(reply.readUInt16BE(2) & 0x7fff, 2);
          return reply;
        case 'cut':
          return reply.subarray(0, Math.max(13, reply.length - 7));
        case 'wrong-question':
          return encodeReply({ ...base, question: { ...question, name: `other.${name}` }, answers });
        default:
          return reply;
      }
    },
  };
  return server;
}

function idBytes(id: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(id);
  return bytes;
}

function encodeReply(reply: {
  id: number;
  question: Question;
  flags: number;
  rcode?: number;
  answers?: Answer[];
  truncated?: boolean;
  authenticatedData?: boolean;
}): Buffer {
  let flags = reply.flags | dnsPacket.AUTHORITATIVE_ANSWER | (reply.rcode ?? 0);
  if (reply.truncated) flags |= dnsPacket.TRUNCATED_RESPONSE;
  if (reply.authenticatedData) flags |= dnsPacket.AUTHENTIC_DATA;
  const packet: Packet = {
    type: 'response',
    id: reply.id,
    flags,
    questions: [reply.question],
    answers: reply.truncated ? [] : (reply.answers ?? []),
  };
  return dnsPacket.encode(packet);
}

function recordsAt(zone: Zone, name: string): ZoneRecord[] {
  for (const [owner, records] of Object.entries(zone)) {
    if (owner.toLowerCase().replace(/\.$/, '') === name) return records;
  }
  return [];
}

function nameExists(zone: Zone, name: string): boolean {
  return Object.keys(zone).some((owner) => {
    const normal = owner.toLowerCase().replace(/\.$/, '');
    return normal === name || normal.endsWith(`.${name}`);
  });
}

/** The records of `type` at `name`, following CNAMEs inside the zone (the chain goes in the answer). */
function lookup(zone: Zone, name: string, type: string): Answer[] {
  const answers: Answer[] = [];
  let current = name;
  for (let hop = 0; hop < 8; hop++) {
    const records = recordsAt(zone, current);
    const matching = records.filter((record) => record.type === type);
    if (matching.length > 0) {
      answers.push(...matching.map((record) => toAnswer(current, record)));
      break;
    }
    const alias = records.find((record) => record.type === 'CNAME');
    if (alias === undefined || type === 'CNAME') break;
    answers.push(toAnswer(current, alias));
    current = (alias.data as string).toLowerCase().replace(/\.$/, '');
  }
  return answers;
}

function toAnswer(name: string, record: ZoneRecord): Answer {
  const common = { name, ttl: 60, class: 'IN' as const };
  if (record.type === 'TLSA') {
    const { certificate } = record.data;
    return {
      ...common,
      type: 'TLSA',
      data: {
        ...record.data,
        certificate: typeof certificate === 'string' ? Buffer.from(certificate, 'hex') : certificate,
      },
    };
  }
  if (record.type === 'TXT') {
    // A character-string holds at most 255 bytes: longer values travel as several strings of one record.
    const strings = (Array.isArray(record.data) ? record.data : [record.data]).flatMap((text) => {
      const bytes = Buffer.from(text, 'utf8');
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += 255) chunks.push(bytes.subarray(at, at + 255));
      return chunks.length === 0 ? [Buffer.alloc(0)] : chunks;
    });
    return { ...common, type: 'TXT', data: strings };
  }
  if (record.type === 'MX') return { ...common, type: 'MX', data: record.data };
  if (record.type === 'A' || record.type === 'AAAA' || record.type === 'CNAME')
    return { ...common, type: record.type, data: record.data };
  return { ...common, type: record.type, data: record.data } as unknown as Answer;
}
