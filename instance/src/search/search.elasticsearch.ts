import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client, errors } from '@elastic/elasticsearch';
import type { estypes } from '@elastic/elasticsearch';
import { AppError } from '../shared/errors.ts';
import type { SearchDocument, SearchHit, SearchIndex, SearchQuery, SearchResult } from './search.port.ts';
import { freeTextTerms, hasSearchableToken, normalizeKeyword, searchPage } from './search.query-parser.ts';

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
 *   lowercase, ASCII folding (so "ecole" finds "école"), light English stemming (KStem: plurals and the like).
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

const PREFIX_RULE = 'use letters, digits, ".", "_" and "-", starting with a letter or digit.';

/** The prefix as it goes into names (lowercase, no trailing separator), or null when index names cannot hold it. */
function namePrefix(raw: string): string | null {
  const p = raw.toLowerCase().replace(/[-_.]+$/, '');
  // Index names: lowercase, no leading `-`, `_` or `+`, none of `\/*?"<>| ,#:`.
  return /^[a-z0-9][a-z0-9._-]*$/.test(p) ? p : null;
}
const ANALYZER = 'caliopen_text';
const NORMALIZER = 'caliopen_keyword';
/** Field boosts for free text, as the SQLite bm25 weights: subject above addresses above body. */
const TEXT_FIELDS = ['subject^4', 'body', 'from^2', 'to^2'];
/** Elasticsearch's default index.max_result_window: from + size may not exceed it. */
const MAX_RESULT_WINDOW = 10_000;
const BULK_RETRIES = 5;

/** What the index stores per message; the text fields are indexed but left out of `_source`. */
interface IndexedMessage {
  accountId: string;
  messageId: string;
  conversationId: string;
  date: string;
  protocol: string;
  pi: number;
  tags: string[];
  subject: string;
  body: string;
  from: string[];
  to: string[];
}

type StoredFields = Pick<IndexedMessage, 'messageId' | 'conversationId' | 'date'>;

const keyword = { type: 'keyword' } as const;
const normalizedKeyword = { type: 'keyword', normalizer: NORMALIZER } as const;
const text = { type: 'text', analyzer: ANALYZER } as const;
const address = { ...text, fields: { raw: { type: 'keyword', normalizer: NORMALIZER, ignore_above: 512 } } } as const;

const MAPPINGS: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  _routing: { required: true },
  _source: { excludes: ['subject', 'body', 'from', 'to'] },
  properties: {
    accountId: keyword,
    messageId: keyword,
    conversationId: keyword,
    date: { type: 'date', format: 'strict_date_optional_time||epoch_millis' },
    protocol: normalizedKeyword,
    pi: { type: 'integer' },
    tags: normalizedKeyword,
    subject: text,
    body: text,
    from: address,
    to: address,
  },
};

const ANALYSIS: estypes.IndicesIndexSettingsAnalysis = {
  tokenizer: {
    // Letters and digits in any script make words; everything else separates them (like SQLite's unicode61).
    caliopen_words: { type: 'pattern', pattern: '[^\\p{L}\\p{N}]+' },
  },
  filter: {
    caliopen_light_english: { type: 'stemmer', language: 'light_english' },
  },
  analyzer: {
    [ANALYZER]: {
      type: 'custom',
      tokenizer: 'caliopen_words',
      filter: ['lowercase', 'asciifolding', 'caliopen_light_english'],
    },
  },
  normalizer: {
    [NORMALIZER]: { type: 'custom', filter: ['lowercase'] },
  },
};

/** The document id: unambiguous for any (accountId, messageId) pair, fixed length, within the 512-byte limit. */
function documentId(accountId: string, messageId: string): string {
  return createHash('sha256')
    .update(JSON.stringify([accountId, messageId]))
    .digest('base64url');
}

function toIndexed(d: SearchDocument): IndexedMessage {
  return {
    accountId: d.accountId,
    messageId: d.messageId,
    conversationId: d.conversationId,
    date: d.date.toISOString(),
    protocol: normalizeKeyword(d.protocol),
    pi: Math.round(d.pi),
    tags: [...new Set(d.tags.map(normalizeKeyword))],
    subject: d.subject.normalize('NFC'),
    body: d.body.normalize('NFC'),
    from: d.from.map((s) => s.normalize('NFC')),
    to: d.to.map((s) => s.normalize('NFC')),
  };
}

/** One bulk action with its document (for index actions), kept together so that failed actions can be retried. */
interface BulkAction {
  action: estypes.BulkOperationContainer;
  source?: IndexedMessage;
}

function errorType(e: unknown): string | undefined {
  if (!(e instanceof errors.ResponseError)) return undefined;
  const body = e.body as { error?: { type?: string } } | undefined;
  return body?.error?.type;
}

/**
 * An error cause fit for logs: Elasticsearch quotes a preview of the offending field's value in mapping errors,
 * which could be a piece of someone's mail, so that part is cut.
 */
function describeCause(c: estypes.ErrorCause | undefined): string {
  if (!c) return 'unknown error';
  const reason = (c.reason ?? '')
    .replace(/Preview of field's value:.*$/s, '')
    .slice(0, 200)
    .trim();
  return reason ? `${c.type}: ${reason}` : c.type;
}

class ElasticsearchSearch implements ElasticsearchSearchIndex {
  readonly engine = 'elasticsearch' as const;
  private readonly client: Client;
  private readonly alias: string;
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
          analysis: ANALYSIS,
        },
        mappings: MAPPINGS,
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
  private async aliasIndices(): Promise<{ write: string | undefined; older: string[] }> {
    const found = await this.client.indices.getAlias({ name: this.alias });
    const names = Object.keys(found);
    const write =
      names.find((n) => found[n]!.aliases[this.alias]?.is_write_index === true) ??
      (names.length === 1 ? names[0] : undefined);
    return { write, older: names.filter((n) => n !== write) };
  }

  async index(docs: SearchDocument[]): Promise<void> {
    if (docs.length === 0) return;
    const { write, older } = await this.aliasIndices();
    const size = this.options.bulkSize ?? 500;
    for (let i = 0; i < docs.length; i += size) {
      const actions: BulkAction[] = [];
      for (const d of docs.slice(i, i + size)) {
        const _id = documentId(d.accountId, d.messageId);
        for (const index of older) actions.push({ action: { delete: { _index: index, _id, routing: d.accountId } } });
        // require_alias: never let a missing alias auto-create a concrete index of that name.
        actions.push({
          action: { index: { _index: this.alias, _id, routing: d.accountId, require_alias: true } },
          source: toIndexed(d),
        });
      }
      const results = await this.bulk(actions);
      // A rollover happened during the request: the previous versions may sit in the former write index.
      const strays: BulkAction[] = [];
      actions.forEach((a, n) => {
        const landed = results[n]?._index;
        if (a.action.index && write !== undefined && landed !== undefined && landed !== write) {
          strays.push({
            action: { delete: { _index: write, _id: a.action.index._id!, routing: a.action.index.routing! } },
          });
        }
      });
      if (strays.length > 0) await this.bulk(strays);
    }
  }

  async remove(accountId: string, messageIds: string[]): Promise<void> {
    if (messageIds.length === 0) return;
    const { write, older } = await this.aliasIndices();
    const indices = write === undefined ? older : [write, ...older];
    const actions: BulkAction[] = [];
    for (const messageId of messageIds) {
      const _id = documentId(accountId, messageId);
      for (const index of indices) actions.push({ action: { delete: { _index: index, _id, routing: accountId } } });
    }
    for (let i = 0; i < actions.length; i += 1000) await this.bulk(actions.slice(i, i + 1000));
  }

  /**
   * Sends bulk actions; retries the ones rejected for back-pressure (429) with exponential backoff, and throws on
   * any other failure. A delete that finds nothing (404) is not a failure. Resolves each action's result, in order.
   */
  private async bulk(actions: BulkAction[]): Promise<estypes.BulkResponseItem[]> {
    const results: estypes.BulkResponseItem[] = new Array(actions.length);
    let pending = actions.map((action, position) => ({ ...action, position }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      const operations = pending.flatMap((a) => (a.source ? [a.action, a.source] : [a.action]));
      const response = await this.client.bulk({ operations });
      const retry: typeof pending = [];
      const failures: string[] = [];
      response.items.forEach((item, n) => {
        const [kind, result] = Object.entries(item)[0] as [string, estypes.BulkResponseItem];
        const sent = pending[n]!;
        results[sent.position] = result;
        if (!result.error) return;
        if (kind === 'delete' && result.status === 404) return;
        if (result.status === 429) retry.push(sent);
        else failures.push(`${kind} ${result._index}/${result._id ?? '?'}: ${describeCause(result.error)}`);
      });
      if (failures.length > 0) {
        throw new Error(
          `Elasticsearch bulk request: ${failures.length} action(s) failed; first: ${failures.slice(0, 3).join('; ')}`,
        );
      }
      if (retry.length > 0 && attempt >= BULK_RETRIES) {
        throw new Error(
          `Elasticsearch bulk request: ${retry.length} action(s) still rejected (429) after ${BULK_RETRIES} retries.`,
        );
      }
      pending = retry;
      if (pending.length > 0) await sleep(200 * 2 ** attempt);
    }
    return results;
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
    const { limit, offset } = searchPage(query);
    if (offset + limit > MAX_RESULT_WINDOW) {
      throw new AppError(
        'validation_failed',
        `Search results can be paged up to the ${MAX_RESULT_WINDOW}th; narrow the search.`,
      );
    }
    const terms = freeTextTerms(query.text);
    const filter: estypes.QueryDslQueryContainer[] = [{ term: { accountId } }];
    for (const [field, value] of [
      ['subject', query.subject],
      ['from', query.from],
      ['to', query.to],
    ] as const) {
      if (value === undefined) continue;
      const phrase = value.normalize('NFC');
      if (!hasSearchableToken(phrase)) return { total: 0, hits: [] }; // a filter on nothing searchable matches nothing
      filter.push({ match_phrase: { [field]: { query: phrase } } });
    }
    if (query.after !== undefined || query.before !== undefined) {
      filter.push({
        range: {
          date: {
            ...(query.after !== undefined ? { gte: query.after.getTime() } : {}),
            ...(query.before !== undefined ? { lt: query.before.getTime() } : {}),
            format: 'epoch_millis',
          },
        },
      });
    }
    if (query.protocol !== undefined) filter.push({ term: { protocol: normalizeKeyword(query.protocol) } });
    if (query.minPi !== undefined) filter.push({ range: { pi: { gte: query.minPi } } });
    if (query.tag !== undefined) filter.push({ term: { tags: normalizeKeyword(query.tag) } });

    // Each free word or phrase must match as a phrase within one of the text fields (like an FTS5 phrase).
    const must: estypes.QueryDslQueryContainer[] = terms.map((t) => ({
      multi_match: { query: t, type: 'phrase', fields: TEXT_FIELDS },
    }));
    const byDate: estypes.SortCombinations[] = [{ date: { order: 'desc' } }, { messageId: { order: 'desc' } }];
    const response = await this.client.search<StoredFields>({
      index: this.alias,
      routing: accountId,
      query: { bool: { filter, must } },
      sort: terms.length > 0 ? ['_score', ...byDate] : byDate,
      from: offset,
      size: limit,
      track_total_hits: true,
      _source: ['messageId', 'conversationId', 'date'],
    });
    const total = typeof response.hits.total === 'number' ? response.hits.total : (response.hits.total?.value ?? 0);
    const hits: SearchHit[] = response.hits.hits.map((h) => {
      const s = h._source!;
      const score = terms.length === 0 ? 0 : typeof h._score === 'number' ? h._score : Number(h.sort?.[0] ?? 0);
      return { messageId: s.messageId, conversationId: s.conversationId, date: new Date(s.date), score };
    });
    return { total, hits };
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
