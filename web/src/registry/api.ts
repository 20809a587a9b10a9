import type { PiBreakdown } from '../api/types.ts';

/** The registry's public API, as the site reads it (all GET, no credentials). */
export interface CheckResult {
  id: string;
  status: 'pass' | 'fail' | 'notice' | 'info';
  points: number;
  maxPoints: number;
  mandatory: boolean;
  evidence: string;
}

export interface CheckRunView {
  startedAt: string;
  finishedAt: string;
  mandatoryPassed: boolean;
  results: CheckResult[];
}

export interface DirectoryMember {
  domain: string;
  status: 'labelled' | 'suspended' | 'revoked';
  pi: PiBreakdown;
  labelId: string;
  labelIssuedAt: string;
  labelExpiresAt: string;
  jurisdiction: string | null;
  charterVersion: string | null;
  renewalBlocked: string | null;
  revokedAt: string | null;
  revocationReason: string | null;
  /** An auditor's emergency suspension, until a revocation by consensus confirms it or it ends. */
  suspension?: { reason: string; until: string } | null;
  lastCheckAt: string | null;
  checks: CheckRunView | null;
}

export interface InstanceRecord {
  domain: string;
  status: DirectoryMember['status'];
  listed: boolean;
  charterVersion: string | null;
  endpoints: Record<string, string>;
  certFingerprint: string;
  label: { id: string; status: string; issuedAt: string; expiresAt: string } | null;
  labelHistory: {
    id: string;
    kind: string;
    status: string;
    issuedAt: string;
    expiresAt: string;
    revokedAt: string | null;
    revocationReason: string | null;
  }[];
  revocation: { labelId: string; at: string | null; reason: string | null } | null;
  renewalBlocked: string | null;
  pi: PiBreakdown;
  checks: CheckRunView | null;
  lastCheckAt: string | null;
}

export interface LogEntry {
  type: string;
  domain: string;
  labelId?: string;
  reason?: string;
  pi?: { score: number; level: string };
  at: number;
}

export class RegistryApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(path: string): Promise<T> {
  const r = await fetch(path, { headers: { accept: 'application/json' }, credentials: 'omit' });
  const body = (await r.json().catch(() => null)) as { code?: string; detail?: string; title?: string } | null;
  if (!r.ok)
    throw new RegistryApiError(r.status, body?.code ?? null, body?.detail ?? body?.title ?? `HTTP ${r.status}`);
  return body as T;
}

export const registryApi = {
  members: () => getJson<{ members: DirectoryMember[] }>('/v1/directory/members'),
  instance: (domain: string) => getJson<InstanceRecord>(`/v1/instances/${encodeURIComponent(domain)}`),
  memberLog: (domain: string) =>
    getJson<{ entries: { index: number; entry: LogEntry }[] }>(
      `/v1/directory/members/${encodeURIComponent(domain)}/log`,
    ),
  keys: () => getJson<unknown>('/v1/keys'),
  checkpoint: () =>
    getJson<{ checkpoint: string; treeSize: number; timestamp: number; origin: string }>('/v1/log/checkpoint'),
  entries: (start: number, end: number) =>
    getJson<{ entries: { index: number; entry: LogEntry; leafHash: string }[] }>(
      `/v1/log/entries?start=${start}&end=${end}`,
    ),
  inclusion: (index: number, size: number) =>
    getJson<{ leafHash: string; proof: string[] }>(`/v1/log/proof/inclusion?index=${index}&size=${size}`),
  consistency: (from: number, to: number) =>
    getJson<{ proof: string[] }>(`/v1/log/proof/consistency?from=${from}&to=${to}`),
};
