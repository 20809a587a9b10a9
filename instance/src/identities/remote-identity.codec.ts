import { IDLE_SYNC, type FolderProgress, type ImportState, type SyncStatus } from './remote-identity.entity.ts';

/** The stored form of a SyncStatus (JSON text in both engines): dates as ISO strings. */
interface StoredSync {
  importId: string | null;
  state: ImportState;
  trigger: SyncStatus['trigger'];
  queuedAt: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  heartbeatAt: string | null;
  lastError: SyncStatus['lastError'];
  folders: FolderProgress[];
  lastSuccessAt: string | null;
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());
const date = (s: string | null | undefined) => (typeof s === 'string' ? new Date(s) : null);

export function syncToJson(s: SyncStatus): string {
  const stored: StoredSync = {
    importId: s.importId,
    state: s.state,
    trigger: s.trigger,
    queuedAt: iso(s.queuedAt),
    startedAt: iso(s.startedAt),
    finishedAt: iso(s.finishedAt),
    heartbeatAt: iso(s.heartbeatAt),
    lastError: s.lastError,
    folders: s.folders.map((f) => ({
      path: f.path,
      total: f.total,
      done: f.done,
      imported: f.imported,
      skipped: f.skipped,
      ...(f.excluded !== undefined ? { excluded: f.excluded } : {}),
    })),
    lastSuccessAt: iso(s.lastSuccessAt),
  };
  return JSON.stringify(stored);
}

export function syncFromJson(text: string | null | undefined): SyncStatus {
  if (!text) return { ...IDLE_SYNC };
  const s = JSON.parse(text) as Partial<StoredSync>;
  return {
    importId: s.importId ?? null,
    state: s.state ?? 'idle',
    trigger: s.trigger ?? null,
    queuedAt: date(s.queuedAt),
    startedAt: date(s.startedAt),
    finishedAt: date(s.finishedAt),
    heartbeatAt: date(s.heartbeatAt),
    lastError: s.lastError ?? null,
    folders: Array.isArray(s.folders)
      ? s.folders.map((f) => ({
          path: f.path,
          total: f.total,
          done: f.done,
          imported: f.imported,
          skipped: f.skipped,
          ...(f.excluded === 'junk' || f.excluded === 'trash' ? { excluded: f.excluded } : {}),
        }))
      : [],
    lastSuccessAt: date(s.lastSuccessAt),
  };
}
