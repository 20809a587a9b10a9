import { WEIGHT, budgetMs, fail, messageOf, pass, quote } from './check.result.ts';
import type { CheckContext, CheckGroup, CheckSpec } from './check.result.ts';
import type { CheckResult } from './check.types.ts';
import { parseDeclaredCertificate } from './certificate.inspect.ts';
import { endpointFor, httpsBaseUrl, pinnedGet, urlUnder } from './tls.probe.ts';

/**
 * Domain control: the applicant proves it controls the domain by publishing the registry's challenge value, either
 * as DNS TXT at `_caliopen-challenge.<domain>` or at `<httpsUrl>/.well-known/caliopen-challenge/<token>` (served
 * over TLS pinned to the declared certificate). Either one passes; both are tried, and the evidence says which
 * answered. As in ACME (RFC 8555 §8.3), trailing whitespace after the value in the HTTPS body is ignored.
 */

export const DOMAIN_CONTROL: CheckSpec = {
  id: 'domain.control',
  weight: WEIGHT.core,
  mandatory: true,
  title: 'the applicant controls the domain (DNS TXT or HTTPS well-known challenge)',
};

export const CHALLENGE_DNS_LABEL = '_caliopen-challenge';
export const CHALLENGE_WELL_KNOWN_PATH = '/.well-known/caliopen-challenge/';
const MAX_CHALLENGE_BODY = 4096;

type Outcome = { ok: true; evidence: string } | { ok: false; evidence: string };

export const domainControlCheck: CheckGroup = {
  name: 'domain control',
  specs: () => [DOMAIN_CONTROL],
  async run(context: CheckContext): Promise<CheckResult[]> {
    const now = context.options.now;
    const dns = settleInto(viaDns(context));
    const https = settleInto(viaHttps(context));
    // One proof is enough: do not wait for a slow path once the other has proved control.
    await Promise.race([
      Promise.all([dns.promise, https.promise]),
      dns.promise.then((outcome) => (outcome.ok ? outcome : new Promise(() => {}))),
      https.promise.then((outcome) => (outcome.ok ? outcome : new Promise(() => {}))),
    ]);
    const dnsSays = dns.outcome?.evidence ?? 'the lookup had not finished';
    const httpsSays = https.outcome?.evidence ?? 'the request had not finished';
    if (dns.outcome?.ok && https.outcome?.ok)
      return [pass(DOMAIN_CONTROL, `proved by both: ${dnsSays}; ${httpsSays}`, now)];
    if (dns.outcome?.ok) return [pass(DOMAIN_CONTROL, `proved by DNS: ${dnsSays} (HTTPS: ${httpsSays})`, now)];
    if (https.outcome?.ok) return [pass(DOMAIN_CONTROL, `proved by HTTPS: ${httpsSays} (DNS: ${dnsSays})`, now)];
    return [fail(DOMAIN_CONTROL, `not proved. DNS: ${dnsSays}. HTTPS: ${httpsSays}`, now)];
  },
};

/** A promise that records its outcome when it settles (the outcomes here never reject). */
function settleInto(promise: Promise<Outcome>): { promise: Promise<Outcome>; outcome?: Outcome } {
  const holder: { promise: Promise<Outcome>; outcome?: Outcome } = { promise };
  holder.promise = promise.then((outcome) => {
    holder.outcome = outcome;
    return outcome;
  });
  return holder;
}

async function viaDns(context: CheckContext): Promise<Outcome> {
  const { target, options } = context;
  const name = `${CHALLENGE_DNS_LABEL}.${target.domain}`;
  const publish = `publish ${name}. TXT "${target.challenge.expected}"`;
  let records: string[];
  try {
    records = await options.resolver.txt(name);
  } catch (error) {
    return { ok: false, evidence: `the TXT lookup of ${name} failed (${messageOf(error)})` };
  }
  if (records.includes(target.challenge.expected))
    return { ok: true, evidence: `TXT ${name} carries the expected value` };
  if (records.length === 0) return { ok: false, evidence: `no TXT record at ${name}; ${publish}` };
  return {
    ok: false,
    evidence: `TXT ${name} holds ${records.length} value(s), none the expected one (${records.map((record) => quote(record)).join(', ')}); ${publish}`,
  };
}

async function viaHttps(context: CheckContext): Promise<Outcome> {
  const { target, options, signal } = context;
  let url: URL;
  let pinSha256: string;
  try {
    url = urlUnder(target, `${CHALLENGE_WELL_KNOWN_PATH}${encodeURIComponent(target.challenge.token)}`);
    pinSha256 = parseDeclaredCertificate(target.certificatePem).fingerprintSha256;
  } catch (error) {
    return { ok: false, evidence: `not tried: ${messageOf(error)}` };
  }
  const serve = `serve "${target.challenge.expected}" at ${url.href}`;
  try {
    const endpoint = endpointFor(target, options, httpsBaseUrl(target).hostname);
    const response = await pinnedGet(url, {
      endpoint,
      pinSha256,
      maxBytes: MAX_CHALLENGE_BODY,
      timeoutMs: budgetMs(context),
      signal,
    });
    if (response.status !== 200)
      return { ok: false, evidence: `GET ${url.href} answered ${response.status}; ${serve}` };
    const body = response.body.toString('utf8').replace(/\s+$/, '');
    if (body === target.challenge.expected)
      return { ok: true, evidence: `GET ${url.href} returned the expected value` };
    return { ok: false, evidence: `GET ${url.href} returned ${quote(body)}, not the expected value; ${serve}` };
  } catch (error) {
    return { ok: false, evidence: messageOf(error) };
  }
}
