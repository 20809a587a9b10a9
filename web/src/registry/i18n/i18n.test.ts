import { describe, expect, it } from 'vitest';
import { regEn } from './en.ts';
import { regFr } from './fr.ts';
import { createRegistryI18n, deepMerge } from './i18n.ts';

function keys(tree: unknown, prefix = ''): string[] {
  if (typeof tree !== 'object' || tree === null) return [prefix];
  return Object.entries(tree).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
}

describe('registry site catalogues', () => {
  it('French has every English key', () => {
    expect(keys(regFr).sort()).toEqual(keys(regEn).sort());
  });

  it('merges into the user app’s catalogue without losing its PI keys', () => {
    expect(deepMerge({ pi: { a: 1, factorName: { x: 'X' } } }, { pi: { factorName: { y: 'Y' } } })).toEqual({
      pi: { a: 1, factorName: { x: 'X', y: 'Y' } },
    });
    const fr = createRegistryI18n('fr');
    expect(fr.t('reg.directory.title')).toBe('Annuaire des membres');
    expect(fr.t('pi.factorName.jurisdiction')).toBe('Juridiction');
    expect(fr.t('pi.level.sealed')).not.toBe('pi.level.sealed');
  });
});
