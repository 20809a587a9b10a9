import assert from 'node:assert/strict';
import { test } from 'vitest';
import { deliveryAdvice } from './delivery-advice.ts';

test('a delivery failure is explained from its RFC 3463 status', () => {
  assert.equal(deliveryAdvice('5.1.1'), 'noMailbox');
  assert.equal(deliveryAdvice('5.2.2'), 'mailboxFull');
  assert.equal(deliveryAdvice('5.7.1'), 'refusedPolicy');
  assert.equal(deliveryAdvice('5.0.0'), 'refused');
  assert.equal(deliveryAdvice('4.4.1'), 'unreachable');
  assert.equal(deliveryAdvice('nonsense'), 'refused');
  assert.equal(deliveryAdvice(''), 'refused');
});
