import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { AuthThrottle } from './auth-throttle.ts';

describe('AuthThrottle', () => {
  test('locks an address after its limit, for twice as long at each further failure, up to the cap', () => {
    let now = 0;
    const t = new AuthThrottle({
      failuresPerIp: 3,
      failuresPerAccount: 100,
      baseLockMs: 1000,
      maxLockMs: 4000,
      now: () => now,
    });
    for (let i = 0; i < 2; i++) t.failed('192.0.2.1', `user${i}`);
    assert.equal(t.lockedFor('192.0.2.1', 'someone'), 0);
    t.failed('192.0.2.1', 'user2');
    assert.equal(t.lockedFor('192.0.2.1', 'someone'), 1000);
    assert.equal(t.lockedFor('192.0.2.2', 'someone'), 0, 'another address is free');
    now = 1000;
    assert.equal(t.lockedFor('192.0.2.1', 'x'), 0);
    t.failed('192.0.2.1', 'x');
    assert.equal(t.lockedFor('192.0.2.1', 'x'), 2000);
    now = 3000;
    t.failed('192.0.2.1', 'x');
    t.failed('192.0.2.1', 'x');
    assert.equal(t.lockedFor('192.0.2.1', 'x'), 4000, 'capped');
  });

  test('locks an account name whatever the address; a success clears the account only', () => {
    let now = 0;
    const t = new AuthThrottle({ failuresPerIp: 100, failuresPerAccount: 2, baseLockMs: 1000, now: () => now });
    t.failed('192.0.2.1', 'Alice');
    t.succeeded('192.0.2.1', 'alice');
    t.failed('192.0.2.2', 'alice');
    assert.equal(t.lockedFor('192.0.2.9', 'alice'), 0, 'the success reset the count');
    t.failed('192.0.2.3', 'alice');
    assert.ok(t.lockedFor('192.0.2.9', 'ALICE') > 0, 'locked from any address');
    assert.equal(t.lockedFor('192.0.2.9', 'bob'), 0);
    now = 10_000_000;
    assert.equal(t.lockedFor('192.0.2.9', 'alice'), 0, 'the lock ends');
  });

  test('an IPv6 /64 counts as one client; memory is bounded', () => {
    const t = new AuthThrottle({ failuresPerIp: 2, failuresPerAccount: 100, maxKeys: 10, now: () => 0 });
    t.failed('2001:db8:1:2::1', '');
    t.failed('2001:db8:1:2::ffff', '');
    assert.ok(t.lockedFor('2001:db8:1:2:abcd::1', '') > 0);
    for (let i = 0; i < 100; i++) t.failed(`198.51.100.${i}`, '');
    assert.equal(t.lockedFor('2001:db8:1:2::1', ''), 0, 'the oldest keys were forgotten');
  });
});
