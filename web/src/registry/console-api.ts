import type { CheckRunView } from './api.ts';
import { RegistryApiError } from './api.ts';

/**
 * The applicant's and the auditors' side of the registry API, as the site reads it.
 * - The applicant authenticates with the token its application returned: it arrives in the follow URL's fragment
 *   (never sent to a server), lives in memory only and goes out as a bearer header.
 * - An auditor signs in once; the session is an HttpOnly SameSite=Strict cookie the page cannot read, sent with
 *   `credentials: 'same-origin'` on auditor routes only.
 */
export type VoteValue = 'approve' | 'object' | 'abstain';

export interface Consensus {
  reached: boolean;
  approvals: number;
  objections: number;
  abstentions: number;
  approvalsRequired: number;
  blockers: string[];
}

export interface Declaration {
  charterVersion: string;
  domain: string;
  jurisdiction: string;
  retention: Record<string, number | null>;
  logging: { ipAddresses: boolean; messageMetadata: boolean; retentionDays: number };
  keyStorageOptions: string[];
  noResaleOfUserData: boolean;
  noProfilingOrAds: boolean;
  adminContact: { name: string; email: string };
  incidentDisclosureDays: number;
  doesEmail: boolean;
  [other: string]: unknown;
}

export interface Challenge {
  token: string;
  value: string;
  dns: { name: string; type: 'TXT'; value: string };
  https: { url: string; body: string };
}

export interface ApplicantView {
  id: string;
  domain: string;
  status: 'pending' | 'approved' | 'closed';
  closedReason: string | null;
  listed: boolean;
  charterVersion: string;
  createdAt: string;
  challenge: Challenge;
  checks: CheckRunView | null;
  compliance: { mandatoryMet: boolean; clauses: { id: string; mandatory: boolean; status: string }[] };
  votes: {
    approvals: number;
    objections: number;
    abstentions: number;
    approvalsRequired: number;
    cast: { auditor: string | null; vote: VoteValue; reason: string | null; castAt: string }[];
    auditorNamesShown: boolean;
  };
  decision: { reached: boolean; blockers: string[] };
  declaration: Declaration;
  declarationJws: string;
  keyThumbprints: { signing: string; encryption: string };
  certFingerprint: string;
  label: { id: string; status: string; issuedAt: string; expiresAt: string } | null;
  renewal: {
    labelIssuedAt: string;
    labelExpiresAt: string;
    renewsFrom: string;
    renewalBlocked: string | null;
    lastCheckAt: string | null;
    standing: 'labelled' | 'suspended' | 'revoked';
    suspension: { reason: string; until: string } | null;
    revokedAt: string | null;
    revocationReason: string | null;
  } | null;
}

export interface AuditorApplication {
  id: string;
  domain: string;
  status: ApplicantView['status'];
  createdAt: string;
  listed: boolean;
  endpoints: Record<string, string | null>;
  keyThumbprints: { signing: string; encryption: string };
  certFingerprint: string;
  charterVersion: string;
  declaration: Declaration;
  declarationJws: string;
  checks: CheckRunView | null;
  compliance: ApplicantView['compliance'];
  votes: { auditor: string; vote: VoteValue; reason: string | null; castAt: string }[];
  consensus: Consensus;
}

export interface Proposal {
  id: string;
  domain: string;
  reason: string;
  proposedBy: string;
  proposedAt: string;
  status: 'open' | 'enacted' | 'closed';
  decidedAt: string | null;
  votes: { auditor: string; vote: VoteValue; reason: string | null; castAt: string }[];
  consensus: Consensus;
}

export interface ConsoleMember {
  domain: string;
  status: 'labelled' | 'suspended' | 'revoked';
  listed: boolean;
  labelExpiresAt: string;
  renewalBlocked: string | null;
  lastCheckAt: string | null;
  revokedAt: string | null;
  reason: string | null;
  suspension: { reason: string; by: string; at: string; until: string } | null;
  proposal: Proposal | null;
  checks: CheckRunView | null;
}

export interface AuditEventView {
  id: string;
  at: string;
  auditor: string | null;
  action: string;
  domain: string;
  detail: Record<string, string | number | boolean | null>;
}

export interface Rule {
  approvalsRequired: number;
  standingObjectionBlocks: boolean;
  mandatoryChecksMustPass: boolean;
  emergencySuspensionHours: number;
}

export interface KeyStatus {
  now: string;
  signingKid: string | null;
  keys: { kid: string; createdAt: string; notBefore: string; notAfter: string; status: string }[];
}

async function call<T>(
  method: string,
  path: string,
  options: { token?: string; cookie?: boolean; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(path, {
    method,
    headers,
    credentials: options.cookie ? 'same-origin' : 'omit',
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  if (r.status === 204) return undefined as T;
  const body = (await r.json().catch(() => null)) as { code?: string; detail?: string; title?: string } | null;
  if (!r.ok)
    throw new RegistryApiError(r.status, body?.code ?? null, body?.detail ?? body?.title ?? `HTTP ${r.status}`);
  return body as T;
}

export const applicantApi = {
  view: (id: string, token: string) =>
    call<ApplicantView>('GET', `/v1/applications/${encodeURIComponent(id)}`, { token }),
  verify: (id: string, token: string) =>
    call<{ application: ApplicantView }>('POST', `/v1/applications/${encodeURIComponent(id)}/verify`, { token }),
};

const c = { cookie: true } as const;
const inst = (domain: string) => `/v1/audit/instances/${encodeURIComponent(domain)}`;

export const consoleApi = {
  session: () => call<{ auditor: { id: string; name: string }; expiresAt: string }>('GET', '/v1/auth/session', c),
  login: (name: string, password: string) =>
    call<{ auditor: { id: string; name: string }; expiresAt: string }>('POST', '/v1/auth/login', {
      body: { name, password, cookie: true },
      cookie: true,
    }),
  logout: () => call<void>('POST', '/v1/auth/logout', c),
  rule: () => call<Rule>('GET', '/v1/audit/rule', c),
  queue: () => call<{ applications: AuditorApplication[] }>('GET', '/v1/audit/applications?status=pending', c),
  vote: (id: string, vote: VoteValue, reason: string) =>
    call<AuditorApplication>('POST', `/v1/audit/applications/${encodeURIComponent(id)}/votes`, {
      ...c,
      body: { vote, ...(reason.trim() ? { reason } : {}) },
    }),
  members: () => call<{ members: ConsoleMember[] }>('GET', '/v1/audit/members', c),
  proposals: () => call<{ proposals: Proposal[] }>('GET', '/v1/audit/revocations', c),
  propose: (domain: string, reason: string) =>
    call<unknown>('POST', `${inst(domain)}/revoke`, { ...c, body: { reason } }),
  voteRevocation: (domain: string, vote: VoteValue, reason: string) =>
    call<unknown>('POST', `${inst(domain)}/revocation/votes`, {
      ...c,
      body: { vote, ...(reason.trim() ? { reason } : {}) },
    }),
  suspend: (domain: string, reason: string) =>
    call<unknown>('POST', `${inst(domain)}/suspend`, { ...c, body: { reason } }),
  events: () => call<{ events: AuditEventView[] }>('GET', '/v1/audit/events?limit=200', c),
  keys: () => call<KeyStatus>('GET', '/v1/audit/keys', c),
};
