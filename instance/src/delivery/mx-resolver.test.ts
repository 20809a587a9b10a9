import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { MxResolver, parseMxOverride } from './mx-resolver.ts';
import { DeliveryFailure } from './smtp-outbound.types.ts';

const dnsError = (code: string) => Object.assign(new Error(code), { code });

describe('MX resolution', () => {
  test('MX records sorted by preference (ties keep DNS order), trailing dots removed, port 25', async () => {
    const r = new MxResolver({
      resolveMx: async () => [
        { exchange: 'mx3.example.org.', priority: 20 },
        { exchange: 'MX1.example.org', priority: 10 },
        { exchange: 'mx2.example.org', priority: 10 },
      ],
    });
    assert.deepEqual(await r.route('Example.ORG'), {
      kind: 'mx',
      hosts: [
        { host: 'mx1.example.org', port: 25, preference: 10 },
        { host: 'mx2.example.org', port: 25, preference: 10 },
        { host: 'mx3.example.org', port: 25, preference: 20 },
      ],
    });
  });

  test('no MX record: the domain itself (implicit MX); null MX and NXDOMAIN are permanent; SERVFAIL is temporary', async () => {
    assert.deepEqual(
      await new MxResolver({
        resolveMx: async () => {
          throw dnsError('ENODATA');
        },
      }).route('example.org'),
      {
        kind: 'implicit-mx',
        hosts: [{ host: 'example.org', port: 25, preference: 0 }],
      },
    );
    const nullMx = new MxResolver({ resolveMx: async () => [{ exchange: '', priority: 0 }] });
    await assert.rejects(
      nullMx.route('example.org'),
      (e: unknown) => e instanceof DeliveryFailure && e.permanent && e.status === '5.1.10',
    );
    const nx = new MxResolver({
      resolveMx: async () => {
        throw dnsError('ENOTFOUND');
      },
    });
    await assert.rejects(
      nx.route('nope.example'),
      (e: unknown) => e instanceof DeliveryFailure && e.permanent && e.status === '5.1.2',
    );
    const servfail = new MxResolver({
      resolveMx: async () => {
        throw dnsError('ESERVFAIL');
      },
    });
    await assert.rejects(
      servfail.route('example.org'),
      (e: unknown) => e instanceof DeliveryFailure && !e.permanent && e.status === '4.4.3',
    );
  });

  test('override entries win, then the smarthost; DNS is not asked', async () => {
    const asked: string[] = [];
    const r = new MxResolver({
      mxOverride: ['remote.test=127.0.0.1:2525'],
      smarthost: { host: 'relay.example.net', port: 587 },
      resolveMx: async (d) => {
        asked.push(d);
        return [];
      },
    });
    assert.deepEqual(await r.route('REMOTE.test'), {
      kind: 'override',
      hosts: [{ host: '127.0.0.1', port: 2525, preference: 0 }],
    });
    assert.deepEqual(await r.route('other.example'), {
      kind: 'smarthost',
      hosts: [{ host: 'relay.example.net', port: 587, preference: 0 }],
    });
    assert.deepEqual(asked, []);
  });

  test('malformed override entries are refused', () => {
    assert.throws(() => parseMxOverride(['remote.test=127.0.0.1']), /domain=host:port/);
    assert.throws(() => parseMxOverride(['remote.test=127.0.0.1:99999']), /domain=host:port/);
    assert.equal(parseMxOverride(['a.test=h.test:25', 'b.test=127.0.0.1:2525']).size, 2);
  });
});
