import { WEIGHT, fail, info, messageOf, missing, notice, pass, quote } from './check.result.ts';
import type { CheckContext, CheckGroup, CheckSpec } from './check.result.ts';
import type { CheckResult, ResolvableType, Resolution, Resolver, VerificationTarget } from './check.types.ts';
import { parseDeclaredCertificate, sha256Hex, sha512Hex } from './certificate.inspect.ts';
import type { DeclaredCertificate } from './certificate.inspect.ts';

/**
 * DNS configuration. Always: the `_caliopen` discovery record (the one `caliopen instance init` prints) naming the
 * application's key thumbprints, and DANE for HTTPS (`_443._tcp`). When the instance does email: MX, SPF, DMARC,
 * DKIM (when a selector is declared), MTA-STS and DANE for SMTP (`_25._tcp` at the primary MX host).
 *
 * None is mandatory: they are scored. A missing record is a fail for a core or important check and a notice for a
 * nice-to-have one, and its evidence carries the record to publish. A lookup the resolver could not answer (timeout,
 * SERVFAIL, a garbage answer) is a notice with no points: unverified, not verified bad.
 */

export const DNS_DISCOVERY: CheckSpec = {
  id: 'dns.discovery',
  weight: WEIGHT.core,
  mandatory: false,
  title: 'the _caliopen TXT discovery record names the application keys',
};
export const DNS_TLSA_HTTPS: CheckSpec = {
  id: 'dns.tlsa.https',
  weight: WEIGHT.niceToHave,
  mandatory: false,
  title: 'DANE: TLSA _443._tcp matches the certificate, DNSSEC-authenticated',
};
export const DNS_MX: CheckSpec = {
  id: 'dns.mx',
  weight: WEIGHT.important,
  mandatory: false,
  title: 'MX records receive mail for the domain',
};
export const DNS_SPF: CheckSpec = {
  id: 'dns.spf',
  weight: WEIGHT.important,
  mandatory: false,
  title: 'one SPF record ending in -all or ~all',
};
export const DNS_DMARC: CheckSpec = {
  id: 'dns.dmarc',
  weight: WEIGHT.important,
  mandatory: false,
  title: 'a DMARC policy, p=quarantine or p=reject (p=none: partial credit)',
};
export const DNS_DKIM: CheckSpec = {
  id: 'dns.dkim',
  weight: WEIGHT.important,
  mandatory: false,
  title: 'the DKIM key of the declared selector is published',
};
export const DNS_MTA_STS: CheckSpec = {
  id: 'dns.mta-sts',
  weight: WEIGHT.niceToHave,
  mandatory: false,
  title: 'an MTA-STS TXT record',
};
export const DNS_TLSA_SMTP: CheckSpec = {
  id: 'dns.tlsa.smtp',
  weight: WEIGHT.important,
  mandatory: false,
  title: 'DANE: TLSA _25._tcp at the primary MX matches the certificate, DNSSEC-authenticated',
};

export const dnsConfigurationCheck: CheckGroup = {
  name: 'DNS configuration',
  specs(target: VerificationTarget): CheckSpec[] {
    if (!target.doesEmail) return [DNS_DISCOVERY, DNS_TLSA_HTTPS];
    return [DNS_DISCOVERY, DNS_TLSA_HTTPS, DNS_MX, DNS_SPF, DNS_DMARC, DNS_DKIM, DNS_MTA_STS, DNS_TLSA_SMTP];
  },
  async run(context: CheckContext): Promise<CheckResult[]> {
    const { target } = context;
    let declared: DeclaredCertificate | undefined;
    let certificateError = '';
    try {
      declared = parseDeclaredCertificate(target.certificatePem);
    } catch (error) {
      certificateError = messageOf(error);
    }
    const tlsaAgainst = { declared, certificateError };
    const always = Promise.all([
      checkDiscovery(context),
      checkTlsa(context, DNS_TLSA_HTTPS, `_443._tcp.${target.domain}`, tlsaAgainst),
    ]);
    if (!target.doesEmail) return always;
    const mx = checkMx(context);
    const email = Promise.all([
      mx.then((outcome) => outcome.result),
      checkSpf(context),
      checkDmarc(context),
      checkDkim(context),
      checkMtaSts(context),
      mx.then((outcome) =>
        checkTlsa(context, DNS_TLSA_SMTP, `_25._tcp.${outcome.primary ?? target.domain}`, tlsaAgainst),
      ),
    ]);
    return [...(await always), ...(await email)];
  },
};

// ---------------------------------------------------------------------------------------------------------------

type Lookup<T extends ResolvableType> = { ok: true; value: Resolution<T> } | { ok: false; error: string };

async function lookup<T extends ResolvableType>(resolver: Resolver, name: string, type: T): Promise<Lookup<T>> {
  try {
    if (resolver.resolve !== undefined) return { ok: true, value: await resolver.resolve(name, type) };
    const records = (
      type === 'TXT' ? await resolver.txt(name) : type === 'MX' ? await resolver.mx(name) : await resolver.tlsa(name)
    ) as Resolution<T>['records'];
    return { ok: true, value: { records, authenticatedData: false } };
  } catch (error) {
    return { ok: false, error: `the ${type} lookup of ${name} failed: ${messageOf(error)}` };
  }
}

function unverified(spec: CheckSpec, error: string, now: Date): CheckResult {
  return notice(spec, `could not verify: ${error}`, now);
}

/** The TXT records of `name` that start with `prefix` (case-insensitive, followed by `;`, a space or the end). */
function recordsWithTag(records: string[], prefix: string): string[] {
  const pattern = new RegExp(`^\\s*${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*(?:;|\\s|$)`, 'i');
  return records.filter((record) => pattern.test(record));
}

/** `k=v; k=v` tags (DMARC, DKIM, MTA-STS, our discovery record), keys lowercase. */
function tags(record: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of record.split(';')) {
    const at = part.indexOf('=');
    if (at <= 0) continue;
    const key = part.slice(0, at).trim().toLowerCase();
    if (!map.has(key)) map.set(key, part.slice(at + 1).trim());
  }
  return map;
}

// ---------------------------------------------------------------------------------------------------------------

/** The discovery record's value, exactly as `caliopen instance init` prints it. */
export function discoveryRecordValue(signingThumbprint: string, encryptionThumbprint: string): string {
  return `v=caliopen1; sig=ed25519:${signingThumbprint}; enc=x25519:${encryptionThumbprint}`;
}

async function checkDiscovery({ target, options }: CheckContext): Promise<CheckResult> {
  const now = options.now;
  const name = `_caliopen.${target.domain}`;
  const expected = discoveryRecordValue(target.signingKeyThumbprint, target.encryptionKeyThumbprint);
  const publish = `publish ${name}. TXT "${expected}"`;
  const found = await lookup(options.resolver, name, 'TXT');
  if (!found.ok) return unverified(DNS_DISCOVERY, found.error, now);
  const records = recordsWithTag(found.value.records, 'v=caliopen1');
  if (records.length === 0) {
    const others =
      found.value.records.length === 0
        ? 'no TXT record'
        : `no v=caliopen1 record among ${found.value.records.length} TXT record(s)`;
    return missing(DNS_DISCOVERY, `missing: ${others} at ${name}; ${publish}`, now);
  }
  if (records.length > 1)
    return fail(
      DNS_DISCOVERY,
      `${records.length} v=caliopen1 records at ${name}, peers cannot tell which holds; keep one: ${publish}`,
      now,
    );
  const record = tags(records[0]!);
  const differences: string[] = [];
  const sig = record.get('sig');
  const enc = record.get('enc');
  if (sig !== `ed25519:${target.signingKeyThumbprint}`)
    differences.push(`sig=${quote(sig ?? '(none)')} instead of ed25519:${target.signingKeyThumbprint}`);
  if (enc !== `x25519:${target.encryptionKeyThumbprint}`)
    differences.push(`enc=${quote(enc ?? '(none)')} instead of x25519:${target.encryptionKeyThumbprint}`);
  if (differences.length > 0)
    return fail(
      DNS_DISCOVERY,
      `${name} does not name the application keys: ${differences.join('; ')}; ${publish}`,
      now,
    );
  return pass(
    DNS_DISCOVERY,
    `${name} names the application keys (sig ed25519:${target.signingKeyThumbprint}, enc x25519:${target.encryptionKeyThumbprint})`,
    now,
  );
}

interface TlsaAgainst {
  declared: DeclaredCertificate | undefined;
  certificateError: string;
}

/** The association data a TLSA record of this selector and matching type would carry for the certificate. */
function associationData(declared: DeclaredCertificate, selector: number, matchingType: number): string | undefined {
  const input = selector === 0 ? declared.der : selector === 1 ? declared.spkiDer : undefined;
  if (input === undefined) return undefined;
  if (matchingType === 0) return input.toString('hex');
  if (matchingType === 1) return sha256Hex(input);
  if (matchingType === 2) return sha512Hex(input);
  return undefined;
}

async function checkTlsa(
  { options }: CheckContext,
  spec: CheckSpec,
  name: string,
  against: TlsaAgainst,
): Promise<CheckResult> {
  const now = options.now;
  const { declared } = against;
  if (declared === undefined) return notice(spec, `not verified: ${against.certificateError}`, now);
  const publish = `publish ${name}. TLSA 3 1 1 ${declared.spkiSha256} in a DNSSEC-signed zone`;
  const found = await lookup(options.resolver, name, 'TLSA');
  if (!found.ok) return unverified(spec, found.error, now);
  const records = found.value.records;
  if (records.length === 0) return missing(spec, `missing: no TLSA record at ${name}; ${publish}`, now);
  // DANE-EE (3) and PKIX-EE (1) name the end-entity certificate itself, so they can be matched here.
  const matching = records.find(
    (record) =>
      (record.usage === 3 || record.usage === 1) &&
      associationData(declared, record.selector, record.matchingType) === record.data.toLowerCase(),
  );
  const shown = records
    .slice(0, 4)
    .map((r) => `${r.usage} ${r.selector} ${r.matchingType} ${r.data.slice(0, 16)}…`)
    .join(', ');
  if (matching === undefined) {
    if (records.every((record) => record.usage === 0 || record.usage === 2)) {
      return notice(
        spec,
        `TLSA ${name} has only trust-anchor records (${shown}), which cannot be matched against the leaf certificate alone`,
        now,
      );
    }
    return fail(
      spec,
      `TLSA ${name} (${shown}) does not match the certificate (SPKI SHA-256 ${declared.spkiSha256}); ${publish}`,
      now,
    );
  }
  const described = `${matching.usage} ${matching.selector} ${matching.matchingType}`;
  if (!found.value.authenticatedData) {
    return notice(
      spec,
      `TLSA ${name} ${described} matches the certificate, but the answer was not DNSSEC-authenticated (AD bit clear); DANE needs a signed zone`,
      now,
      Math.floor(spec.weight / 2),
    );
  }
  return pass(spec, `TLSA ${name} ${described} matches the certificate, DNSSEC-authenticated (AD bit set)`, now);
}

async function checkMx({ target, options }: CheckContext): Promise<{ result: CheckResult; primary?: string }> {
  const now = options.now;
  const found = await lookup(options.resolver, target.domain, 'MX');
  const publish = `publish ${target.domain}. MX 10 ${target.domain}.`;
  if (!found.ok) return { result: unverified(DNS_MX, found.error, now) };
  const records = [...found.value.records].sort((a, b) => a.priority - b.priority);
  if (records.length === 0)
    return { result: fail(DNS_MX, `missing: no MX record for ${target.domain}; ${publish}`, now) };
  if (records.length === 1 && (records[0]!.exchange === '.' || records[0]!.exchange === '')) {
    return {
      result: fail(
        DNS_MX,
        `${target.domain} publishes a null MX (RFC 7505): it accepts no mail, yet the instance declares it does email; ${publish}`,
        now,
      ),
    };
  }
  const listed = records
    .slice(0, 5)
    .map((r) => `${r.priority} ${r.exchange}`)
    .join(', ');
  return { result: pass(DNS_MX, `MX for ${target.domain}: ${listed}`, now), primary: records[0]!.exchange };
}

async function checkSpf({ target, options }: CheckContext): Promise<CheckResult> {
  const now = options.now;
  const found = await lookup(options.resolver, target.domain, 'TXT');
  const publish = `publish ${target.domain}. TXT "v=spf1 mx -all"`;
  if (!found.ok) return unverified(DNS_SPF, found.error, now);
  const records = recordsWithTag(found.value.records, 'v=spf1');
  if (records.length === 0)
    return fail(DNS_SPF, `missing: no SPF record (v=spf1) at ${target.domain}; ${publish}`, now);
  if (records.length > 1)
    return fail(
      DNS_SPF,
      `${records.length} SPF records at ${target.domain}: receivers treat that as an error (RFC 7208 §4.5); keep one: ${publish}`,
      now,
    );
  const record = records[0]!;
  const terms = record
    .trim()
    .split(/\s+/)
    .slice(1)
    .map((term) => term.toLowerCase());
  const all = terms.find((term) => /^[-~?+]?all$/.test(term));
  if (all === '-all' || all === '~all') return pass(DNS_SPF, `SPF ${quote(record)} ends with ${all}`, now);
  if (all !== undefined) {
    return fail(
      DNS_SPF,
      `SPF ${quote(record)} ends with ${all}, which lets anyone send as ${target.domain}; end it with -all: ${publish}`,
      now,
    );
  }
  const redirect = terms.find((term) => term.startsWith('redirect='));
  if (redirect !== undefined)
    return notice(DNS_SPF, `SPF ${quote(record)} delegates its policy (${redirect}), which is not followed here`, now);
  return fail(DNS_SPF, `SPF ${quote(record)} has no "all" mechanism; end it with -all: ${publish}`, now);
}

async function checkDmarc({ target, options }: CheckContext): Promise<CheckResult> {
  const now = options.now;
  const name = `_dmarc.${target.domain}`;
  const publish = `publish ${name}. TXT "v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:postmaster@${target.domain}"`;
  const found = await lookup(options.resolver, name, 'TXT');
  if (!found.ok) return unverified(DNS_DMARC, found.error, now);
  const records = recordsWithTag(found.value.records, 'v=DMARC1');
  if (records.length === 0) return fail(DNS_DMARC, `missing: no DMARC record at ${name}; ${publish}`, now);
  if (records.length > 1)
    return fail(
      DNS_DMARC,
      `${records.length} DMARC records at ${name}: receivers ignore them all (RFC 7489 §6.6.3); keep one: ${publish}`,
      now,
    );
  const policy = tags(records[0]!).get('p')?.toLowerCase();
  if (policy === 'reject' || policy === 'quarantine') return pass(DNS_DMARC, `DMARC at ${name} has p=${policy}`, now);
  if (policy === 'none') {
    return notice(
      DNS_DMARC,
      `DMARC at ${name} has p=none: forged mail is only reported, not refused; ${publish}`,
      now,
      Math.floor(DNS_DMARC.weight / 2),
    );
  }
  return fail(DNS_DMARC, `DMARC at ${name} has no valid policy (p=${quote(policy ?? '')}); ${publish}`, now);
}

async function checkDkim({ target, options }: CheckContext): Promise<CheckResult> {
  const now = options.now;
  const selector = target.dkimSelector;
  if (selector === undefined || selector === '')
    return info(DNS_DKIM, 'no DKIM selector was declared, so no DKIM key could be looked up', now);
  const name = `${selector}._domainkey.${target.domain}`;
  const publish = `publish ${name}. TXT "v=DKIM1; k=<ed25519|rsa>; p=<public key, base64>"`;
  const found = await lookup(options.resolver, name, 'TXT');
  if (!found.ok) return unverified(DNS_DKIM, found.error, now);
  const keys = found.value.records.map(tags).filter((record) => record.has('p'));
  if (keys.length === 0) return fail(DNS_DKIM, `missing: no DKIM key record at ${name}; ${publish}`, now);
  const usable = keys.find(
    (record) => /^[A-Za-z0-9+/=\s]+$/.test(record.get('p') ?? '') && (record.get('p') ?? '').trim().length > 0,
  );
  if (usable === undefined)
    return fail(DNS_DKIM, `the DKIM key at ${name} is revoked or unreadable (empty or invalid p=); ${publish}`, now);
  return pass(DNS_DKIM, `DKIM key published at ${name} (k=${usable.get('k') ?? 'rsa'})`, now);
}

async function checkMtaSts({ target, options }: CheckContext): Promise<CheckResult> {
  const now = options.now;
  const name = `_mta-sts.${target.domain}`;
  const publish = `publish ${name}. TXT "v=STSv1; id=1" and the policy at https://mta-sts.${target.domain}/.well-known/mta-sts.txt`;
  const found = await lookup(options.resolver, name, 'TXT');
  if (!found.ok) return unverified(DNS_MTA_STS, found.error, now);
  const records = recordsWithTag(found.value.records, 'v=STSv1');
  if (records.length === 0) return missing(DNS_MTA_STS, `missing: no MTA-STS record at ${name}; ${publish}`, now);
  if (records.length > 1)
    return fail(
      DNS_MTA_STS,
      `${records.length} MTA-STS records at ${name}: senders ignore them (RFC 8461 §3.1); keep one`,
      now,
    );
  const id = tags(records[0]!).get('id');
  if (id === undefined || !/^[A-Za-z0-9]{1,32}$/.test(id))
    return fail(DNS_MTA_STS, `the MTA-STS record at ${name} has no valid id (1–32 letters or digits); ${publish}`, now);
  return pass(DNS_MTA_STS, `MTA-STS record at ${name} (id=${id}); the policy file itself is not fetched`, now);
}
