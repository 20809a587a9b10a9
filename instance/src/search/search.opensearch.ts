import { setTimeout as sleep } from 'node:timers/promises';
import { Client, errors } from '@opensearch-project/opensearch';
import {
  ANALYSIS,
  type BulkAction,
  buildSearchBody,
  describeCause,
  type LuceneBulkItem,
  type LuceneErrorCause,
  type LuceneHits,
  MAPPINGS,
  namePrefix,
  PREFIX_RULE,
  searchResult,
  indexDocuments,
  removeDocuments,
  sendBulk,
  splitAliasIndices,
} from './search.lucene-query.ts';
import type { SearchDocument, SearchIndex, SearchQuery, SearchResult } from './search.port.ts';

/**
 * Search on OpenSearch 2, for hubs that outgrow the embedded FTS5 index (the official Elasticsearch client refuses
 * any server but Elasticsearch, hence a second adapter). It shares the mapping, the analysis, the document ids, the
 * bulk planning and the query building with the Elasticsearch adapter (search.lucene-query.ts); only the client and
 * the index lifecycle differ:
 *
 * - One write alias `<prefix>-messages` over indices `<prefix>-messages-000001`, `-000002`, ... created from an
 *   index template. OpenSearch has no ILM: rolling over is the operator's (`rollover()`, or an Index State Management
 *   policy if that plugin is installed, with `rollover_alias` set to the alias). Upserts stay exact across rollovers
 *   exactly as on Elasticsearch (older copies are deleted in the same bulk request).
 * - Routing = accountId on every write and query, a `term` filter on accountId in every query, text indexed but not
 *   kept in `_source`.
 *
 * Run against: OpenSearch 2.19.6, single node, embedded from the Maven Central artifacts
 * (tests/conformance/search.opensearch.test.ts via tests/support/opensearch.ts).
 */

export interface OpenSearchSearchOptions {
  /** OPENSEARCH_URL, e.g. http://127.0.0.1:9200 (credentials may sit in the URL). */
  url: string;
  /** Prefix of every index, alias and template name (default "caliopen"), so that several hubs share a cluster. */
  indexPrefix?: string;
  /** Primary shards per index (default 3): accounts spread over them by routing. */
  shards?: number;
  /** Replicas per shard (default 1; 0 for a single-node cluster). */
  replicas?: number;
  /** Documents per bulk request when indexing (default 500). */
  bulkSize?: number;
}

/** Reads OPENSEARCH_URL and OPENSEARCH_INDEX_PREFIX; the error names the bad key and never shows credentials. */
export function opensearchOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): OpenSearchSearchOptions {
  const url = env.OPENSEARCH_URL;
  if (!url) throw new Error('OPENSEARCH_URL is not set: give the URL of the OpenSearch cluster (http://host:9200).');
  try {
    new URL(url);
  } catch {
    throw new Error(`OPENSEARCH_URL is not a URL: ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))}.`);
  }
  const indexPrefix = env.OPENSEARCH_INDEX_PREFIX;
  if (indexPrefix === undefined) return { url };
  if (namePrefix(indexPrefix) === null) {
    throw new Error(
      `OPENSEARCH_INDEX_PREFIX ${JSON.stringify(indexPrefix)} is not usable in index names: ${PREFIX_RULE}`,
    );
  }
  return { url, indexPrefix };
}

function errorType(e: unknown): string | undefined {
  if (!(e instanceof errors.ResponseError)) return undefined;
  const body = e.body as { error?: { type?: string } } | undefined;
  return body?.error?.type;
}

function notFound(e: unknown): void {
  if (!(e instanceof errors.ResponseError && e.statusCode === 404)) throw e;
}

/** What a finished delete_by_query task reports. */
interface DeleteByQueryOutcome {
  failures?: Array<{ cause?: LuceneErrorCause }>;
  version_conflicts?: number;
}

class OpenSearchSearch implements OpenSearchSearchIndex {
  readonly engine = 'opensearch' as const;
  private readonly client: Client;
  readonly alias: string;
  private readonly template: string;

  constructor(private readonly options: OpenSearchSearchOptions) {
    const prefix = namePrefix(options.indexPrefix ?? 'caliopen');
    if (prefix === null) {
      throw new Error(
        `The OpenSearch index prefix ${JSON.stringify(options.indexPrefix)} is not usable in index names: ${PREFIX_RULE}`,
      );
    }
    this.alias = `${prefix}-messages`;
    this.template = `${prefix}-messages`;
    this.client = new Client({ node: options.url, maxRetries: 3, requestTimeout: 30_000 });
  }

  async init(): Promise<void> {
    await this.client.indices.putIndexTemplate({
      name: this.template,
      body: {
        index_patterns: [`${this.alias}-*`],
        priority: 200,
        _meta: { description: 'Caliopen message search', schema: 1 },
        template: {
          settings: {
            number_of_shards: this.options.shards ?? 3,
            number_of_replicas: this.options.replicas ?? 1,
            analysis: ANALYSIS,
          },
          mappings: MAPPINGS,
        },
      } as never,
    });
    if ((await this.client.indices.existsAlias({ name: this.alias })).body === true) return;
    try {
      await this.client.indices.create({
        index: `${this.alias}-000001`,
        body: { aliases: { [this.alias]: { is_write_index: true } } },
      });
    } catch (e) {
      // Another process bootstrapped the first index at the same time: that is the outcome we wanted.
      if (errorType(e) !== 'resource_already_exists_exception') throw e;
    }
  }

  /** The indices behind the alias: the write index, and the older ones (read-only apart from deletes). */
  async aliasIndices(): Promise<{ write: string | undefined; older: string[] }> {
    return splitAliasIndices(
      (await this.client.indices.getAlias({ name: this.alias })).body as Parameters<typeof splitAliasIndices>[0],
      this.alias,
    );
  }

  index(docs: SearchDocument[]): Promise<void> {
    return indexDocuments(this, docs, this.options.bulkSize ?? 500);
  }

  remove(accountId: string, messageIds: string[]): Promise<void> {
    return removeDocuments(this, accountId, messageIds);
  }

  bulk(actions: BulkAction[]): Promise<LuceneBulkItem[]> {
    return sendBulk('OpenSearch', actions, async (operations) => {
      const response = await this.client.bulk({ body: operations as never });
      return (response.body as { items: Array<Record<string, LuceneBulkItem>> }).items;
    });
  }

  async removeAccount(accountId: string): Promise<void> {
    // delete_by_query searches a snapshot: refresh first so that the account's latest writes are in it.
    await this.client.indices.refresh({ index: this.alias });
    for (let pass = 0; pass < 3; pass++) {
      const started = await this.client.deleteByQuery({
        index: this.alias,
        routing: accountId,
        body: { query: { term: { accountId } } },
        conflicts: 'proceed',
        refresh: true,
        wait_for_completion: false,
      });
      const task = (started.body as { task?: string | number }).task;
      if (task === undefined) throw new Error('OpenSearch delete_by_query did not return a task id.');
      const outcome = await this.waitForTask(String(task));
      if (outcome.failures && outcome.failures.length > 0) {
        throw new Error(
          `OpenSearch delete_by_query for an account failed: ${describeCause(outcome.failures[0]!.cause)}`,
        );
      }
      // A version conflict means a document of the account was written meanwhile: go round again.
      if (!outcome.version_conflicts) return;
    }
    throw new Error(
      'OpenSearch delete_by_query for an account kept meeting concurrent writes; stop indexing the account first.',
    );
  }

  /** Polls a background task to its end (a large account takes longer than one HTTP request should). */
  private async waitForTask(taskId: string): Promise<DeleteByQueryOutcome> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 5_000)) {
      const t = (await this.client.tasks.get({ task_id: taskId })).body as {
        completed?: boolean;
        error?: LuceneErrorCause;
        response?: DeleteByQueryOutcome;
      };
      if (t.error) throw new Error(`OpenSearch task ${taskId} failed: ${describeCause(t.error)}`);
      if (t.completed) return t.response ?? {};
      await sleep(delay);
    }
  }

  async search(accountId: string, query: SearchQuery): Promise<SearchResult> {
    const built = buildSearchBody(accountId, query);
    if (built === null) return { total: 0, hits: [] };
    const response = await this.client.search({ index: this.alias, routing: accountId, body: built.body as never });
    return searchResult((response.body as { hits: LuceneHits }).hits, built.freeText);
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

  /** Deletes everything init() created (indices, template). For tests and rebuilds; never called at run time. */
  async destroy(): Promise<void> {
    // Wildcard deletes may be refused (action.destructive_requires_name): list, then delete by name.
    const existing = (
      await this.client.indices.get({ index: `${this.alias}-*`, allow_no_indices: true, expand_wildcards: 'all' })
    ).body as Record<string, unknown>;
    const names = Object.keys(existing);
    if (names.length > 0) await this.client.indices.delete({ index: names, ignore_unavailable: true });
    await this.client.indices.deleteIndexTemplate({ name: this.template }).catch(notFound);
  }
}

export interface OpenSearchSearchIndex extends SearchIndex {
  /** Rolls the write alias over to a new index now; for operators (OpenSearch core has no ILM) and tests. */
  rollover(): Promise<void>;
  /** Deletes the indices and template of this prefix (tests, rebuilds). */
  destroy(): Promise<void>;
}

/** Connects to OpenSearch; call `init()` to install the template and bootstrap the alias. */
export function openOpenSearchIndex(options: OpenSearchSearchOptions): OpenSearchSearchIndex {
  return new OpenSearchSearch(options);
}
