import assert from 'node:assert/strict';
import { test } from 'vitest';
import { AppError } from '../shared/errors.ts';
import { classifyImapError } from './imap-session.imapflow.ts';

const where = { host: 'imap.example.org', port: 993 };
const code = (err: unknown) => classifyImapError(err, where).code;

test('imapflow and socket failures map to stable imap_* codes', () => {
  assert.equal(
    code({ authenticationFailed: true, serverResponseCode: 'AUTHENTICATIONFAILED', message: 'Command failed' }),
    'imap_auth_failed',
  );
  assert.equal(
    code({ authenticationFailed: true, serverResponseCode: 'UNAVAILABLE' }),
    'imap_unreachable',
    'a temporary auth backend failure is not a wrong password',
  );
  assert.equal(
    code(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:993'), { code: 'ECONNREFUSED' })),
    'imap_unreachable',
  );
  assert.equal(code({ code: 'CONNECT_TIMEOUT', message: 'Connection timed out' }), 'imap_unreachable');
  assert.equal(code({ code: 'GREETING_TIMEOUT' }), 'imap_unreachable');
  assert.equal(code({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate' }), 'imap_tls_failed');
  assert.equal(code({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'imap_tls_failed');
  assert.equal(code({ message: 'write EPROTO ... wrong version number' }), 'imap_tls_failed');
  assert.equal(code({ code: 'ParserError11', message: 'garbage' }), 'imap_unreachable');
  assert.equal(code(undefined), 'imap_unreachable');
  const own = new AppError('imap_host_forbidden');
  assert.equal(classifyImapError(own, where), own, 'our own errors pass through');
});

test('the detail names the server, never what the user sent', () => {
  const e = classifyImapError(
    {
      authenticationFailed: true,
      serverResponseCode: 'AUTHENTICATIONFAILED',
      response: 'A1 LOGIN alice s3cret',
      executedCommand: 'A1 LOGIN alice s3cret',
    },
    where,
  );
  assert.match(e.detail!, /imap\.example\.org:993 refused the login/);
  assert.doesNotMatch(e.detail!, /alice|s3cret/);
});
