/**
 * R3 in CI: every fuzz target (tests/fuzz/fuzz.targets.ts) runs 10,000 generated inputs through its oracle and must
 * find nothing; every input a campaign found (tests/fuzz/regressions/<target>/*.bin, see docs/fuzzing.md) is replayed
 * and must pass. The full campaign (1,000,000 per target) is `npm run fuzz`. Set FUZZ_ITERATIONS to change the count.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, test } from 'vitest';
import { type FuzzTarget, fuzz, settles, shrink } from './fuzz.engine.ts';
import { type FuzzSuite, FUZZ_TARGET_NAMES, fuzzTargets } from './fuzz.targets.ts';
import { mutatedBytes } from './fuzz.mutate.ts';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 10_000);
const REGRESSIONS = join(import.meta.dirname, 'regressions');

describe('fuzzing (R3): no crash, no hang, round trips hold', () => {
  let suite: FuzzSuite;
  beforeAll(async () => {
    suite = await fuzzTargets();
    assert.deepEqual(
      suite.targets.map((t) => t.name),
      [...FUZZ_TARGET_NAMES],
    );
  });
  afterAll(() => suite?.cleanup());
  const target = (name: string) => suite.targets.find((t) => t.name === name)!;

  test.each([...FUZZ_TARGET_NAMES])(
    `%s: ${ITERATIONS.toLocaleString('en')} generated inputs, no finding`,
    async (name) => {
      const report = await fuzz(target(name), { iterations: ITERATIONS, seed: Number(process.env.FUZZ_SEED ?? 1) });
      assert.equal(report.iterations, ITERATIONS);
      assert.deepEqual(
        report.findings.map(
          (f) =>
            `${f.signature} (${f.count}x), first input ${JSON.stringify(f.input.toString('latin1').slice(0, 300))}`,
        ),
        [],
      );
    },
  );

  test.each([...FUZZ_TARGET_NAMES])('%s: every input of its regression corpus passes', async (name) => {
    const dir = join(REGRESSIONS, name);
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.bin')) : [];
    for (const file of files) {
      const t = target(name);
      await t.check(t.load(readFileSync(join(dir, file))));
    }
  });
});

describe('the fuzz engine can fail', () => {
  /** A parser with a planted bug: it throws a TypeError on a part boundary followed by a NUL byte. */
  const planted: FuzzTarget<Buffer> = {
    name: 'planted',
    covers: 'a parser with a planted bug',
    arbitrary: mutatedBytes({
      seeds: [Buffer.from('From: a\r\n\r\n--b0\r\nhello\r\n--b0--\r\n')],
      dictionary: ['--b0', '\0'],
    }),
    save: (b) => b,
    load: (b) => b,
    check(raw) {
      if (raw.includes('--b0\0')) throw new TypeError('planted bug');
    },
  };

  test('a planted crash is found, counted once per kind, and shrunk to the few bytes that trigger it', async () => {
    const report = await fuzz(planted, { iterations: 5000, seed: 7 });
    assert.equal(report.findings.length, 1, JSON.stringify(report.findings));
    const [finding] = report.findings;
    assert.match(finding!.signature, /^TypeError: planted bug/);
    assert.ok(finding!.count >= 1);
    const small = await shrink(planted, finding!, { iterations: 5000, seed: 7 });
    assert.ok(small.includes('--b0\0'), 'the shrunk input still triggers it');
    assert.ok(small.length <= finding!.input.length, 'no larger than the first one found');
  });

  test('a parse that never settles is a hang, counted in event-loop turns', async () => {
    await assert.rejects(settles(new Promise(() => {}), 1000), { name: 'FuzzHang' });
    assert.equal(await settles(Promise.resolve(42), 1), 42);
    const report = await fuzz(
      {
        ...planted,
        async check(raw: Buffer) {
          if (raw.length % 7 === 3) await settles(new Promise(() => {}), 100);
        },
      },
      { iterations: 300, seed: 3 },
    );
    assert.deepEqual(
      report.findings.map((f) => f.signature),
      ['FuzzHang: did not settle within # event-loop turns'],
    );
  });
});
