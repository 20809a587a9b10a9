import assert from 'node:assert/strict';
import { test } from 'vitest';
import { simpleParser } from 'mailparser';
import { asMessageIdHeader, buildMime, headerValue, messageIds, withoutHeaders } from './compose.mime.ts';

test('MIME: encoded headers, both bodies, attachment, Bcc kept for the Sent copy and removable', async () => {
  const raw = await buildMime({
    from: { name: 'Zoë Ünal', address: 'zoe@alpha.test' },
    to: [{ name: 'Bob', address: 'bob@remote.test' }],
    cc: [],
    bcc: [{ name: null, address: 'hidden@remote.test' }],
    subject: 'Café — ☕ meeting',
    text: 'plain body',
    html: '<p>html body</p>',
    attachments: [{ filename: 'notes €.txt', contentType: 'text/plain', content: Buffer.from('attached') }],
    messageId: '<abc@alpha.test>',
    date: new Date('2024-05-01T10:00:00Z'),
    inReplyTo: '<parent@remote.test>',
    references: ['<root@remote.test>', '<parent@remote.test>'],
  });
  assert.ok(/^[\x00-\x7f]*$/.test(raw.toString('latin1')), '7-bit clean');
  assert.ok(!/(?<!\r)\n/.test(raw.toString('latin1')), 'CRLF only');
  assert.ok(!/X-Mailer/i.test(raw.toString('latin1')), 'no X-Mailer');
  assert.equal(headerValue(raw, 'bcc'), 'hidden@remote.test');
  const p = await simpleParser(raw);
  assert.equal(p.subject, 'Café — ☕ meeting');
  assert.equal(p.from?.value[0]?.name, 'Zoë Ünal');
  assert.equal(p.text?.trim(), 'plain body');
  assert.match(String(p.html), /html body/);
  assert.equal(p.attachments[0]?.filename, 'notes €.txt');
  assert.equal(p.attachments[0]?.content.toString(), 'attached');
  assert.equal(p.messageId, '<abc@alpha.test>');
  assert.equal(p.inReplyTo, '<parent@remote.test>');
  const sent = withoutHeaders(raw, ['bcc']);
  assert.equal(headerValue(sent, 'bcc'), null);
  assert.equal(headerValue(sent, 'subject'), headerValue(raw, 'subject'));
  assert.equal(sent.length, raw.length - `Bcc: hidden@remote.test\r\n`.length);
});

test('header helpers', () => {
  const raw = Buffer.from(
    'Subject: a\r\n long\r\nBcc: x@y.test,\r\n z@y.test\r\nReferences: <a@b> <c@d>\r\n\r\nBcc: not a header\r\n',
  );
  assert.equal(headerValue(raw, 'subject'), 'a long');
  assert.equal(
    withoutHeaders(raw, ['bcc']).toString(),
    'Subject: a\r\n long\r\nReferences: <a@b> <c@d>\r\n\r\nBcc: not a header\r\n',
  );
  assert.deepEqual(messageIds(headerValue(raw, 'references')), ['<a@b>', '<c@d>']);
  assert.equal(asMessageIdHeader('abc@x'), '<abc@x>');
  assert.equal(asMessageIdHeader('<abc@x>'), '<abc@x>');
  assert.equal(asMessageIdHeader('a b'), null);
  assert.equal(asMessageIdHeader(null), null);
});
