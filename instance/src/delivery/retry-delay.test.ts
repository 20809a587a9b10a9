import assert from 'node:assert/strict';
import { test } from 'vitest';
import { DEFAULTS } from '../config/config.schema.ts';
import { retryDelayMs } from './delivery.types.ts';

test('retry delays double from the base and are bounded by maxDelayMs', () => {
  assert.deepEqual(
    [1, 2, 3, 4].map((n) => retryDelayMs({ baseDelayMs: 1000 }, n)),
    [1000, 2000, 4000, 8000],
  );
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((n) => retryDelayMs({ baseDelayMs: 1000, maxDelayMs: 5000 }, n)),
    [1000, 2000, 4000, 5000, 5000],
  );
  assert.equal(
    retryDelayMs({ baseDelayMs: 60_000, maxDelayMs: 4 * 3600_000 }, 500),
    4 * 3600_000,
    'no overflow at absurd attempt numbers',
  );
});

test('the default schedule: a minute, doubling to 4 hours between tries, giving up after 4 to 5 days (RFC 5321 §4.5.4.1)', () => {
  const retry = DEFAULTS.outbound.retry;
  let total = 0;
  for (let attempt = 1; attempt < retry.attempts; attempt++) total += retryDelayMs(retry, attempt);
  const days = total / 86_400_000;
  assert.ok(days >= 4 && days <= 5, `the last try comes ${days.toFixed(2)} days after the first`);
  assert.equal(Math.max(...Array.from({ length: retry.attempts }, (_, i) => retryDelayMs(retry, i + 1))), 4 * 3600_000);
});
