/**
 * Importance end to end, through a running instance: mail arrives over real SMTP (SPF and DMARC verified against a
 * DNS server playing the senders' domains), the user's own mail leaves through the API (to an SMTP sink playing the
 * remote MX), and `GET /api/v1/discussions?sort=importance` orders the discussions from important to junk. Marking a
 * message important or junk (`PATCH /api/v1/messages/:id`) moves its discussion.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { ok } from '../support/api-client.ts';
import type { ApiResponse, TestInstance } from '../support/instance.ts';
import { startSmtpInstance } from '../support/mail-world.ts';
import { freePort, waitFor } from '../support/net.ts';
import { RawSmtpClient } from '../support/smtp-client.ts';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.ts';
import { startInternetDns, type InternetDns } from './fixtures/internet-dns.ts';

const DOMAIN = 'alpha.test';

function expectProblem(r: ApiResponse, code: string, what: string): void {
  assert.equal(r.status, 400, `${what}: ${r.status} ${r.text.slice(0, 300)}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/, what);
  assert.equal(r.body?.code, code, what);
}

describe('importance: from important to junk', () => {
  let dns: InternetDns;
  let sink: SmtpSink;
  let inst: TestInstance;
  let token: string;
  const api = (method: string, path: string, body?: unknown) =>
    inst.api(method, path, { token, ...(body !== undefined ? { body } : {}) });

  /** Delivers a message over SMTP (plain session, envelope as given) and resolves it once it is in the mailbox. */
  async function deliver(o: { envelopeFrom: string; from: string; subject: string; headers?: string[] }): Promise<any> {
    const raw = [
      `From: ${o.from}`,
      `To: Ursula <ursula@${DOMAIN}>`,
      `Subject: ${o.subject}`,
      `Message-ID: <${randomUUID()}@sender.test>`,
      'Date: Mon, 02 Mar 2026 09:00:00 +0000',
      ...(o.headers ?? []),
      '',
      'Hello Ursula.',
      '',
    ].join('\r\n');
    const c = await RawSmtpClient.connect(inst.running.smtp!.port);
    assert.equal((await c.read())?.code, 220);
    assert.equal((await c.command('EHLO mail.sender.test'))?.code, 250);
    assert.equal((await c.send(o.envelopeFrom, [`ursula@${DOMAIN}`], raw))?.code, 250);
    await c.quit();
    let found: any = null;
    await waitFor(async () => {
      for (const d of ok(await api('GET', '/api/v1/discussions?limit=200')).items) {
        const messages = ok(await api('GET', `/api/v1/discussions/${d.id}/messages?limit=200`)).items;
        found = messages.find((m: any) => m.subject === o.subject) ?? null;
        if (found !== null) return true;
      }
      return false;
    }, 20_000);
    return ok(await api('GET', `/api/v1/messages/${found.id}`));
  }

  const byImportance = async () => ok(await api('GET', '/api/v1/discussions?sort=importance&limit=200')).items as any[];
  const titles = async () => (await byImportance()).map((d) => `${d.title}:${d.importance}`);

  beforeAll(async () => {
    dns = await startInternetDns({
      // Senders on friend.example and stranger.example are who they say (SPF from this machine, aligned: DMARC pass).
      'friend.example': ['v=spf1 ip4:127.0.0.1 -all'],
      '_dmarc.friend.example': ['v=DMARC1; p=reject'],
      'stranger.example': ['v=spf1 ip4:127.0.0.1 -all'],
      '_dmarc.stranger.example': ['v=DMARC1; p=none'],
      // spoofer.example allows nobody: its envelope fails SPF, and the friend.example From it forges fails DMARC.
      'spoofer.example': ['v=spf1 -all'],
    });
    sink = await startSmtpSink({ port: await freePort() });
    inst = await startSmtpInstance({
      domain: DOMAIN,
      dnsServer: dns.server,
      env: { CALIOPEN_OUTBOUND_MX_OVERRIDE: `remote.test=127.0.0.1:${sink.port}` },
    });
    token = (await inst.user('ursula')).token;
  });
  afterAll(async () => {
    await inst?.stop();
    await sink?.stop();
    await dns?.stop();
  });

  let fionaMessage: any;
  let strangerMessage: any;

  test('a known contact’s message ranks above an unknown sender’s; a forged sender is junk', async () => {
    ok(
      await api('POST', '/api/v1/contacts', {
        displayName: 'Fiona Friend',
        identities: [{ address: 'fiona@friend.example' }],
      }),
      201,
    );
    strangerMessage = await deliver({
      envelopeFrom: 'sam@stranger.example',
      from: 'Sam Stranger <sam@stranger.example>',
      subject: 'Offer',
    });
    fionaMessage = await deliver({
      envelopeFrom: 'fiona@friend.example',
      from: 'Fiona <fiona@friend.example>',
      subject: 'Lunch',
    });
    const forged = await deliver({
      envelopeFrom: 'bounce@spoofer.example',
      from: 'The Boss <boss@friend.example>',
      subject: 'Urgent wire',
    });

    assert.equal(fionaMessage.facts.authentication.dmarc.result, 'pass');
    assert.equal(fionaMessage.importance, 'high');
    assert.deepEqual(
      fionaMessage.importanceReasons.map((r: any) => r.id),
      ['sender.contact'],
    );
    assert.equal(strangerMessage.importance, 'normal');
    assert.equal(forged.facts.authentication.dmarc.result, 'fail');
    assert.equal(forged.importance, 'junk');
    assert.deepEqual(
      forged.importanceReasons.map((r: any) => r.id),
      ['spam.dmarc', 'spam.spf'],
    );

    assert.deepEqual(await titles(), ['Fiona Friend:high', 'Sam Stranger:normal', 'The Boss:junk']);
    // The default order is still by last activity (the forged message came last).
    const byDate = ok(await api('GET', '/api/v1/discussions')).items.map((d: any) => d.title);
    assert.deepEqual(byDate, ['The Boss', 'Fiona Friend', 'Sam Stranger']);
  });

  test('a reply to the user’s own message is high; from someone the user wrote to, important', async () => {
    const sent = ok(
      await api('POST', '/api/v1/messages', {
        to: [{ address: 'dave@remote.test', name: 'Dave' }],
        subject: 'Plans for May',
        text: 'Shall we?',
      }),
      202,
    );
    await sink.waitForMessages(1);
    const ownMessage = ok(await api('GET', `/api/v1/messages/${sent.id}`));
    assert.equal(ownMessage.importance, 'normal', 'the user’s own mail is normal');
    assert.equal(ownMessage.externalId, sent.messageId);

    // Carol was not written to: her reply counts as a reply only. Dave was: his counts twice.
    const carol = await deliver({
      envelopeFrom: 'carol@remote.test',
      from: 'Carol <carol@remote.test>',
      subject: 'Re: Plans for May (forwarded to me)',
      headers: [`References: <unrelated@remote.test> ${sent.messageId}`],
    });
    assert.equal(carol.importance, 'high');
    assert.deepEqual(
      carol.importanceReasons.map((r: any) => r.id),
      ['reply.to-you'],
    );
    const dave = await deliver({
      envelopeFrom: 'dave@remote.test',
      from: 'Dave <dave@remote.test>',
      subject: 'Re: Plans for May',
      headers: [`In-Reply-To: ${sent.messageId}`, `References: ${sent.messageId}`],
    });
    assert.equal(dave.importance, 'important');
    assert.deepEqual(
      dave.importanceReasons.map((r: any) => r.id),
      ['sender.written-to', 'reply.to-you'],
    );
    // A message that names someone else's Message-ID is no reply to the user.
    const other = await deliver({
      envelopeFrom: 'sam@stranger.example',
      from: 'Sam Stranger <sam@stranger.example>',
      subject: 'Re: something else',
      headers: ['In-Reply-To: <not-yours@stranger.example>'],
    });
    assert.equal(other.importance, 'normal');

    const d = await byImportance();
    assert.deepEqual(
      d.map((x) => `${x.title}:${x.importance}`),
      ['Dave:important', 'Carol:high', 'Fiona Friend:high', 'Sam Stranger:normal', 'The Boss:junk'],
      'importance first, then the most recent activity',
    );
  });

  test('marking junk or important changes the order, survives recomputation, and can be withdrawn', async () => {
    // Sam's discussion: important by the user's word, above everything.
    const marked = ok(await api('PATCH', `/api/v1/messages/${strangerMessage.id}`, { importance: 'important' }));
    assert.equal(marked.importance, 'important');
    // Fiona's: junk by the user's word, at the bottom with the forged mail (more recent, so listed before it).
    assert.equal(
      ok(await api('PATCH', `/api/v1/messages/${fionaMessage.id}`, { importance: 'junk' })).importance,
      'junk',
    );
    let order = await titles();
    assert.deepEqual(order.slice(0, 2).sort(), ['Dave:important', 'Sam Stranger:important']);
    assert.deepEqual(order.slice(2), ['Carol:high', 'The Boss:junk', 'Fiona Friend:junk']);

    // Sam's discussion holds two messages: the newest (normal) does not hide the important one.
    const sam = (await byImportance()).find((x) => x.title === 'Sam Stranger');
    assert.equal(sam.messageCount, 2);

    // Feedback is kept through a recomputation (a tag change recomputes) and is explained.
    ok(await api('PATCH', `/api/v1/messages/${fionaMessage.id}`, { tags: ['Family'] }));
    const fiona = ok(await api('GET', `/api/v1/messages/${fionaMessage.id}`));
    assert.equal(fiona.importance, 'junk', 'the user’s word stands');
    assert.equal(fiona.importanceReasons.at(-1).id, 'feedback.junk');

    // Withdrawn: computed again from the facts (a contact: high).
    assert.equal(
      ok(await api('PATCH', `/api/v1/messages/${fionaMessage.id}`, { importance: null })).importance,
      'high',
    );
    order = await titles();
    assert.ok(order.indexOf('Fiona Friend:high') < order.indexOf('The Boss:junk'));

    // Deleting the message that made Sam's discussion important brings it back to normal.
    ok(await api('PATCH', `/api/v1/messages/${strangerMessage.id}`, { deleted: true }));
    assert.ok((await titles()).includes('Sam Stranger:normal'));
  });

  test('cursor paging by importance visits every discussion once, in order', async () => {
    const all = (await byImportance()).map((d) => d.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = ok(
        await api('GET', `/api/v1/discussions?sort=importance&limit=2${cursor ? `&cursor=${cursor}` : ''}`),
      );
      seen.push(...page.items.map((d: any) => d.id));
      cursor = page.next;
    } while (cursor !== null);
    assert.deepEqual(seen, all);
    // A cursor belongs to its sort.
    const dateCursor = ok(await api('GET', '/api/v1/discussions?limit=1')).next;
    expectProblem(
      await api('GET', `/api/v1/discussions?sort=importance&cursor=${dateCursor}`),
      'validation_failed',
      'a date cursor with sort=importance',
    );
    const importanceCursor = ok(await api('GET', '/api/v1/discussions?sort=importance&limit=1')).next;
    expectProblem(
      await api('GET', `/api/v1/discussions?cursor=${importanceCursor}`),
      'validation_failed',
      'an importance cursor with sort=date',
    );
  });

  test('bad values for sort and importance are 400 problem+json, and change nothing', async () => {
    for (const sort of ['size', 'IMPORTANCE', '', 'importance,date']) {
      expectProblem(
        await api('GET', `/api/v1/discussions?sort=${encodeURIComponent(sort)}`),
        'validation_failed',
        `sort=${sort}`,
      );
    }
    const before = ok(await api('GET', `/api/v1/messages/${fionaMessage.id}`));
    for (const importance of ['urgent', 'high', 'normal', 1, 2, true, '', ['junk'], { level: 'junk' }]) {
      expectProblem(
        await api('PATCH', `/api/v1/messages/${fionaMessage.id}`, { importance }),
        'validation_failed',
        `importance=${JSON.stringify(importance)}`,
      );
    }
    assert.deepEqual(ok(await api('GET', `/api/v1/messages/${fionaMessage.id}`)), before);
  });
});
