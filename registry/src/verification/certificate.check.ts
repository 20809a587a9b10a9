import { WEIGHT, budgetMs, fail, messageOf, notice, pass } from './check.result.ts';
import type { CheckContext, CheckGroup, CheckSpec } from './check.result.ts';
import type { CheckResult } from './check.types.ts';
import {
  assessKey,
  parseDeclaredCertificate,
  sanDnsNames,
  sanNameCovers,
  signatureHash,
} from './certificate.inspect.ts';
import type { DeclaredCertificate } from './certificate.inspect.ts';
import { endpointFor, probeTls } from './tls.probe.ts';
import type { TlsProbe } from './tls.probe.ts';

/**
 * The certificate the application declared, and the live TLS endpoint: the SAN covers the domain, the validity
 * window holds `now`, the key is strong enough, and the endpoint (reached at `connectTo`, or the domain, on the
 * port of the HTTPS URL, with SNI = the domain) presents that same certificate over TLS 1.2 or later.
 */

export const CERTIFICATE_SAN: CheckSpec = {
  id: 'tls.certificate.san',
  weight: WEIGHT.core,
  mandatory: true,
  title: 'the certificate SAN covers the domain',
};
export const CERTIFICATE_VALIDITY: CheckSpec = {
  id: 'tls.certificate.validity',
  weight: WEIGHT.core,
  mandatory: true,
  title: 'the certificate is valid now (notice under 14 days left)',
};
export const CERTIFICATE_KEY: CheckSpec = {
  id: 'tls.certificate.key',
  weight: WEIGHT.important,
  mandatory: true,
  title: 'the certificate key is RSA >= 2048 bits, ECDSA P-256/P-384 or Ed25519, signed with SHA-256 or better',
};
export const CERTIFICATE_LIVE: CheckSpec = {
  id: 'tls.certificate.live',
  weight: WEIGHT.core,
  mandatory: true,
  title: 'the live TLS endpoint presents the declared certificate',
};
export const TLS_VERSION: CheckSpec = {
  id: 'tls.version',
  weight: WEIGHT.important,
  mandatory: false,
  title: 'the TLS endpoint negotiates TLS 1.3 (TLS 1.2: partial credit)',
};

/** Under this many days left, the validity check is a notice: renewal is due. */
export const EXPIRY_NOTICE_DAYS = 14;
const DAY_MS = 24 * 3600 * 1000;
const WEAK_SIGNATURE_HASHES = new Set(['MD5', 'SHA-1']);

export const certificateCheck: CheckGroup = {
  name: 'certificate',
  specs: () => [CERTIFICATE_SAN, CERTIFICATE_VALIDITY, CERTIFICATE_KEY, CERTIFICATE_LIVE, TLS_VERSION],
  async run(context: CheckContext): Promise<CheckResult[]> {
    const { target, options, signal } = context;
    const now = options.now;
    let declared: DeclaredCertificate | undefined;
    let parseError = '';
    try {
      declared = parseDeclaredCertificate(target.certificatePem);
    } catch (error) {
      parseError = messageOf(error);
    }

    let probe: TlsProbe | undefined;
    let probeError = '';
    const endpoint = (() => {
      try {
        return endpointFor(target, options, target.domain);
      } catch (error) {
        probeError = messageOf(error);
        return undefined;
      }
    })();
    if (endpoint !== undefined) {
      try {
        probe = await probeTls(endpoint, { timeoutMs: budgetMs(context), signal });
      } catch (error) {
        probeError = messageOf(error);
      }
    }
    const where =
      endpoint === undefined ? 'the endpoint' : `${endpoint.host}:${endpoint.port} (SNI ${endpoint.servername})`;

    const results: CheckResult[] = [];
    if (declared === undefined) {
      for (const spec of [CERTIFICATE_SAN, CERTIFICATE_VALIDITY, CERTIFICATE_KEY, CERTIFICATE_LIVE])
        results.push(fail(spec, parseError, now));
    } else {
      results.push(checkSan(declared, target.domain, now), checkValidity(declared, now), checkKey(declared, now));
      if (probe === undefined) {
        results.push(fail(CERTIFICATE_LIVE, `no TLS handshake with ${where}: ${probeError}`, now));
      } else if (probe.fingerprintSha256 === declared.fingerprintSha256) {
        results.push(
          pass(
            CERTIFICATE_LIVE,
            `${where} presents the declared certificate (SHA-256 ${declared.fingerprintSha256})`,
            now,
          ),
        );
      } else {
        results.push(
          fail(
            CERTIFICATE_LIVE,
            `${where} presents certificate SHA-256 ${probe.fingerprintSha256}, not the declared ${declared.fingerprintSha256}`,
            now,
          ),
        );
      }
    }
    results.push(checkVersion(probe, probeError, where, now));
    return results;
  },
};

function checkSan(declared: DeclaredCertificate, domain: string, now: Date): CheckResult {
  const names = sanDnsNames(declared.certificate);
  const listed = `[${names.join(', ')}]`;
  if (names.length === 0)
    return fail(CERTIFICATE_SAN, `the certificate has no DNS name in a SAN extension; it must name ${domain}`, now);
  const covering = names.find((name) => sanNameCovers(name, domain));
  if (covering === undefined) return fail(CERTIFICATE_SAN, `certificate SAN ${listed} does not cover ${domain}`, now);
  return pass(
    CERTIFICATE_SAN,
    `certificate SAN ${listed} covers ${domain}${covering === domain ? '' : ` (by ${covering})`}`,
    now,
  );
}

function checkValidity(declared: DeclaredCertificate, now: Date): CheckResult {
  const { notBefore, notAfter } = declared.certificate;
  const window = `valid from ${notBefore.toISOString()} to ${notAfter.toISOString()}`;
  if (now.getTime() < notBefore.getTime())
    return fail(CERTIFICATE_VALIDITY, `the certificate is not valid yet: ${window}`, now);
  if (now.getTime() > notAfter.getTime()) return fail(CERTIFICATE_VALIDITY, `the certificate expired: ${window}`, now);
  const daysLeft = Math.floor((notAfter.getTime() - now.getTime()) / DAY_MS);
  if (daysLeft < EXPIRY_NOTICE_DAYS) {
    return notice(
      CERTIFICATE_VALIDITY,
      `the certificate expires in ${daysLeft} day(s) (${window}); renew it`,
      now,
      Math.floor(CERTIFICATE_VALIDITY.weight / 2),
    );
  }
  return pass(CERTIFICATE_VALIDITY, `the certificate is ${window}, ${daysLeft} days left`, now);
}

function checkKey(declared: DeclaredCertificate, now: Date): CheckResult {
  const key = assessKey(declared);
  if (!key.acceptable)
    return fail(CERTIFICATE_KEY, `the certificate key is ${key.description}: ${key.reason ?? 'not accepted'}`, now);
  const hash = signatureHash(declared);
  if (hash !== undefined && WEAK_SIGNATURE_HASHES.has(hash.toUpperCase())) {
    return fail(
      CERTIFICATE_KEY,
      `the certificate key is ${key.description} but it is signed with ${hash}, which is broken`,
      now,
    );
  }
  return pass(
    CERTIFICATE_KEY,
    `the certificate key is ${key.description}${hash === undefined ? '' : `, signed with ${hash}`}`,
    now,
  );
}

function checkVersion(probe: TlsProbe | undefined, probeError: string, where: string, now: Date): CheckResult {
  if (probe === undefined) {
    return fail(TLS_VERSION, `no TLS 1.2 or later handshake with ${where}: ${probeError}`, now);
  }
  if (probe.protocol === 'TLSv1.3') return pass(TLS_VERSION, `${where} negotiated TLS 1.3`, now);
  if (probe.protocol === 'TLSv1.2') {
    return notice(TLS_VERSION, `${where} negotiated TLS 1.2; enable TLS 1.3`, now, Math.ceil(TLS_VERSION.weight / 2));
  }
  return fail(TLS_VERSION, `${where} negotiated ${probe.protocol}; TLS 1.2 at least is required`, now);
}
