import { afterAll, beforeAll, beforeEach, describe, it } from 'vitest';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { startDnsServer } from '../../../tests/support/dns-server.ts';
import type { TestDnsServer, Zone } from '../../../tests/support/dns-server.ts';
import { freePort } from '../../../tests/support/net.ts';
import { DnsPacketResolver, DnsResolverError, dnsQuery, parseServer, resolverServers } from './dns.resolver.ts';
import type { DnsResolverErrorCode } from './dns.resolver.ts';

const SPKI = 'ab'.repeat(32);
const zone = (): Zone => ({
  'alpha.test': [
    { type: 'TXT', data: 'v=spf1 mx -all' },
    { type: 'TXT', data: ['v=DKIM1; p=', 'second-string'] },
    { type: 'MX', data: { preference: 20, exchange: 'mx2.alpha.test' } },
    { type: 'MX', data: { preference: 10, exchange: 'MX1.Alpha.Test.' } },
    { type: 'A', data: '192.0.2.1' },
  ],
  '_443._tcp.alpha.test': [{ type: 'TLSA', data: { usage: 3, selector: 1, matchingType: 1, certificate: SPKI } }],
  'www.alpha.test': [{ type: 'CNAME', data: 'alpha.test' }],
  'big.alpha.test': Array.from({ length: 60 }, (_, i) => ({ type: 'TXT' as const, data: `${i}:${'x'.repeat(250)}` })),
  'long.alpha.test': [{ type: 'TXT', data: `${'é'.repeat(200)}end` }],
  // OPENPGPKEY (type 61), which dns-packet does not name.
  'c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6._openpgpkey.alpha.test': [
    { type: 'UNKNOWN_61', data: Buffer.from([1, 2, 3, 4]) },
  ],
  'deep.empty.alpha.test': [{ type: 'TXT', data: 'leaf' }],
});

async function rejectsWith(promise: Promise<unknown>, code: DnsResolverErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof DnsResolverError, `expected a DnsResolverError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('DnsPacketResolver against a real DNS server', () => {
  let server: TestDnsServer;
  let resolver: DnsPacketResolver;

  beforeAll(async () => {
    server = await startDnsServer({ zone: zone() });
    resolver = new DnsPacketResolver({ host: server.host, port: server.port, timeoutMs: 1500 });
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.zone = zone();
    server.behaviour = 'normal';
    server.authenticatedData = false;
    server.queries.length = 0;
  });

  it('resolves TXT (character-strings joined), MX and TLSA records', async () => {
    assert.deepEqual(await resolver.txt('alpha.test'), ['v=spf1 mx -all', 'v=DKIM1; p=second-string']);
    assert.deepEqual(
      (await resolver.mx('alpha.test')).sort((a, b) => a.priority - b.priority),
      [
        { exchange: 'mx1.alpha.test', priority: 10 },
        { exchange: 'mx2.alpha.test', priority: 20 },
      ],
    );
    assert.deepEqual(await resolver.tlsa('_443._tcp.alpha.test'), [
      { usage: 3, selector: 1, matchingType: 1, data: SPKI },
    ]);
  });

  it('joins the bytes of long TXT values before decoding them (UTF-8 split across strings)', async () => {
    assert.deepEqual(await resolver.txt('long.alpha.test'), [`${'é'.repeat(200)}end`]);
  });

  it('asks raw types by number: OPENPGPKEY as UNKNOWN_61', async () => {
    const result = await resolver.query(
      'c93f1e400f26708f98cb19d936620da35eec8f72e57f9eec01c1afd6._openpgpkey.alpha.test',
      'UNKNOWN_61',
    );
    assert.equal(result.records.length, 1);
    assert.deepEqual((result.records[0] as { data: Buffer }).data, Buffer.from([1, 2, 3, 4]));
    assert.equal(server.queries.at(-1)?.type, 'UNKNOWN_61');
  });

  it('resolves [] for NXDOMAIN and for a name without records of the type, and says which', async () => {
    assert.deepEqual(await resolver.txt('nothing.alpha.test'), []);
    assert.equal((await resolver.query('nothing.alpha.test', 'TXT')).rcode, 'NXDOMAIN');
    assert.deepEqual(await resolver.tlsa('alpha.test'), []);
    assert.equal((await resolver.query('alpha.test', 'TLSA')).rcode, 'NOERROR');
    assert.equal((await resolver.query('empty.alpha.test', 'TXT')).rcode, 'NOERROR', 'an empty non-terminal is NODATA');
  });

  it('follows a CNAME inside the answer, and matches names case-insensitively', async () => {
    assert.deepEqual(await resolver.txt('WWW.alpha.TEST.'), ['v=spf1 mx -all', 'v=DKIM1; p=second-string']);
  });

  it('reports the AD bit of each answer, without shared state between concurrent lookups', async () => {
    assert.equal((await resolver.resolve('_443._tcp.alpha.test', 'TLSA')).authenticatedData, false);
    server.authenticatedData = true;
    const [a, b] = await Promise.all([
      resolver.resolve('_443._tcp.alpha.test', 'TLSA'),
      resolver.resolve('alpha.test', 'TXT'),
    ]);
    assert.equal(a.authenticatedData, true);
    assert.equal(b.authenticatedData, true);
  });

  it('advertises EDNS and falls back to TCP when the UDP answer is truncated (a 15 kB answer)', async () => {
    const result = await resolver.query('big.alpha.test', 'TXT');
    assert.equal(result.transport, 'tcp');
    assert.equal(result.records.length, 60);
    assert.deepEqual(
      server.queries.map((q) => q.transport),
      ['udp', 'tcp'],
    );
    assert.equal(server.queries[0]?.udpPayloadSize, 1232);
    const small = await resolver.query('alpha.test', 'TXT');
    assert.equal(small.transport, 'udp');
  });

  it('uses a fresh random id per query', async () => {
    const ids = new Set<number>();
    server.behaviour = ({ id }) => {
      ids.add(id);
      return 'normal';
    };
    for (let i = 0; i < 20; i++) await resolver.txt('alpha.test');
    assert.ok(ids.size >= 18, `only ${ids.size} distinct ids in 20 queries`);
  });

  describe('hostile or broken servers: a DnsResolverError, never a crash', () => {
    const quick = () => new DnsPacketResolver({ host: server.host, port: server.port, timeoutMs: 300 });

    it('garbage with our id -> dns_malformed_reply', async () => {
      server.behaviour = 'garbage';
      await rejectsWith(
        resolver.txt('alpha.test'),
        'dns_malformed_reply',
        /Undecodable DNS answer for TXT alpha\.test/,
      );
    });

    it('answers with another id are ignored: garbage or well-formed, the query times out saying so', async () => {
      server.behaviour = 'garbage-random-id';
      await rejectsWith(quick().txt('alpha.test'), 'dns_timeout', /with another query id ignored/);
      server.behaviour = 'wrong-id';
      await rejectsWith(quick().txt('alpha.test'), 'dns_timeout', /with another query id ignored/);
    });

    it('a forged reply with another id does not stop the real answer from being accepted', async () => {
      const port = await freePort();
      const socket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
      socket.on('message', (message, remote) => {
        const query = dnsPacket.decode(message);
        const reply = (id: number, text: string) =>
          dnsPacket.encode({
            type: 'response',
            id,
            flags: 0,
            questions: query.questions,
            answers: [{ type: 'TXT', name: 'alpha.test', data: text }],
          });
        socket.send(reply(((query.id ?? 0) + 7) % 65536, 'forged'), remote.port, remote.address);
        setTimeout(() => socket.send(reply(query.id ?? 0, 'genuine'), remote.port, remote.address), 20);
      });
      try {
        const records = await new DnsPacketResolver({ host: '127.0.0.1', port, timeoutMs: 1500 }).txt('alpha.test');
        assert.deepEqual(records, ['genuine']);
      } finally {
        socket.close();
      }
    });

    it('an answer to another question, or without the QR bit -> dns_mismatched_reply', async () => {
      server.behaviour = 'wrong-question';
      await rejectsWith(
        resolver.txt('alpha.test'),
        'dns_mismatched_reply',
        /does not echo the question \(it has TXT other\.alpha\.test\)/,
      );
      server.behaviour = 'not-response';
      await rejectsWith(resolver.txt('alpha.test'), 'dns_mismatched_reply', /not a response/);
    });

    it('a cut answer and a compression loop -> dns_malformed_reply', async () => {
      server.behaviour = 'cut';
      await rejectsWith(resolver.txt('alpha.test'), 'dns_malformed_reply');
      server.behaviour = 'compression-loop';
      await rejectsWith(resolver.txt('alpha.test'), 'dns_malformed_reply', /pointer/);
    });

    it('SERVFAIL, REFUSED, silence', async () => {
      server.behaviour = 'servfail';
      await rejectsWith(
        resolver.txt('alpha.test'),
        'dns_server_failure',
        /SERVFAIL for TXT alpha\.test at 127\.0\.0\.1:\d+/,
      );
      server.behaviour = 'refused';
      await rejectsWith(resolver.txt('alpha.test'), 'dns_refused');
      server.behaviour = 'silent';
      server.queries.length = 0;
      await rejectsWith(quick().txt('alpha.test'), 'dns_timeout', /no answer within 300 ms for TXT alpha\.test/);
      assert.equal(
        server.queries.filter((q) => q.transport === 'udp').length,
        2,
        'one retransmission within the deadline',
      );
    });

    it('truncated over UDP, then the TCP connection closes -> an error naming it', async () => {
      server.behaviour = 'truncated';
      assert.deepEqual(
        await resolver.txt('alpha.test'),
        ['v=spf1 mx -all', 'v=DKIM1; p=second-string'],
        'TC answered over TCP',
      );
      server.behaviour = 'truncated-tcp-closed';
      await rejectsWith(resolver.txt('alpha.test'), 'dns_malformed_reply', /closed the TCP connection/);
    });

    it('garbage over TCP after a truncated UDP answer -> dns_malformed_reply', async () => {
      server.behaviour = ({ transport }) => (transport === 'udp' ? 'truncated' : 'garbage');
      await rejectsWith(resolver.txt('alpha.test'), 'dns_malformed_reply');
    });

    it('a server that is not there -> dns_network or dns_timeout', async () => {
      const port = await freePort();
      await assert.rejects(
        new DnsPacketResolver({ host: '127.0.0.1', port, timeoutMs: 300 }).txt('alpha.test'),
        (error: unknown) => {
          assert.ok(error instanceof DnsResolverError);
          assert.ok(['dns_network', 'dns_timeout'].includes(error.code), error.code);
          return true;
        },
      );
    });

    it('refuses to ask names that are not names', async () => {
      for (const name of ['', '.', 'a..b', `${'a'.repeat(64)}.test`, `${'a.'.repeat(127)}test`, 'with space.test']) {
        await rejectsWith(resolver.txt(name), 'dns_invalid_name');
      }
    });

    it('any bytes answered under our id, over UDP or TCP, are an answer or a DnsResolverError (property)', async () => {
      const header = (id: number, flags: number, counts: [number, number, number, number]) => {
        const bytes = Buffer.alloc(12);
        bytes.writeUInt16BE(id, 0);
        bytes.writeUInt16BE(flags, 2);
        counts.forEach((count, i) => {
          bytes.writeUInt16BE(count, 4 + 2 * i);
        });
        return bytes;
      };
      const question = dnsPacket
        .encode({ type: 'query', id: 0, questions: [{ type: 'TXT', name: 'alpha.test' }] })
        .subarray(12);
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            flags: fc.integer({ min: 0, max: 0xffff }),
            counts: fc.tuple(fc.integer({ min: 0, max: 3 }), fc.nat(0xffff), fc.nat(0xffff), fc.nat(0xffff)),
            echo: fc.boolean(),
            tail: fc.uint8Array({ maxLength: 300 }),
            transport: fc.constantFrom('udp' as const, 'tcp' as const),
          }),
          async ({ flags, counts, echo, tail, transport }) => {
            server.behaviour = ({ id, transport: via }) =>
              transport === 'tcp' && via === 'udp'
                ? 'truncated'
                : {
                    raw: Buffer.concat([
                      header(id, flags, counts),
                      echo ? question : Buffer.alloc(0),
                      Buffer.from(tail),
                    ]),
                  };
            try {
              const records = await quick().txt('alpha.test');
              assert.ok(Array.isArray(records) && records.every((record) => typeof record === 'string'));
            } catch (error) {
              assert.ok(error instanceof DnsResolverError, `not a DnsResolverError: ${String(error)}`);
            }
          },
        ),
        { numRuns: 150 },
      );
    });

    it('a huge answer over TCP (60 kB) is read whole', async () => {
      server.zone['huge.alpha.test'] = Array.from({ length: 220 }, (_, i) => ({
        type: 'TXT' as const,
        data: `${i}:${'y'.repeat(250)}`,
      }));
      const records = await resolver.txt('huge.alpha.test');
      assert.equal(records.length, 220);
    });
  });
});

describe("dnsQuery: several servers, errors as values (the instance's lookups ask through it)", () => {
  let server: TestDnsServer;
  let servers: string[];

  beforeAll(async () => {
    server = await startDnsServer({ zone: zone() });
    servers = [`127.0.0.1:${server.port}`];
  });
  afterAll(() => server.close());

  it('answers with the server that answered, the rcode, the transport and the records', async () => {
    const found = await dnsQuery('alpha.test', 'TXT', { servers });
    assert.equal(found.error, null);
    assert.equal(found.server, servers[0]);
    assert.deepEqual(
      [found.answer?.rcode, found.answer?.transport, found.answer?.records.length],
      ['NOERROR', 'udp', 2],
    );
    assert.equal((await dnsQuery('nothing.alpha.test', 'TXT', { servers })).answer?.rcode, 'NXDOMAIN');
  });

  it('a failing server is an error object, never a throw; the next server is asked', async () => {
    server.behaviour = 'servfail';
    try {
      const failed = await dnsQuery('alpha.test', 'TXT', { servers, timeoutMs: 300 });
      assert.deepEqual([failed.answer, failed.error?.code, failed.server], [null, 'dns_server_failure', servers[0]]);
    } finally {
      server.behaviour = 'normal';
    }
    const dead = await startDnsServer();
    dead.behaviour = 'silent';
    try {
      const result = await dnsQuery('alpha.test', 'TXT', {
        servers: [`127.0.0.1:${dead.port}`, ...servers],
        timeoutMs: 300,
      });
      assert.equal(result.error, null);
      assert.equal(result.server, servers[0]);
    } finally {
      await dead.close();
    }
  });

  it('bad input is an error object: a name that is not one, no server, a bad server', async () => {
    assert.equal((await dnsQuery('x'.repeat(300), 'A', { servers })).error?.code, 'dns_invalid_query');
    assert.equal((await dnsQuery('alpha.test', 'TXT', { servers: [] })).error?.code, 'dns_no_server');
    assert.equal((await dnsQuery('alpha.test', 'TXT', { servers: ['dns.example.org'] })).error?.code, 'dns_no_server');
  });

  it('server strings', () => {
    assert.deepEqual(parseServer('127.0.0.1'), { host: '127.0.0.1', port: 53 });
    assert.deepEqual(parseServer('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353 });
    assert.deepEqual(parseServer('[::1]:5353'), { host: '::1', port: 5353 });
    assert.deepEqual(parseServer('::1'), { host: '::1', port: 53 });
    assert.equal(parseServer('127.0.0.1:0'), null);
    assert.equal(parseServer('resolver.example'), null);
    assert.deepEqual(resolverServers(['10.0.0.1']), ['10.0.0.1']);
    assert.ok(resolverServers([]).length <= 1, "the system's first server, if any");
  });
});
