import assert from 'node:assert/strict';
import { describe, test } from 'vitest';
import { formatBytes } from './format-bytes.ts';

/** Intl puts a no-break (or narrow no-break) space between number and unit. */
const plain = (s: string) => s.replace(/[\u00a0\u202f]/g, ' ');

describe('formatBytes', () => {
  test('bytes, then kB, MB, GB in powers of 1024, one decimal at most', () => {
    assert.equal(plain(formatBytes(0, 'en')), '0 byte');
    assert.equal(plain(formatBytes(1023, 'en')), '1,023 byte');
    assert.equal(plain(formatBytes(1024, 'en')), '1 kB');
    assert.equal(plain(formatBytes(1536, 'en')), '1.5 kB');
    assert.equal(plain(formatBytes(10 * 1024 * 1024, 'en')), '10 MB');
    assert.equal(plain(formatBytes(3.25 * 1024 ** 3, 'en')), '3.3 GB');
  });

  test('in French: decimal comma and French units', () => {
    assert.equal(plain(formatBytes(1536, 'fr')), '1,5 ko');
    assert.equal(plain(formatBytes(10 * 1024 * 1024, 'fr')), '10 Mo');
  });
});
