/**
 * R3 fuzzing campaign: N iterations per target (default 1,000,000), printing iterations per second and findings.
 *
 *     npm run fuzz -- [--iterations N] [--seed S] [--target name,...] [--out dir] [--no-shrink]
 *
 * Each finding (one per distinct failure) is shrunk by replaying the same seed, written to `--out` (default a
 * temporary directory) as `<target>-<n>.bin`, and printed; copy it under tests/fuzz/regressions/<target>/ to make it
 * a regression test (tests/fuzz/fuzz.test.ts replays every file there). Exit code 1 when anything was found.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fuzz, shrink, type FuzzReport } from './fuzz.engine.ts';
import { fuzzTargets } from './fuzz.targets.ts';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '1000000' },
    seed: { type: 'string', default: '1' },
    target: { type: 'string' },
    out: { type: 'string' },
    'no-shrink': { type: 'boolean', default: false },
  },
});
const iterations = Number(values.iterations);
const seed = Number(values.seed);
if (!Number.isSafeInteger(iterations) || iterations < 1) throw new Error('--iterations takes a positive integer');
if (!Number.isSafeInteger(seed)) throw new Error('--seed takes an integer');

const suite = await fuzzTargets();
const wanted = values.target?.split(',').map((s) => s.trim());
const targets = wanted ? suite.targets.filter((t) => wanted.includes(t.name)) : suite.targets;
if (wanted && targets.length !== wanted.length) {
  throw new Error(`unknown target in ${values.target}; targets: ${suite.targets.map((t) => t.name).join(', ')}`);
}
const out = values.out ?? mkdtempSync(join(tmpdir(), 'caliopen-fuzz-'));
mkdirSync(out, { recursive: true });

// A crash outside the promise chain (a stream 'error' nobody listens to) is a finding too, not the end of the run.
let stray: unknown[] = [];
process.on('uncaughtException', (e) => stray.push(e));
process.on('unhandledRejection', (e) => stray.push(e));

console.log(`fuzzing ${targets.length} targets, ${iterations.toLocaleString('en')} iterations each, seed ${seed}`);
const reports: FuzzReport[] = [];
let found = 0;
for (const target of targets) {
  console.log(`\n== ${target.name}: ${target.covers}`);
  stray = [];
  const report = await fuzz(target, {
    iterations,
    seed,
    progress: {
      every: Math.max(1, Math.floor(iterations / 10)),
      report: (done, s) =>
        console.log(`   ${done.toLocaleString('en')} in ${s.toFixed(1)} s (${Math.round(done / s)}/s)`),
    },
  });
  for (const e of stray) console.log(`   stray error during the run: ${String(e)}`);
  reports.push(report);
  console.log(
    `   ${report.iterations.toLocaleString('en')} iterations in ${report.seconds.toFixed(1)} s: ` +
      `${Math.round(report.perSecond).toLocaleString('en')}/s, ${report.findings.length} finding(s)`,
  );
  for (const [i, finding] of report.findings.entries()) {
    const input = values['no-shrink'] ? finding.input : await shrink(target, finding, { iterations, seed });
    const file = join(out, `${target.name}-${i + 1}.bin`);
    writeFileSync(file, input);
    found++;
    console.log(`   FINDING ${i + 1} (${finding.count}x): ${finding.signature}`);
    console.log(`     ${finding.message.split('\n')[0]}`);
    console.log(
      `     input (${input.length} bytes) -> ${file}: ${JSON.stringify(input.toString('latin1').slice(0, 200))}`,
    );
  }
  if (stray.length > 0) found += stray.length;
}
suite.cleanup();

console.log('\n| target | iterations | seconds | iterations/s | findings |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const r of reports) {
  console.log(
    `| ${r.target} | ${r.iterations.toLocaleString('en')} | ${r.seconds.toFixed(1)} | ` +
      `${Math.round(r.perSecond).toLocaleString('en')} | ${r.findings.length} |`,
  );
}
process.exitCode = found > 0 ? 1 : 0;
