import assert from 'node:assert/strict';
import { test } from 'vitest';
import { parseMessage } from '../mail/message.parser.ts';
import { chatMessageId, chatToMime } from './xmpp-chat.mime.ts';

const form = { from: 'carol@chat.example', to: 'ursula@chat.example', key: 'archive:abc', body: 'Hello 👋' };

test('the same chat gives the same bytes (hence one dedupe key); another key or body gives others', () => {
  const a = chatToMime(form, 'ursula@chat.example');
  assert.deepEqual(chatToMime({ ...form }, 'ursula@chat.example'), a);
  assert.notDeepEqual(chatToMime({ ...form, key: 'archive:abd' }, 'ursula@chat.example'), a);
  assert.notDeepEqual(chatToMime({ ...form, body: 'Hello' }, 'ursula@chat.example'), a);
  assert.match(chatMessageId('archive:abc', 'ursula@chat.example'), /^<xmpp-[0-9a-f]{40}@chat\.example>$/);
});

test('a body cannot add headers; addresses cannot break out; the text and a UTF-8 address read back', async () => {
  const body = 'line\r\nSubject: pwned\r\nBcc: x@y.example\r\n\r\n\u202eevil';
  const raw = chatToMime({ ...form, from: 'zoë@chat.example', body }, 'ursula@chat.example');
  const headerBlock = raw.toString('utf8').split('\r\n\r\n')[0]!;
  assert.doesNotMatch(headerBlock, /pwned|Bcc/);
  assert.match(headerBlock, /^From: <zoë@chat\.example>$/m);
  const hostile = chatToMime({ ...form, to: 'a@b.example>\r\nBcc: <x@y.example' }, 'u@b.example').toString('utf8');
  assert.doesNotMatch(hostile.split('\r\n\r\n')[0]!, /^Bcc/m);
  const parsed = await parseMessage(raw);
  assert.equal(parsed.subject, '');
  assert.equal(parsed.text.replace(/\n$/, ''), body.replace(/\r\n/g, '\n'));
  assert.equal(parsed.from?.address, 'zoë@chat.example');
});

test('a key of any characters makes a well-formed Message-ID', () => {
  assert.match(chatMessageId('in:a@b:<>\r\n"', 'u@x.example'), /^<xmpp-[0-9a-f]{40}@x\.example>$/);
  assert.match(chatMessageId('k', 'weird'), /^<xmpp-[0-9a-f]{40}@weird>$/);
});
