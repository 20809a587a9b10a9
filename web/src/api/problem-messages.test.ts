import { describe, expect, test } from 'vitest';
import { en } from '../i18n/en.ts';
import { fr } from '../i18n/fr.ts';
import { problemMessageKey, SESSION_ENDED_CODES } from './problem-messages.ts';

const lookup = (catalogue: object, key: string): unknown =>
  key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], catalogue);

describe('problem code -> the sentence shown', () => {
  test('sign-in problems have their own sentences', () => {
    expect(problemMessageKey({ code: 'invalid_credentials', status: 401 })).toBe('problem.invalid_credentials');
    expect(problemMessageKey({ code: 'totp_required', status: 401 })).toBe('problem.totp_required');
    expect(problemMessageKey({ code: 'totp_invalid', status: 401 })).toBe('problem.totp_invalid');
    expect(problemMessageKey({ code: 'account_disabled', status: 403 })).toBe('problem.account_disabled');
    expect(problemMessageKey({ code: 'rate_limited', status: 429 })).toBe('problem.rate_limited');
  });

  test('every code that ends a session says so, and sends the user back to sign-in', () => {
    for (const code of ['unauthenticated', 'token_invalid', 'token_expired', 'token_revoked']) {
      expect(problemMessageKey({ code, status: 401 })).toBe('problem.session_ended');
      expect(SESSION_ENDED_CODES.has(code)).toBe(true);
    }
    expect(SESSION_ENDED_CODES.has('invalid_credentials')).toBe(false);
    expect(SESSION_ENDED_CODES.has('totp_required')).toBe(false);
  });

  test('an unknown code falls back on its status class; a network failure has its own sentence', () => {
    expect(problemMessageKey({ code: 'something_new', status: 503 })).toBe('problem.internal_error');
    expect(problemMessageKey({ code: 'something_new', status: 429 })).toBe('problem.rate_limited');
    expect(problemMessageKey({ code: 'something_new', status: 409 })).toBe('problem.unexpected');
    expect(problemMessageKey('network')).toBe('problem.network');
  });

  test('sending problems have their own sentences', () => {
    expect(problemMessageKey({ code: 'recipient_unknown', status: 404 })).toBe('problem.recipient_unknown');
    expect(problemMessageKey({ code: 'route_unavailable', status: 422 })).toBe('problem.route_unavailable');
    expect(problemMessageKey({ code: 'quota_exceeded', status: 507 })).toBe('problem.quota_exceeded');
  });

  test('every refusal of the image proxy has the one sentence about images', () => {
    for (const c of [
      'url_invalid',
      'not_in_message',
      'host_forbidden',
      'unreachable',
      'timeout',
      'not_image',
      'too_large',
    ])
      expect(problemMessageKey({ code: `remote_image_${c}`, status: 502 })).toBe('problem.remote_image');
  });

  test('every sentence exists in English and French, and they differ', () => {
    const codes = [
      'invalid_credentials',
      'totp_required',
      'totp_invalid',
      'account_disabled',
      'rate_limited',
      'unauthenticated',
      'not_found',
      'forbidden',
      'validation_failed',
      'service_unavailable',
      'internal_error',
      'no_recipients',
      'too_many_recipients',
      'recipient_invalid',
      'recipient_unknown',
      'header_invalid',
      'route_unavailable',
      'encryption_unavailable',
      'signing_key_unavailable',
      'quota_exceeded',
      'remote_image_host_forbidden',
      'remote_image_not_image',
      'x',
    ];
    const keys = new Set([...codes.map((code) => problemMessageKey({ code, status: 400 })), 'problem.network']);
    for (const key of keys) {
      const e = lookup(en, key);
      const f = lookup(fr, key);
      expect(typeof e, key).toBe('string');
      expect(typeof f, key).toBe('string');
      expect(f).not.toBe(e);
      expect(e as string).not.toMatch(/[{}]|"code"/); // a sentence, never JSON
    }
  });
});
