import { describe, expect, test } from 'vitest';
import { fingerprintGroups, groupFingerprint, sameFingerprint } from './fingerprint.ts';

describe('fingerprints in groups of four', () => {
  test('a v4 fingerprint (40 hex) reads as ten uppercase groups', () => {
    const fp = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
    expect(fingerprintGroups(fp)).toHaveLength(10);
    expect(groupFingerprint(fp)).toBe('A1B2 C3D4 E5F6 0718 293A 4B5C 6D7E 8F90 1234 5678');
  });
  test('a v6 fingerprint (64 hex) reads as sixteen groups', () => {
    expect(fingerprintGroups('f'.repeat(64))).toEqual(Array(16).fill('FFFF'));
  });
  test('spaces, colons and case are ignored when grouping and comparing', () => {
    expect(groupFingerprint('a1:b2:c3:d4 e5f6')).toBe('A1B2 C3D4 E5F6');
    expect(sameFingerprint('A1B2 C3D4', 'a1b2c3d4')).toBe(true);
    expect(sameFingerprint('A1B2 C3D5', 'a1b2c3d4')).toBe(false);
    expect(sameFingerprint('', '')).toBe(false);
  });
});
