/**
 * The fuzz targets of R3 (docs/fuzzing.md): each one a structure-aware generator (seed corpus + mutations,
 * tests/fuzz/fuzz.mutate.ts) and an oracle:
 * - nothing thrown but the parser's documented typed error (a Result's failure code, DescriptorError,
 *   SearchQueryError, ProtocolError `json_unsupported_value`); the parsers documented as "never throws" throw nothing;
 * - no hang: asynchronous parses must settle within a bounded number of event-loop turns (fuzz.engine.ts `settles`);
 * - the limits the parser promises hold on its output (subject length, address counts, UDP answer size...);
 * - round trips where they exist: canonical JSON, envelope seal/open, feed parse idempotence, search query
 *   format/parse, label issue/verify, descriptor sign/verify.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Packet } from 'dns-packet';
import fc from 'fast-check';
import {
  canonicalJson,
  canonicalJsonBytes,
  ERROR_CODES,
  sha256,
  ProtocolError,
  type Result,
} from '@caliopen/federation-protocol';
import {
  DESCRIPTOR_ERROR_CODES,
  DescriptorError,
  parseDescriptorPayload,
  signDescriptor,
  verifyDescriptor,
} from '../../federation-protocol/src/descriptor.ts';
import type { InstanceDescriptor } from '../../federation-protocol/src/descriptor.ts';
import { encodeBase64, utf8Encode } from '../../federation-protocol/src/encoding.ts';
import {
  openEnvelope,
  sealEnvelope,
  type OpenEnvelopeOptions,
  type SealEnvelopeInput,
} from '../../federation-protocol/src/envelope.ts';
import { diffFeeds } from '../../federation-protocol/src/feed.ts';
import {
  parseFeed,
  parseFeedDelta,
  parseFeedDeltaHead,
  parseFeedHead,
  parseJsonBody,
} from '../../federation-protocol/src/feed.parse.ts';
import { signJws } from '../../federation-protocol/src/jws.ts';
import { LABEL_JWS_TYPE, verifyLabel } from '../../federation-protocol/src/label.ts';
import {
  alpha,
  beta,
  betaPrekey,
  gamma,
  keyLookups,
  payloadFor,
  sealRaw,
} from '../../federation-protocol/src/testing/federation-fixtures.ts';
import {
  feedOf,
  keySet,
  labelFor,
  logTree,
  REGISTRY,
  registryKey,
  T0,
} from '../../federation-protocol/src/testing/fixtures.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { threadKeyOf } from '@caliopen/instance/conversations/conversation.resolver.ts';
import { buildDnsZone, type DnsZone } from '@caliopen/instance/discovery/dns-zone.ts';
import { answerDnsMessage } from '@caliopen/instance/discovery/dns.responder.ts';
import { LocalPartDirectory } from '@caliopen/instance/discovery/local-part.directory.ts';
import { MemoryPublishedKeys } from '@caliopen/instance/discovery/published-keys.memory.ts';
import { MAX_HOPS, receivedChain } from '@caliopen/instance/email/received-chain.ts';
import { createInstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { hostileCorpus } from '@caliopen/instance/mail/hostile-mail.fixture.ts';
import { authorsOf, PARSE_LIMITS, parseHeaders, parseMessage } from '@caliopen/instance/mail/message.parser.ts';
import { contentView } from '@caliopen/instance/messages/message-ingest.service.ts';
import { detectOpenPgp, firstPacketTag } from '@caliopen/instance/openpgp/openpgp.detect.ts';
import {
  generateTestKey,
  inlineEncrypted,
  inlineSigned,
  inlineSignedMessage,
  pgpMimeEncrypted,
  pgpMimeSigned,
} from '@caliopen/instance/openpgp/openpgp.fixture.ts';
import {
  canonicalCrlf,
  decodedBody,
  decodeQuotedPrintable,
  partsOf,
  readEntity,
} from '@caliopen/instance/openpgp/openpgp.mime.ts';
import {
  formatSearchQuery,
  freeTextTerms,
  parseSearchQuery,
  SearchQueryError,
} from '@caliopen/instance/search/search.query-parser.ts';
import { tempDir } from '../support/tmp.ts';
import type { FuzzTarget } from './fuzz.engine.ts';
import { settles } from './fuzz.engine.ts';
import { type Json, mutatedBytes, mutatedJson, mutatedJsonText } from './fuzz.mutate.ts';

/**
 * Event-loop turns an asynchronous parse of one input may take before it counts as a hang. Generous: the turns spin
 * while the thread pool does the cryptography, and a loaded machine makes that take many turns.
 */
const PARSE_TURNS = 1_000_000;

const bytesIo = { save: (b: Buffer) => b, load: (b: Buffer) => b };
const jsonIo = <T>() => ({
  save: (v: T) => Buffer.from(JSON.stringify(v), 'utf8'),
  load: (b: Buffer) => JSON.parse(b.toString('utf8')) as T,
});

/** A Result's failure must carry a code of the protocol's catalogue. */
function assertKnownFailure(result: Result<unknown>): void {
  if (result.ok) return;
  assert.ok(result.error instanceof ProtocolError, 'a failure is a ProtocolError');
  assert.ok(Object.hasOwn(ERROR_CODES, result.error.code), `unknown code ${result.error.code}`);
}

const CRLF = '\r\n';
const mail = (headers: string[], body: string) => Buffer.from(`${headers.join(CRLF)}${CRLF}${CRLF}${body}`, 'utf8');

const MIME_DICTIONARY = [
  CRLF,
  `${CRLF}${CRLF}`,
  '\n',
  ' ',
  '\t',
  ':',
  ';',
  '"',
  '<',
  '>',
  ',',
  '@',
  '=',
  '--',
  '--b0',
  '--b0--',
  'boundary=',
  'boundary="b0"',
  'Content-Type: ',
  'multipart/mixed; boundary="b0"',
  'multipart/alternative',
  'multipart/signed; protocol="application/pgp-signature"; boundary="b0"',
  'multipart/encrypted; protocol="application/pgp-encrypted"; boundary="b0"',
  'message/rfc822',
  'text/html',
  'text/plain; charset=',
  'charset=utf-8',
  'charset=iso-2022-jp',
  'charset=x-unknown',
  'Content-Transfer-Encoding: base64',
  'Content-Transfer-Encoding: quoted-printable',
  "Content-Disposition: attachment; filename*=utf-8''",
  'filename="',
  '=?utf-8?B?',
  '=?utf-8?Q?',
  '?=',
  '=C3=A9',
  '=\r\n',
  'From: ',
  'To: ',
  'Cc: ',
  'Subject: ',
  'Date: ',
  'Received: from a by b with ESMTPS; ',
  'Message-ID: ',
  'List-Id: ',
  'Sender: ',
  'Autocrypt: addr=',
  '-----BEGIN PGP MESSAGE-----',
  '-----END PGP MESSAGE-----',
  '-----BEGIN PGP SIGNED MESSAGE-----',
  '-----BEGIN PGP SIGNATURE-----',
  '-----END PGP SIGNATURE-----',
  'Hash: SHA256',
  '<html><body>',
  '<script>',
  '</',
  '&#x',
  Buffer.from([0xff, 0xfe, 0x00, 0x80, 0xc3]),
];

/** Valid messages of the shapes mail takes, and the hostile corpus the other tests use, as seeds. */
async function mailSeeds(): Promise<{ mime: Buffer[]; openpgp: Buffer[] }> {
  const plain = mail(
    [
      'From: "=?utf-8?Q?Al=C3=AFce?=" <alice@x.example>',
      'To: bob@b.example, Group: carol@c.example, dave@d.example;',
      'Cc: <erin@e.example>',
      'Subject: =?utf-8?B?UsOpdW5pb24=?=',
      'Date: Tue, 03 Mar 2026 10:00:00 +0100',
      'Message-ID: <m1@x.example>',
      'List-Id: "Dev list" <dev.lists.example>',
      'Received: from mx.x.example (mx.x.example [192.0.2.1]) by mx.alpha.test with ESMTPS id 1; Tue, 3 Mar 2026',
    ],
    '> quoted\r\nNew text.\r\n',
  );
  const alternative = mail(
    [
      'From: a@a.example',
      'To: b@b.example',
      'Subject: alt',
      'MIME-Version: 1.0',
      'Content-Type: multipart/alternative; boundary="b0"',
    ],
    [
      '--b0',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'caf=E9 =',
      'au lait',
      '--b0',
      'Content-Type: text/html; charset=utf-8',
      '',
      '<p>caf&eacute; <b>au lait</b><script>x()</script></p>',
      '--b0--',
      '',
    ].join(CRLF),
  );
  const attachments = mail(
    [
      'From: a@a.example',
      'To: b@b.example',
      'Subject: files',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b0"',
    ],
    [
      '--b0',
      'Content-Type: text/plain',
      '',
      'see attached',
      '--b0',
      'Content-Type: application/pdf; name="r.pdf"',
      "Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf",
      'Content-Transfer-Encoding: base64',
      '',
      'JVBERi0xLjQKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBS',
      '--b0',
      'Content-Type: message/rfc822',
      '',
      'From: c@c.example',
      'Subject: inner',
      '',
      'forwarded',
      '--b0--',
      '',
    ].join(CRLF),
  );
  const [signer, recipient] = await Promise.all([
    generateTestKey('bob@b.example', { name: 'Bob' }),
    generateTestKey('alice@alpha.test', { name: 'Alice' }),
  ]);
  const o = { from: 'Bob <bob@b.example>', to: 'Alice <alice@alpha.test>', subject: 'pgp' };
  const openpgp = await Promise.all([
    pgpMimeSigned({ ...o, signer }),
    pgpMimeSigned({ ...o, signer, listFooter: true, lf: true }),
    pgpMimeEncrypted({ ...o, recipients: [recipient], signer }),
    inlineSigned({ ...o, signer }),
    inlineEncrypted({ ...o, recipients: [recipient] }),
    inlineSignedMessage({ ...o, signer }),
  ]);
  const hostile = hostileCorpus()
    .map((h) => h.raw)
    // The big ones (1 MB header lines, 1,000 nested parts, 5,000 recipients) take mailparser 30-260 ms each: the
    // hostile corpus tests run them; here they would slow every mutation of them down to a few per second.
    .filter((raw) => raw.length <= 8 * 1024);
  return { mime: [plain, alternative, attachments, ...openpgp, ...hostile], openpgp: [...openpgp, plain, attachments] };
}

/** The MIME ingest path: raw message -> headers, message entity fields, OpenPGP detection, transport facts. */
function mimeTarget(seeds: Buffer[]): FuzzTarget<Buffer> {
  return {
    name: 'mime',
    covers: 'instance mail/message.parser (parseHeaders, parseMessage, authorsOf), contentView, received-chain',
    arbitrary: mutatedBytes({ seeds, dictionary: MIME_DICTIONARY, maxMutations: 10 }),
    ...bytesIo,
    async check(raw) {
      const headers = parseHeaders(raw);
      const parsed = await settles(parseMessage(raw), PARSE_TURNS);
      assert.equal(typeof parsed.subject, 'string');
      assert.ok(Array.from(parsed.subject).length <= PARSE_LIMITS.subjectChars, 'subject capped');
      assert.ok(!/[\u0000-\u001f\u007f]/.test(parsed.subject), 'no control character in the subject');
      assert.ok(
        parsed.to.length <= PARSE_LIMITS.addressesPerField && parsed.cc.length <= PARSE_LIMITS.addressesPerField,
        'To and Cc capped',
      );
      assert.ok(parsed.text.length <= PARSE_LIMITS.textChars, 'text capped');
      assert.ok(parsed.attachments.length <= PARSE_LIMITS.attachments, 'attachments capped');
      assert.ok(parsed.date === null || Number.isFinite(parsed.date.getTime()), 'a date is a real date');
      // The headers file a message the same way whether or not the MIME parse succeeded.
      assert.deepEqual(parsed.from, headers.from);
      assert.equal(parsed.messageId, headers.messageId);
      const view = contentView(parsed, null);
      assert.ok(view.snippet.length <= 1000, 'snippet capped');
      threadKeyOf(view.subject);
      // Authors past the cap still count (as null, unread): only the ones read are capped.
      const authors = authorsOf(raw);
      assert.ok(
        authors.from.filter((a) => a !== null).length <= PARSE_LIMITS.addressesPerField,
        'authors read, capped',
      );
      const chain = receivedChain(raw, 'alpha.test');
      assert.ok(chain.hops.length <= MAX_HOPS, 'hops capped');
    },
  };
}

const OPENPGP_KINDS = new Set(['none', 'pgp-mime-encrypted', 'pgp-mime-signed', 'inline-encrypted', 'inline-signed']);

/** OpenPGP detection: its MIME walk must not throw at all (detectOpenPgp's catch-all would hide it). */
function openpgpTarget(seeds: Buffer[]): FuzzTarget<Buffer> {
  return {
    name: 'openpgp',
    covers: 'instance openpgp/openpgp.detect + openpgp.mime (readEntity, partsOf, decodedBody, firstPacketTag)',
    arbitrary: mutatedBytes({ seeds, dictionary: MIME_DICTIONARY, maxMutations: 10 }),
    ...bytesIo,
    check(raw) {
      const top = readEntity(raw);
      for (const part of partsOf(top, 64)?.entities ?? [top]) {
        decodedBody(part);
        canonicalCrlf(part.body);
        decodeQuotedPrintable(part.body);
        for (const nested of partsOf(part, 64)?.entities ?? []) decodedBody(nested);
      }
      const found = detectOpenPgp(raw);
      assert.ok(OPENPGP_KINDS.has(found.kind));
      assert.ok(
        !found.problem?.startsWith('The message structure could not be read'),
        `detectOpenPgp caught its own crash: ${found.problem}`,
      );
      if (typeof found.encryptedData === 'string') firstPacketTag(found.encryptedData);
      if (typeof found.signature === 'string') firstPacketTag(found.signature);
    },
  };
}

/** The authoritative DNS responder's wire parser and answer builder. */
async function dnsTarget(): Promise<{
  target: FuzzTarget<{ bytes: Buffer; transport: 'udp' | 'tcp' }>;
  cleanup: () => void;
}> {
  const tmp = tempDir('caliopen-fuzz-dns-');
  const identity = await createInstanceIdentity(tmp.dir, 'alpha.test', new SecretBox(randomBytes(32)));
  const keys = new MemoryPublishedKeys();
  keys.set('alice', randomBytes(420)).set('big', randomBytes(3000));
  const localParts = new LocalPartDirectory({
    listUsernames: async (after) => (after === undefined ? ['alice', 'big'] : []),
  });
  const zone: DnsZone = buildDnsZone({ identity, addresses: ['127.0.0.1', '::1'], keys, localParts });
  const query = (name: string, type: string, edns?: number, flags = dnsPacket.RECURSION_DESIRED) =>
    dnsPacket.encode({
      type: 'query',
      id: 4242,
      flags,
      questions: [{ name, type, class: 'IN' }],
      additionals:
        edns === undefined
          ? []
          : [{ type: 'OPT', name: '.', udpPayloadSize: edns, extendedRcode: 0, ednsVersion: 0, flags: 0, options: [] }],
    } as unknown as Packet);
  const seeds = [
    query('alpha.test', 'SOA'),
    query('alpha.test', 'MX', 4096),
    query('alpha.test', 'TXT'),
    query('mx.alpha.test', 'A'),
    query('mx.alpha.test', 'AAAA', 1232),
    query('_dmarc.alpha.test', 'TXT'),
    query('nope.alpha.test', 'A'),
    query('ALPHA.Test', 'NS'),
    query('example.org', 'A'),
    query('alpha.test', 'AXFR'),
    query('alpha.test', 'ANY', 512),
  ];
  for (const name of zone.origin ? [`_openpgpkey.${zone.origin}`] : []) seeds.push(query(name, 'TXT'));
  const target: FuzzTarget<{ bytes: Buffer; transport: 'udp' | 'tcp' }> = {
    name: 'dns',
    covers: 'instance discovery/dns.responder answerDnsMessage (wire parser, EDNS, truncation) over the real zone',
    arbitrary: fc.record({
      bytes: mutatedBytes({
        seeds,
        dictionary: [
          Buffer.from([0xc0, 0x0c]),
          Buffer.from([0x00, 0x29]),
          Buffer.from([0x00, 0xfc]),
          Buffer.from([0x3f]),
          Buffer.from([0x00]),
          Buffer.from([0xff, 0xff]),
          Buffer.from([0x80, 0x00]),
          '\x05alpha\x04test\x00',
          '\x0b_openpgpkey',
        ],
        maxMutations: 6,
        randomMaxLength: 600,
      }),
      transport: fc.constantFrom('udp' as const, 'tcp' as const),
    }),
    save: (v) => Buffer.concat([Buffer.from([v.transport === 'udp' ? 0 : 1]), v.bytes]),
    load: (b) => ({ transport: b[0] === 0 ? 'udp' : 'tcp', bytes: b.subarray(1) }),
    async check({ bytes, transport }) {
      const reply = await settles(answerDnsMessage(zone, bytes, { transport }), PARSE_TURNS);
      if (reply === null) return;
      const decoded = dnsPacket.decode(reply);
      assert.equal(decoded.id, bytes.readUInt16BE(0), 'the reply carries the query id');
      assert.ok(decoded.flag_qr, 'a reply is a response');
      assert.ok(reply.length <= (transport === 'udp' ? 1232 : 0xffff), 'answer within the transport limit');
    },
  };
  return { target, cleanup: tmp.cleanup };
}

type EnvelopeInput =
  | { mode: 'outer'; bytes: string }
  | { mode: 'inner'; payload: Json; plaintext?: string }
  | { mode: 'roundtrip'; account: string | null; local: string; body: string; e2e: boolean; contentType: string };

/** Envelopes: the outer JSON, the signed inner payload (sealed for real), and seal/open round trips. */
async function envelopeTarget(): Promise<FuzzTarget<EnvelopeInput>> {
  const now = T0 + 60;
  const openOptions: OpenEnvelopeOptions = {
    expectedDestination: beta.domain,
    now,
    expectedSender: alpha.domain,
    ...keyLookups([betaPrekey.privateKey], [alpha, beta, gamma]),
  };
  const input = (body: Uint8Array): SealEnvelopeInput => ({
    from: { instance: alpha.domain, account: 'alice' },
    to: { instance: beta.domain, local: 'bob' },
    contentType: 'message/rfc822',
    body,
    e2e: false,
    created: T0,
  });
  const sealOptions = { prekey: betaPrekey.prekey, signingKey: alpha.signingKey };
  const sealed = await Promise.all(
    [0, 100, 5000].map(async (n) => (await sealEnvelope(input(randomBytes(n)), sealOptions)).bytes),
  );
  const outerSeeds = sealed.map((b) => JSON.parse(Buffer.from(b).toString('utf8')) as Json);
  const payloadSeeds = [payloadFor(T0) as Json, payloadFor(T0, { from: { instance: alpha.domain } }) as Json];
  const arbitrary: fc.Arbitrary<EnvelopeInput> = fc.oneof(
    {
      weight: 12,
      arbitrary: mutatedJsonText(outerSeeds, ['"jwe"', '"prekey"', '"to"', '"v"']).map((b) => ({
        mode: 'outer' as const,
        bytes: b.toString('base64'),
      })),
    },
    {
      weight: 2,
      arbitrary: mutatedJson(payloadSeeds).map((payload) => ({ mode: 'inner' as const, payload })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(mutatedJson(payloadSeeds, 1), fc.uint8Array({ maxLength: 64 })).map(([payload, junk]) => ({
        mode: 'inner' as const,
        payload,
        plaintext: Buffer.from(junk).toString('base64'),
      })),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        mode: fc.constant('roundtrip' as const),
        account: fc.option(fc.stringMatching(/^[a-z0-9._-]{1,20}$/), { nil: null }),
        local: fc.stringMatching(/^[a-z0-9._+-]{1,20}$/),
        body: fc.uint8Array({ maxLength: 6000 }).map((b) => Buffer.from(b).toString('base64')),
        e2e: fc.boolean(),
        contentType: fc.constantFrom('message/rfc822', 'application/pgp-encrypted', 'text/plain', ''),
      }),
    },
  );
  return {
    name: 'envelope',
    covers: 'federation-protocol openEnvelope (outer JSON, JWE header, padding, inner JWS and payload), sealEnvelope',
    arbitrary,
    ...jsonIo<EnvelopeInput>(),
    async check(v) {
      if (v.mode === 'outer') {
        const result = await settles(openEnvelope(Buffer.from(v.bytes, 'base64'), openOptions), PARSE_TURNS);
        assertKnownFailure(result);
        return;
      }
      if (v.mode === 'inner') {
        let raw: Record<string, unknown>;
        try {
          raw = await sealRaw({
            payload: v.payload,
            signingKey: alpha.signingKey,
            iss: alpha.domain,
            prekey: betaPrekey.prekey,
            ...(v.plaintext === undefined ? {} : { plaintext: Buffer.from(v.plaintext, 'base64') }),
          });
        } catch (e) {
          // The harness cannot sign a value canonical JSON refuses: not a finding.
          if (e instanceof ProtocolError && e.code === 'json_unsupported_value') return;
          throw e;
        }
        const result = await settles(openEnvelope(raw, openOptions), PARSE_TURNS);
        assertKnownFailure(result);
        if (result.ok) {
          assert.equal(result.value.content.to.instance, beta.domain);
          assert.equal(result.value.content.from.instance, alpha.domain);
          assert.ok(result.value.content.expires > result.value.content.created);
        }
        return;
      }
      const body = Buffer.from(v.body, 'base64');
      const sealInput: SealEnvelopeInput = {
        from: v.account === null ? { instance: alpha.domain } : { instance: alpha.domain, account: v.account },
        to: { instance: beta.domain, local: v.local },
        contentType: v.contentType,
        body,
        e2e: v.e2e,
        created: T0,
      };
      let bytes: Uint8Array;
      try {
        bytes = (await sealEnvelope(sealInput, sealOptions)).bytes;
      } catch (e) {
        assert.ok(e instanceof ProtocolError && Object.hasOwn(ERROR_CODES, e.code), `seal threw ${String(e)}`);
        return;
      }
      const opened = await openEnvelope(bytes, openOptions);
      assert.ok(
        opened.ok,
        opened.ok ? '' : `what was sealed does not open: ${opened.error.code} ${opened.error.message}`,
      );
      assert.deepEqual(Buffer.from(opened.value.content.body), body);
      assert.deepEqual(opened.value.content.from, sealInput.from);
      assert.deepEqual(opened.value.content.to, sealInput.to);
      assert.equal(opened.value.content.contentType, v.contentType);
      assert.equal(opened.value.content.e2e, v.e2e);
    },
  };
}

type FeedInput = { kind: 'feed' | 'delta' | 'head' | 'delta-head'; bytes: string };

/** The registry's feed documents: every parser, idempotent on what it accepts. */
async function feedTarget(): Promise<FuzzTarget<FeedInput>> {
  const tree = logTree(8);
  const before = await feedOf([alpha, beta], { serial: 1, issuedAt: T0, tree });
  const after = await feedOf([alpha, gamma], { serial: 2, issuedAt: T0 + 3600, tree });
  const delta = diffFeeds(before, after);
  const bodySha256 = (doc: object) => encodeBase64(sha256(canonicalJsonBytes(doc)));
  const { instances: _instances, ...feedHead } = after;
  const { changed: _changed, removed: _removed, ...deltaHead } = delta;
  const heads = {
    head: { ...feedHead, bodySha256: bodySha256(after) } as unknown as Json,
    'delta-head': { ...deltaHead, bodySha256: bodySha256(delta) } as unknown as Json,
  };
  const parsers = {
    feed: parseFeed,
    delta: parseFeedDelta,
    head: parseFeedHead,
    'delta-head': parseFeedDeltaHead,
  } as const;
  const seedsOf = (kind: FeedInput['kind']): Json[] =>
    kind === 'feed'
      ? [before as unknown as Json, after as unknown as Json]
      : kind === 'delta'
        ? [delta as unknown as Json]
        : [heads[kind]];
  const kinds: FeedInput['kind'][] = ['feed', 'delta', 'head', 'delta-head'];
  return {
    name: 'feed',
    covers:
      'federation-protocol feed.parse (parseFeed, parseFeedDelta, parseFeedHead, parseFeedDeltaHead, parseJsonBody)',
    arbitrary: fc.oneof(
      ...kinds.map((kind) =>
        mutatedJsonText(seedsOf(kind), ['"instances"', '"changed"', '"removed"', '"domain"', '"label"']).map((b) => ({
          kind,
          bytes: b.toString('base64'),
        })),
      ),
    ),
    ...jsonIo<FeedInput>(),
    check({ kind, bytes }) {
      const parse = parsers[kind] as (input: unknown) => Result<unknown>;
      const result = parseJsonBody(Buffer.from(bytes, 'base64'), parse);
      assertKnownFailure(result);
      if (!result.ok) return;
      // One canonical form: what was accepted parses again to itself, and has canonical JSON.
      const again = parse(JSON.parse(canonicalJson(result.value)));
      assert.ok(again.ok, again.ok ? '' : `accepted once, refused after a round trip: ${again.error.message}`);
      assert.deepEqual(again.value, result.value);
    },
  };
}

type JwsInput = { mode: 'text'; jws: string } | { mode: 'signed'; payload: Json };

/** Labels: compact JWS text mutated, and claims mutated then signed by the registry key (reaching the claim checks). */
async function labelTarget(): Promise<FuzzTarget<JwsInput>> {
  const issued = await Promise.all([labelFor(alpha, { issuedAt: T0 }), labelFor(beta, { issuedAt: T0 - 3600 })]);
  const options = { keySet, expectedDomain: alpha.domain, now: T0 + 60, expectedIssuer: REGISTRY };
  const claimsSeeds = issued.map(
    ({ jws }) => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as Json,
  );
  return {
    name: 'label',
    covers: 'federation-protocol verifyLabel (compact JWS, header, key set, claims, time)',
    arbitrary: fc.oneof(
      {
        weight: 2,
        arbitrary: mutatedBytes({
          seeds: issued.map(({ jws }) => Buffer.from(jws)),
          dictionary: ['.', '..', '-', '_', 'eyJ', 'e30', '=', 'AAAA'],
          maxMutations: 4,
        }).map((b) => ({ mode: 'text' as const, jws: b.toString('latin1') })),
      },
      { weight: 1, arbitrary: mutatedJson(claimsSeeds).map((payload) => ({ mode: 'signed' as const, payload })) },
    ),
    ...jsonIo<JwsInput>(),
    async check(v) {
      let jws: string;
      if (v.mode === 'text') jws = v.jws;
      else {
        try {
          jws = await signJws(v.payload, registryKey, LABEL_JWS_TYPE);
        } catch (e) {
          if (e instanceof ProtocolError && e.code === 'json_unsupported_value') return;
          throw e;
        }
      }
      const result = await settles(verifyLabel(jws, options), PARSE_TURNS);
      assertKnownFailure(result);
      if (result.ok) {
        assert.equal(result.value.domain, alpha.domain);
        assert.equal(result.value.issuer, REGISTRY);
        assert.ok(result.value.expiresAt > result.value.issuedAt);
      }
    },
  };
}

/** Instance descriptors: the payload parser, and the JWS verifier with mutated payloads signed by the right key. */
async function descriptorTarget(): Promise<FuzzTarget<JwsInput>> {
  const descriptor: InstanceDescriptor = {
    version: 1,
    domain: alpha.domain,
    keys: { signing: alpha.signingKey.publicJwk, encryption: alpha.encryptionJwk },
    endpoints: { https: 'https://alpha.caliopen.test', smtp: 'alpha.caliopen.test:25' },
    certificateSha256: alpha.certFingerprint,
    issuedAt: T0,
  };
  const jws = await signDescriptor(descriptor, alpha.signingKey.privateJwk);
  const options = { expectedDomain: alpha.domain, now: T0 + 3600 };
  const assertDescriptorFailure = (r: { ok: boolean; error?: unknown }) => {
    if (r.ok) return;
    assert.ok(r.error instanceof DescriptorError, 'a failure is a DescriptorError');
    assert.ok(Object.hasOwn(DESCRIPTOR_ERROR_CODES, r.error.code), `unknown code ${r.error.code}`);
  };
  return {
    name: 'descriptor',
    covers: 'federation-protocol parseDescriptorPayload, verifyDescriptor, signDescriptor round trip',
    arbitrary: fc.oneof(
      {
        weight: 1,
        arbitrary: mutatedBytes({
          seeds: [Buffer.from(jws)],
          dictionary: ['.', '..', 'eyJ', '-', '_'],
          maxMutations: 4,
        }).map((b) => ({ mode: 'text' as const, jws: b.toString('latin1') })),
      },
      {
        weight: 2,
        arbitrary: mutatedJson([descriptor as unknown as Json]).map((payload) => ({
          mode: 'signed' as const,
          payload,
        })),
      },
    ),
    ...jsonIo<JwsInput>(),
    async check(v) {
      if (v.mode === 'text') {
        assertDescriptorFailure(await settles(verifyDescriptor(v.jws, options), PARSE_TURNS));
        return;
      }
      const parsed = parseDescriptorPayload(v.payload);
      assertDescriptorFailure(parsed);
      if (!parsed.ok) return;
      // What the parser accepts, the owner of the key can sign, and it verifies to the same descriptor.
      let signed: string;
      try {
        signed = await signDescriptor(parsed.value, alpha.signingKey.privateJwk);
      } catch (e) {
        assert.ok(e instanceof DescriptorError, `signDescriptor threw ${String(e)}`);
        return;
      }
      const verified = await verifyDescriptor(signed, {
        ...options,
        expectedDomain: parsed.value.domain,
        now: parsed.value.issuedAt + 1,
      });
      assertDescriptorFailure(verified);
      if (verified.ok) assert.deepEqual(verified.value.descriptor, parsed.value);
    },
  };
}

type CanonicalInput = { json: Json } | { text: string };

/** Canonical JSON (RFC 8785): round trip, idempotence, member order; only `json_unsupported_value` is thrown. */
function canonicalTarget(): FuzzTarget<CanonicalInput> {
  const value = fc.jsonValue({ maxDepth: 6 }) as fc.Arbitrary<Json>;
  return {
    name: 'canonical-json',
    covers: 'federation-protocol canonicalJson (RFC 8785) on values and on JSON texts',
    arbitrary: fc.oneof(
      { weight: 3, arbitrary: value.map((json) => ({ json })) },
      {
        // Deep nesting, as text: JSON.parse reads it, the canonical writer recurses (the first finding, docs/fuzzing.md).
        weight: 1,
        arbitrary: fc
          .tuple(fc.integer({ min: 1, max: 2000 }), fc.constantFrom('[', '{"a":'), fc.constantFrom('', '1', '"x"'))
          .map(([depth, open, leaf]) => ({
            text: `${open.repeat(depth)}${leaf || (open === '[' ? '' : '1')}${(open === '[' ? ']' : '}').repeat(depth)}`,
          })),
      },
      {
        weight: 1,
        arbitrary: mutatedBytes({
          seeds: [
            Buffer.from('{"b":[1,2.5,-0,1e21,"\\u00e9"],"a":{"z":null,"é":true}}'),
            Buffer.from('"\\ud83d\\ude00"'),
          ],
          dictionary: ['\\ud800', '\\udc00', '1e400', '-0', '{', '}', '[', ']', ',', '"', ':', '__proto__'],
        }).map((b) => ({ text: b.toString('utf8') })),
      },
    ),
    ...jsonIo<CanonicalInput>(),
    check(v) {
      let input: unknown;
      if ('json' in v) input = v.json;
      else {
        try {
          input = JSON.parse(v.text);
        } catch {
          return;
        }
      }
      let text: string;
      try {
        text = canonicalJson(input);
      } catch (e) {
        assert.ok(e instanceof ProtocolError && e.code === 'json_unsupported_value', `threw ${String(e)}`);
        return;
      }
      const back = JSON.parse(text) as unknown;
      assert.equal(canonicalJson(back), text, 'canonical JSON is idempotent');
      assert.deepEqual(back, JSON.parse(JSON.stringify(input)), 'canonical JSON keeps the value');
      utf8Encode(text);
    },
  };
}

/** The search box language: only SearchQueryError is thrown; formatting and parsing again gives the same query. */
function searchTarget(): FuzzTarget<string> {
  const unit = fc.constantFrom(
    'a',
    'é',
    'Z',
    '0',
    '5',
    ' ',
    '\t',
    '\n',
    '"',
    ':',
    '>',
    '<',
    '=',
    '-',
    '*',
    '(',
    ')',
    '.',
    '@',
    '\\',
    'İ',
    'ß',
    '\u00a0',
    '\u3000',
    '\ud83d\ude00',
    '\ud800',
    'from',
    'to',
    'subject',
    'after',
    'before',
    'protocol',
    'pi',
    'tag',
    'FROM',
    'Pi',
    '2024-01-01',
    '2024-02-30',
    '0000-01-01',
    '9999-12-31',
    'T10:00Z',
    'T23:59:59.123456789+14:00',
    '100',
    '101',
  );
  const seeds = [
    'from:alice to:bob subject:"hello world" after:2024-01-01 before:2024-02-01 protocol:email pi>=50 tag:work',
    'free words "a phrase" pi:10',
    'after:2024-01-31T18:00Z before:2025-01-01',
  ].map((s) => Buffer.from(s));
  return {
    name: 'search',
    covers: 'instance search/search.query-parser (parseSearchQuery, formatSearchQuery, freeTextTerms)',
    arbitrary: fc.oneof(
      fc.string({ unit, maxLength: 60 }),
      fc.string({ maxLength: 200 }),
      fc.string({ unit: 'binary', maxLength: 100 }),
      mutatedBytes({ seeds, dictionary: ['"', ':', ' ', 'from:', 'pi>=', 'after:', '"x y"'] }).map((b) =>
        b.toString('utf8'),
      ),
    ),
    save: (s) => Buffer.from(JSON.stringify(s), 'utf8'),
    load: (b) => JSON.parse(b.toString('utf8')) as string,
    check(input) {
      let q: ReturnType<typeof parseSearchQuery>;
      try {
        q = parseSearchQuery(input);
        freeTextTerms(q.text);
      } catch (e) {
        assert.ok(e instanceof SearchQueryError, `threw ${String(e)}`);
        return;
      }
      assert.deepEqual(parseSearchQuery(formatSearchQuery(q)), q, 'format then parse gives the same query');
    },
  };
}

export const FUZZ_TARGET_NAMES = [
  'mime',
  'openpgp',
  'dns',
  'envelope',
  'feed',
  'label',
  'descriptor',
  'canonical-json',
  'search',
] as const;

export interface FuzzSuite {
  targets: FuzzTarget<any>[];
  cleanup(): void;
}

/** Every target, with what they need set up (keys, an instance identity for the DNS zone, sealed envelopes). */
export async function fuzzTargets(): Promise<FuzzSuite> {
  const [seeds, dns, envelope, feed, label, descriptor] = await Promise.all([
    mailSeeds(),
    dnsTarget(),
    envelopeTarget(),
    feedTarget(),
    labelTarget(),
    descriptorTarget(),
  ]);
  return {
    targets: [
      mimeTarget(seeds.mime),
      openpgpTarget(seeds.openpgp),
      dns.target,
      envelope,
      feed,
      label,
      descriptor,
      canonicalTarget(),
      searchTarget(),
    ],
    cleanup: dns.cleanup,
  };
}
