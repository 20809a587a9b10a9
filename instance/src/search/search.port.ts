/**
 * Port: full-text search over an account's messages. Adapters: search.sqlite.ts (FTS5, embedded default) and
 * search.elasticsearch.ts. Both pass search.conformance.ts. Every query is scoped to exactly one account.
 */
export interface SearchDocument {
  accountId: string;
  messageId: string;
  conversationId: string;
  date: Date;
  protocol: string;
  /** Sender addresses and display names, as "Name <address>" or bare addresses. */
  from: string[];
  to: string[];
  subject: string;
  /** Plain-text body (what the account may search: metadata only when its keys are client-side). */
  body: string;
  tags: string[];
  pi: number;
}

export interface SearchQuery {
  /** Free words: every word must match (in subject, body, from or to); diacritics and case are ignored. */
  text?: string;
  from?: string;
  to?: string;
  subject?: string;
  /** Inclusive lower bound and exclusive upper bound on the message date. */
  after?: Date;
  before?: Date;
  protocol?: string;
  minPi?: number;
  tag?: string;
  limit?: number;
  offset?: number;
}

export interface SearchHit {
  messageId: string;
  conversationId: string;
  date: Date;
  score: number;
}

export interface SearchResult {
  total: number;
  hits: SearchHit[];
}

export interface SearchIndex {
  readonly engine: 'sqlite' | 'elasticsearch' | 'opensearch';
  /** Creates what the engine needs (tables, index templates); idempotent. */
  init(): Promise<void>;
  /** Adds or replaces documents (keyed by accountId + messageId). */
  index(docs: SearchDocument[]): Promise<void>;
  remove(accountId: string, messageIds: string[]): Promise<void>;
  /** Removes every document of an account (account deletion). */
  removeAccount(accountId: string): Promise<void>;
  /** Results newest first unless the query has free text, then by relevance. */
  search(accountId: string, query: SearchQuery): Promise<SearchResult>;
  /** Makes previous writes visible to search (no-op where writes are immediately visible). */
  refresh(): Promise<void>;
  close(): Promise<void>;
}
