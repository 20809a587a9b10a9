/**
 * The federation envelope's own cost (issue 14, P2): CPU per sealEnvelope and per openEnvelope of a message of SIZE
 * bytes, on this thread, with the keys imported once as the instance does. Each delivery pays one of each (the sender
 * seals, the recipient opens). BASE64=native (default) installs the Buffer-backed Uint8Array base64 the composition
 * roots install (platform/src/runtime/uint8array-base64.polyfill.ts); BASE64=fallback leaves jose on btoa/atob.
 *
 *   node --import tsx tests/bench/envelope.bench.ts
 *   BASE64=fallback N=2000 SIZE=30000 node --import tsx tests/bench/envelope.bench.ts
 *
 * Prints figures; numbers go in docs/benchmarks.md. Never used as a test.
 */
import {
  generateEd25519KeyPair,
  generatePrekey,
  openEnvelope,
  sealEnvelope,
  type OpenEnvelopeOptions,
  type SealEnvelopeInput,
} from '@caliopen/federation-protocol';
import { installUint8ArrayBase64 } from '@caliopen/platform/runtime/uint8array-base64.polyfill.ts';

const N = Number(process.env.N ?? 1000);
const SIZE = Number(process.env.SIZE ?? 11_000);
const NATIVE = (process.env.BASE64 ?? 'native') !== 'fallback';
if (NATIVE) installUint8ArrayBase64();

const now = Math.floor(Date.now() / 1000);
const signingKey = generateEd25519KeyPair();
const { prekey, privateKey } = generatePrekey({ domain: 'beta.test', notBefore: now - 10, windowSeconds: 86_400 });
const input: SealEnvelopeInput = {
  from: { instance: 'alpha.test', account: 'alice' },
  to: { instance: 'beta.test', local: 'bob' },
  contentType: 'message/rfc822',
  body: new Uint8Array(SIZE).fill(0x41),
  e2e: false,
  created: now,
};
const openOptions: OpenEnvelopeOptions = {
  expectedDestination: 'beta.test',
  now,
  expectedSender: 'alpha.test',
  prekeyPrivate: () => privateKey,
  senderKeys: () => [signingKey.publicJwk],
};

/** CPU (user + system, every thread of the process: WebCrypto's jobs run on libuv's pool) and wall time per call. */
async function measure(what: string, run: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 50; i++) await run(i);
  const cpu = process.cpuUsage();
  const t = performance.now();
  for (let i = 0; i < N; i++) await run(i);
  const used = process.cpuUsage(cpu);
  const wall = (performance.now() - t) / N;
  console.log(
    `${what.padEnd(6)} ${((used.user + used.system) / 1000 / N).toFixed(3)} ms CPU, ${wall.toFixed(3)} ms wall per call`,
  );
}

console.log(
  `envelope bench: N=${N}, body ${SIZE} B, base64 ${NATIVE ? 'native (Buffer)' : "jose's fallback (btoa/atob)"}; node ${process.version}`,
);
const sealed: Uint8Array[] = [];
await measure('seal', async (i) => {
  sealed[i % 64] = (await sealEnvelope(input, { prekey, signingKey })).bytes;
});
await measure('open', async (i) => {
  const opened = await openEnvelope(sealed[i % 64]!, openOptions);
  if (!opened.ok) throw new Error(opened.error.message);
});
