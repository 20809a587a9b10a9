import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { ClientLimits, clientKey } from './smtp-inbound.limits.ts';

describe('clientKey', () => {
  it('counts IPv4 by address, IPv4-mapped IPv6 as IPv4, IPv6 by /64', () => {
    assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
    assert.equal(clientKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientKey('::1'), '0:0:0:0::/64');
  });
});

describe('ClientLimits', () => {
  it('allows maxConnectionsPerIp connections per client and frees a slot on close', () => {
    const limits = new ClientLimits({ maxConnectionsPerIp: 2, messagesPerMinutePerIp: 0 });
    assert.equal(limits.openConnection('192.0.2.1'), true);
    assert.equal(limits.openConnection('192.0.2.1'), true);
    assert.equal(limits.openConnection('192.0.2.1'), false);
    assert.equal(limits.openConnection('192.0.2.2'), true, 'another client is not affected');
    assert.equal(limits.openConnection('2001:db8::1'), true);
    assert.equal(limits.openConnection('2001:db8::2'), true);
    assert.equal(limits.openConnection('2001:db8::3'), false, 'same /64');
    limits.closeConnection('192.0.2.1');
    assert.equal(limits.openConnection('192.0.2.1'), true);
  });

  it('refills the message allowance evenly over the minute', () => {
    let now = 0;
    const limits = new ClientLimits({ maxConnectionsPerIp: 0, messagesPerMinutePerIp: 6, now: () => now });
    for (let i = 0; i < 6; i++) assert.equal(limits.takeMessage('192.0.2.1'), true, `message ${i}`);
    assert.equal(limits.takeMessage('192.0.2.1'), false);
    assert.equal(limits.takeMessage('192.0.2.9'), true);
    now += 9_999;
    assert.equal(limits.takeMessage('192.0.2.1'), false, 'one message every 10 s');
    now += 1;
    assert.equal(limits.takeMessage('192.0.2.1'), true);
    now += 3600_000;
    for (let i = 0; i < 6; i++)
      assert.equal(limits.takeMessage('192.0.2.1'), true, 'the bucket never holds more than a minute');
    assert.equal(limits.takeMessage('192.0.2.1'), false);
  });

  it('0 means no limit', () => {
    const limits = new ClientLimits({ maxConnectionsPerIp: 0, messagesPerMinutePerIp: 0 });
    for (let i = 0; i < 10_000; i++) {
      assert.equal(limits.openConnection('192.0.2.1'), true);
      assert.equal(limits.takeMessage('192.0.2.1'), true);
    }
  });
});
