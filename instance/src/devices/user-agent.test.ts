import assert from 'node:assert/strict';
import { test } from 'vitest';
import { parseUserAgent } from './user-agent.ts';

test('desktop, mobile and CLI user agents', () => {
  const ff = parseUserAgent('Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0');
  assert.equal(ff.type, 'desktop');
  assert.equal(ff.browser, 'Firefox');
  assert.equal(ff.os, 'Linux');
  assert.equal(ff.suggestedName, 'Firefox on Linux');

  const android = parseUserAgent(
    'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
  );
  assert.equal(android.type, 'mobile');
  assert.equal(android.os, 'Android');
  assert.equal(android.osVersion, '14');
  assert.match(android.suggestedName, /Chrome.* on Android 14/);

  assert.equal(parseUserAgent('caliopen-cli/0.1.0').type, 'cli');
});

test('garbage or missing user agents never throw', () => {
  assert.equal(parseUserAgent(undefined).type, 'unknown');
  assert.equal(parseUserAgent('\u0000\uffff'.repeat(10_000)).suggestedName, 'Unknown device');
});
