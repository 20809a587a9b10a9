import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, it } from 'vitest';
import dnsPacket from 'dns-packet';
import { startDnsServer, type TestDnsServer } from '../../tests/support/dns-server.ts';
import { dnsQuery } from '@caliopen/platform/dns/dns.resolver.ts';
import { startLoopbackResolver, type LoopbackResolver } from './federation.resolver.ts';

describe('the local federation name server (a relay by zone)', () => {
  let alpha: TestDnsServer;
  let beta: TestDnsServer;
  let fallback: TestDnsServer;
  let resolver: LoopbackResolver;
  let refusing: LoopbackResolver;
  let server = '';

  beforeAll(async () => {
    alpha = await startDnsServer({ zone: { '_caliopen.alpha.test': [{ type: 'TXT', data: 'v=caliopen1; alpha' }] } });
    // Large enough that UDP answers come back truncated and the client asks again over TCP.
    beta = await startDnsServer({
      zone: {
        'beta.test': Array.from({ length: 12 }, (_, i) => ({
          type: 'TXT' as const,
          data: `beta-${i}-${'x'.repeat(200)}`,
        })),
      },
    });
    fallback = await startDnsServer({ zone: { 'example.org': [{ type: 'TXT', data: 'from the system resolver' }] } });
    resolver = await startLoopbackResolver({
      port: 0,
      routes: [
        { zone: 'alpha.test', host: alpha.host, port: alpha.port },
        { zone: 'beta.test.', host: beta.host, port: beta.port },
      ],
      fallback: { host: fallback.host, port: fallback.port },
      timeoutMs: 500,
    });
    refusing = await startLoopbackResolver({
      port: 0,
      routes: [{ zone: 'alpha.test', host: alpha.host, port: alpha.port }],
      fallback: null,
      timeoutMs: 500,
    });
    server = `127.0.0.1:${resolver.port}`;
  });

  afterAll(async () => {
    await resolver?.close();
    await refusing?.close();
    await Promise.all([alpha?.close(), beta?.close(), fallback?.close()]);
  });

  it("relays a question to the responder of the name's zone, case-insensitively, over UDP", async () => {
    const r = await dnsQuery('_caliopen.ALPHA.test', 'TXT', { servers: [server] });
    assert.equal(r.error, null, r.error?.message);
    assert.equal(r.answer!.transport, 'udp');
    assert.deepEqual(
      r.answer!.records.map((a) => Buffer.concat((a as { data: Buffer[] }).data).toString()),
      ['v=caliopen1; alpha'],
    );
    assert.ok(alpha.queries.some((q) => q.name.toLowerCase() === '_caliopen.alpha.test'));
    assert.ok(!beta.queries.some((q) => q.name.toLowerCase().includes('alpha')), 'the other zone saw nothing');
  });

  it('relays over TCP when the UDP answer is truncated', async () => {
    const r = await dnsQuery('beta.test', 'TXT', { servers: [server], udpPayloadSize: 512 });
    assert.equal(r.error, null, r.error?.message);
    assert.equal(r.answer!.transport, 'tcp');
    assert.equal(r.answer!.records.length, 12);
  });

  it('sends other names to the fallback, or answers REFUSED without one', async () => {
    const r = await dnsQuery('example.org', 'TXT', { servers: [server] });
    assert.equal(r.error, null, r.error?.message);
    assert.equal(r.answer!.records.length, 1);
    const refused = await dnsQuery('example.org', 'TXT', { servers: [`127.0.0.1:${refusing.port}`] });
    assert.equal(refused.error?.code, 'dns_refused', JSON.stringify(refused));
    // "notalpha.test" is not inside alpha.test.
    const lookalike = await dnsQuery('notalpha.test', 'TXT', { servers: [`127.0.0.1:${refusing.port}`] });
    assert.equal(lookalike.error?.code, 'dns_refused');
  });

  it('answers SERVFAIL when the responder is silent, and stays up', async () => {
    alpha.behaviour = 'silent';
    try {
      const r = await dnsQuery('_caliopen.alpha.test', 'TXT', { servers: [server], timeoutMs: 3000 });
      assert.equal(r.error?.code, 'dns_server_failure', JSON.stringify(r));
    } finally {
      alpha.behaviour = 'normal';
    }
    assert.equal((await dnsQuery('_caliopen.alpha.test', 'TXT', { servers: [server] })).error, null);
  });

  it('ignores garbage, responses and multi-question messages (UDP and TCP) and keeps answering', async () => {
    const udp = createSocket('udp4');
    const replies: Buffer[] = [];
    udp.on('message', (m) => replies.push(m));
    const response = dnsPacket.encode({ type: 'response', id: 7, questions: [{ type: 'TXT', name: 'alpha.test' }] });
    const two = dnsPacket.encode({
      type: 'query',
      id: 8,
      questions: [
        { type: 'TXT', name: 'alpha.test' },
        { type: 'A', name: 'alpha.test' },
      ],
    });
    for (const bytes of [Buffer.from('garbage'), Buffer.alloc(3), response, two])
      udp.send(bytes, resolver.port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    udp.close();
    assert.equal(replies.length, 0);

    // TCP: a frame of garbage, then a length prefix that announces more than ever comes; the server stays up.
    const socket = connect(resolver.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.write(Buffer.from([0, 4, 1, 2, 3, 4, 0xff, 0xff, 1]));
    await new Promise((r) => setTimeout(r, 100));
    socket.destroy();
    assert.equal((await dnsQuery('_caliopen.alpha.test', 'TXT', { servers: [server] })).error, null);
  });
});
