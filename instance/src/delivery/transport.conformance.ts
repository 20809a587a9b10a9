import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, test } from 'vitest';
import type { FederationJob } from './delivery.types.ts';
import type { SentCopy, Transport } from './transport.port.ts';

/** A transport set up against a real peer that accepts one address, refuses one for now and one for good. */
export interface TransportUnderTest {
  transport: Transport<FederationJob>;
  /** The recipients' domain (where the peer is). */
  domain: string;
  /** Addresses at `domain` the peer accepts, refuses temporarily, refuses permanently. */
  accepted: string;
  temporary: string;
  permanent: string;
  stop(): Promise<void>;
}

const copy = (): SentCopy => {
  const id = randomUUID();
  return {
    message: { externalId: `<${id}@alpha.test>`, subject: 'conformance' },
    transmitted: Buffer.from(
      `From: alice@alpha.test\r\nTo: someone\r\nSubject: conformance\r\nMessage-ID: <${id}@alpha.test>\r\n\r\nbody\r\n`,
    ),
  };
};

/**
 * What every Transport (transport.port.ts) must do, whatever its protocol — the contract the delivery worker relies
 * on: one outcome per recipient, in the job's order; a refusal is an outcome (temporary 4.x.x, permanent 5.x.x),
 * never an exception; a delivering attempt says what it established, named after the transport; diagnostics are one
 * line of ASCII (they go into bounces and logs' neighbours).
 */
export function describeTransportConformance(name: string, setup: () => Promise<TransportUnderTest>): void {
  describe(`Transport conformance: ${name}`, () => {
    let t: TransportUnderTest;
    beforeAll(async () => {
      t = await setup();
    });
    afterAll(async () => {
      await t?.stop();
    });
    const job = (recipients: string[]): FederationJob => ({
      accountId: randomUUID(),
      messageId: randomUUID(),
      from: 'alice@alpha.test',
      domain: t.domain,
      recipients,
      attempt: 1,
      queuedAt: new Date().toISOString(),
      history: [],
    });

    test('each recipient gets its own outcome, in the order of the job', async () => {
      const result = await t.transport.attempt(job([t.permanent, t.accepted, t.temporary]), copy());
      assert.equal(result.kind, 'attempted');
      if (result.kind !== 'attempted') return;
      const { recipients } = result.attempt;
      assert.deepEqual(
        recipients.map((r) => [r.address, r.kind]),
        [
          [t.permanent, 'permanent'],
          [t.accepted, 'delivered'],
          [t.temporary, 'temporary'],
        ],
      );
      assert.deepEqual(
        recipients.map((r) => r.status[0]),
        ['5', '2', '4'],
        'RFC 3463 classes',
      );
      for (const r of recipients) {
        assert.match(r.status, /^[245]\.\d{1,3}\.\d{1,3}$/);
        assert.match(r.diagnostic, /^[\x20-\x7e]+$/, 'one line of ASCII');
      }
    });

    test('a delivering attempt says what it established: its transport, the domain, the time', async () => {
      const before = Date.now();
      const result = await t.transport.attempt(job([t.accepted]), copy());
      assert.equal(result.kind, 'attempted');
      if (result.kind !== 'attempted') return;
      assert.equal(result.attempt.recipients[0]!.kind, 'delivered');
      const fact = result.attempt.fact;
      assert.ok(fact, 'a fact to record');
      assert.equal(fact.via, t.transport.name);
      assert.equal(fact.domain, t.domain);
      assert.ok(Date.parse(fact.at) >= before - 1000 && Date.parse(result.attempt.at) >= before - 1000);
      assert.ok(result.attempt.remote, 'who answered');
    });

    test('refusals only: outcomes, not exceptions', async () => {
      const result = await t.transport.attempt(job([t.temporary, t.permanent]), copy());
      assert.equal(result.kind, 'attempted');
      if (result.kind !== 'attempted') return;
      assert.deepEqual(
        result.attempt.recipients.map((r) => r.kind),
        ['temporary', 'permanent'],
      );
    });
  });
}
