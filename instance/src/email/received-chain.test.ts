import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { headerValues, MAX_HOPS, parseReceived, receivedChain } from './received-chain.ts';

// Real-world shapes (addresses and ids changed).
const POSTFIX_TLS =
  'from mail.sender.example (mail.sender.example [192.0.2.10])\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n\t key-exchange X25519 server-signature RSA-PSS (2048 bits))\r\n\t(No client certificate requested)\r\n\tby mx.relay.example (Postfix) with ESMTPS id 4Xyz1;\r\n\tSun, 22 Nov 2026 10:00:02 +0000 (UTC)';
const POSTFIX_PLAIN =
  'from old.sender.example (old.sender.example [192.0.2.20]) by mx.relay.example (Postfix) with ESMTP id 4Abc2; Sun, 22 Nov 2026 10:00:01 +0000 (UTC)';
const GMAIL =
  'from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id a1sor; Sun, 22 Nov 2026 02:00:00 -0800 (PST)';
const GMAIL_VERSION_COMMENT =
  'from mail.example.net (mail.example.net. [198.51.100.7]) by mx.google.com with ESMTPS id x7si (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256); Sun, 22 Nov 2026 02:00:00 -0800 (PST)';
const EXCHANGE =
  'from EUR05-VI1-obe.outbound.protection.outlook.com (2a01:111:f400:7d00::700) by AM0PR01MB.outlook.office365.com (2603:10a6:208:11f::11) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7; Sun, 22 Nov 2026 10:00:00 +0000';
const EXCHANGE_INTERNAL =
  'from AM0PR01MB.eurprd01.prod.outlook.com ([fe80::1]) by AM0PR01MB.eurprd01.prod.outlook.com ([fe80::1%5]) with mapi id 15.20.7; Sun, 22 Nov 2026 10:00:00 +0000';
const EXIM =
  'from [203.0.113.5] (helo=client.example) by smtp.exim.example with esmtps  (TLS1.3) tls TLS_AES_256_GCM_SHA384 (Exim 4.96) (envelope-from <a@client.example>) id 1tAbc-000; Sun, 22 Nov 2026 10:00:00 +0000';
const SENDMAIL =
  'from host.example (host.example [198.51.100.9]) by relay.example (8.17.1/8.17.1) with ESMTP id 5AB (version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT) for <bob@alpha.test>; Sun, 22 Nov 2026 10:00:00 +0000';
const LOCAL = 'by laptop.local (Postfix, from userid 1000) id 1234; Sun, 22 Nov 2026 09:59:59 +0000 (UTC)';

describe('parseReceived', () => {
  it('reads from, by, with and the date of a Postfix hop that used TLS', () => {
    assert.deepEqual(parseReceived(POSTFIX_TLS.replace(/\r\n\t/g, ' ')), {
      from: 'mail.sender.example',
      by: 'mx.relay.example',
      with: 'ESMTPS',
      tls: true,
      date: 'Sun, 22 Nov 2026 10:00:02 +0000 (UTC)',
    });
  });

  it('says false for a hop that declares plain ESMTP or SMTP, true for ESMTPS/SMTPS-like words and TLS comments', () => {
    assert.equal(parseReceived(POSTFIX_PLAIN).tls, false);
    assert.equal(parseReceived(GMAIL).with, 'SMTPS');
    assert.equal(parseReceived(GMAIL).tls, true, 'SMTPS: SMTP over implicit TLS');
    assert.equal(parseReceived(GMAIL_VERSION_COMMENT).tls, true);
    assert.equal(parseReceived(EXCHANGE).tls, true, 'Exchange says version=TLS1_2 in a comment');
    assert.equal(parseReceived(EXCHANGE_INTERNAL).tls, null, 'mapi: not a transport that says either way');
    assert.equal(parseReceived(EXIM).tls, true);
    assert.equal(parseReceived(EXIM).with, 'esmtps');
    assert.equal(parseReceived(SENDMAIL).tls, true, 'with ESMTP but the comment says TLSv1.3');
    assert.deepEqual(parseReceived(LOCAL), {
      from: null,
      by: 'laptop.local',
      with: null,
      tls: null,
      date: 'Sun, 22 Nov 2026 09:59:59 +0000 (UTC)',
    });
  });

  it('does not take a keyword inside a comment or quoted string for a clause', () => {
    const hop = parseReceived(
      'from a.example (by evil.example with ESMTPS) by b.example with "ESMTP"; Mon, 1 Jan 2024 00:00:00 +0000',
    );
    assert.equal(hop.by, 'b.example');
    assert.equal(hop.with, 'ESMTP');
    assert.equal(hop.tls, false);
  });

  it('survives hostile values: unbalanced and deeply nested comments, control characters, megabyte lines', () => {
    const nested = `from x.example ${'('.repeat(5000)}deep${')'.repeat(10)} by y.example with ESMTP; date`;
    const hop = parseReceived(nested);
    assert.equal(hop.from, 'x.example');
    const unbalanced = parseReceived('from a.example (never closed by b.example with ESMTPS; Mon');
    assert.equal(unbalanced.from, 'a.example');
    assert.equal(unbalanced.by, null, 'everything after the open comment is the comment');
    const injected = parseReceived('from a\u0000b.example\u0007 by c\u001b.example with ESMTP; x\u0000y');
    assert.doesNotMatch(JSON.stringify(injected), /\\u000[0-9a-f]|\\u001b/);
    const huge = parseReceived(`from ${'a'.repeat(1024 * 1024)}.example by b.example with ESMTPS; now`);
    assert.equal(huge.from?.length, 255);
    assert.equal(huge.by, null, 'the field is read up to 8 KiB, so what follows a megabyte of name is not seen');
    assert.deepEqual(parseReceived(''), { from: null, by: null, with: null, tls: null, date: null });
    assert.deepEqual(parseReceived(';;;'), { from: null, by: null, with: null, tls: null, date: ';;' });
  });
});

describe('headerValues and receivedChain', () => {
  const message = (headers: string[], eol = '\r\n') =>
    Buffer.from(
      `${headers.join(eol)}${eol}${eol}Received: from body.example by body.example with ESMTP; not a header${eol}`,
      'latin1',
    );

  it('takes the Received fields of the header block only, unfolded, newest first', () => {
    const raw = message([
      `Received: ${POSTFIX_TLS}`,
      `received: ${POSTFIX_PLAIN}`,
      'Subject: hi',
      `RECEIVED: ${LOCAL}`,
    ]);
    const values = headerValues(raw, 'received');
    assert.equal(values.length, 3);
    assert.match(values[0]!, /^from mail\.sender\.example .* with ESMTPS id 4Xyz1; Sun/);
    assert.doesNotMatch(values[0]!, /[\r\n\t]/);
    const chain = receivedChain(raw, 'alpha.test');
    assert.deepEqual(
      chain.hops.map((h) => [h.by, h.tls]),
      [
        ['mx.relay.example', true],
        ['mx.relay.example', false],
        ['laptop.local', null],
      ],
    );
    assert.equal(chain.externalHops, 3);
    assert.equal(chain.plaintextHops, 1);
  });

  it('works with bare LF line ends and 8-bit bytes in the header block', () => {
    const raw = Buffer.concat([
      Buffer.from(`Subject: \xff\xfe\x00garbage\nReceived: ${POSTFIX_PLAIN}\n\nbody`, 'latin1'),
    ]);
    assert.equal(receivedChain(raw, 'alpha.test').plaintextHops, 1);
  });

  it('leaves out hops added by this instance (or a host of its domain)', () => {
    const raw = message([
      'Received: from mx.sender.example by alpha.test with ESMTPS; now',
      'Received: from relay.example by mx.ALPHA.test. with ESMTP; now',
      `Received: ${POSTFIX_TLS}`,
    ]);
    const chain = receivedChain(raw, 'alpha.test');
    assert.equal(chain.externalHops, 1);
    assert.equal(chain.plaintextHops, 0);
  });

  it(`keeps at most ${MAX_HOPS} hops of a looping or hostile message`, () => {
    const raw = message(
      Array.from({ length: 5000 }, (_, i) => `Received: from h${i}.example by r${i}.example with ESMTP; now`),
    );
    const chain = receivedChain(raw, 'alpha.test');
    assert.equal(chain.hops.length, MAX_HOPS);
    assert.equal(chain.hops[0]!.from, 'h0.example');
  });

  it('reads a message without a header/body separator, or with none of the field, without error', () => {
    assert.deepEqual(receivedChain(Buffer.from('Subject: no body and no blank line'), 'alpha.test'), {
      hops: [],
      externalHops: 0,
      plaintextHops: 0,
    });
    assert.deepEqual(receivedChain(Buffer.alloc(0), 'alpha.test'), { hops: [], externalHops: 0, plaintextHops: 0 });
    assert.deepEqual(
      headerValues(Buffer.from(' folded continuation first\r\nReceived: by x with ESMTP; d\r\n\r\n'), 'received'),
      ['by x with ESMTP; d'],
    );
  });
});
