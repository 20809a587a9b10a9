import assert from 'node:assert/strict';
import { test } from 'vitest';
import { searchConformance } from '@caliopen/instance/search/search.conformance.ts';
import { elasticsearchOptionsFromEnv, openElasticsearchIndex } from '@caliopen/instance/search/search.elasticsearch.ts';
import { externalService } from '../support/real-component.ts';

/**
 * The SearchIndex conformance suite on a real Elasticsearch 8. Each run works under its own index prefix and deletes
 * its indices, template and ILM policy afterwards, so it can share a cluster.
 */
const es = externalService(
  'ELASTICSEARCH_URL',
  'run Elasticsearch 8 and point ELASTICSEARCH_URL at it, e.g. ' +
    '`docker run -d --name es -p 9200:9200 -e discovery.type=single-node -e xpack.security.enabled=false ' +
    'docker.elastic.co/elasticsearch/elasticsearch:8.19.2` then `ELASTICSEARCH_URL=http://127.0.0.1:9200 npm test -- search.elasticsearch`',
);

searchConformance(
  'elasticsearch',
  async () => {
    const index = openElasticsearchIndex({
      url: es.value,
      indexPrefix: `caliopen-test-${process.pid}-${Date.now()}`,
      // Two shards so that routing by account is exercised; no replicas on a single-node cluster.
      shards: 2,
      replicas: 0,
    });
    return {
      index,
      cleanup: async () => {
        try {
          await index.destroy();
        } finally {
          await index.close();
        }
      },
    };
  },
  { skip: es.skip },
);

test('elasticsearch options come from ELASTICSEARCH_URL and ELASTICSEARCH_INDEX_PREFIX', () => {
  assert.deepEqual(elasticsearchOptionsFromEnv({ ELASTICSEARCH_URL: 'http://127.0.0.1:9200' }), {
    url: 'http://127.0.0.1:9200',
  });
  assert.deepEqual(
    elasticsearchOptionsFromEnv({ ELASTICSEARCH_URL: 'http://es:9200', ELASTICSEARCH_INDEX_PREFIX: 'hub-a' }),
    {
      url: 'http://es:9200',
      indexPrefix: 'hub-a',
    },
  );
  assert.throws(() => elasticsearchOptionsFromEnv({}), /ELASTICSEARCH_URL is not set/);
  assert.throws(
    () => elasticsearchOptionsFromEnv({ ELASTICSEARCH_URL: 'not a url' }),
    /ELASTICSEARCH_URL is not a URL/,
  );
  assert.throws(
    () =>
      elasticsearchOptionsFromEnv({
        ELASTICSEARCH_URL: 'http://u:secret@es:9200',
        ELASTICSEARCH_INDEX_PREFIX: '_bad/prefix',
      }),
    (e: unknown) => e instanceof Error && /ELASTICSEARCH_INDEX_PREFIX/.test(e.message) && !e.message.includes('secret'),
  );
});

test('elasticsearch index prefixes are checked before any request', () => {
  assert.throws(() => openElasticsearchIndex({ url: 'http://127.0.0.1:9', indexPrefix: 'a*b' }), /index prefix/);
  assert.throws(() => openElasticsearchIndex({ url: 'http://127.0.0.1:9', indexPrefix: '-x' }), /index prefix/);
  const ok = openElasticsearchIndex({ url: 'http://127.0.0.1:9', indexPrefix: 'Caliopen-Example-Org-' });
  assert.equal(ok.engine, 'elasticsearch');
  return ok.close();
});

test('elasticsearch: upserts and removals stay exact across a rollover', { skip: es.skip }, async () => {
  const index = openElasticsearchIndex({
    url: es.value,
    indexPrefix: `caliopen-test-rollover-${process.pid}-${Date.now()}`,
    shards: 1,
    replicas: 0,
  });
  try {
    await index.init();
    const doc = {
      accountId: 'acct-roll',
      messageId: 'm1',
      conversationId: 'c1',
      date: new Date('2024-01-01T00:00:00Z'),
      protocol: 'email',
      from: ['a@example.com'],
      to: ['b@example.com'],
      subject: 'before rollover',
      body: 'armadillo',
      tags: [],
      pi: 10,
    };
    await index.index([doc, { ...doc, messageId: 'm2' }]);
    await index.refresh();
    await index.rollover();
    await index.index([{ ...doc, body: 'pangolin' }]);
    await index.refresh();
    const all = await index.search('acct-roll', {});
    assert.equal(all.total, 2, 'the upsert did not leave a copy in the older index');
    assert.deepEqual(
      (await index.search('acct-roll', { text: 'armadillo' })).hits.map((h) => h.messageId),
      ['m2'],
    );
    assert.deepEqual(
      (await index.search('acct-roll', { text: 'pangolin' })).hits.map((h) => h.messageId),
      ['m1'],
    );
    await index.remove('acct-roll', ['m1', 'm2']);
    await index.refresh();
    assert.equal((await index.search('acct-roll', {})).total, 0);
  } finally {
    await index.destroy().finally(() => index.close());
  }
});
