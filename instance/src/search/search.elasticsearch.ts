import { setTimeout as sleep } from 'node:timers/promises';
import { Client, errors } from '@elastic/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';
import {
  ANALYSIS,
  buildSearchBody,
  describeCause,
  type BulkAction,
  type LuceneBulkItem,
  indexDocuments,
  removeDocuments,
  sendBulk,
  splitAliasIndices,
  type LuceneHits,
  MAPPINGS,
  namePrefix,
  PREFIX_RULE,
  type StoredFields,
  searchResult,
} from './search.lucene-query.ts';
import type { SearchDocument, SearchIndex, SearchQuery, SearchResult } from './search.port.ts';

/**
 * Search on Elasticsearch 8, for hubs that outgrow the embedded FTS5 index.
 *
 * Layout:
 * - One write alias `<prefix>-messages` over rolling indices `<prefix>-messages-000001`, `-000002`, ... created from
 *   an index template, rolled over by an ILM policy (primary shard size or age). Reads go through the same alias, which
 *   spans every index of the pattern; writes land in its write index.
 * - Every write and every query carries `routing = accountId`: an account lives on one shard of each index, so a
 *   query touches one shard per index instead of all of them, and relevance statistics are computed within that
 *   shard. The mapping makes routing required, so a write that forgets it fails instead of scattering documents.
 * - Every query has a `term` filter on accountId: routing picks the shard, the filter guarantees isolation (a shard
 *   holds many accounts).
 * - Text fields use one analyzer that mirrors the SQLite tokenizer: split on anything but letters and digits,
 *   lowercase, ASCII folding (so "ecole" finds "école"), Porter stemming as FTS5 (search.lucene-query.ts).
 *   Keywords (protocol, tags, addresses) are lowercased by a normalizer.
 * - The text is indexed but not kept in `_source` (subject, body, from, to are excluded): the index is not a second
 *   readable copy of people's mail. The index is rebuilt from the message store, never reindexed from itself.
 * - Upserts across a rollover: a document written before a rollover sits in an older index; writing it again
 *   through the alias would create a second copy in the new write index. Each upsert therefore also deletes the
 *   document by id from the alias's older indices, in the same bulk request (and, should a rollover happen during
 *   the request, from the index that was the write index when it started).
 */

export interface ElasticsearchSearchOptions {
  /** ELASTICSEARCH_URL, e.g. http://127.0.0.1:9200 (credentials may sit in the URL). */
  url: string;
  /**
   * Prefix of every index, alias, template and policy name (default "caliopen"), so that several hubs or test runs
   * share a cluster: prefix "caliopen-example-org" gives the alias "caliopen-example-org-messages".
   */
  indexPrefix?: string;
  /** Primary shards per index (default 3): accounts spread over them by routing. */
  shards?: number;
  /** Replicas per shard (default 1; 0 for a single-node development cluster). */
  replicas?: number;
  /** ILM rollover thresholds (defaults: 30gb per primary shard, 180d). */
  rollover?: { maxPrimaryShardSize?: string; maxAge?: string };
  /** Documents per bulk request when indexing (default 500). */
  bulkSize?: number;
}

/** Reads ELASTICSEARCH_URL and ELASTICSEARCH_INDEX_PREFIX; the error names the bad key. */
export function elasticsearchOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ElasticsearchSearchOptions {
  const url = env.ELASTICSEARCH_URL;
  if (!url)
    throw new Error('ELASTICSEARCH_URL is not set: give the URL of the Elasticsearch cluster (http://host:9200).');
  try {
    new URL(url);
  } catch {
    throw new Error(`ELASTICSEARCH_URL is not a URL: ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))}.`);
  }
  const indexPrefix = env.ELASTICSEARCH_INDEX_PREFIX;
  if (indexPrefix === undefined) return { url };
  if (namePrefix(indexPrefix) === null) {
    throw new Error(
      `ELASTICSEARCH_INDEX_PREFIX ${JSON.stringify(indexPrefix)} is not usable in index names: ${PREFIX_RULE}`,
    );
  }
  return { url, indexPrefix };
}

function errorType(e: unknown): string | undefined {
  if (!(e instanceof errors.ResponseError)) return undefined;
  const body = e.body as { error?: { type?: string } } | undefined;
  return body?.error?.type;
}

class ElasticsearchSearch implements ElasticsearchSearchIndex {
  readonly engine = 'elasticsearch' as const;
  private readonly client: Client;
  readonly alias: string;
  private readonly policy: string;
  private readonly template: string;

  constructor(private readonly options: ElasticsearchSearchOptions) {
    const prefix = namePrefix(options.indexPrefix ?? 'caliopen');
    if (prefix === null) {
      throw new Error(
        `The Elasticsearch index prefix ${JSON.stringify(options.indexPrefix)} is not usable in index names: ${PREFIX_RULE}`,
      );
    }
    this.alias = `${prefix}-messages`;
    this.policy = `${prefix}-messages`;
    this.template = `${prefix}-messages`;
    this.client = new Client({ node: options.url, maxRetries: 3, requestTimeout: 30_000 });
  }

  async init(): Promise<void> {
    const rollover = this.options.rollover ?? {};
    await this.client.ilm.putLifecycle({
      name: this.policy,
      policy: {
        _meta: { description: 'Caliopen message search: roll the write index over; documents are deleted by the hub.' },
        phases: {
          hot: {
            min_age: '0ms',
            actions: {
              rollover: {
                max_primary_shard_size: rollover.maxPrimaryShardSize ?? '30gb',
                max_age: rollover.maxAge ?? '180d',
              },
            },
          },
        },
      },
    });
    await this.client.indices.putIndexTemplate({
      name: this.template,
      index_patterns: [`${this.alias}-*`],
      priority: 200,
      _meta: { description: 'Caliopen message search', schema: 1 },
      template: {
        settings: {
          number_of_shards: this.options.shards ?? 3,
          number_of_replicas: this.options.replicas ?? 1,
          'index.lifecycle.name': this.policy,
          'index.lifecycle.rollover_alias': this.alias,
          analysis: ANALYSIS as unknown as estypes.IndicesIndexSettingsAnalysis,
        },
        mappings: MAPPINGS as unknown as estypes.MappingTypeMapping,
      },
    });
    if (await this.client.indices.existsAlias({ name: this.alias })) return;
    try {
      await this.client.indices.create({
        index: `${this.alias}-000001`,
        aliases: { [this.alias]: { is_write_index: true } },
      });
    } catch (e) {
      // Another process bootstrapped the first index at the same time: that is the outcome we wanted.
      if (errorType(e) !== 'resource_already_exists_exception') throw e;
    }
  }

  /** The indices behind the alias: the write index, and the older ones (read-only apart from deletes). */
  async aliasIndices(): Promise<{ write: string | undefined; older: string[] }> {
    return splitAliasIndices(await this.client.indices.getAlias({ name: this.alias }), this.alias);
  }

  index(docs: SearchDocument[]): Promise<void> {
    return indexDocuments(this, docs, this.options.bulkSize ?? 500);
  }

  remove(accountId: string, messageIds: string[]): Promise<void> {
    return removeDocuments(this, accountId, messageIds);
  }

  bulk(actions: BulkAction[]): Promise<LuceneBulkItem[]> {
    return sendBulk('Elasticsearch', actions, async (operations) => {
      const response = await this.client.bulk({ operations: operations as estypes.BulkRequest['operations'] });
      return response.items as unknown as Array<Record<string, LuceneBulkItem>>;
    });
  }

  async removeAccount(accountId: string): Promise<void> {
    // delete_by_query searches a snapshot: refresh first so that the account's latest writes are in it.
    await this.client.indices.refresh({ index: this.alias });
    for (let pass = 0; pass < 3; pass++) {
      const started = await this.client.deleteByQuery({
        index: this.alias,
        routing: accountId,
        query: { term: { accountId } },
        conflicts: 'proceed',
        refresh: true,
        wait_for_completion: false,
      });
      if (started.task === undefined) throw new Error('Elasticsearch delete_by_query did not return a task id.');
      const outcome = await this.waitForTask(String(started.task));
      if (outcome.failures && outcome.failures.length > 0) {
        throw new Error(
          `Elasticsearch delete_by_query for an account failed: ${describeCause(outcome.failures[0]!.cause)}`,
        );
      }
      // A version conflict means a document of the account was written meanwhile: go round again.
      if (!outcome.version_conflicts) return;
    }
    throw new Error(
      'Elasticsearch delete_by_query for an account kept meeting concurrent writes; stop indexing the account first.',
    );
  }

  /** Polls a background task to its end (a large account takes longer than one HTTP request should). */
  private async waitForTask(taskId: string): Promise<estypes.DeleteByQueryResponse> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 5_000)) {
      const t = await this.client.tasks.get({ task_id: taskId });
      if (t.error) throw new Error(`Elasticsearch task ${taskId} failed: ${describeCause(t.error)}`);
      if (t.completed) return (t.response ?? {}) as estypes.DeleteByQueryResponse;
      await sleep(delay);
    }
  }

  async search(accountId: string, query: SearchQuery): Promise<SearchResult> {
    const built = buildSearchBody(accountId, query);
    if (built === null) return { total: 0, hits: [] };
    const response = await this.client.search<StoredFields>({
      index: this.alias,
      routing: accountId,
      ...(built.body as Omit<estypes.SearchRequest, 'index' | 'routing'>),
    });
    return searchResult(response.hits as LuceneHits, built.freeText);
  }

  async refresh(): Promise<void> {
    await this.client.indices.refresh({ index: this.alias });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async rollover(): Promise<void> {
    await this.client.indices.rollover({ alias: this.alias });
  }

  /**
   * Deletes everything init() created (indices, template, policy). For tests and for dropping a search index that
   * will be rebuilt; never called by the hub at run time.
   */
  async destroy(): Promise<void> {
    const notFound = (e: unknown): void => {
      if (!(e instanceof errors.ResponseError && e.statusCode === 404)) throw e;
    };
    // Wildcard deletes are refused by default (action.destructive_requires_name): list, then delete by name.
    const existing = await this.client.indices.get({
      index: `${this.alias}-*`,
      allow_no_indices: true,
      expand_wildcards: 'all',
    });
    const names = Object.keys(existing);
    if (names.length > 0) await this.client.indices.delete({ index: names, ignore_unavailable: true });
    await this.client.indices.deleteIndexTemplate({ name: this.template }).catch(notFound);
    await this.client.ilm.deleteLifecycle({ name: this.policy }).catch(notFound);
  }
}

export interface ElasticsearchSearchIndex extends SearchIndex {
  /** Rolls the write alias over to a new index now (what ILM does on its own); for operators and tests. */
  rollover(): Promise<void>;
  /** Deletes the indices, template and ILM policy of this prefix (tests, rebuilds). */
  destroy(): Promise<void>;
}

/** Connects to Elasticsearch; call `init()` to install the ILM policy and template and bootstrap the alias. */
export function openElasticsearchIndex(options: ElasticsearchSearchOptions): ElasticsearchSearchIndex {
  return new ElasticsearchSearch(options);
}
