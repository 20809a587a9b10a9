import { charterVersion } from './charter.catalog.ts';
import type { Declaration } from './declaration.schema.ts';
import { CharterError } from './errors.ts';
import { isAssessedJurisdiction, jurisdiction, jurisdictions } from './jurisdictions.data.ts';
import { dataExploitingProviderNamed, dataExploitingProviders } from './providers.data.ts';

/**
 * The compliance rules: each clause of a charter version, evaluated against a declaration and, where the clause
 * rests on a verifiable fact, against the registry's check results.
 *
 * - `status` says whether the clause's requirement holds: `met`, `unmet`, or `unknown` when it rests on checks that
 *   have not run. A mandatory clause counts only when `met`: `mandatoryMet` is false while any is unmet or unknown.
 * - `points` grade how far the declaration goes, up to `maxPoints`. A scored clause gives partial credit (it is
 *   `met` only with full points); a mandatory clause may carry points for doing better than its floor, and earns
 *   none unless it is met. The scored clauses of version 1.0 add up to 100.
 * - `evidence` explains the result in words, from the declaration and the checks.
 */
export interface ClauseResult {
  id: string;
  title: string;
  mandatory: boolean;
  status: 'met' | 'unmet' | 'unknown';
  points: number;
  maxPoints: number;
  evidence: string;
}

/** What the rules read of a registry check result (the registry's CheckResult has these fields and more). */
export interface CheckResultLike {
  id: string;
  status: 'pass' | 'fail' | 'notice' | 'info';
  mandatory: boolean;
  evidence: string;
}

export interface ComplianceResult {
  charterVersion: string;
  clauses: ClauseResult[];
  mandatoryMet: boolean;
  points: number;
  maxPoints: number;
}

export interface ClauseDefinition {
  id: string;
  title: string;
  mandatory: boolean;
  maxPoints: number;
}

interface Outcome {
  status: ClauseResult['status'];
  points: number;
  evidence: string;
}

interface ClauseRule extends ClauseDefinition {
  evaluate(declaration: Declaration, checks: readonly CheckResultLike[]): Outcome;
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const days = (n: number) => `${n} day${n === 1 ? '' : 's'}`;

/** Points of the first tier whose bound the value does not exceed. */
function tier(value: number, tiers: readonly (readonly [bound: number, points: number])[]): number {
  for (const [bound, points] of tiers) if (value <= bound) return points;
  return 0;
}

/** Check evidence comes from elsewhere: keep it on one line and short. */
function quote(text: unknown, max = 160): string {
  const clean = String(text)
    .replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ')
    .trim();
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function isCheckLike(value: unknown): value is CheckResultLike {
  if (typeof value !== 'object' || value === null) return false;
  const c = value as Record<string, unknown>;
  return typeof c.id === 'string' && ['pass', 'fail', 'notice', 'info'].includes(c.status as string);
}

/**
 * A clause that rests on the registry's checks of one family (`tls`, `dns`): unknown until one has run (info-only
 * results do not count), unmet when any failed; points follow the share that passed, a notice counting half.
 */
function verifiedBy(family: string, what: string, checks: readonly CheckResultLike[], maxPoints: number): Outcome {
  const inFamily = checks.filter((c) => c.id === family || c.id.startsWith(`${family}.`));
  const graded = inFamily.filter((c) => c.status !== 'info');
  if (graded.length === 0) {
    return {
      status: 'unknown',
      points: 0,
      evidence: `Not verified yet: no ${family}.* check of the registry has a result, so the ${what} cannot be counted.`,
    };
  }
  const passed = graded.filter((c) => c.status === 'pass');
  const notices = graded.filter((c) => c.status === 'notice');
  const failed = graded.filter((c) => c.status === 'fail');
  const share = (passed.length + notices.length / 2) / graded.length;
  const points = Math.floor(maxPoints * share + 1e-9);
  const ids = (list: CheckResultLike[]) => {
    const shown = list.slice(0, 6).map((c) => quote(c.id, 60));
    return list.length > 6 ? `${shown.join(', ')} and ${list.length - 6} more` : shown.join(', ');
  };
  const parts = [
    `${passed.length} of ${graded.length} ${family}.* checks passed${passed.length > 0 ? ` (${ids(passed)})` : ''}`,
  ];
  if (notices.length > 0)
    parts.push(
      `${notices.length} passed with a notice (${notices
        .slice(0, 3)
        .map((c) => `${quote(c.id, 60)}: ${quote(c.evidence)}`)
        .join('; ')})`,
    );
  if (failed.length > 0) {
    parts.push(
      `${failed.length} failed (${failed
        .slice(0, 3)
        .map((c) => `${quote(c.id, 60)}: ${quote(c.evidence)}`)
        .join('; ')}${failed.length > 3 ? '; …' : ''})`,
    );
    return { status: 'unmet', points, evidence: `The ${what} does not hold: ${parts.join('; ')}.` };
  }
  return { status: 'met', points, evidence: `The ${what} is verified: ${parts.join('; ')}.` };
}

// ---------------------------------------------------------------------------------------------------------------
// Charter 1.0

/** The limits of clause C3 (days). */
export const RETENTION_LIMITS_V1 = { logsDays: 365, backupsDays: 180, deletedAccountDays: 90 } as const;
export const INCIDENT_DISCLOSURE_LIMIT_V1 = 30;

const RULES_V1_0: readonly ClauseRule[] = [
  {
    id: 'C1.no-resale',
    title: 'No resale or exploitation of user data',
    mandatory: true,
    maxPoints: 0,
    evaluate: (d) =>
      d.noResaleOfUserData === true
        ? {
            status: 'met',
            points: 0,
            evidence: 'Declared: user data is never sold, rented, traded or exploited (noResaleOfUserData: true).',
          }
        : {
            status: 'unmet',
            points: 0,
            evidence:
              'The declaration does not commit to never selling or exploiting user data (noResaleOfUserData: false); no label can be granted without it.',
          },
  },
  {
    id: 'C2.no-profiling',
    title: "No profiling, no advertising built on users' data",
    mandatory: true,
    maxPoints: 0,
    evaluate: (d) =>
      d.noProfilingOrAds === true
        ? {
            status: 'met',
            points: 0,
            evidence:
              'Declared: no profiling of users and no advertising built on their data (noProfilingOrAds: true).',
          }
        : {
            status: 'unmet',
            points: 0,
            evidence:
              "The declaration allows profiling or advertising built on users' data (noProfilingOrAds: false); no label can be granted with it.",
          },
  },
  {
    id: 'C3.retention-limits',
    title: 'Data minimisation and retention limits',
    mandatory: true,
    maxPoints: 20,
    evaluate: (d) => {
      const r = d.retention;
      const over: string[] = [];
      if (r.logsDays > RETENTION_LIMITS_V1.logsDays)
        over.push(`operational logs are kept ${days(r.logsDays)} (limit ${RETENTION_LIMITS_V1.logsDays})`);
      if (r.backupsDays > RETENTION_LIMITS_V1.backupsDays)
        over.push(`backups are kept ${days(r.backupsDays)} (limit ${RETENTION_LIMITS_V1.backupsDays})`);
      if (r.deletedAccountDays > RETENTION_LIMITS_V1.deletedAccountDays) {
        over.push(
          `a deleted account's data is kept ${days(r.deletedAccountDays)} (limit ${RETENTION_LIMITS_V1.deletedAccountDays})`,
        );
      }
      if (over.length > 0)
        return { status: 'unmet', points: 0, evidence: `Beyond the charter's retention limits: ${over.join('; ')}.` };
      const logs = tier(r.logsDays, [
        [7, 8],
        [30, 5],
        [90, 2],
      ]);
      const backups = tier(r.backupsDays, [
        [30, 6],
        [90, 3],
      ]);
      const deleted = tier(r.deletedAccountDays, [
        [7, 6],
        [30, 4],
        [90, 1],
      ]);
      const messages =
        r.messagesDays === null
          ? 'messages are kept until the user deletes them'
          : `messages are deleted after ${days(r.messagesDays)}`;
      return {
        status: 'met',
        points: logs + backups + deleted,
        evidence:
          `Within the limits: operational logs kept ${days(r.logsDays)} (${logs}/8), backups ${days(r.backupsDays)} (${backups}/6), ` +
          `deleted accounts erased within ${days(r.deletedAccountDays)} (${deleted}/6); ${messages}.`,
      };
    },
  },
  {
    id: 'C4.logging-limits',
    title: 'Logging limits',
    mandatory: false,
    maxPoints: 15,
    evaluate: (d) => {
      const l = d.logging;
      const ip = l.ipAddresses ? 0 : 6;
      const meta = l.messageMetadata ? 0 : 6;
      const personal = l.ipAddresses || l.messageMetadata;
      const kept = personal
        ? tier(l.retentionDays, [
            [7, 3],
            [30, 1],
          ])
        : 3;
      const points = ip + meta + kept;
      const parts = [
        l.ipAddresses ? `logs hold users' IP addresses (0/6)` : 'logs hold no IP addresses (6/6)',
        l.messageMetadata ? 'logs hold message metadata (0/6)' : 'logs hold no message metadata (6/6)',
        personal
          ? `entries holding them are kept ${days(l.retentionDays)} (${kept}/3)`
          : 'nothing personal is logged (3/3)',
      ];
      return {
        status: points === 15 ? 'met' : 'unmet',
        points,
        evidence: `${parts.join('; ')}.`.replace(/^./, (c) => c.toUpperCase()),
      };
    },
  },
  {
    id: 'C5.key-storage',
    title: 'Users choose where their private keys live',
    mandatory: false,
    maxPoints: 25,
    evaluate: (d) => {
      const client = d.keyStorageOptions.includes('client');
      const server = d.keyStorageOptions.includes('server');
      if (client) {
        return {
          status: 'met',
          points: 25,
          evidence: server
            ? 'Users may keep their private keys on their own devices, where the host cannot use them, or sealed on the server to keep server-side search; each user chooses and may change later (25/25).'
            : 'Users keep their private keys on their own devices, where the host cannot use them; server-side storage is not offered, so server-side search of encrypted mail is not available (25/25).',
        };
      }
      return {
        status: 'unmet',
        points: 5,
        evidence:
          'Users can only keep their private keys on the server: the host, or whoever compels or breaks into it, can decrypt their mail (5/25). ' +
          'Offering client-side key storage would earn 25/25.',
      };
    },
  },
  {
    id: 'C6.transport-security',
    title: 'Encryption in transit, verified',
    mandatory: true,
    maxPoints: 15,
    evaluate: (_d, checks) => verifiedBy('tls', 'encryption in transit (TLS and certificate)', checks, 15),
  },
  {
    id: 'C7.dns-configuration',
    title: 'Verifiable configuration',
    mandatory: false,
    maxPoints: 10,
    evaluate: (d, checks) => {
      const outcome = verifiedBy('dns', 'DNS configuration', checks, 10);
      const scope = d.doesEmail
        ? ' The instance handles email, so its MX, SPF, DKIM, DMARC, MTA-STS and TLSA records are among what is checked.'
        : ' The instance declares it does not handle email: its discovery records are what is checked.';
      return {
        ...outcome,
        status: outcome.status === 'met' && outcome.points < 10 ? 'unmet' : outcome.status,
        evidence: outcome.evidence + scope,
      };
    },
  },
  {
    id: 'C8.spam-handling',
    title: 'Spam handling that keeps mail at home',
    mandatory: true,
    maxPoints: 10,
    evaluate: (d) => {
      const s = d.spamHandling;
      if (s.contentScanning === 'none')
        return { status: 'met', points: 10, evidence: 'Mail content is not scanned for spam (10/10).' };
      if (s.contentScanning === 'local')
        return {
          status: 'met',
          points: 10,
          evidence: "Spam is filtered on the instance's own servers: mail is not handed to anyone (10/10).",
        };
      const name = quote(s.thirdParty ?? '(unnamed)', 200);
      const provider = s.thirdParty === undefined ? null : dataExploitingProviderNamed(s.thirdParty);
      if (provider) {
        return {
          status: 'unmet',
          points: 0,
          evidence:
            `Mail content is sent for spam scanning to "${name}", which is ${provider.name}, listed as a data-exploiting provider ` +
            `(association data ${dataExploitingProviders().version}, source: ${provider.source}).`,
        };
      }
      if (s.thirdParty === undefined) {
        return {
          status: 'unmet',
          points: 0,
          evidence: 'Mail content is sent to a third party for spam scanning, but the declaration does not name it.',
        };
      }
      return {
        status: 'met',
        points: 3,
        evidence: `Mail content is scanned for spam by a third party, "${name}", not listed as data-exploiting (3/10); filtering on the instance's own servers would earn 10/10.`,
      };
    },
  },
  {
    id: 'C9.incident-disclosure',
    title: 'Incidents disclosed within the declared delay',
    mandatory: true,
    maxPoints: 5,
    evaluate: (d) => {
      const n = d.incidentDisclosureDays;
      if (n > INCIDENT_DISCLOSURE_LIMIT_V1) {
        return {
          status: 'unmet',
          points: 0,
          evidence: `Incidents would be disclosed within ${days(n)}, beyond the charter's limit of ${INCIDENT_DISCLOSURE_LIMIT_V1} days.`,
        };
      }
      const points = tier(n, [
        [3, 5],
        [7, 3],
        [14, 1],
      ]);
      return {
        status: 'met',
        points,
        evidence: `Incidents and legal demands are disclosed to users and the association within ${days(n)} (${points}/5).`,
      };
    },
  },
  {
    id: 'C10.admin-accountability',
    title: 'Administrators are accountable and their actions traceable',
    mandatory: true,
    maxPoints: 0,
    evaluate: (d) =>
      d.adminContact.name.trim().length > 0 && d.adminContact.email.includes('@')
        ? {
            status: 'met',
            points: 0,
            evidence:
              "An administrative contact is declared. Recording administrators' actions where users and auditors can read them is a signed commitment, reviewed by the auditors.",
          }
        : { status: 'unmet', points: 0, evidence: 'No usable administrative contact is declared.' },
  },
  {
    id: 'C11.user-rights',
    title: 'Users can take their data and leave',
    mandatory: true,
    maxPoints: 0,
    evaluate: (d) => {
      const n = d.retention.deletedAccountDays;
      return n <= RETENTION_LIMITS_V1.deletedAccountDays
        ? {
            status: 'met',
            points: 0,
            evidence: `Export and deletion are signed commitments; a deleted account is erased within ${days(n)}, its server-held keys at once.`,
          }
        : {
            status: 'unmet',
            points: 0,
            evidence: `A deleted account's data would be kept ${days(n)}, beyond the ${RETENTION_LIMITS_V1.deletedAccountDays} days within which it must be erased.`,
          };
    },
  },
  {
    id: 'C12.key-erasure',
    title: 'Short-lived keys are erased; signatures are not turned into proof',
    mandatory: true,
    maxPoints: 0,
    evaluate: (d) => ({
      status: 'met',
      points: 0,
      evidence:
        'Signed commitment, reviewed by the auditors: federation pre-keys are deleted after their window and session keys are never stored' +
        (d.keyStorageOptions.includes('server')
          ? '; keys held on the server for users are erased with their account.'
          : '.'),
    }),
  },
  {
    id: 'C13.truthful-declaration',
    title: 'The declaration is true and kept current',
    mandatory: true,
    maxPoints: 0,
    evaluate: (d) => {
      const j = jurisdiction(d.jurisdiction);
      if (!j)
        return {
          status: 'unmet',
          points: 0,
          evidence: `The jurisdiction "${quote(d.jurisdiction, 16)}" is not in the association's jurisdiction table.`,
        };
      const table = jurisdictions().version;
      const assessed = isAssessedJurisdiction(j.code) ? '' : ', the default for countries not yet assessed';
      let hosting = 'No hosting provider is declared: the instance runs its own servers.';
      if (d.hostingProvider !== undefined) {
        const exploiting = dataExploitingProviderNamed(d.hostingProvider);
        hosting = `Servers run by "${quote(d.hostingProvider, 200)}".`;
        if (exploiting)
          hosting += ` ${exploiting.name} is also listed as a data-exploiting mail provider: the auditors review what it can reach.`;
      }
      return {
        status: 'met',
        points: 0,
        evidence: `Operated under the law of ${j.name} (${j.code}), scored ${j.score}/100 in the association's jurisdiction table ${table}${assessed}. ${hosting}`,
      };
    },
  },
];

const RULES: Readonly<Record<string, readonly ClauseRule[]>> = { '1.0': RULES_V1_0 };

function rulesFor(version: unknown): readonly ClauseRule[] {
  if (typeof version !== 'string' || charterVersion(version) === null) {
    const shown = typeof version === 'string' ? JSON.stringify(version.slice(0, 20)) : typeof version;
    throw new CharterError('charter_version_unknown', `charter version ${shown} was never published`);
  }
  const rules = Object.hasOwn(RULES, version) ? RULES[version] : undefined;
  if (!rules)
    throw new CharterError('charter_rules_missing', `charter ${version} is published but has no compliance rules`);
  return rules;
}

/** The clauses of a charter version (id, title, mandatory, maxPoints); throws CharterError for an unknown version. */
export function charterClauses(version: string): ClauseDefinition[] {
  return rulesFor(version).map(({ id, title, mandatory, maxPoints }) => ({ id, title, mandatory, maxPoints }));
}

/**
 * Evaluates a (validated) declaration and the registry's check results against the clauses of the charter version
 * the declaration names. Throws CharterError `charter_version_unknown` for a version that was never published;
 * never throws otherwise. Check results that are not check-shaped are ignored.
 */
export function evaluateCompliance(declaration: Declaration, checks: CheckResultLike[]): ComplianceResult {
  const rules = rulesFor(declaration?.charterVersion);
  const usable = Array.isArray(checks) ? checks.filter(isCheckLike) : [];
  const clauses = rules.map((rule): ClauseResult => {
    let outcome: Outcome;
    try {
      outcome = rule.evaluate(declaration, usable);
    } catch (err) {
      // Only a declaration that skipped parseDeclaration gets here; the clause is then not met, and says why.
      outcome = {
        status: 'unmet',
        points: 0,
        evidence: `The declaration could not be evaluated for this clause (${quote((err as Error).message, 120)}).`,
      };
    }
    const earned = rule.mandatory && outcome.status !== 'met' ? 0 : outcome.points;
    const points = Number.isFinite(earned) ? Math.min(rule.maxPoints, Math.max(0, Math.floor(earned))) : 0;
    return {
      id: rule.id,
      title: rule.title,
      mandatory: rule.mandatory,
      status: outcome.status,
      points,
      maxPoints: rule.maxPoints,
      evidence: outcome.evidence,
    };
  });
  return {
    charterVersion: declaration.charterVersion,
    clauses,
    mandatoryMet: clauses.every((c) => !c.mandatory || c.status === 'met'),
    points: clauses.reduce((sum, c) => sum + c.points, 0),
    maxPoints: clauses.reduce((sum, c) => sum + c.maxPoints, 0),
  };
}
