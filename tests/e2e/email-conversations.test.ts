/**
 * The email core end to end, through the HTTP API of a running instance: conversations defined by who you talk
 * with, contacts (several identities, merge, vCard), message operations with quota release, indexing and search,
 * and a hostile corpus. Messages enter through the instance's own MessageIngest (`services.ingest`), the entry
 * point every protocol (SMTP, IMAP import, the composer) uses; the last suite sends through the real SMTP server.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import nodemailer from 'nodemailer';
import { hostileCorpus } from '@caliopen/instance/mail/hostile-mail.fixture.ts';
import { PURGE_QUEUE } from '@caliopen/instance/messages/message.service.ts';
import type { IngestRequest } from '@caliopen/instance/messages/message-ingest.port.ts';
import { waitFor } from '../support/net.ts';
import { ok } from '../support/api-client.ts';
import { startTestInstance, type TestInstance } from '../support/instance.ts';
import { startSmtpInstance } from '../support/mail-world.ts';
import { startInternetDns, type InternetDns } from './fixtures/internet-dns.ts';

const DOMAIN = 'alpha.test';
const DAY = 86_400_000;

function mail(o: {
  from: string;
  to?: string;
  cc?: string;
  subject?: string;
  body?: string;
  headers?: string[];
  html?: boolean;
}): Buffer {
  const headers = [
    `From: ${o.from}`,
    `To: ${o.to ?? `Ursula <ursula@${DOMAIN}>`}`,
    ...(o.cc ? [`Cc: ${o.cc}`] : []),
    `Subject: ${o.subject ?? 'hello'}`,
    `Message-ID: <${randomUUID()}@test.example>`,
    'Date: Mon, 02 Mar 2026 09:00:00 +0000',
    'MIME-Version: 1.0',
    `Content-Type: ${o.html ? 'text/html' : 'text/plain'}; charset=utf-8`,
    ...(o.headers ?? []),
  ];
  return Buffer.from(`${headers.join('\r\n')}\r\n\r\n${o.body ?? 'Hello.'}\r\n`);
}

describe('email core through the API', () => {
  let inst: TestInstance;
  let token: string;
  let accountId: string;
  let clockOffset = 0;
  let received = Date.parse('2026-03-02T10:00:00Z');

  /** Files a message as the SMTP server or the IMAP importer would. */
  async function ingest(raw: Buffer, over: Partial<IngestRequest> = {}) {
    received += 60_000;
    return inst.running.services.ingest.ingest({
      accountId,
      raw,
      direction: 'inbound',
      receivedAt: new Date(received),
      facts: {
        transport: {
          via: 'smtp',
          tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
          clientIp: '192.0.2.7',
          helo: 'mx.test.example',
          receivedChain: [],
          externalHops: 1,
          plaintextHops: 0,
        },
        authentication: {
          spf: { result: 'pass', domain: 'x.example' },
          dkim: [{ result: 'pass', domain: 'x.example', selector: 's1', aligned: true }],
          dmarc: { result: 'pass', domain: 'x.example', policy: 'reject' },
        },
      },
      ...over,
    });
  }
  const api = (method: string, path: string, body?: unknown) =>
    inst.api(method, path, { token, ...(body !== undefined ? { body } : {}) });
  const discussions = async () => ok(await api('GET', '/api/v1/discussions?limit=200')).items as any[];
  const usedBytes = async () => ok(await api('GET', '/api/v1/me')).usedBytes as number;

  beforeAll(async () => {
    inst = await startTestInstance({
      clock: () => new Date(Date.now() + clockOffset),
      env: { CALIOPEN_SESSION_TTL_SECONDS: String(365 * 24 * 3600) },
    });
    const u = await inst.user('ursula');
    token = u.token;
    accountId = u.id;
  });
  afterAll(async () => {
    await inst.stop();
  });

  test('mail from two addresses of one contact lands in one conversation', async () => {
    const alice = ok(
      await api('POST', '/api/v1/contacts', {
        displayName: 'Alice Liddell',
        identities: [{ address: 'alice@x.example', label: 'work' }, { address: 'Alice@Y.Example' }],
      }),
      201,
    );
    assert.deepEqual(
      alice.identities.map((i: any) => i.address),
      ['alice@x.example', 'alice@y.example'],
    );
    const m1 = await ingest(mail({ from: 'alice@x.example', subject: 'Tea?' }));
    const m2 = await ingest(mail({ from: '"Alice (mobile)" <ALICE@y.example>', subject: 'Re: Tea?' }));
    assert.equal(m1.message.conversationId, m2.message.conversationId);
    const d = ok(await api('GET', `/api/v1/discussions/${m1.message.conversationId}`));
    assert.equal(d.kind, 'people');
    assert.equal(d.title, 'Alice Liddell');
    assert.equal(d.messageCount, 2);
    assert.equal(d.unreadCount, 2);
    assert.deepEqual(
      d.participants.map((p: any) => p.contactId),
      [alice.id],
    );
    const msgs = ok(await api('GET', `/api/v1/discussions/${d.id}/messages`));
    assert.deepEqual(
      msgs.items.map((m: any) => m.subject),
      ['Re: Tea?', 'Tea?'],
      'newest first',
    );
    assert.ok(msgs.items.every((m: any) => m.from.contactId === alice.id));
    const contacts = ok(await api('GET', '/api/v1/contacts')).items;
    assert.deepEqual(
      contacts.map((c: any) => c.displayName),
      ['Alice Liddell'],
      'no automatic contact for a known address',
    );
    // The per-subject view groups both under one thread.
    const threads = ok(await api('GET', `/api/v1/discussions/${d.id}/threads`));
    assert.equal(threads.items.length, 1);
    assert.equal(threads.items[0].threadKey, 'tea?');
    assert.equal(threads.items[0].messageCount, 2);
    const inThread = ok(await api('GET', `/api/v1/discussions/${d.id}/messages?thread=${encodeURIComponent('tea?')}`));
    assert.equal(inThread.items.length, 2);
  });

  test('the account’s own address is never another participant; recipients of outbound mail become contacts', async () => {
    const sent = await ingest(
      mail({ from: `Ursula <URSULA@${DOMAIN}>`, to: 'Dave <dave@d.example>', subject: 'Plans' }),
      { direction: 'outbound', tags: ['sent'] },
    );
    const reply = await ingest(mail({ from: 'Dave <dave@d.example>', to: `ursula@${DOMAIN}`, subject: 'Re: Plans' }));
    assert.equal(sent.message.conversationId, reply.message.conversationId);
    const d = ok(await api('GET', `/api/v1/discussions/${sent.message.conversationId}`));
    assert.deepEqual(
      d.participants.map((p: any) => p.address),
      ['dave@d.example'],
    );
    assert.equal(d.unreadCount, 1, 'the sent copy starts read');
    const dave = ok(await api('GET', `/api/v1/contacts/${d.participants[0].contactId}`));
    assert.equal(dave.automatic, true);
    assert.equal(dave.displayName, 'Dave');
    // Adding someone else makes it another conversation: who, not what.
    const group = await ingest(mail({ from: 'dave@d.example', cc: 'erin@e.example', subject: 'Plans' }));
    assert.notEqual(group.message.conversationId, sent.message.conversationId);
  });

  test('merging two contacts merges their conversations, counters summed; later mail follows the merge', async () => {
    const x = await ingest(mail({ from: 'Bob <bob@x.example>', subject: 'from x' }));
    const y1 = await ingest(mail({ from: 'Bobby <bob@y.example>', subject: 'from y' }));
    const y2 = await ingest(mail({ from: 'Bobby <bob@y.example>', subject: 'from y again' }));
    const groupWithY = await ingest(mail({ from: 'bob@y.example', cc: 'carol@c.example', subject: 'group' }));
    const bobX = x.message.from.contactId!;
    const bobY = y1.message.from.contactId!;
    assert.notEqual(bobX, bobY);
    assert.notEqual(x.message.conversationId, y1.message.conversationId);
    const before = await discussions();

    const merged = ok(await api('POST', '/api/v1/contacts/merge', { target: bobX, sources: [bobY] }));
    assert.deepEqual(merged.contact.identities.map((i: any) => i.address).sort(), ['bob@x.example', 'bob@y.example']);
    assert.equal(merged.conversationsMerged, 2);
    assert.equal(merged.messagesMoved, 2);
    assert.equal((await api('GET', `/api/v1/contacts/${bobY}`)).status, 404, 'the source is gone');

    const d = ok(await api('GET', `/api/v1/discussions/${x.message.conversationId}`));
    assert.equal(d.messageCount, 3);
    assert.equal(d.unreadCount, 3);
    assert.equal(
      (await api('GET', `/api/v1/discussions/${y1.message.conversationId}`)).status,
      404,
      'the merged-away discussion is gone',
    );
    const msgs = ok(await api('GET', `/api/v1/discussions/${d.id}/messages`)).items.map((m: any) => m.id);
    assert.deepEqual(new Set(msgs), new Set([x.message.id, y1.message.id, y2.message.id]));
    // The group conversation was re-keyed onto the merged contact, not merged with anything.
    const group = ok(await api('GET', `/api/v1/discussions/${groupWithY.message.conversationId}`));
    assert.ok(group.participants.some((p: any) => p.contactId === bobX));
    assert.equal((await discussions()).length, before.length - 1);
    // Mail from either address now lands in the merged conversation, and so does the group's next message.
    const later = await ingest(mail({ from: 'bob@y.example', subject: 'after the merge' }));
    assert.equal(later.message.conversationId, d.id);
    const laterGroup = await ingest(mail({ from: 'carol@c.example', cc: 'bob@x.example', subject: 'group' }));
    assert.equal(laterGroup.message.conversationId, group.id);

    const bad = await api('POST', '/api/v1/contacts/merge', { target: bobX, sources: [bobX] });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'contact_merge_invalid');
    assert.equal((await api('POST', '/api/v1/contacts/merge', { target: bobX, sources: [randomUUID()] })).status, 404);
  });

  test('mailing-list mail forms its own conversation, keyed by the List-Id, without flooding the contacts', async () => {
    const contactsBefore = ok(await api('GET', '/api/v1/contacts?limit=500')).items.length;
    const a = await ingest(
      mail({ from: 'alice@x.example', subject: '[dev] release', headers: ['List-Id: Developers <dev.lists.example>'] }),
    );
    const b = await ingest(
      mail({ from: 'stranger@z.example', subject: 'Re: [dev] release', headers: ['List-Id: <DEV.lists.example>'] }),
    );
    assert.equal(a.message.conversationId, b.message.conversationId);
    const d = ok(await api('GET', `/api/v1/discussions/${a.message.conversationId}`));
    assert.equal(d.kind, 'list');
    assert.equal(d.title, 'Developers');
    const aliceConversation = (await discussions()).find((x) => x.title === 'Alice Liddell');
    assert.notEqual(aliceConversation.id, d.id, 'Alice’s list mail is not in her personal conversation');
    assert.equal(
      a.message.from.contactId,
      aliceConversation.participants[0].contactId,
      'a known sender is still resolved',
    );
    assert.equal(
      ok(await api('GET', '/api/v1/contacts?limit=500')).items.length,
      contactsBefore,
      'no automatic contact from list traffic',
    );
  });

  test('a message shows its participants, flags, body and transport and authentication facts; its raw form is intact', async () => {
    const raw = mail({ from: 'Facts <facts@f.example>', subject: 'facts', body: 'The body text.' });
    const { message } = await ingest(raw, { tags: ['INBOX'] });
    const m = ok(await api('GET', `/api/v1/messages/${message.id}`));
    assert.equal(m.subject, 'facts');
    assert.equal(m.body.text.trim(), 'The body text.');
    assert.equal(m.snippet, 'The body text.');
    assert.deepEqual(m.tags, ['INBOX']);
    assert.equal(m.facts.transport.tls.version, 'TLSv1.3');
    assert.equal(m.facts.authentication.dkim[0].result, 'pass');
    assert.equal(m.mime.parsed, true);
    assert.match(m.externalId, /^<.+@test\.example>$/);
    const r = await fetch(`${inst.url}/api/v1/messages/${message.id}/raw`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'message/rfc822');
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), raw);
  });

  test('read/unread, tags, archive, soft delete and restore keep the counters in step; purge releases the quota', async () => {
    const one = await ingest(mail({ from: 'flags@f.example', subject: 'one' }));
    const two = await ingest(mail({ from: 'flags@f.example', subject: 'two' }));
    const conv = one.message.conversationId;
    const counts = async () => {
      const d = ok(await api('GET', `/api/v1/discussions/${conv}`));
      return [d.messageCount, d.unreadCount];
    };
    assert.deepEqual(await counts(), [2, 2]);
    assert.equal(ok(await api('PATCH', `/api/v1/messages/${one.message.id}`, { read: true })).read, true);
    assert.deepEqual(await counts(), [2, 1]);
    assert.equal(ok(await api('PATCH', `/api/v1/messages/${one.message.id}`, { read: false })).read, false);
    assert.deepEqual(await counts(), [2, 2]);
    const tagged = ok(
      await api('PATCH', `/api/v1/messages/${one.message.id}`, { tags: ['work', 'urgent', 'work'], archived: true }),
    );
    assert.deepEqual(tagged.tags, ['work', 'urgent']);
    assert.equal(tagged.archived, true);

    ok(await api('PATCH', `/api/v1/messages/${two.message.id}`, { deleted: true }));
    assert.deepEqual(await counts(), [1, 1]);
    let listed = ok(await api('GET', `/api/v1/discussions/${conv}/messages`)).items.map((m: any) => m.id);
    assert.deepEqual(listed, [one.message.id], 'a deleted message is hidden');
    const trash = ok(await api('GET', `/api/v1/discussions/${conv}/messages?includeDeleted=true`)).items;
    assert.equal(trash.find((m: any) => m.id === two.message.id).deletedAt !== null, true);
    ok(await api('PATCH', `/api/v1/messages/${two.message.id}`, { deleted: false }));
    assert.deepEqual(await counts(), [2, 2]);

    // Purge: row, raw form and quota.
    const used = await usedBytes();
    const purged = ok(await api('DELETE', `/api/v1/messages/${two.message.id}`));
    assert.equal(purged.releasedBytes, two.message.sizeBytes);
    assert.equal(await usedBytes(), used - two.message.sizeBytes);
    assert.equal((await api('GET', `/api/v1/messages/${two.message.id}`)).status, 404);
    assert.equal((await api('GET', `/api/v1/messages/${two.message.id}/raw`)).status, 404);
    assert.equal(await inst.running.services.blobs.get(two.message.rawRef!), null);
    assert.deepEqual(await counts(), [1, 1]);
    assert.equal((await api('DELETE', `/api/v1/messages/${two.message.id}`)).status, 404, 'purging twice');

    // Purging the last message of a conversation removes the conversation.
    ok(await api('DELETE', `/api/v1/messages/${one.message.id}`));
    assert.equal((await api('GET', `/api/v1/discussions/${conv}`)).status, 404);
    listed = (await discussions()).map((d) => d.id);
    assert.ok(!listed.includes(conv));
  });

  test('soft-deleted messages are purged by the queue once the retention period is over, not before', async () => {
    const { message } = await ingest(mail({ from: 'old@o.example', subject: 'to be purged' }));
    const kept = await ingest(mail({ from: 'old@o.example', subject: 'restored' }));
    const deleted = ok(await api('PATCH', `/api/v1/messages/${message.id}`, { deleted: true }));
    ok(await api('PATCH', `/api/v1/messages/${kept.message.id}`, { deleted: true }));
    ok(await api('PATCH', `/api/v1/messages/${kept.message.id}`, { deleted: false }));
    const { queue } = inst.running.services;
    const job = await queue.getJob(PURGE_QUEUE, `purge-${message.id}-${Date.parse(deleted.deletedAt)}`);
    assert.equal(job?.state, 'delayed', 'the purge is scheduled for the end of the retention period');
    const used = await usedBytes();
    const completed = (jobId: string) =>
      waitFor(async () => (await queue.getJob(PURGE_QUEUE, jobId))?.state === 'completed', 30_000);
    // Run a purge job now: too early, so nothing happens.
    await completed(await queue.enqueue(PURGE_QUEUE, 'purge-deleted', { accountId, messageId: message.id }));
    assert.equal((await api('GET', `/api/v1/messages/${message.id}`)).status, 200);
    // 31 days later: purged; the restored message is left alone.
    clockOffset = 31 * DAY;
    try {
      await completed(await queue.enqueue(PURGE_QUEUE, 'purge-deleted', { accountId, messageId: message.id }));
      await completed(await queue.enqueue(PURGE_QUEUE, 'purge-deleted', { accountId, messageId: kept.message.id }));
      assert.equal((await api('GET', `/api/v1/messages/${message.id}`)).status, 404);
      assert.equal(await usedBytes(), used - message.sizeBytes);
      assert.equal((await api('GET', `/api/v1/messages/${kept.message.id}`)).status, 200);
    } finally {
      clockOffset = 0;
    }
  });

  test('search finds a message once its index job ran (HTML converted to text); deleting it removes it', async () => {
    const word = `zanzibar${randomUUID().slice(0, 8)}`;
    const { message } = await ingest(
      mail({
        from: 'Search <search@s.example>',
        subject: 'indexing',
        html: true,
        body: `<p>Meet me in <b>${word}</b></p><script>${word}script()</script>`,
      }),
    );
    let hits: any;
    await waitFor(async () => {
      hits = ok(await api('GET', `/api/v1/search?q=${word}`));
      return hits.items.length === 1;
    }, 30_000);
    assert.equal(hits.items[0].message.id, message.id);
    assert.equal(hits.items[0].conversationId, message.conversationId);
    assert.equal(
      ok(await api('GET', `/api/v1/search?q=${word}script`)).items.length,
      0,
      'script content is not indexed',
    );
    assert.equal(
      ok(await api('GET', `/api/v1/search?q=${encodeURIComponent(`from:search@s.example ${word}`)}`)).items.length,
      1,
    );
    // Tags are searchable once re-indexed.
    ok(await api('PATCH', `/api/v1/messages/${message.id}`, { tags: ['travel'] }));
    await waitFor(
      async () =>
        ok(await api('GET', `/api/v1/search?q=${encodeURIComponent(`tag:travel ${word}`)}`)).items.length === 1,
      30_000,
    );
    ok(await api('PATCH', `/api/v1/messages/${message.id}`, { deleted: true }));
    assert.equal(ok(await api('GET', `/api/v1/search?q=${word}`)).total, 0);
    const badQuery = await api('GET', `/api/v1/search?q=${encodeURIComponent('after:2024-13-45')}`);
    assert.equal(badQuery.status, 400);
    assert.equal(badQuery.body.code, 'search_query_invalid');
  });

  test('vCard export and import through the API; hostile vCards get a clear error', async () => {
    const res = await fetch(`${inst.url}/api/v1/contacts/export.vcf`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/vcard/);
    const vcf = await res.text();
    assert.match(vcf, /FN:Alice Liddell\r\n/);
    assert.match(vcf, /EMAIL;TYPE="work":alice@x\.example\r\n/);
    // Importing our own export changes nothing but the "automatic" flags.
    const before = ok(await api('GET', '/api/v1/contacts?limit=500')).items.length;
    const again = ok(
      await inst.api('POST', '/api/v1/contacts/import', {
        token,
        rawBody: vcf,
        headers: { 'content-type': 'text/vcard' },
      }),
    );
    assert.equal(again.created, 0);
    assert.equal(again.updated, before);
    assert.equal(ok(await api('GET', '/api/v1/contacts?limit=500')).items.length, before);
    // A new card, with one bad address reported.
    const card =
      'BEGIN:VCARD\r\nVERSION:3.0\r\nN:Gide;André;;;\r\nEMAIL:andre@gide.example\r\nEMAIL:not an address\r\nEND:VCARD\r\n';
    const imported = ok(
      await inst.api('POST', '/api/v1/contacts/import', {
        token,
        rawBody: card,
        headers: { 'content-type': 'text/vcard; charset=utf-8' },
      }),
    );
    assert.equal(imported.created, 1);
    assert.match(imported.skipped[0].reason, /not a valid email address/);
    // Mail from the imported address goes to that contact.
    const m = await ingest(mail({ from: 'andre@gide.example', subject: 'bonjour' }));
    assert.equal(ok(await api('GET', `/api/v1/discussions/${m.message.conversationId}`)).title, 'André Gide');

    const hostile = await inst.api('POST', '/api/v1/contacts/import', {
      token,
      rawBody: 'BEGIN:VCARD\r\nVERSION:4.0\r\nBEGIN:VCARD\r\n',
      headers: { 'content-type': 'text/vcard' },
    });
    assert.equal(hostile.status, 400);
    assert.equal(hostile.body.code, 'vcard_invalid');
    assert.match(hostile.body.detail, /line 3/);
    const tooBig = await inst.api('POST', '/api/v1/contacts/import', {
      token,
      rawBody: `BEGIN:VCARD\r\nNOTE:${'x'.repeat(1024 * 1024 + 10)}\r\n`,
      headers: { 'content-type': 'text/vcard' },
    });
    assert.equal(tooBig.status, 413);
    const wrongType = await inst.api('POST', '/api/v1/contacts/import', {
      token,
      rawBody: 'BEGIN:VCARD',
      headers: { 'content-type': 'text/plain' },
    });
    assert.equal(wrongType.status, 415);
  });

  test('contacts: identities are normalised and unique; editing, deleting; a taken address is a clear conflict', async () => {
    const c = ok(
      await api('POST', '/api/v1/contacts', {
        displayName: '  "Frank"  ',
        identities: [{ address: 'FRANK@F.example' }, { protocol: 'xmpp', address: 'frank@chat.example/phone' }],
      }),
      201,
    );
    assert.equal(c.displayName, 'Frank');
    assert.deepEqual(c.identities, [
      { protocol: 'email', address: 'frank@f.example', label: null },
      { protocol: 'xmpp', address: 'frank@chat.example', label: null },
    ]);
    const taken = await api('POST', '/api/v1/contacts', {
      displayName: 'Other',
      identities: [{ address: 'frank@f.example' }],
    });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'contact_identity_taken');
    const invalid = await api('POST', '/api/v1/contacts', {
      displayName: 'Bad',
      identities: [{ address: 'a\r\nBcc: x@y.example' }],
    });
    assert.equal(invalid.status, 400);
    assert.equal(invalid.body.code, 'identity_address_invalid');
    const edited = ok(
      await api('PATCH', `/api/v1/contacts/${c.id}`, {
        notes: 'Likes jazz',
        identities: [{ address: 'frank@f.example' }],
      }),
    );
    assert.equal(edited.notes, 'Likes jazz');
    assert.equal(edited.identities.length, 1);
    ok(await api('DELETE', `/api/v1/contacts/${c.id}`));
    assert.equal((await api('GET', `/api/v1/contacts/${c.id}`)).status, 404);
    // Paging: cursors are opaque and a forged one is refused.
    const first = ok(await api('GET', '/api/v1/contacts?limit=2'));
    assert.equal(first.items.length, 2);
    const second = ok(await api('GET', `/api/v1/contacts?limit=2&cursor=${first.next}`));
    assert.notEqual(second.items[0].id, first.items[0].id);
    assert.equal((await api('GET', '/api/v1/contacts?cursor=bm90LWEtY3Vyc29y')).body.code, 'validation_failed');
  });

  test('discussions are paged by activity with opaque cursors', async () => {
    const all = await discussions();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = ok(await api('GET', `/api/v1/discussions?limit=2${cursor ? `&cursor=${cursor}` : ''}`));
      seen.push(...page.items.map((d: any) => d.id));
      cursor = page.next;
    } while (cursor !== null);
    assert.deepEqual(
      seen,
      all.map((d) => d.id),
    );
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].lastMessageAt >= all[i].lastMessageAt);
    assert.equal((await api('GET', '/api/v1/discussions?sort=size')).status, 400, 'only sort=date or sort=importance');
    assert.equal((await api('GET', '/api/v1/discussions?cursor=Zm9v')).status, 400);
  });

  test('a hostile corpus is stored with what could be read, never crashing anything; retries are no-ops', async () => {
    for (const h of hostileCorpus(`ursula@${DOMAIN}`)) {
      const { message, inserted } = await ingest(h.raw);
      assert.equal(inserted, true, h.name);
      const m = ok(await api('GET', `/api/v1/messages/${message.id}`));
      if (h.expect.subject instanceof RegExp) assert.match(m.subject, h.expect.subject, h.name);
      else if (h.expect.subject !== undefined) assert.equal(m.subject, h.expect.subject, h.name);
      if (h.expect.fromAddress !== undefined) assert.equal(m.from.address, h.expect.fromAddress, h.name);
      if (h.expect.parsed !== undefined) assert.equal(m.mime.parsed, h.expect.parsed, h.name);
      const raw = await fetch(`${inst.url}/api/v1/messages/${message.id}/raw`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.deepEqual(Buffer.from(await raw.arrayBuffer()), h.raw, `${h.name}: raw kept byte for byte`);
      assert.equal(ok(await api('GET', `/api/v1/discussions/${m.conversationId}`)).id, m.conversationId, h.name);
      assert.equal((await ingest(h.raw)).inserted, false, `${h.name}: a retry stores nothing`);
    }
    assert.equal((await api('GET', '/api/v1/me')).status, 200, 'the instance keeps serving');
  });

  test('another account sees none of it', async () => {
    const other = await inst.user('olga');
    const mine = (await discussions())[0];
    for (const path of [
      `/api/v1/discussions/${mine.id}`,
      `/api/v1/discussions/${mine.id}/messages`,
      `/api/v1/discussions/${mine.id}/threads`,
    ]) {
      const r = await inst.api('GET', path, { token: other.token });
      assert.equal(r.status, 404, path);
    }
    assert.deepEqual(ok(await inst.api('GET', '/api/v1/discussions', { token: other.token })).items, []);
    assert.deepEqual(ok(await inst.api('GET', '/api/v1/contacts', { token: other.token })).items, []);
    assert.equal(ok(await inst.api('GET', '/api/v1/search?q=hello', { token: other.token })).total, 0);
  });
});

describe('conversations by people, through the real SMTP server', () => {
  let inst: TestInstance;
  let dns: InternetDns;
  let token: string;

  beforeAll(async () => {
    // The senders' domains are on the internet: a DNS server on loopback answers for them (no records: SPF none).
    dns = await startInternetDns();
    inst = await startSmtpInstance({ dnsServer: dns.server });
    token = (await inst.user('victor')).token;
  });
  afterAll(async () => {
    await inst?.stop();
    await dns?.stop();
  });

  test('mail from two addresses of one contact, sent over SMTP, lands in one conversation', async () => {
    const contact = ok(
      await inst.api('POST', '/api/v1/contacts', {
        token,
        body: { displayName: 'Zoé', identities: [{ address: 'zoe@x.example' }, { address: 'zoe@y.example' }] },
      }),
      201,
    );
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: inst.running.smtp!.port,
      secure: false,
      ignoreTLS: true,
      tls: { rejectUnauthorized: false },
    });
    try {
      await transport.sendMail({
        from: 'Zoé <zoe@x.example>',
        to: `victor@${DOMAIN}`,
        subject: 'first, from x',
        text: 'one',
      });
      await transport.sendMail({
        from: 'Zoé <ZOE@Y.example>',
        to: `victor@${DOMAIN}`,
        subject: 'second, from y',
        text: 'two',
      });
    } finally {
      transport.close();
    }
    let list: any[] = [];
    await waitFor(async () => {
      list = ok(await inst.api('GET', '/api/v1/discussions', { token })).items;
      return list.length === 1 && list[0].messageCount === 2;
    }, 20_000);
    assert.equal(list[0].title, 'Zoé');
    assert.deepEqual(
      list[0].participants.map((p: any) => p.contactId),
      [contact.id],
    );
    const messages = ok(await inst.api('GET', `/api/v1/discussions/${list[0].id}/messages`, { token })).items;
    assert.deepEqual(messages.map((m: any) => m.subject).sort(), ['first, from x', 'second, from y']);
    const detail = ok(await inst.api('GET', `/api/v1/messages/${messages[0].id}`, { token }));
    assert.equal(detail.facts.transport.via, 'smtp');
    assert.equal(detail.facts.transport.clientIp?.replace(/^::ffff:/, ''), '127.0.0.1');
  });
});
