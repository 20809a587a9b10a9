/**
 * The operator's console, read side, over real HTTP: the DNS records to publish checked live against a real DNS
 * server (the instance's configured resolver), the delivery queues, storage use and the spool, the feed's peers.
 */
import assert from 'node:assert/strict';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { dnsRecords } from '@caliopen/instance/identity/instance-identity.ts';
import { SMTP_OUT_QUEUE } from '@caliopen/instance/delivery/delivery.types.ts';
import { ok, problemBody } from '../support/api-client.ts';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';

describe('operator console API', () => {
  let dns: TestDnsServer;
  let inst: TestInstance;
  let admin: { token: string };
  let user: { token: string };

  beforeAll(async () => {
    dns = await startDnsServer();
    inst = await startTestInstance({
      env: {
        CALIOPEN_DNS_RESOLVERS: `${dns.host}:${dns.port}`,
        CALIOPEN_SMTP_ENABLED: 'true',
        CALIOPEN_SMTP_PORT: '0',
      },
    });
    admin = await inst.user('root', 'admin');
    user = await inst.user('alice');
  }, 120_000);
  afterAll(async () => {
    await inst?.stop();
    await dns?.close();
  });

  test('the DNS records to publish, each compared with what the resolver answers now', async () => {
    const expected = dnsRecords(await inst.running.services.identity());
    const spf = expected.find((r) => r.value.includes('v=spf1'))!;
    assert.ok(spf);
    // Published: the address, MX and SPF as told; DMARC with another policy; nothing else.
    dns.zone['alpha.test'] = [
      { type: 'A', data: '192.0.2.10' },
      { type: 'MX', data: { preference: 10, exchange: 'alpha.test' } },
      { type: 'TXT', data: 'google-site-verification=abc' },
      { type: 'TXT', data: 'v=spf1 mx -all' },
    ];
    dns.zone['_dmarc.alpha.test'] = [{ type: 'TXT', data: 'v=DMARC1; p=none' }];

    const r = ok(await inst.api('GET', '/api/v1/admin/dns', { token: admin.token }));
    assert.equal(r.domain, 'alpha.test');
    assert.equal(r.records.length, expected.length);
    const status = (name: string, type: string) =>
      r.records.find(
        (x: any) =>
          x.name === name && x.type === type && (type !== 'TXT' || name !== 'alpha.test.' || x.value.includes('spf1')),
      );
    assert.equal(status('alpha.test.', 'A/AAAA').status, 'ok');
    assert.deepEqual(status('alpha.test.', 'A/AAAA').published, ['192.0.2.10']);
    assert.equal(status('alpha.test.', 'MX').status, 'ok');
    assert.equal(status('alpha.test.', 'TXT').status, 'ok');
    const dmarc = status('_dmarc.alpha.test.', 'TXT');
    assert.equal(dmarc.status, 'different');
    assert.deepEqual(dmarc.published, ['v=DMARC1; p=none']);
    assert.equal(status('_caliopen.alpha.test.', 'TXT').status, 'missing');
    assert.equal(status('_443._tcp.alpha.test.', 'TLSA').status, 'missing');

    // Published as told, the discovery record turns ok on the next check.
    const caliopen = expected.find((x) => x.name === '_caliopen.alpha.test.')!;
    dns.zone['_caliopen.alpha.test'] = [{ type: 'TXT', data: caliopen.value.slice(1, -1) }];
    const again = ok(await inst.api('GET', '/api/v1/admin/dns', { token: admin.token }));
    assert.equal(again.records.find((x: any) => x.name === '_caliopen.alpha.test.').status, 'ok');

    // A resolver that does not answer is said, record by record, not hidden as "missing".
    dns.behaviour = 'servfail';
    const failing = ok(await inst.api('GET', '/api/v1/admin/dns', { token: admin.token }));
    assert.ok(failing.records.every((x: any) => x.status === 'error' && typeof x.error === 'string'));
    dns.behaviour = 'normal';
  });

  test('queues: pending, retrying and failed for SMTP and federation deliveries, indexing and PI', async () => {
    await inst.running.services.queue.enqueue(SMTP_OUT_QUEUE, 'probe', { probe: true }, { delayMs: 3_600_000 });
    const r = ok(await inst.api('GET', '/api/v1/admin/queues', { token: admin.token }));
    assert.deepEqual(
      r.queues.map((q: any) => q.kind),
      ['smtp', 'federation', 'index', 'pi'],
    );
    const smtp = r.queues.find((q: any) => q.kind === 'smtp');
    assert.equal(smtp.retrying, 1);
    assert.equal(smtp.failed, 0);
    assert.deepEqual(smtp.recentFailures, []);
  });

  test('overview: accounts and their use, disk, the inbound spool, index lag; peers (federation off)', async () => {
    const o = ok(await inst.api('GET', '/api/v1/admin/overview', { token: admin.token }));
    assert.equal(o.accounts.total, 2);
    assert.equal(o.accounts.admins, 1);
    assert.equal(o.accounts.disabled, 0);
    assert.ok(o.disk.totalBytes > 0 && o.disk.freeBytes >= 0);
    assert.deepEqual(o.spool, { queued: 0, dead: 0, oldestQueuedAt: null });
    assert.equal(typeof o.index.pending, 'number');
    assert.deepEqual(ok(await inst.api('GET', '/api/v1/admin/peers', { token: admin.token })), {
      enabled: false,
      items: [],
    });
  });

  test('users and strangers are refused every console route', async () => {
    for (const path of ['/api/v1/admin/dns', '/api/v1/admin/queues', '/api/v1/admin/overview', '/api/v1/admin/peers']) {
      assert.equal(problemBody(await inst.api('GET', path, { token: user.token }), 403, path).code, 'forbidden');
      assert.equal(problemBody(await inst.api('GET', path), 401, path).code, 'unauthenticated');
    }
  });
});
