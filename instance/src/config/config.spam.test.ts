import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, it } from 'vitest';
import { loadConfig } from './config.loader.ts';

/** The spam filter's settings (spam.*): off by default, read from the environment, bad values named at start. */
describe('spam.* settings', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'caliopen-config-spam-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));
  const load = (env: Record<string, string>) => loadConfig({ dataDir, env: { CALIOPEN_DOMAIN: 'alpha.test', ...env } });

  it('off unless rspamdUrl is set; rspamd’s own thresholds by default', () => {
    const { spam } = load({});
    assert.equal(spam.rspamdUrl, null);
    assert.equal(spam.controllerUrl, null);
    assert.equal(spam.junkScore, 6);
    assert.equal(spam.rejectScore, 15);
  });

  it('read from the environment, decimal scores included', () => {
    const { spam } = load({
      CALIOPEN_RSPAMD_URL: 'http://127.0.0.1:11333',
      CALIOPEN_RSPAMD_CONTROLLER_URL: 'http://127.0.0.1:11334',
      CALIOPEN_SPAM_JUNK_SCORE: '5.5',
      CALIOPEN_SPAM_REJECT_SCORE: '20',
      CALIOPEN_SPAM_TIMEOUT_MS: '2000',
    });
    assert.equal(spam.rspamdUrl, 'http://127.0.0.1:11333');
    assert.equal(spam.controllerUrl, 'http://127.0.0.1:11334');
    assert.equal(spam.junkScore, 5.5);
    assert.equal(spam.rejectScore, 20);
    assert.equal(spam.timeoutMs, 2000);
  });

  it('bad values stop the start, naming the key and the variable', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ CALIOPEN_RSPAMD_URL: 'ftp://x' }, /spam\.rspamdUrl.*CALIOPEN_RSPAMD_URL/s],
      [{ CALIOPEN_RSPAMD_URL: 'http://x/?a b' }, /spam\.rspamdUrl/],
      [{ CALIOPEN_SPAM_JUNK_SCORE: 'lots' }, /CALIOPEN_SPAM_JUNK_SCORE.*number/],
      [{ CALIOPEN_SPAM_JUNK_SCORE: '10', CALIOPEN_SPAM_REJECT_SCORE: '8' }, /rejectScore \(8\) must be above/],
      [{ CALIOPEN_RSPAMD_CONTROLLER_URL: 'http://127.0.0.1:11334' }, /controllerUrl is set but spam\.rspamdUrl is not/],
      [{ CALIOPEN_SPAM_TIMEOUT_MS: '5' }, /spam\.timeoutMs/],
    ];
    for (const [env, message] of bad)
      assert.throws(
        () => load(env),
        (e: Error) => e.name === 'ConfigError' && message.test(e.message),
        JSON.stringify(env),
      );
  });
});
