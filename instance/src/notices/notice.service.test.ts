import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, test } from 'vitest';
import { NoticeService } from './notice.service.ts';
import { SqliteStorage } from '../storage/storage.sqlite.ts';
import { MAX_DELIVERY_FAILURES_PER_ACCOUNT, type NoticeRepository } from './notice.repository.ts';

let dir: string;
let storage: SqliteStorage;
let store: NoticeRepository;
let standing: { status: string } | null;
let service: NoticeService;
const now = new Date('2026-12-06T10:00:00Z');

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'notices-'));
  storage = SqliteStorage.inDataDir(dir);
  store = storage.notices;
  standing = { status: 'labelled' };
  service = new NoticeService({
    store,
    clock: () => now,
    standing: () => standing,
    sentCopy: async (_accountId, messageId) =>
      messageId === 'gone' ? null : { conversationId: 'c-1', subject: `Subject of ${messageId}` },
  });
});
afterEach(async () => {
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

const failure = (accountId: string, messageId: string, at = now) => ({
  accountId,
  messageId,
  at,
  recipients: [{ address: 'x@remote.test', status: '5.1.1', diagnostic: '550 5.1.1 No such user', remoteMta: null }],
});

test('a labelled instance without any change tells nothing; a recorded change is told to every account, with its reason', async () => {
  assert.deepEqual(await service.list('a'), []);
  await store.addStandingChange({ at: now, change: 'stopped', status: 'revoked', reason: 'Audit failed twice.' });
  standing = { status: 'revoked' };
  for (const account of ['a', 'b']) {
    const [n] = await service.list(account);
    assert.equal(n?.kind, 'standing');
    assert.deepEqual(n?.kind === 'standing' && [n.change, n.status, n.reason, n.dismissed], [
      'stopped',
      'revoked',
      'Audit failed twice.',
      false,
    ]);
  }
  // Relabelled: the latest change is the one told.
  await store.addStandingChange({
    at: new Date(now.getTime() + 1000),
    change: 'resumed',
    status: 'labelled',
    reason: null,
  });
  standing = { status: 'labelled' };
  const [latest] = await service.list('a');
  assert.ok(latest?.kind === 'standing' && latest.change === 'resumed' && latest.status === 'labelled');
});

test('a stopped standing with no recorded change is still told; federation off tells nothing', async () => {
  standing = { status: 'suspended' };
  const [n] = await service.list('a');
  assert.ok(n?.kind === 'standing' && n.status === 'suspended' && n.at === null);
  await service.dismiss('a', n.id);
  assert.equal((await service.list('a'))[0]?.dismissed, true);
  assert.equal((await service.list('b'))[0]?.dismissed, false, "a dismissal is the account's own");
  standing = null;
  await store.addStandingChange({ at: now, change: 'stopped', status: 'revoked', reason: null });
  assert.deepEqual(await service.list('a'), []);
});

test("failed deliveries are the sender's own, newest first, with the Sent copy's subject (null once deleted)", async () => {
  await store.addDeliveryFailure(failure('a', 'm1', new Date(now.getTime() - 2000)));
  await store.addDeliveryFailure(failure('a', 'gone', new Date(now.getTime() - 1000)));
  await store.addDeliveryFailure(failure('b', 'm3'));
  const a = await service.list('a');
  assert.deepEqual(
    a.map((n) => (n.kind === 'delivery' ? [n.messageId, n.subject] : null)),
    [
      ['gone', null],
      ['m1', 'Subject of m1'],
    ],
  );
  assert.equal(a[0]?.kind === 'delivery' && a[0].recipients[0]?.status, '5.1.1');
  assert.equal((await service.list('b')).length, 1);
  // Another account's notice, or none at all: not found.
  await assert.rejects(service.dismiss('b', a[0]!.id), (e: { code?: string }) => e.code === 'not_found');
  await assert.rejects(service.dismiss('a', 'no-such-notice'), (e: { code?: string }) => e.code === 'not_found');
  await service.dismiss('a', a[0]!.id);
  await service.dismiss('a', a[0]!.id); // twice is fine
  assert.deepEqual(
    (await service.list('a')).map((n) => n.dismissed),
    [true, false],
  );
});

test('an account keeps its most recent failures only', async () => {
  for (let i = 0; i < MAX_DELIVERY_FAILURES_PER_ACCOUNT + 5; i++)
    await store.addDeliveryFailure(failure('a', `m${i}`, new Date(now.getTime() + i)));
  const kept = await store.deliveryFailures('a');
  assert.equal(kept.length, MAX_DELIVERY_FAILURES_PER_ACCOUNT);
  assert.equal(kept[0]?.messageId, `m${MAX_DELIVERY_FAILURES_PER_ACCOUNT + 4}`);
});
