import { DESCRIPTOR_WELL_KNOWN_PATH, MAX_DESCRIPTOR_LENGTH, verifyDescriptor } from '@caliopen/federation-protocol';
import { WEIGHT, budgetMs, fail, messageOf, pass } from './check.result.ts';
import type { CheckContext, CheckGroup, CheckSpec } from './check.result.ts';
import type { CheckResult } from './check.types.ts';
import { parseDeclaredCertificate } from './certificate.inspect.ts';
import { endpointFor, httpsBaseUrl, pinnedGet, urlUnder } from './tls.probe.ts';

/**
 * The federation descriptor: `GET <httpsUrl>/.well-known/caliopen` over TLS pinned to the declared certificate
 * (instances may be self-signed: the peer must present exactly the declared certificate, the system CAs play no
 * part), a compact JWS that verifies with the signing key it carries, for the application's domain; and its keys and
 * certificate fingerprint are the ones the application declared.
 */

export const DESCRIPTOR: CheckSpec = {
  id: 'federation.descriptor',
  weight: WEIGHT.core,
  mandatory: true,
  title: 'the federation descriptor is served over the pinned certificate and verifies for the domain',
};
export const DESCRIPTOR_KEYS: CheckSpec = {
  id: 'federation.descriptor.keys',
  weight: WEIGHT.core,
  mandatory: true,
  title: "the descriptor keys and certificate fingerprint are the application's",
};

export const federationDescriptorCheck: CheckGroup = {
  name: 'federation descriptor',
  specs: () => [DESCRIPTOR, DESCRIPTOR_KEYS],
  async run(context: CheckContext): Promise<CheckResult[]> {
    const { target, options, signal } = context;
    const now = options.now;
    const both = (evidence: string) => [
      fail(DESCRIPTOR, evidence, now),
      fail(DESCRIPTOR_KEYS, `no verified descriptor to compare the keys with (${evidence})`, now),
    ];

    let url: URL;
    let declaredSha256: string;
    try {
      url = urlUnder(target, DESCRIPTOR_WELL_KNOWN_PATH);
      declaredSha256 = parseDeclaredCertificate(target.certificatePem).fingerprintSha256;
    } catch (error) {
      return both(`not fetched: ${messageOf(error)}`);
    }
    let body: string;
    try {
      const endpoint = endpointFor(target, options, httpsBaseUrl(target).hostname);
      const response = await pinnedGet(url, {
        endpoint,
        pinSha256: declaredSha256,
        maxBytes: MAX_DESCRIPTOR_LENGTH,
        timeoutMs: budgetMs(context),
        signal,
      });
      if (response.status !== 200) return both(`GET ${url.href} answered ${response.status}`);
      body = response.body.toString('utf8').trim();
    } catch (error) {
      return both(messageOf(error));
    }

    const verified = await verifyDescriptor(body, {
      expectedDomain: target.domain,
      now: Math.floor(now.getTime() / 1000),
    });
    if (!verified.ok)
      return both(`the descriptor at ${url.href} is refused: ${verified.error.code}: ${verified.error.message}`);
    const { descriptor, thumbprints } = verified.value;
    const results = [
      pass(
        DESCRIPTOR,
        `the descriptor at ${url.href}, served with the declared certificate, verifies with its signing key ${thumbprints.signing} for ${descriptor.domain} (issued ${new Date(descriptor.issuedAt * 1000).toISOString()})`,
        now,
      ),
    ];
    const differences: string[] = [];
    if (thumbprints.signing !== target.signingKeyThumbprint) {
      differences.push(`signing key ${thumbprints.signing} instead of ${target.signingKeyThumbprint}`);
    }
    if (thumbprints.encryption !== target.encryptionKeyThumbprint) {
      differences.push(`encryption key ${thumbprints.encryption} instead of ${target.encryptionKeyThumbprint}`);
    }
    if (descriptor.certificateSha256 !== declaredSha256) {
      differences.push(`certificate SHA-256 ${descriptor.certificateSha256} instead of ${declaredSha256}`);
    }
    results.push(
      differences.length > 0
        ? fail(DESCRIPTOR_KEYS, `the descriptor does not match the application: ${differences.join('; ')}`, now)
        : pass(
            DESCRIPTOR_KEYS,
            `the descriptor names the application's signing key ${thumbprints.signing}, encryption key ${thumbprints.encryption} and certificate ${declaredSha256}`,
            now,
          ),
    );
    return results;
  },
};
