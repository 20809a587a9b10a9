import assert from 'node:assert/strict';
import { test } from 'vitest';
import { EventBus } from './event-bus.ts';

type TestEvents = {
  'message.ingested': { accountId: string; messageId: string; subject: string };
  'keys.changed': { accountId: string };
  'nobody.listens': Record<string, never>;
};

function recordingLogger() {
  const lines: { obj: Record<string, unknown>; msg: string }[] = [];
  return {
    lines,
    error: (obj: Record<string, unknown>, msg: string) => {
      lines.push({ obj, msg });
    },
  };
}

test('typed publish and subscribe: each handler gets its own event, in every subscriber; unsubscribing stops it', async () => {
  const bus = new EventBus<TestEvents>(recordingLogger());
  const got: string[] = [];
  const off = bus.subscribe('message.ingested', (e) => {
    got.push(`a:${e.messageId}`);
  });
  bus.subscribe('message.ingested', async (e) => {
    await new Promise((r) => setTimeout(r, 5));
    got.push(`b:${e.messageId}`);
  });
  bus.subscribe('keys.changed', (e) => {
    got.push(`keys:${e.accountId}`);
  });
  await bus.publish('message.ingested', { accountId: 'acc', messageId: 'm1', subject: 's' });
  assert.deepEqual(got.sort(), ['a:m1', 'b:m1'], 'publish resolves once every handler has settled');
  off();
  await bus.publish('message.ingested', { accountId: 'acc', messageId: 'm2', subject: 's' });
  await bus.publish('keys.changed', { accountId: 'acc' });
  assert.deepEqual(got.sort(), ['a:m1', 'b:m1', 'b:m2', 'keys:acc']);
  // @ts-expect-error: the payload must match the event's declared type
  await bus.publish('keys.changed', { messageId: 'wrong' });
  await bus.publish('nobody.listens', {});
});

test('a failing handler stops no other, never reaches the publisher, and is logged without the payload', async () => {
  const logger = recordingLogger();
  const bus = new EventBus<TestEvents>(logger);
  const got: string[] = [];
  bus.subscribe('message.ingested', () => {
    throw Object.assign(new Error('index unavailable'), { code: 'service_unavailable' });
  });
  bus.subscribe('message.ingested', async () => {
    throw 'a string thrown';
  });
  bus.subscribe('message.ingested', (e) => {
    got.push(e.messageId);
  });
  await bus.publish('message.ingested', {
    accountId: 'acc',
    messageId: 'm1',
    subject: 'Secret subject from carol@remote.test',
  });
  assert.deepEqual(got, ['m1'], 'the third handler ran');
  assert.equal(logger.lines.length, 2);
  assert.deepEqual(logger.lines[0], {
    obj: {
      event: 'message.ingested',
      err: { name: 'Error', message: 'index unavailable', code: 'service_unavailable' },
    },
    msg: 'event handler failed',
  });
  const logged = JSON.stringify(logger.lines);
  assert.ok(!logged.includes('Secret subject') && !logged.includes('carol@remote.test') && !logged.includes('"m1"'));
});
