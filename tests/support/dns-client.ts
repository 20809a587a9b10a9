import { createSocket } from 'node:dgram';
import { Socket } from 'node:net';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';

/**
 * Raw DNS queries as a test sends them to a server under test (no resolver library in between): one question, EDNS(0)
 * with the 1232-byte payload of DNS flag day 2020, over UDP or over TCP (RFC 7766 length prefix), on loopback.
 * Types dns-packet does not name go as `UNKNOWN_<n>` (OPENPGPKEY is `UNKNOWN_61`).
 */

export type DnsReply = DecodedPacket & { rcode: string };

export function encodeQuery(name: string, type: string, id = 777): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: 0,
    questions: [{ name, type, class: 'IN' }],
    additionals: [
      { type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [] },
    ],
  } as unknown as Packet);
}

export function udpQuery(port: number, message: Buffer, timeoutMs = 3000): Promise<DnsReply> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no UDP answer'));
    }, timeoutMs);
    socket.on('message', (reply) => {
      clearTimeout(timer);
      socket.close();
      try {
        resolve(dnsPacket.decode(reply) as DnsReply);
      } catch (error) {
        reject(error as Error);
      }
    });
    socket.send(message, port, '127.0.0.1');
  });
}

export function tcpQuery(port: number, message: Buffer, timeoutMs = 3000): Promise<DnsReply> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let buffered = Buffer.alloc(0);
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(message.length);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no TCP answer'));
    }, timeoutMs);
    socket.connect(port, '127.0.0.1', () => socket.write(Buffer.concat([prefix, message])));
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      const reply = dnsPacket.streamDecode(buffered);
      if (reply) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply as DnsReply);
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}
