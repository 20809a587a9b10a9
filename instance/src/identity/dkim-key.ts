import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';

/**
 * The instance's DKIM key: RSA-2048 (what every receiver verifies; Ed25519 DKIM is still not universally checked),
 * one selector per key so that a later rotation publishes `caliopen2` beside `caliopen1` before switching.
 * Generated at `instance init` (or on the first start of an instance created before DKIM) and sealed at rest with
 * the other private keys in `keys/identity.json`.
 */
export const DKIM_SELECTOR = 'caliopen1';
export const DKIM_KEY_BITS = 2048;

export interface DkimKey {
  /** The d= domain: the instance domain. */
  domain: string;
  selector: string;
  /** PKCS#8 PEM. Never logged. */
  privateKeyPem: string;
  /** SPKI PEM. */
  publicKeyPem: string;
}

export function generateDkimKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: DKIM_KEY_BITS,
    publicExponent: 0x10001,
  });
  return {
    privateKeyPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    publicKeyPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
  };
}

/** The DNS name of the key record: `<selector>._domainkey.<domain>`. */
export function dkimRecordName(domain: string, selector: string = DKIM_SELECTOR): string {
  return `${selector}._domainkey.${domain}`;
}

/** The TXT record value (RFC 6376 §3.6.1): `v=DKIM1; k=rsa; p=<base64 SPKI DER>`. */
export function dkimTxtValue(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ format: 'der', type: 'spki' });
  return `v=DKIM1; k=rsa; p=${der.toString('base64')}`;
}

/**
 * The value cut into character-strings of at most 255 octets (a TXT record's limit; a 2048-bit key does not fit in
 * one), as zone files and DNS control panels take them: `"v=DKIM1; k=rsa; " "p=MIIB..." "..."`.
 */
export function dkimTxtStrings(publicKeyPem: string): string[] {
  const value = dkimTxtValue(publicKeyPem);
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out;
}

export function quotedTxt(strings: readonly string[]): string {
  return strings.map((s) => `"${s}"`).join(' ');
}

/**
 * The headers our DKIM signature covers: the usual set (as mailauth signs by default), plus `Autocrypt`, so that a
 * peer that learns our users' keys from that header only when DKIM verified is not fooled by one added on the way.
 * Bcc is left out, so the Bcc header of the sender's Sent copy can be removed before transmission.
 */
export const DKIM_SIGNED_HEADERS = [
  'From',
  'Sender',
  'Reply-To',
  'Subject',
  'Date',
  'Message-ID',
  'To',
  'Cc',
  'MIME-Version',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-ID',
  'Content-Description',
  'Resent-Date',
  'Resent-From',
  'Resent-Sender',
  'Resent-To',
  'Resent-Cc',
  'Resent-Message-ID',
  'In-Reply-To',
  'References',
  'List-Id',
  'List-Help',
  'List-Unsubscribe',
  'List-Subscribe',
  'List-Post',
  'List-Owner',
  'List-Archive',
  'Autocrypt',
].join(':');

/** Signs an RFC 5322 message and returns it with the DKIM-Signature header prepended (relaxed/relaxed, rsa-sha256). */
export async function signWithDkim(raw: Buffer, key: DkimKey, at: Date): Promise<Buffer> {
  // mailauth reads the keys from `signatureData` (its top-level signingDomain/selector/privateKey are ignored).
  const options = {
    canonicalization: 'relaxed/relaxed',
    algorithm: 'rsa-sha256',
    signTime: at,
    headerList: DKIM_SIGNED_HEADERS,
    signatureData: [
      {
        signingDomain: key.domain,
        selector: key.selector,
        privateKey: key.privateKeyPem,
        canonicalization: 'relaxed/relaxed',
        algorithm: 'rsa-sha256',
      },
    ],
  };
  const result = await dkimSign(raw, options as unknown as Parameters<typeof dkimSign>[1]);
  if (result.errors.length > 0) {
    const first = result.errors[0] as unknown as { err?: Error } | Error;
    const message = first instanceof Error ? first.message : (first.err?.message ?? 'unknown error');
    throw new Error(`DKIM signing failed: ${message}`);
  }
  if (!/^DKIM-Signature:/i.test(result.signatures)) throw new Error('DKIM signing produced no signature');
  return Buffer.concat([Buffer.from(result.signatures, 'utf8'), raw]);
}
