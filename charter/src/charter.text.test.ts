import { describe, it } from 'vitest';
import assert from 'node:assert/strict';
import {
  charterClauses,
  charterVersion,
  charterVersions,
  INCIDENT_DISCLOSURE_LIMIT_V1,
  RETENTION_LIMITS_V1,
} from './index.ts';

/** The clauses as the text states them: `### <id> — <title>` followed by `*Mandatory clause; up to N points.*` and the like. */
function clausesInText(text: string) {
  const lines = text.split('\n');
  const out: { id: string; title: string; mandatory: boolean; maxPoints: number }[] = [];
  lines.forEach((line, i) => {
    const heading = /^### (C\d+\.[a-z-]+) — (.+)$/.exec(line);
    if (!heading) return;
    const meta = lines.slice(i + 1).find((l) => l.trim().length > 0) ?? '';
    const m = /^\*(Mandatory|Scored) clause; (?:up to (\d+) points|no points)\.\*$/.exec(meta);
    assert.ok(m, `clause ${heading[1]} must be followed by its status line, got: ${meta}`);
    out.push({
      id: heading[1]!,
      title: heading[2]!,
      mandatory: m[1] === 'Mandatory',
      maxPoints: m[2] ? Number(m[2]) : 0,
    });
  });
  return out;
}

describe('every published charter text agrees with its rules', () => {
  for (const version of charterVersions()) {
    it(`charter ${version.version}: same clauses, titles, mandatory flags and points, in the same order`, () => {
      assert.deepEqual(clausesInText(version.text), charterClauses(version.version));
    });

    it(`charter ${version.version}: every clause id the text refers to exists, and ids are unique`, () => {
      const defined = new Set(charterClauses(version.version).map((c) => c.id));
      assert.equal(defined.size, charterClauses(version.version).length);
      const referenced = new Set(version.text.match(/\bC\d+\.[a-z]+(?:-[a-z]+)*/g) ?? []);
      for (const id of referenced) assert.ok(defined.has(id), `the text refers to ${id}, which is no clause`);
      const numbers = [...defined].map((id) => Number(/^C(\d+)\./.exec(id)![1]));
      assert.deepEqual(
        numbers,
        numbers.map((_, i) => i + 1),
        'clauses are numbered C1, C2, ... in order',
      );
    });
  }

  it('charter 1.0: the scored points add up to 100', () => {
    assert.equal(
      charterClauses('1.0').reduce((s, c) => s + c.maxPoints, 0),
      100,
    );
  });

  it('charter 1.0: the limits the rules apply are the ones the text states', () => {
    const text = charterVersion('1.0')!.text;
    assert.match(
      text,
      new RegExp(
        `operational logs \\(\`retention.logsDays\`\\): \\*\\*at most ${RETENTION_LIMITS_V1.logsDays} days\\*\\*`,
      ),
    );
    assert.match(
      text,
      new RegExp(
        `backups \\(\`retention.backupsDays\`\\): \\*\\*at most ${RETENTION_LIMITS_V1.backupsDays} days\\*\\*`,
      ),
    );
    assert.match(text, new RegExp(`\\*\\*erased within ${RETENTION_LIMITS_V1.deletedAccountDays} days\\*\\*`));
    assert.match(text, new RegExp(`\\*\\*at most ${INCIDENT_DISCLOSURE_LIMIT_V1}\\*\\*`));
  });

  it('charter 1.0: the promises the seeds ask for are there', () => {
    const text = charterVersion('1.0')!.text.toLowerCase();
    for (const promise of [
      'does not sell',
      'consensus',
      'traceable',
      'erases short-lived keys',
      'not evidence',
      'export all their data',
      'revocation',
      'merkle log',
      'hidden from the public directory',
    ]) {
      assert.ok(text.includes(promise), promise);
    }
  });
});
