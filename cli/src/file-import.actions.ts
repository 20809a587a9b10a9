import { buildServices } from '@caliopen/instance/app/instance.services.ts';
import {
  checkpointPath,
  FileImportService,
  type FileImportKind,
  type FileImportProgress,
  type FileImportSummary,
} from '@caliopen/instance/imports/file-import.service.ts';
import { isAppError } from '@caliopen/instance/shared/errors.ts';
import { CliError } from './cli-error.ts';
import { configFrom, type CommonOptions } from './context.ts';

/** What `caliopen import maildir | mbox` do (declared in import.commands.ts). */

export interface FileImportOptions extends CommonOptions {
  account: string;
  /** Start from the beginning, ignoring what an earlier run recorded (dedupe still stores nothing twice). */
  restart?: boolean;
  /** Return once filed, without waiting for the search index to catch up. */
  noWaitIndex?: boolean;
  json?: boolean;
}

const fmt = (n: number) => n.toLocaleString('en-US');

function bar(p: FileImportProgress, width = 28): string {
  const share = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const full = Math.round(share * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${(share * 100).toFixed(0).padStart(3)}%`;
}

function progressText(p: FileImportProgress, startedAt: number): string {
  const seconds = Math.max(0.001, (performance.now() - startedAt) / 1000);
  const filed = p.imported + p.known;
  const where =
    p.unit === 'messages' ? `${fmt(p.done)}/${fmt(p.total)} messages` : `${fmt(p.done)}/${fmt(p.total)} bytes`;
  return `${where}: ${fmt(p.imported)} new, ${fmt(p.known)} already there, ${fmt(p.failed)} reported, ${fmt(Math.round(filed / seconds))} msg/s`;
}

export function importMaildir(path: string, opts: FileImportOptions): Promise<void> {
  return runFileImport('maildir', path, opts);
}

export function importMbox(path: string, opts: FileImportOptions): Promise<void> {
  return runFileImport('mbox', path, opts);
}

async function runFileImport(kind: FileImportKind, path: string, opts: FileImportOptions): Promise<void> {
  if (!opts.account) throw new CliError('Name the account to import into with --account NAME.', 2);
  const config = configFrom(opts);
  // Importing stores messages and queues their indexing: the queue and the search index are opened too.
  const s = await buildServices(config);
  const tty = process.stderr.isTTY === true && !opts.json;
  let indexer: { close(): Promise<void> } | null = null;
  try {
    let accountId: string;
    try {
      accountId = (await s.accounts.getByUsername(opts.account)).id;
    } catch (e) {
      if (isAppError(e) && e.code === 'not_found')
        throw new CliError(`No account named ${opts.account}: list them with \`caliopen admin user list\`.`, 2);
      throw e;
    }
    // The index worker runs here too (a running instance's worker shares the queue safely): imported means searchable.
    if (!opts.noWaitIndex) indexer = s.indexer.start();
    const startedAt = performance.now();
    let lastLine = 0;
    const service = new FileImportService({ ingest: s.ingest, clock: s.clock });
    let summary: FileImportSummary;
    try {
      summary = await service.run({
        kind,
        path,
        accountId,
        checkpoint: checkpointPath(config.dataDir, kind, path, accountId),
        ...(opts.restart ? { restart: true } : {}),
        onProgress: (p) => {
          if (opts.json) return;
          if (tty) process.stderr.write(`\r${bar(p)} ${progressText(p, startedAt)}\u001b[K`);
          else if (performance.now() - lastLine > 2000) {
            lastLine = performance.now();
            process.stderr.write(`${progressText(p, startedAt)}\n`);
          }
        },
      });
    } catch (e) {
      if (tty) process.stderr.write('\n');
      const code = (e as NodeJS.ErrnoException).code;
      if (
        code === 'ENOENT' ||
        code === 'ENOTDIR' ||
        code === 'EACCES' ||
        /does not exist|not a directory/.test(String(e))
      )
        throw new CliError(`Cannot read ${path}: ${(e as Error).message}`, 2);
      throw e;
    }
    if (tty) process.stderr.write('\n');
    const filedAt = performance.now();
    if (indexer) {
      const started = performance.now();
      for (;;) {
        const c = await s.queue.counts('index');
        if (c.waiting + c.active + c.delayed === 0) break;
        if (tty) process.stderr.write(`\rindexing: ${fmt(c.waiting + c.active)} job(s) left\u001b[K`);
        await new Promise((r) => setTimeout(r, 100));
        if (performance.now() - started > 3600_000) break;
      }
      if (tty) process.stderr.write('\n');
    }
    const doneAt = performance.now();
    for (const p of summary.problems) process.stderr.write(`caliopen: ${p.where}: ${p.reason}\n`);
    const seconds = (doneAt - startedAt) / 1000;
    const filed = summary.imported + summary.known;
    if (opts.json) {
      console.log(
        JSON.stringify({
          kind,
          imported: summary.imported,
          alreadyPresent: summary.known,
          reported: summary.failed,
          resumedPast: summary.resumedPast,
          leftAlone: summary.leftAlone,
          problems: summary.problems,
          filedSeconds: (filedAt - startedAt) / 1000,
          seconds,
        }),
      );
    } else {
      console.log(
        `Imported ${fmt(summary.imported)} new message(s) into ${opts.account} from ${path} in ${seconds.toFixed(1)} s` +
          ` (${fmt(Math.round(filed / Math.max(seconds, 0.001)))} msg/s${indexer ? ', indexed' : ''}):` +
          ` ${fmt(summary.known)} already present, ${fmt(summary.failed)} reported (above)` +
          (summary.resumedPast ? `, ${fmt(summary.resumedPast)} done by an earlier run` : '') +
          (summary.leftAlone.tmp || summary.leftAlone.other
            ? `; left alone: ${summary.leftAlone.tmp} in tmp/, ${summary.leftAlone.other} not messages`
            : '') +
          '.',
      );
    }
  } finally {
    await indexer?.close();
    await s.close();
  }
}
