import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { promises as dnsPromises } from 'node:dns';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';
import fc from 'fast-check';
import pino from 'pino';
import { tempDir } from '../../../tests/support/tmp.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { dkimTxtValue } from '../identity/dkim-key.ts';
import { createInstanceIdentity, type InstanceIdentity } from '../identity/instance-identity.ts';
import { buildDnsZone, type DnsZone } from './dns-zone.ts';
import { answerDnsMessage, startDnsResponder, type DnsResponder, type DnsResponderLimits } from './dns.responder.ts';
import { openPgpKeyName } from './key-names.ts';
import { LocalPartDirectory } from './local-part.directory.ts';
import { MemoryPublishedKeys } from './published-keys.memory.ts';

const silent = pino({ level: 'silent' });

type Reply = DecodedPacket & { rcode: string; opcode: string };
const decode = (message: Buffer): Reply => dnsPacket.decode(message) as Reply;

function query(
  name: string,
  type: string,
  options: { id?: number; edns?: number; ednsVersion?: number; flags?: number; qclass?: string } = {},
): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id: options.id ?? 4242,
    flags: options.flags ?? dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type, class: options.qclass ?? 'IN' }],
    additionals:
      options.edns === undefined
        ? []
        : [
            {
              type: 'OPT',
              name: '.',
              udpPayloadSize: options.edns,
              extendedRcode: 0,
              ednsVersion: options.ednsVersion ?? 0,
              flags: 0,
              options: [],
            },
          ],
  } as unknown as Packet);
}

/** Sends one datagram and collects what comes back within `waitMs` (no assertion is made on time). */
async function udpExchange(
  port: number,
  messages: Buffer[],
  waitMs = 400,
  expect = messages.length,
): Promise<Buffer[]> {
  const socket = createSocket('udp4');
  const replies: Buffer[] = [];
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      socket.close();
      resolve(replies);
    };
    const timer = setTimeout(done, waitMs);
    socket.on('message', (m) => {
      replies.push(m);
      if (replies.length >= expect) done();
    });
    for (const m of messages) socket.send(m, port, '127.0.0.1');
  });
}

async function udp(port: number, message: Buffer): Promise<Reply> {
  const [reply] = await udpExchange(port, [message], 2000, 1);
  assert.ok(reply, 'an answer over UDP');
  return decode(reply);
}

/** A TCP DNS client that records every framed message and the closing from the moment it connects. */
interface TcpClient {
  socket: Socket;
  send(message: Buffer): void;
  /** Resolves once `count` messages arrived in all, or the connection closed. */
  read(count: number): Promise<{ messages: Buffer[]; closed: boolean }>;
}

function tcpConnect(port: number): Promise<TcpClient> {
  return new Promise((resolve, reject) => {
    const messages: Buffer[] = [];
    let closed = false;
    let buffered = Buffer.alloc(0);
    const waiters = new Set<() => void>();
    const wake = () => {
      for (const waiter of waiters) waiter();
    };
    const socket = connect({ host: '127.0.0.1', port }, () =>
      resolve({
        socket,
        send(message) {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(message.length);
          socket.write(Buffer.concat([prefix, message]));
        },
        read(count) {
          return new Promise((done) => {
            const check = () => {
              if (messages.length >= count || closed) {
                waiters.delete(check);
                done({ messages: [...messages], closed });
              }
            };
            waiters.add(check);
            check();
          });
        },
      }),
    );
    socket.on('error', (error) => {
      if (!closed) reject(error);
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
        messages.push(buffered.subarray(2, 2 + buffered.readUInt16BE(0)));
        buffered = buffered.subarray(2 + buffered.readUInt16BE(0));
      }
      wake();
    });
    socket.on('close', () => {
      closed = true;
      wake();
    });
  });
}

async function tcp(port: number, message: Buffer): Promise<Reply> {
  const client = await tcpConnect(port);
  client.send(message);
  const { messages } = await client.read(1);
  client.socket.destroy();
  assert.ok(messages[0], 'an answer over TCP');
  return decode(messages[0]);
}

/** A decoder independent of dns-packet: the first answer record's type, class and RDATA, read from the wire. */
function firstAnswerOnTheWire(message: Buffer): { type: number; klass: number; rdata: Buffer } {
  const skipName = (at: number): number => {
    for (;;) {
      const len = message[at]!;
      if (len === 0) return at + 1;
      if ((len & 0xc0) === 0xc0) return at + 2;
      at += 1 + len;
    }
  };
  assert.equal(message.readUInt16BE(4), 1, 'one question');
  assert.ok(message.readUInt16BE(6) >= 1, 'an answer');
  let at = skipName(12) + 4;
  at = skipName(at);
  const type = message.readUInt16BE(at);
  const klass = message.readUInt16BE(at + 2);
  const rdlength = message.readUInt16BE(at + 8);
  return { type, klass, rdata: message.subarray(at + 10, at + 10 + rdlength) };
}

describe('the authoritative DNS responder', () => {
  const tmp = tempDir('caliopen-dns-');
  const keys = new MemoryPublishedKeys();
  const aliceKey = randomBytes(420);
  const bigKey = randomBytes(3000);
  let identity: InstanceIdentity;
  let zone: DnsZone;
  let responder: DnsResponder;
  const extra: DnsResponder[] = [];
  const start = async (limits: Partial<DnsResponderLimits>) => {
    const r = await startDnsResponder({ host: '127.0.0.1', port: 0, zone, logger: silent, limits });
    extra.push(r);
    return r;
  };

  beforeAll(async () => {
    identity = await createInstanceIdentity(tmp.dir, 'alpha.test', new SecretBox(randomBytes(32)));
    keys.set('alice', aliceKey).set('big', bigKey);
    const localParts = new LocalPartDirectory({
      listUsernames: async (after) => (after === undefined ? ['alice', 'big', 'bob'] : []),
    });
    zone = buildDnsZone({ identity, addresses: ['127.0.0.1', '::1'], keys, localParts });
    responder = await startDnsResponder({ host: '127.0.0.1', port: 0, zone, logger: silent });
  });
  afterAll(async () => {
    await responder.stop();
    await Promise.all(extra.map((r) => r.stop()));
    tmp.cleanup();
  });

  it('listens on one port for UDP and TCP', () => {
    assert.ok(responder.udpPort > 0);
    assert.equal(responder.tcpPort, responder.udpPort);
  });

  it('answers OPENPGPKEY (type 61) with the exact key bytes over UDP and TCP, authoritatively', async () => {
    const name = openPgpKeyName('alice', 'alpha.test');
    for (const transport of ['udp', 'tcp'] as const) {
      const message = query(name, 'UNKNOWN_61', { edns: 1232 });
      const reply = transport === 'udp' ? await udp(responder.udpPort, message) : await tcp(responder.tcpPort, message);
      assert.equal(reply.rcode, 'NOERROR', transport);
      assert.equal(reply.id, 4242);
      assert.ok(
        reply.flag_aa && reply.flag_qr && !reply.flag_tc && !reply.flag_ad,
        `${transport}: AA, no TC, no AD (unsigned zone)`,
      );
      assert.equal(reply.answers!.length, 1);
      const record = reply.answers![0] as unknown as { type: string; name: string; data: Buffer };
      assert.equal(record.type, 'UNKNOWN_61');
      assert.equal(record.name, name);
      assert.deepEqual(record.data, aliceKey);
    }
    // Read from the wire without dns-packet: type 61, class IN, RDATA = the key.
    const [raw] = await udpExchange(responder.udpPort, [query(name, 'UNKNOWN_61', { edns: 1232 })], 2000, 1);
    const wire = firstAnswerOnTheWire(raw!);
    assert.equal(wire.type, 61);
    assert.equal(wire.klass, 1);
    assert.deepEqual(wire.rdata, aliceKey);
  });

  it('node:dns (c-ares) reads A, AAAA, MX, TXT, SOA, NS and ANY from it', async () => {
    const resolver = new dnsPromises.Resolver({ timeout: 2000, tries: 2 });
    resolver.setServers([`127.0.0.1:${responder.udpPort}`]);
    assert.deepEqual(await resolver.resolve4('alpha.test'), ['127.0.0.1']);
    assert.deepEqual(await resolver.resolve6('alpha.test'), ['::1']);
    assert.deepEqual(await resolver.resolveMx('alpha.test'), [{ exchange: 'alpha.test', priority: 10 }]);
    assert.deepEqual(await resolver.resolveTxt('alpha.test'), [['v=spf1 mx -all']]);
    assert.equal(
      (await resolver.resolveTxt('caliopen1._domainkey.alpha.test'))[0]!.join(''),
      dkimTxtValue(identity.dkim.publicKeyPem),
    );
    assert.match((await resolver.resolveTxt('_caliopen.alpha.test'))[0]!.join(''), /^v=caliopen1; sig=ed25519:/);
    const soa = await resolver.resolveSoa('alpha.test');
    assert.equal(soa.nsname, 'ns.alpha.test');
    assert.equal(soa.hostmaster, 'hostmaster.alpha.test');
    assert.deepEqual(await resolver.resolveNs('alpha.test'), ['ns.alpha.test']);
    const any = await resolver.resolveAny('alpha.test');
    assert.deepEqual(new Set(any.map((r) => r.type)), new Set(['SOA', 'NS', 'A', 'AAAA', 'MX', 'TXT']));
    await assert.rejects(resolver.resolve4('nothing.alpha.test'), { code: 'ENOTFOUND' });
    await assert.rejects(resolver.resolve4('_caliopen.alpha.test'), { code: 'ENODATA' });
    await assert.rejects(resolver.resolve4('example.org'), { code: 'EREFUSED' });
  });

  it('TLSA for HTTPS and SMTP over the wire: 3 1 1 and the SPKI digest of the instance certificate', async () => {
    for (const name of ['_443._tcp.alpha.test', '_25._tcp.alpha.test']) {
      const reply = await udp(responder.udpPort, query(name, 'TLSA'));
      const data = (
        reply.answers![0] as unknown as {
          data: { usage: number; selector: number; matchingType: number; certificate: Buffer };
        }
      ).data;
      assert.deepEqual(
        [data.usage, data.selector, data.matchingType, data.certificate.toString('hex')],
        [3, 1, 1, identity.tls.spkiSha256],
      );
    }
  });

  it('echoes the question byte for byte (0x20 case randomisation) and answers case-insensitively', async () => {
    const message = query('AlPhA.tEsT', 'A');
    const [raw] = await udpExchange(responder.udpPort, [message], 2000, 1);
    const reply = decode(raw!);
    assert.equal(reply.questions![0]!.name, 'AlPhA.tEsT');
    assert.deepEqual(raw!.subarray(12, message.length), message.subarray(12), 'same question bytes');
    assert.equal(reply.answers!.length, 1);
  });

  it('NXDOMAIN and NODATA carry the SOA; other zones, zone transfers and other classes are REFUSED without AA', async () => {
    const nx = await udp(responder.udpPort, query(openPgpKeyName('nobody', 'alpha.test'), 'UNKNOWN_61'));
    assert.equal(nx.rcode, 'NXDOMAIN');
    assert.ok(nx.flag_aa);
    assert.equal(nx.authorities![0]!.type, 'SOA');
    const bob = await udp(responder.udpPort, query(openPgpKeyName('bob', 'alpha.test'), 'UNKNOWN_61'));
    assert.equal(bob.rcode, 'NXDOMAIN', 'a user without a published key');
    const nodata = await udp(responder.udpPort, query('alpha.test', 'TLSA'));
    assert.equal(nodata.rcode, 'NOERROR');
    assert.equal(nodata.answers!.length, 0);
    assert.equal(nodata.authorities![0]!.type, 'SOA');
    const refused: [string, string, string][] = [
      ['example.org', 'A', 'IN'],
      ['test', 'SOA', 'IN'],
      ['.', 'NS', 'IN'],
      ['alpha.test', 'AXFR', 'IN'],
      ['alpha.test', 'IXFR', 'IN'],
      ['version.bind', 'TXT', 'CH'],
      ['alpha.test', 'A', 'CH'],
    ];
    for (const [name, type, qclass] of refused) {
      const reply = await tcp(responder.tcpPort, query(name, type, { qclass }));
      assert.equal(reply.rcode, 'REFUSED', `${name} ${type} ${qclass}`);
      assert.ok(!reply.flag_aa);
    }
    const junkLabel = Buffer.from(query('abc.alpha.test', 'A'));
    junkLabel[13] = 0x2e; // 'a.c' as one label
    const reply = decode((await udpExchange(responder.udpPort, [junkLabel], 2000, 1))[0]!);
    assert.equal(reply.rcode, 'NXDOMAIN', 'a label with a dot inside names nothing here');
  });

  it('NOTIMP for other opcodes, BADVERS for EDNS above version 0, OPT echoed with our size', async () => {
    const notify = query('alpha.test', 'SOA', { flags: 4 << 11 });
    const reply = await udp(responder.udpPort, notify);
    assert.equal(reply.rcode, 'NOTIMP');
    const badvers = await udp(responder.udpPort, query('alpha.test', 'A', { edns: 1232, ednsVersion: 1 }));
    const opt = badvers.additionals!.find((r) => r.type === 'OPT') as unknown as {
      extendedRcode: number;
      udpPayloadSize: number;
    };
    assert.equal(opt.extendedRcode, 1, 'BADVERS is extended rcode 1 + rcode 0 (= 16)');
    assert.equal(badvers.answers!.length, 0);
    const ok = await udp(responder.udpPort, query('alpha.test', 'A', { edns: 4096 }));
    const okOpt = ok.additionals!.find((r) => r.type === 'OPT') as unknown as {
      udpPayloadSize: number;
      ednsVersion: number;
    };
    assert.equal(okOpt.udpPayloadSize, 1232);
    assert.equal(okOpt.ednsVersion, 0);
  });

  it('truncates UDP answers above 512 bytes, or above the EDNS size (capped at 1232); TCP has it all', async () => {
    const name = openPgpKeyName('big', 'alpha.test');
    const plain = await udp(responder.udpPort, query(name, 'UNKNOWN_61'));
    assert.ok(
      plain.flag_tc && plain.answers!.length === 0 && plain.questions!.length === 1,
      'TC, no records, the question',
    );
    const edns = await udp(responder.udpPort, query(name, 'UNKNOWN_61', { edns: 65000 }));
    assert.ok(edns.flag_tc, 'an EDNS size above 1232 does not raise the cap');
    const dkim = await udp(responder.udpPort, query('caliopen1._domainkey.alpha.test', 'TXT'));
    assert.ok(!dkim.flag_tc, 'the DKIM TXT record fits in 512 bytes');
    const full = await tcp(responder.tcpPort, query(name, 'UNKNOWN_61'));
    assert.ok(!full.flag_tc);
    assert.deepEqual((full.answers![0] as unknown as { data: Buffer }).data, bigKey);
  });

  it('garbage gets FORMERR or silence, never a crash (random bytes, cut queries, huge counts, compression loops)', async () => {
    const valid = query('alpha.test', 'A', { id: 7 });
    const hugeCounts = Buffer.from(valid);
    hugeCounts.writeUInt16BE(0xffff, 4);
    hugeCounts.writeUInt16BE(0xffff, 6);
    const twoQuestions = Buffer.from(valid);
    twoQuestions.writeUInt16BE(2, 4);
    const selfPointer = Buffer.concat([valid.subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]);
    const headerPointer = Buffer.concat([valid.subarray(0, 12), Buffer.from([0xc0, 2, 0, 1, 0, 1])]);
    const trailing = Buffer.concat([valid, Buffer.from([1, 2, 3])]);
    const noQuestion = Buffer.from(valid.subarray(0, 12));
    noQuestion.writeUInt16BE(0, 4);
    const cases: [string, Buffer, 'FORMERR' | 'silence'][] = [
      ['empty', Buffer.alloc(0), 'silence'],
      ['shorter than a header', valid.subarray(0, 11), 'silence'],
      [
        'a response',
        Buffer.from(
          dnsPacket.encode({ type: 'response', id: 7, questions: [{ name: 'alpha.test', type: 'A' }] } as Packet),
        ),
        'silence',
      ],
      ['cut in the question', valid.subarray(0, valid.length - 3), 'FORMERR'],
      ['huge counts', hugeCounts, 'FORMERR'],
      ['two questions announced, one sent', twoQuestions, 'FORMERR'],
      ['compression pointer to itself', selfPointer, 'FORMERR'],
      ['compression pointer into the header', headerPointer, 'FORMERR'],
      ['trailing bytes', trailing, 'FORMERR'],
      ['no question', noQuestion, 'FORMERR'],
    ];
    for (const [what, message, expected] of cases) {
      const reply = await answerDnsMessage(zone, message, { transport: 'udp' });
      if (expected === 'silence') assert.equal(reply, null, what);
      else {
        assert.ok(reply, what);
        const decoded = decode(reply);
        assert.equal(decoded.rcode, 'FORMERR', what);
        assert.equal(decoded.id, 7, `${what}: the id is echoed`);
      }
    }
    // The same over the sockets, then a valid query still gets its answer.
    const udpReplies = await udpExchange(
      responder.udpPort,
      cases.map(([, m]) => m),
      500,
      cases.filter(([, , e]) => e === 'FORMERR').length,
    );
    assert.equal(udpReplies.length, cases.filter(([, , e]) => e === 'FORMERR').length);
    assert.ok(udpReplies.every((r) => decode(r).rcode === 'FORMERR'));
    assert.equal((await udp(responder.udpPort, valid)).rcode, 'NOERROR');
  });

  it('random messages (fast-check): null or a well-formed reply with the same id, never an exception', async () => {
    const base = query('alpha.test', 'A');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 600 }),
          // Valid queries with bytes flipped: deeper into the decoder.
          fc
            .tuple(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }))
            .map(([flips]) => {
              const copy = Buffer.from(base);
              for (const [at, value] of flips) copy[at] = value;
              return new Uint8Array(copy);
            }),
        ),
        fc.constantFrom('udp' as const, 'tcp' as const),
        async (bytes, transport) => {
          const message = Buffer.from(bytes);
          const reply = await answerDnsMessage(zone, message, { transport });
          if (reply === null) return;
          const decoded = decode(reply);
          assert.equal(decoded.id, message.readUInt16BE(0));
          assert.ok(decoded.flag_qr);
          if (transport === 'udp') assert.ok(reply.length <= 1232);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('TCP: pipelined queries are answered in order; garbage framing gets FORMERR; a response closes the stream', async () => {
    const client = await tcpConnect(responder.tcpPort);
    const frames = [
      query('alpha.test', 'A', { id: 1 }),
      Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]),
      query('alpha.test', 'MX', { id: 3 }),
    ].map((m) => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(m.length);
      return Buffer.concat([prefix, m]);
    });
    // Byte by byte: framing must not depend on how TCP cuts the stream.
    for (const byte of Buffer.concat(frames)) client.socket.write(Buffer.from([byte]));
    const { messages } = await client.read(3);
    const decoded = messages.map((m) => decode(m));
    assert.deepEqual(
      decoded.map((d) => [d.id, d.rcode]),
      [
        [1, 'NOERROR'],
        [0x0102, 'FORMERR'],
        [3, 'NOERROR'],
      ],
    );
    client.send(
      dnsPacket.encode({ type: 'response', id: 9, questions: [{ name: 'alpha.test', type: 'A' }] } as Packet),
    );
    assert.deepEqual(await client.read(4), { messages, closed: true }, 'no answer, the connection closed');
  });

  it('TCP: a client pipelining many queries at once is slowed down, not cut off', async () => {
    const roomy = await start({ burst: 10_000 });
    const client = await tcpConnect(roomy.tcpPort);
    const frames = Array.from({ length: 100 }, (_, i) => {
      const m = query(i % 2 ? 'alpha.test' : openPgpKeyName('alice', 'alpha.test'), i % 2 ? 'MX' : 'UNKNOWN_61', {
        id: 1000 + i,
      });
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(m.length);
      return Buffer.concat([prefix, m]);
    });
    client.socket.write(Buffer.concat(frames));
    const { messages, closed } = await client.read(100);
    assert.equal(closed, false);
    assert.deepEqual(
      messages.map((m) => decode(m).id),
      frames.map((_, i) => 1000 + i),
    );
    client.socket.destroy();
  });

  it('TCP connections are bounded per source and time out when idle', async () => {
    const limited = await start({ maxTcpConnectionsPerSource: 2, tcpIdleMs: 300 });
    const first = await tcpConnect(limited.tcpPort);
    const second = await tcpConnect(limited.tcpPort);
    const third = await tcpConnect(limited.tcpPort);
    assert.deepEqual(
      await third.read(1),
      { messages: [], closed: true },
      'the third connection from one source is closed',
    );
    // The first two, idle, are closed by the server.
    assert.deepEqual(await first.read(1), { messages: [], closed: true });
    assert.deepEqual(await second.read(1), { messages: [], closed: true });
  });

  it('rate limit per source: beyond the burst, UDP queries are dropped except one in `slip` answered truncated', async () => {
    const limited = await start({ burst: 5, queriesPerSecond: 0.001, slip: 2 });
    const messages = Array.from({ length: 20 }, (_, i) => query('alpha.test', 'A', { id: 100 + i }));
    const replies = (await udpExchange(limited.udpPort, messages, 600, 13)).map((r) => decode(r));
    const full = replies.filter((r) => !r.flag_tc);
    const slipped = replies.filter((r) => r.flag_tc);
    assert.equal(full.length, 5, 'the burst');
    assert.equal(slipped.length, 7, 'every second refused query of the 15 gets TC');
    assert.ok(slipped.every((r) => r.answers!.length === 0 && r.questions!.length === 1));
    // Over TCP, the source is still limited: the connection is closed.
    const client = await tcpConnect(limited.tcpPort);
    client.send(query('alpha.test', 'A'));
    assert.deepEqual(await client.read(1), { messages: [], closed: true });
  });

  it('stops cleanly and refuses to start on a port in use', async () => {
    const other = await startDnsResponder({ host: '127.0.0.1', port: 0, zone, logger: silent });
    await assert.rejects(startDnsResponder({ host: '127.0.0.1', port: other.udpPort, zone, logger: silent }), {
      code: 'EADDRINUSE',
    });
    await other.stop();
    await other.stop();
  });
});
