import { describe, expect, test } from 'vitest';
import type { RouteOptionDto, RoutePreview } from '../api/types.ts';
import { looksLikeAddress, modeOptions, needsConsent, parseRecipients, routeFor } from './route-choice.ts';

const pi = (score: number) => ({ score, level: 'x', modelVersion: '1', factors: [], suggestions: [] });
function route(
  route: RouteOptionDto['route'],
  rank: number,
  score: number,
  status: RouteOptionDto['status'] = 'available',
): RouteOptionDto {
  return {
    route,
    rank,
    status,
    available: status === 'available',
    reason: '',
    encrypted: route === 'openpgp-email',
    key: null,
    pi: pi(score),
  };
}
const preview = (to: string, routes: RouteOptionDto[]): RoutePreview => ({
  to,
  routes,
  chosen: null,
  encrypted: false,
});

const member = preview('bob@beta.test', [
  route('federation', 50, 92),
  route('openpgp-email', 40, 70, 'unavailable'),
  route('tls-email', 20, 30, 'unknown'),
  route('email', 10, 8, 'unavailable'),
]);
const outsider = preview('zoe@x.example', [
  route('openpgp-email', 40, 70, 'unavailable'),
  route('tls-email', 20, 30, 'unknown'),
  route('email', 10, 8),
]);
const colleague = preview('carol@alpha.test', [route('openpgp-email', 40, 75), route('local', 30, 60)]);

describe('route choice', () => {
  test('the chat route (XMPP) is shown in the preview but never taken by a composed mail', () => {
    const chatty = preview('carol@mail.example', [route('xmpp', 15, 15), route('email', 10, 8, 'unavailable')]);
    expect(routeFor(chatty, 'auto')).toBe(null);
    expect(routeFor(chatty, 'email')).toBe(null);
    const both = preview('carol@mail.example', [route('tls-email', 20, 30, 'unknown'), route('xmpp', 15, 15)]);
    expect(routeFor(both, 'auto')?.route).toBe('tls-email');
  });

  test('auto takes the most private usable route (TLS of unknown support counts), like the instance', () => {
    expect(routeFor(member, 'auto')?.route).toBe('federation');
    expect(routeFor(outsider, 'auto')?.route).toBe('tls-email');
    expect(routeFor(colleague, 'auto')?.route).toBe('openpgp-email');
    // Unordered routes are ranked first.
    expect(routeFor(preview('a@b.c', [route('email', 10, 8), route('tls-email', 20, 30)]), 'auto')?.route).toBe(
      'tls-email',
    );
    expect(routeFor(preview('a@b.c', [route('email', 10, 8, 'unavailable')]), 'auto')).toBeNull();
  });

  test('email skips the federation; federation refuses remote recipients it cannot reach, keeps local ones', () => {
    expect(routeFor(member, 'email')?.route).toBe('tls-email');
    expect(routeFor(outsider, 'federation')).toBeNull();
    expect(routeFor(colleague, 'federation')?.route).toBe('local');
  });

  test('the modes offered, and what each lowers', () => {
    const [auto, email, federation] = modeOptions([member, outsider]);
    expect(auto).toMatchObject({ mode: 'auto', possible: true, differs: true, lowers: [] });
    expect(email!.possible).toBe(true);
    expect(email!.differs).toBe(true);
    expect(email!.lowers.map((l) => [l.address, l.from.pi.score, l.to.pi.score])).toEqual([['bob@beta.test', 92, 30]]);
    expect(federation!.possible).toBe(false);
    // Nobody on the federation: `email` changes nothing, so it is not worth offering.
    expect(modeOptions([outsider])[1]!.differs).toBe(false);
  });

  test('consent: needed when the mode lowers someone’s PI, or when email may replace the federation', () => {
    expect(needsConsent([member], 'auto', false)).toBe(false);
    expect(needsConsent([member], 'email', false)).toBe(true);
    expect(needsConsent([member], 'auto', true)).toBe(true);
    expect(needsConsent([outsider], 'auto', true)).toBe(false);
    expect(needsConsent([member], 'federation', false)).toBe(false);
  });

  test('recipients typed in one field', () => {
    expect(parseRecipients(' Bob <Bob@Beta.test>, zoe@x.example; zoe@x.example,,')).toEqual([
      'bob@beta.test',
      'zoe@x.example',
    ]);
    expect(parseRecipients('')).toEqual([]);
    expect(looksLikeAddress('bob@beta.test')).toBe(true);
    expect(looksLikeAddress('bob@beta')).toBe(false);
    expect(looksLikeAddress('bob beta@x.y')).toBe(false);
    expect(looksLikeAddress('bob')).toBe(false);
  });
});
