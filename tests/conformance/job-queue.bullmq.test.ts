import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, it } from 'vitest';
import fc from 'fast-check';
import { jobQueueConformance } from '@caliopen/platform/queue/job-queue.conformance.ts';
import { decodeKey, encodeKey, openBullmqJobQueue } from '@caliopen/platform/queue/job-queue.bullmq.ts';
import { redisServerComponent, startRedisServer } from '../support/redis-server.ts';
import type { RedisServer } from '../support/redis-server.ts';

/** BullMQ against a real redis-server; each test gets its own key prefix, and "restart" reopens on the same one. */
const redis = redisServerComponent();
let server: RedisServer | undefined;

if (!redis.skip) {
  beforeAll(async () => {
    server = await startRedisServer(redis.path);
  });
  afterAll(async () => {
    await server?.stop();
  });
}

jobQueueConformance(
  'bullmq',
  async () => {
    if (!server) throw new Error('redis-server did not start');
    const options = { connection: server.url, prefix: `conformance-${randomUUID()}` };
    return {
      queue: await openBullmqJobQueue(options),
      reopen: () => openBullmqJobQueue(options),
      cleanup: async () => undefined,
    };
  },
  { skip: redis.skip },
);

it('encodes any job id or queue name into one BullMQ accepts, and back', () => {
  const tricky = fc.oneof(fc.string(), fc.integer().map(String), fc.constantFrom('%', ':', '%3A', '42', '-0', '007'));
  fc.assert(
    fc.property(tricky, (key) => {
      const encoded = encodeKey(key);
      assert.equal(decodeKey(encoded), key);
      assert.ok(!encoded.includes(':'));
      assert.notEqual(`${parseInt(encoded, 10)}`, encoded);
    }),
  );
});
