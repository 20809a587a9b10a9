import assert from 'node:assert/strict';
import { test } from 'vitest';
import { simpleParser } from 'mailparser';
import { BOUNCE_FULL_ORIGINAL_MAX_BYTES, buildBounce } from './bounce.ts';

const original = (body: string) =>
  Buffer.from(
    `From: a@alpha.test\r\nTo: b@remote.test\r\nBcc: secret@hidden.test\r\nSubject: hi\r\nMessage-ID: <m1@alpha.test>\r\n\r\n${body}\r\n`,
  );

const input = (raw: Buffer) => ({
  domain: 'alpha.test',
  to: 'a@alpha.test',
  original: raw,
  originalMessageId: '<m1@alpha.test>',
  originalSubject: 'hi ☕',
  arrivalDate: new Date('2024-01-01T00:00:00Z'),
  now: new Date('2024-01-02T00:00:00Z'),
  attempts: 3,
  failed: [
    {
      address: 'b@remote.test',
      outcome: 'failed' as const,
      status: '5.1.1',
      diagnostic: 'mx said: 550 5.1.1 no such user',
      smtpReply: '550 5.1.1 no such user',
      remoteMta: 'mx.remote.test:25',
    },
    {
      address: 'c@remote.test',
      outcome: 'failed' as const,
      status: '4.4.1',
      diagnostic: 'gave up after 3 attempts; last: no answer',
      smtpReply: null,
      remoteMta: null,
    },
  ],
});

test('a small original travels whole (without Bcc) in an RFC 3464 report that mailparser reads', async () => {
  const raw = buildBounce(input(original('short body')));
  const text = raw.toString('latin1');
  assert.match(text, /^From: Mail Delivery System <MAILER-DAEMON@alpha\.test>\r\n/);
  assert.match(text, /\r\nAuto-Submitted: auto-replied\r\n/);
  assert.match(text, /\r\nIn-Reply-To: <m1@alpha\.test>\r\n/);
  assert.match(text, /Reporting-MTA: dns; alpha\.test\r\nArrival-Date: Mon, 01 Jan 2024 00:00:00 \+0000/);
  assert.match(
    text,
    /Final-Recipient: rfc822; b@remote\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.remote\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1 no such user/,
  );
  assert.match(
    text,
    /Final-Recipient: rfc822; c@remote\.test\r\nAction: failed\r\nStatus: 4\.4\.1\r\nDiagnostic-Code: x-caliopen; gave up after 3 attempts/,
  );
  assert.match(text, /Content-Type: message\/rfc822/);
  assert.ok(text.includes('short body'));
  assert.ok(!text.includes('secret@hidden.test'), 'the Bcc never appears');
  const parsed = await simpleParser(raw);
  assert.equal(parsed.subject, 'Undelivered Mail Returned to Sender');
  assert.match(parsed.text ?? '', /Your message "hi ☕" could not be delivered[\s\S]*b@remote\.test/);
});

test('a large original is represented by its headers only', () => {
  const raw = buildBounce(input(original('x'.repeat(BOUNCE_FULL_ORIGINAL_MAX_BYTES + 10))));
  const text = raw.toString('latin1');
  assert.match(text, /Content-Type: text\/rfc822-headers/);
  assert.match(text, /Subject: hi\r\n/);
  assert.ok(!text.includes('xxxxxxxxxx'), 'no body');
  assert.ok(raw.length < 8 * 1024);
});
