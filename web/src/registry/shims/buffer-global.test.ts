import { Buffer as NpmBuffer } from 'buffer';
import { describe, expect, it } from 'vitest';
import { withBase64Url } from './buffer-global.ts';

describe('the browser Buffer learns base64url', () => {
  const B = withBase64Url(NpmBuffer);
  it('encodes and decodes like Node’s Buffer', () => {
    for (const bytes of [[], [0xfb], [0xfb, 0xff], [0xfb, 0xff, 0xbf], [0, 1, 2, 3, 250, 251, 252, 253, 254, 255]]) {
      const node = globalThis.Buffer.from(bytes).toString('base64url');
      expect(B.from(bytes).toString('base64url')).toBe(node);
      expect([...B.from(node, 'base64url')]).toEqual(bytes);
    }
    expect(B.from('aGk', 'base64url').toString('utf8')).toBe('hi');
    expect(B.from('hi').toString('hex')).toBe('6869');
    expect(B.from('6869', 'hex').toString()).toBe('hi');
  });
});
