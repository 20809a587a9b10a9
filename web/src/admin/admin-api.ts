import type { ApiClient } from '../api/client.ts';
import type { Account, JournalEntry } from '../api/types.ts';

/** The operator's console's view of the API (admin routes; loaded with the console, not with the user's app). */
export interface AdminAccount extends Account {
  quotaBytes: number;
  usedBytes: number;
  disabled: boolean;
  createdAt: string;
}

export interface DnsCheck {
  domain: string;
  checkedAt: string;
  records: {
    name: string;
    type: string;
    value: string;
    why: string;
    status: 'ok' | 'different' | 'missing' | 'error';
    published: string[];
    error?: string;
  }[];
}

export interface QueueState {
  name: string;
  kind: 'smtp' | 'federation' | 'index' | 'pi' | 'other';
  pending: number;
  retrying: number;
  failed: number;
  recentFailures: { id: string; name: string; attempts: number; error: string | null }[];
}

export interface Overview {
  domain: string;
  accounts: { total: number; admins: number; disabled: number; usedBytes: number; quotaBytes: number };
  disk: { totalBytes: number; freeBytes: number } | null;
  spool: { queued: number; dead: number; oldestQueuedAt: string | null } | null;
  index: { pending: number; failed: number };
}

export interface Peer {
  domain: string;
  status: string;
  labelValid: boolean;
  labelExpiresAt: string;
  instancePi: number;
}

export interface FederationStatus {
  enabled: boolean;
  domain: string;
  registry: string | null;
  standing: {
    status: string;
    labelValid: boolean;
    instancePi: number | null;
    labelExpiresAt: string | null;
    feedSerial: number | null;
  };
  federationRoutes: 'open' | 'closed';
  explanation: string;
  directory: { lastSyncAt: string | null; members: number; forkDetected: boolean } | null;
}

export interface Health {
  status: string;
  domain?: string;
  engines?: Record<string, string>;
  failing?: string[];
}

export interface JournalFilters {
  action?: string;
  since?: string;
  until?: string;
}

function query(o: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function adminApi(api: ApiClient) {
  return {
    users: (after?: string) =>
      api.call<{ items: AdminAccount[]; next: string | null }>(
        'GET',
        `/api/v1/admin/users${query({ limit: 100, after })}`,
      ),
    createUser: (body: {
      username: string;
      password: string;
      displayName?: string;
      role: 'user' | 'admin';
      quotaBytes?: number;
    }) => api.call<AdminAccount>('POST', '/api/v1/admin/users', body),
    updateUser: (id: string, body: { disabled?: boolean; quotaBytes?: number; role?: 'user' | 'admin' }) =>
      api.call<AdminAccount>('PATCH', `/api/v1/admin/users/${encodeURIComponent(id)}`, body),
    resetPassword: (id: string, password: string) =>
      api.call<void>('POST', `/api/v1/admin/users/${encodeURIComponent(id)}/password`, { password }),
    dns: () => api.call<DnsCheck>('GET', '/api/v1/admin/dns'),
    queues: () => api.call<{ queues: QueueState[] }>('GET', '/api/v1/admin/queues'),
    overview: () => api.call<Overview>('GET', '/api/v1/admin/overview'),
    peers: () => api.call<{ enabled: boolean; items: Peer[] }>('GET', '/api/v1/admin/peers'),
    federation: () => api.call<FederationStatus>('GET', '/api/v1/federation'),
    journal: (f: JournalFilters, before?: number) =>
      api.call<{ items: JournalEntry[]; next: number | null }>(
        'GET',
        `/api/v1/admin/journal${query({ limit: 50, before, action: f.action, since: f.since, until: f.until })}`,
      ),
    verifyJournal: () =>
      api.call<{ ok: boolean; entries: number; head?: string; seq?: number; problem?: string }>(
        'GET',
        '/api/v1/admin/journal/verify',
      ),
  };
}

export type AdminApi = ReturnType<typeof adminApi>;

/** The public health and metrics endpoints (no token: they are public). */
export async function health(): Promise<Health> {
  const r = await fetch('/healthz', { headers: { accept: 'application/json' } });
  return (await r.json()) as Health;
}

const KEPT_RUNTIME =
  /^caliopen_(process_resident_memory_bytes|process_start_time_seconds|nodejs_eventloop_lag_p99_seconds|nodejs_heap_size_used_bytes) /;

/** Caliopen's own samples of the Prometheus text (/metrics), as name and value. */
export async function metricSamples(limit = 40): Promise<{ name: string; value: string }[]> {
  const text = await (await fetch('/metrics')).text();
  const out: { name: string; value: string }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('caliopen_') || line.includes('_bucket{')) continue;
    // The runtime's own figures: only memory, uptime and event-loop delay; the rest is the instance's work.
    if (/^caliopen_(process|nodejs)_/.test(line) && !KEPT_RUNTIME.test(line)) continue;
    const at = line.lastIndexOf(' ');
    if (at > 0) out.push({ name: line.slice(0, at), value: line.slice(at + 1) });
    if (out.length >= limit) break;
  }
  return out;
}

/** The JSON Lines export, fetched with the bearer token and handed to the browser as a file. */
export async function downloadJournal(token: string, f: JournalFilters): Promise<void> {
  const r = await fetch(
    `/api/v1/admin/journal${query({ format: 'jsonl', action: f.action, since: f.since, until: f.until })}`,
    {
      headers: { authorization: `Bearer ${token}` },
    },
  );
  if (!r.ok) throw new Error(`export failed: ${r.status}`);
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = 'admin-journal.jsonl';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
