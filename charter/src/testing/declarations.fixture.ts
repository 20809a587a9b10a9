import fc from 'fast-check';
import type { Declaration } from '../declaration.schema.ts';
import { JURISDICTION_CODES } from '../jurisdictions.data.ts';
import type { CheckResultLike } from '../rules.ts';

/** A declaration that meets every clause of charter 1.0 with full points (checks permitting). Tests vary it. */
export function aDeclaration(over: Partial<Declaration> = {}): Declaration {
  return {
    charterVersion: '1.0',
    domain: 'mail.example.org',
    jurisdiction: 'DE',
    retention: { messagesDays: null, logsDays: 7, backupsDays: 30, deletedAccountDays: 7 },
    logging: { ipAddresses: false, messageMetadata: false, retentionDays: 7 },
    keyStorageOptions: ['client', 'server'],
    noResaleOfUserData: true,
    noProfilingOrAds: true,
    spamHandling: { contentScanning: 'local' },
    adminContact: { name: 'Hosting co-op admins', email: 'admins@example.org' },
    incidentDisclosureDays: 3,
    doesEmail: true,
    ...over,
  };
}

export function aCheck(
  id: string,
  status: CheckResultLike['status'],
  over: Partial<CheckResultLike> = {},
): CheckResultLike {
  return { id, status, mandatory: id.startsWith('tls.'), evidence: `${id}: ${status}`, ...over };
}

/** Checks that all pass: what a well-configured instance gets. */
export const PASSING_CHECKS: CheckResultLike[] = [
  aCheck('domain.control', 'pass'),
  aCheck('tls.certificate.san', 'pass'),
  aCheck('tls.certificate.validity', 'pass'),
  aCheck('tls.endpoint.matches', 'pass'),
  aCheck('dns.discovery', 'pass'),
  aCheck('dns.mx', 'pass'),
  aCheck('dns.spf', 'pass'),
  aCheck('dns.dmarc', 'pass'),
  aCheck('federation.descriptor.keys', 'pass'),
];

const days = (max: number) => fc.integer({ min: 0, max });
const text = fc
  .string({ minLength: 1, maxLength: 40 })
  .map((s) => s.replace(/[\s\u0000-\u001f\u007f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, 'x'));

/** Any declaration `parseDeclaration` accepts (within the schema and its coherence rules). */
export const declarationArbitrary: fc.Arbitrary<Declaration> = fc
  .record({
    domain: fc.constantFrom(
      'mail.example.org',
      'a.test',
      'xn--bcher-kva.example',
      'very-long-label-0123456789.example.com',
    ),
    jurisdiction: fc.constantFrom(...JURISDICTION_CODES),
    messagesDays: fc.option(fc.integer({ min: 1, max: 3650 }), { nil: null }),
    logsDays: days(3650),
    backupsDays: days(3650),
    deletedAccountDays: days(3650),
    ipAddresses: fc.boolean(),
    messageMetadata: fc.boolean(),
    logRetentionFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    keyStorageOptions: fc.constantFrom<Declaration['keyStorageOptions']>(
      ['client'],
      ['server'],
      ['client', 'server'],
      ['server', 'client'],
    ),
    noResaleOfUserData: fc.boolean(),
    noProfilingOrAds: fc.boolean(),
    spam: fc.oneof(
      fc.constantFrom<Declaration['spamHandling']>({ contentScanning: 'none' }, { contentScanning: 'local' }),
      fc
        .constantFrom(
          'Google Postmaster',
          'gmail.com',
          'SpamExperts',
          'Hornetsecurity',
          'filter.mx.microsoft',
          'Outlook',
        )
        .map((thirdParty): Declaration['spamHandling'] => ({ contentScanning: 'third-party', thirdParty })),
      text.map((thirdParty): Declaration['spamHandling'] => ({ contentScanning: 'third-party', thirdParty })),
    ),
    adminName: text,
    incidentDisclosureDays: fc.integer({ min: 0, max: 365 }),
    hostingProvider: fc.option(text, { nil: undefined }),
    doesEmail: fc.boolean(),
  })
  .map((r) => {
    const declaration: Declaration = {
      charterVersion: '1.0',
      domain: r.domain,
      jurisdiction: r.jurisdiction,
      retention: {
        messagesDays: r.messagesDays,
        logsDays: r.logsDays,
        backupsDays: r.backupsDays,
        deletedAccountDays: r.deletedAccountDays,
      },
      logging: {
        ipAddresses: r.ipAddresses,
        messageMetadata: r.messageMetadata,
        retentionDays: Math.floor(r.logsDays * r.logRetentionFraction),
      },
      keyStorageOptions: [...r.keyStorageOptions],
      noResaleOfUserData: r.noResaleOfUserData,
      noProfilingOrAds: r.noProfilingOrAds,
      spamHandling: r.spam,
      adminContact: { name: r.adminName, email: 'admin@example.org' },
      incidentDisclosureDays: r.incidentDisclosureDays,
      doesEmail: r.doesEmail,
    };
    if (r.hostingProvider !== undefined) declaration.hostingProvider = r.hostingProvider;
    return declaration;
  });

/** Any list of check results, hostile evidence and unexpected ids included. */
export const checksArbitrary: fc.Arbitrary<CheckResultLike[]> = fc.array(
  fc.record({
    id: fc.oneof(
      fc.constantFrom(
        'tls',
        'tls.certificate.san',
        'tls.version',
        'dns.mx',
        'dns.spf',
        'dns',
        'domain.control',
        'tlsx.bogus',
        'dnssec.ds',
      ),
      fc.string({ maxLength: 30 }),
    ),
    status: fc.constantFrom<CheckResultLike['status']>('pass', 'fail', 'notice', 'info'),
    mandatory: fc.boolean(),
    evidence: fc.string({ maxLength: 400 }),
  }),
  { maxLength: 30 },
);
