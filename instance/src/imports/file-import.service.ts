import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import type { MessageFacts } from '../mail/message.facts.ts';
import { parseHeaders } from '../mail/message.parser.ts';
import type { IngestRequest, IngestResult, MessageIngest } from '../messages/message-ingest.port.ts';
import { MAX_INGEST_BATCH } from '../messages/message-ingest.service.ts';
import { isSentFolder, listMaildir, maildirFlags, readMaildirFile } from './maildir.reader.ts';
import { readMbox } from './mbox.reader.ts';

/**
 * Imports a Maildir tree or an mbox file into an account (`caliopen import maildir|mbox`): every message through the
 * real ingest, in batches (MessageIngest.ingestBatch: one commit per batch), so it is parsed, scored, deduplicated and
 * queued for indexing like any other. Resumable: after each batch's commit a checkpoint records how far the import
 * got (per folder, the last file name, in name order; in an mbox, the byte offset of the next message), and a run
 * with the same source and account starts from there; ingest's dedupe (Message-ID + content hash) keeps anything
 * filed twice from being stored twice. One bad message never stops the import: it is reported with where it is and why.
 */

/** What an import can truthfully say of a message's transport: nothing was witnessed here (the import family). */
const IMPORT_FACTS: MessageFacts = {
  transport: {
    via: 'imap-import',
    tls: null,
    clientIp: null,
    helo: null,
    receivedChain: [],
    externalHops: 0,
    plaintextHops: 0,
  },
  authentication: null,
};

export type FileImportKind = 'maildir' | 'mbox';

export interface FileImportProblem {
  /** Where the message is: `Sent/cur/<file>`, or `message 12 (byte 40960)`. */
  where: string;
  reason: string;
}

export interface FileImportProgress {
  kind: FileImportKind;
  /** Maildir: messages; mbox: bytes. */
  done: number;
  total: number;
  unit: 'messages' | 'bytes';
  imported: number;
  known: number;
  failed: number;
  /** Skipped because an earlier run of the same import got past them. */
  resumedPast: number;
}

export interface FileImportSummary extends FileImportProgress {
  problems: FileImportProblem[];
  /** Files left alone in the Maildir (tmp/, non-message files). */
  leftAlone: { tmp: number; other: number };
}

interface Checkpoint {
  version: 1;
  kind: FileImportKind;
  path: string;
  accountId: string;
  /** Maildir: per folder, the last file name done (files are taken in name order). */
  folders?: Record<string, string>;
  /** mbox: where the next message starts, and its ordinal. */
  offset?: number;
  ordinal?: number;
  complete: boolean;
}

interface Item {
  where: string;
  raw: Buffer;
  request: IngestRequest;
  /** Applies this item's progress to the checkpoint once its batch is committed. */
  advance: (c: Checkpoint) => void;
}

/** Where the checkpoint of an import of `path` into `accountId` lives, under the data directory. */
export function checkpointPath(dataDir: string, kind: FileImportKind, path: string, accountId: string): string {
  const key = createHash('sha256')
    .update(`${kind}\n${resolve(path)}`)
    .digest('hex')
    .slice(0, 24);
  return join(dataDir, 'imports', accountId, `${kind}-${key}.json`);
}

function dateFromMaildirName(name: string): Date | null {
  const m = /^(\d{9,11})\./.exec(name);
  if (!m) return null;
  const d = new Date(Number(m[1]) * 1000);
  return Number.isNaN(d.getTime()) ? null : d;
}

export class FileImportService {
  constructor(
    private readonly deps: {
      ingest: MessageIngest;
      clock: Clock;
      /** Messages filed per batch (at most MAX_INGEST_BATCH). */
      batchSize?: number;
      /** A message larger than this is reported, not filed. */
      maxMessageBytes?: number;
    },
  ) {}

  async run(options: {
    kind: FileImportKind;
    path: string;
    accountId: string;
    /** The checkpoint file (checkpointPath); absent: not resumable. */
    checkpoint?: string;
    /** Ignore an existing checkpoint and start from the beginning. */
    restart?: boolean;
    onProgress?: (p: FileImportProgress) => void;
  }): Promise<FileImportSummary> {
    const { kind, path, accountId } = options;
    const batchSize = Math.max(1, Math.min(MAX_INGEST_BATCH, this.deps.batchSize ?? MAX_INGEST_BATCH));
    const fresh: Checkpoint = { version: 1, kind, path: resolve(path), accountId, complete: false };
    const checkpoint =
      options.checkpoint && !options.restart ? ((await this.load(options.checkpoint)) ?? fresh) : fresh;
    const summary: FileImportSummary = {
      kind,
      done: 0,
      total: 0,
      unit: kind === 'mbox' ? 'bytes' : 'messages',
      imported: 0,
      known: 0,
      failed: 0,
      resumedPast: 0,
      problems: [],
      leftAlone: { tmp: 0, other: 0 },
    };
    const report = (where: string, reason: string) => {
      summary.failed++;
      summary.problems.push({ where, reason });
    };
    let batch: Item[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const items = batch;
      batch = [];
      let results: PromiseSettledResult<IngestResult>[];
      try {
        results = await this.file(items.map((i) => i.request));
      } catch (e) {
        results = items.map(() => ({ status: 'rejected', reason: e }));
      }
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') {
          if (r.value.inserted) summary.imported++;
          else summary.known++;
        } else report(items[i]!.where, reasonOf(r.reason));
      });
      for (const item of items) item.advance(checkpoint);
      if (options.checkpoint) await this.save(options.checkpoint, checkpoint);
      options.onProgress?.(summary);
    };
    const maxBytes = this.deps.maxMessageBytes ?? 64 * 1024 * 1024;

    if (kind === 'maildir') {
      const listing = await listMaildir(path);
      summary.leftAlone = listing.skipped;
      summary.total = listing.folders.reduce((n, f) => n + f.files.length, 0);
      checkpoint.folders ??= {};
      for (const folder of listing.folders) {
        const direction = isSentFolder(folder.name) ? 'outbound' : 'inbound';
        const after = checkpoint.folders[folder.name];
        for (const file of folder.files) {
          summary.done++;
          if (after !== undefined && file.name <= after) {
            summary.resumedPast++;
            continue;
          }
          const where = `${folder.name === 'INBOX' && folder.dir === path ? '' : `${folder.name}/`}${file.sub}/${file.name}`;
          const advance = (c: Checkpoint) => {
            const last = c.folders![folder.name];
            if (last === undefined || file.name > last) c.folders![folder.name] = file.name;
          };
          let raw: Buffer;
          try {
            raw = await readMaildirFile(folder, file);
          } catch (e) {
            report(where, `cannot read: ${(e as Error).message}`);
            continue;
          }
          const problem = problemOf(raw, maxBytes);
          if (problem) {
            report(where, problem);
            advance(checkpoint);
            continue;
          }
          batch.push({
            where,
            raw,
            advance,
            request: {
              accountId,
              raw,
              direction,
              receivedAt: dateFromMaildirName(file.name) ?? parseHeaders(raw).date ?? this.deps.clock(),
              facts: IMPORT_FACTS,
              tags: [folder.name],
              read: direction === 'outbound' || maildirFlags(file.name).seen,
            },
          });
          if (batch.length >= batchSize) await flush();
        }
      }
    } else {
      summary.total = (await stat(path)).size;
      const startOffset = checkpoint.offset ?? 0;
      summary.done = startOffset;
      summary.resumedPast = checkpoint.ordinal ?? 0;
      for await (const item of readMbox(path, {
        startOffset,
        startOrdinal: checkpoint.ordinal ?? 0,
        maxBytes,
      })) {
        const where = item.ordinal === 0 ? `byte ${item.offset}` : `message ${item.ordinal} (byte ${item.offset})`;
        if (item.kind === 'problem') {
          report(where, item.reason);
          continue;
        }
        summary.done = item.end;
        // Once its batch is committed, a resumed import starts after it.
        const advance = (c: Checkpoint) => {
          c.offset = item.end;
          c.ordinal = item.ordinal;
        };
        const problem = problemOf(item.raw, maxBytes);
        if (problem) {
          report(where, problem);
          continue;
        }
        batch.push({
          where,
          raw: item.raw,
          advance,
          request: {
            accountId,
            raw: item.raw,
            direction: 'inbound',
            receivedAt: item.fromLineDate ?? parseHeaders(item.raw).date ?? this.deps.clock(),
            facts: IMPORT_FACTS,
            read: true,
          },
        });
        if (batch.length >= batchSize) await flush();
      }
      summary.done = summary.total;
    }
    await flush();
    checkpoint.complete = true;
    if (kind === 'mbox') checkpoint.offset = summary.total;
    if (options.checkpoint) await this.save(options.checkpoint, checkpoint);
    options.onProgress?.(summary);
    return summary;
  }

  private async file(requests: IngestRequest[]): Promise<PromiseSettledResult<IngestResult>[]> {
    const { ingest } = this.deps;
    if (ingest.ingestBatch) return ingest.ingestBatch(requests);
    return Promise.allSettled(requests.map((r) => ingest.ingest(r)));
  }

  private async load(file: string): Promise<Checkpoint | null> {
    try {
      const c = JSON.parse(await readFile(file, 'utf8')) as Checkpoint;
      return c && c.version === 1 ? c : null;
    } catch {
      return null;
    }
  }

  /** Written to a temporary name then renamed: a crash leaves the previous checkpoint or the new one, whole. */
  private async save(file: string, c: Checkpoint): Promise<void> {
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    await writeFile(tmp, `${JSON.stringify(c)}\n`, { mode: 0o600 });
    await rename(tmp, file);
  }
}

function problemOf(raw: Buffer, maxBytes: number): string | null {
  if (raw.length === 0) return 'empty file';
  if (raw.length > maxBytes) return `larger than ${maxBytes} bytes`;
  if (raw.every((b) => b === 0x0d || b === 0x0a || b === 0x20 || b === 0x09)) return 'empty message (blank lines only)';
  return null;
}

function reasonOf(e: unknown): string {
  const err = e as { code?: string; message?: string };
  return `${err?.code ?? 'error'}: ${err?.message ?? String(e)}`;
}
