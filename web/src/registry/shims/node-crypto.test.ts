import { createHash as nodeCreateHash } from 'node:crypto';
import { expect, it } from 'vitest';
import { createHash } from './node-crypto.ts';

it('the browser createHash gives Node’s SHA-256 for bytes, strings and chained updates', () => {
  const node = (parts: (Uint8Array | string)[]) => {
    const h = nodeCreateHash('sha256');
    for (const p of parts) h.update(p);
    return [...h.digest()];
  };
  const ours = (parts: (Uint8Array | string)[]) => {
    const h = createHash('sha256');
    for (const p of parts) h.update(p);
    return [...h.digest()];
  };
  for (const parts of [
    [],
    ['héllo ✓'],
    [new Uint8Array([0]), new Uint8Array([1, 2, 3])],
    ['{"a":1}', new Uint8Array([9])],
  ])
    expect(ours(parts)).toEqual(node(parts));
  expect(() => createHash('md5')).toThrow(/not available/);
});
