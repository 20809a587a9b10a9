import type { Logger } from 'pino';
import type { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import {
  credentialPurpose,
  type ExcludedFolder,
  type FolderProgress,
  type RemoteIdentity,
  type SyncStatus,
} from '../identities/remote-identity.entity.ts';
import type { MessageIngest } from '../messages/message-ingest.port.ts';
import { cleanTags } from '../messages/message-ingest.service.ts';
import type { MessageFacts } from '../mail/message.facts.ts';
import type { Clock } from '@caliopen/platform/clock/clock.port.ts';
import { isAppError } from '../shared/errors.ts';
import type { Storage } from '../database/storage.port.ts';
import type { FetchedMessage, ImapConnector, ImapSession, RemoteFolder } from '../identities/imap-session.port.ts';
import { planBatches } from './sequence-set.ts';

export interface ImapSyncOptions {
  /** Messages above this size are skipped (counted in `skipped`). */
  maxMessageBytes: number;
  /** Fetch batches: at most this many messages... */
  batchCount?: number;
  /** ...and this many bytes (a larger single message gets a batch of its own). */
  batchBytes?: number;
  /** UIDs whose sizes are asked for at once. */
  windowSize?: number;
  /** Messages of a batch ingested at the same time. */
  ingestConcurrency?: number;
}

/** A running import whose heartbeat is older than this was interrupted (its process died): another may take over. */
export const STALE_AFTER_MS = 3 * 60_000;

/** Raised when the identity disappears during a sync (deleted by its owner): the sync stops quietly. */
class IdentityGone extends Error {}

/** What an import of a message through IMAP can truthfully say about its transport: nothing was verified on our side. */
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

/**
 * The remote folders left at the provider: its junk folder and its trash (by their IMAP special-use attribute, RFC
 * 6154). Spam and deleted mail do not belong among the user's discussions; the rest (Archive, All Mail, Flagged, the
 * user's own folders) is imported.
 */
export function excludedAs(folder: RemoteFolder): ExcludedFolder | null {
  if (folder.specialUse === '\\Junk') return 'junk';
  if (folder.specialUse === '\\Trash') return 'trash';
  return null;
}

/** Messages of the remote Sent folder are the user's own: stored as outbound. Everything else is inbound. */
export function directionOf(folder: RemoteFolder): 'inbound' | 'outbound' {
  return folder.specialUse === '\\Sent' ? 'outbound' : 'inbound';
}

export function isRunningFresh(sync: SyncStatus, now: Date): boolean {
  if (sync.state !== 'running') return false;
  const beat = sync.heartbeatAt ?? sync.startedAt;
  return beat !== null && now.getTime() - beat.getTime() < STALE_AFTER_MS;
}

/**
 * One sync of a remote identity: every selectable folder but the junk and the trash (excludedAs), from where the
 * last sync stopped (per-folder UIDVALIDITY and last UID), in UID order and bounded batches; every message goes
 * through the ingest port (which deduplicates by Message-ID + content hash), tagged with its folder's name. Progress
 * is written after every batch; the folder position only moves once its batch is stored, so an interrupted sync
 * resumes without losing or duplicating mail.
 */
export class ImapSync {
  private readonly batchCount: number;
  private readonly batchBytes: number;
  private readonly windowSize: number;
  private readonly ingestConcurrency: number;

  constructor(
    private readonly deps: {
      storage: Storage;
      box: SecretBox;
      ingest: MessageIngest;
      connector: ImapConnector;
      clock: Clock;
      logger: Logger;
    },
    private readonly options: ImapSyncOptions,
  ) {
    this.batchCount = options.batchCount ?? 50;
    this.batchBytes = options.batchBytes ?? 8 * 1024 * 1024;
    this.windowSize = options.windowSize ?? 500;
    this.ingestConcurrency = options.ingestConcurrency ?? 4;
  }

  /**
   * Runs the import `importId` of the identity to its end and resolves its final status (null when the identity no
   * longer exists). Remote failures do not throw: they end the import as `failed` with the error recorded.
   * `onProgress` sees every status written (the CLI prints it).
   */
  async run(
    identity: RemoteIdentity,
    importId: string,
    trigger: 'manual' | 'scheduled',
    onProgress: (status: SyncStatus) => void = () => {},
  ): Promise<SyncStatus | null> {
    const { storage, clock, logger } = this.deps;
    const log = logger.child({ identityId: identity.id, importId });
    const status: SyncStatus = {
      importId,
      state: 'running',
      trigger,
      queuedAt: identity.sync.importId === importId ? identity.sync.queuedAt : clock(),
      startedAt: clock(),
      finishedAt: null,
      heartbeatAt: clock(),
      lastError: null,
      folders: [],
      lastSuccessAt: identity.sync.lastSuccessAt,
    };
    const save = async () => {
      status.heartbeatAt = clock();
      if (!(await storage.remoteIdentities.updateSync(identity.accountId, identity.id, status, status.heartbeatAt)))
        throw new IdentityGone();
      onProgress(structuredClone(status));
    };

    let session: ImapSession | null = null;
    try {
      await save();
      const password = this.deps.box.open(identity.credentialSealed, credentialPurpose(identity.id));
      session = await this.deps.connector.connect({
        host: identity.host,
        port: identity.port,
        tls: identity.tls,
        username: identity.username,
        password,
      });
      const folders = await session.listFolders();
      // A folder left at the provider is listed (the user sees it was not imported, and why), with nothing to do.
      status.folders = folders.map((f) => {
        const excluded = excludedAs(f);
        return excluded === null
          ? { path: f.path, total: null, done: 0, imported: 0, skipped: 0 }
          : { path: f.path, total: 0, done: 0, imported: 0, skipped: 0, excluded };
      });
      await save();
      const positions = new Map(
        (await storage.remoteIdentities.listFolders(identity.accountId, identity.id)).map((f) => [f.path, f]),
      );
      for (const [i, folder] of folders.entries()) {
        if (status.folders[i]!.excluded !== undefined) continue;
        await this.syncFolder(identity, session, folder, status.folders[i]!, positions.get(folder.path) ?? null, save);
      }
      status.state = 'completed';
      status.finishedAt = clock();
      status.lastSuccessAt = status.finishedAt;
      await save();
      log.info(
        { folders: status.folders.length, imported: status.folders.reduce((n, f) => n + f.imported, 0) },
        'IMAP import completed',
      );
    } catch (err) {
      if (err instanceof IdentityGone) {
        log.info('identity deleted during its import: stopped');
        return null;
      }
      status.state = 'failed';
      status.finishedAt = clock();
      if (isAppError(err)) {
        status.lastError = { code: err.code, message: err.detail ?? err.message };
        log.warn({ code: err.code, detail: err.detail }, 'IMAP import failed');
      } else {
        status.lastError = {
          code: 'internal_error',
          message: 'The import stopped on an internal error; the operator can find it in the logs.',
        };
        log.error({ err }, 'IMAP import failed');
      }
      try {
        await save();
      } catch (e) {
        if (e instanceof IdentityGone) return null;
        throw e;
      }
    } finally {
      await session?.close();
    }
    return status;
  }

  private async importOne(
    identity: RemoteIdentity,
    folder: RemoteFolder,
    direction: 'inbound' | 'outbound',
    m: FetchedMessage,
    progress: FolderProgress,
  ): Promise<void> {
    const { message, inserted } = await this.deps.ingest.ingest({
      accountId: identity.accountId,
      raw: m.source,
      direction,
      receivedAt: m.internalDate ?? this.deps.clock(),
      facts: IMPORT_FACTS,
      tags: [folder.path],
      read: m.flags.has('\\Seen'),
    });
    // The same message in two remote folders is stored once, with both folder names as tags (as ingest cleans them).
    const tag = cleanTags([folder.path])[0];
    if (!inserted && tag !== undefined && !message.tags.includes(tag)) {
      await this.deps.storage.messages.updateFlags(identity.accountId, message.id, {
        tags: cleanTags([...message.tags, tag]),
      });
    }
    progress.done++;
    if (inserted) progress.imported++;
  }

  private async syncFolder(
    identity: RemoteIdentity,
    session: ImapSession,
    folder: RemoteFolder,
    progress: FolderProgress,
    position: { uidValidity: string; lastUid: number } | null,
    save: () => Promise<void>,
  ): Promise<void> {
    const { storage, clock } = this.deps;
    await session.withFolder(folder.path, async (opened) => {
      // A new UIDVALIDITY means the server renumbered the folder: look at all of it again (ingest deduplicates).
      const fromUid = position !== null && position.uidValidity === opened.uidValidity ? position.lastUid + 1 : 1;
      const record = async (lastUid: number) => {
        await storage.remoteIdentities.putFolder({
          accountId: identity.accountId,
          identityId: identity.id,
          path: folder.path,
          uidValidity: opened.uidValidity,
          lastUid,
          updatedAt: clock(),
        });
      };
      if (opened.exists === 0 || opened.uidNext <= fromUid) {
        progress.total = 0;
        if (fromUid === 1) await record(0);
        await save();
        return;
      }
      const uids = await session.uidsFrom(fromUid);
      progress.total = uids.length;
      await save();
      if (uids.length === 0 && fromUid === 1) await record(0);
      const direction = directionOf(folder);
      for (let w = 0; w < uids.length; w += this.windowSize) {
        const sizes = await session.sizes(uids.slice(w, w + this.windowSize));
        for (const batch of planBatches(sizes, {
          maxCount: this.batchCount,
          maxBytes: this.batchBytes,
          maxMessageBytes: this.options.maxMessageBytes,
        })) {
          // Messages of a batch are ingested a few at a time (ingest is safe for concurrent deliveries to one
          // account); the folder position moves only once all of them are stored.
          const inFlight = new Set<Promise<void>>();
          const failures: unknown[] = [];
          for await (const m of session.fetch(batch.fetch)) {
            const one = this.importOne(identity, folder, direction, m, progress).catch((err: unknown) => {
              failures.push(err);
            });
            inFlight.add(one);
            void one.finally(() => inFlight.delete(one));
            if (inFlight.size >= this.ingestConcurrency) await Promise.race(inFlight);
            if (failures.length > 0) break;
          }
          await Promise.all(inFlight);
          if (failures.length > 0) throw failures[0];
          progress.skipped += batch.skipped.length;
          progress.done += batch.skipped.length;
          await record(batch.lastUid);
          await save();
        }
      }
      // Sizes for UIDs expunged meanwhile never came back: count them as looked at.
      progress.done = Math.max(progress.done, progress.total ?? 0);
    });
  }
}
