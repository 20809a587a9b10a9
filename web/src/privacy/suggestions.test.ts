import { describe, expect, test } from 'vitest';
import { rankSuggestions, suggestionAction } from './suggestions.ts';

describe('what the app can do for a suggestion', () => {
  test('account actions', () => {
    expect(suggestionAction({ action: 'account.enable_totp', element: 'account' })).toEqual({ kind: 'enable_totp' });
    expect(suggestionAction({ action: 'account.create_key', element: 'account' })).toEqual({ kind: 'create_key' });
    expect(suggestionAction({ action: 'account.keep_keys_on_devices', element: 'account' })).toEqual({
      kind: 'keep_keys_on_devices',
    });
  });
  test('moving the key to the devices needs a server-held key to move', () => {
    const s = { action: 'account.keep_keys_on_devices', element: 'account' };
    expect(suggestionAction(s, { keyMode: 'server' })).toEqual({ kind: 'keep_keys_on_devices' });
    expect(suggestionAction(s, { keyMode: 'none' })).toBeNull();
    expect(suggestionAction(s, { keyMode: 'client' })).toBeNull();
  });
  test('a contact action leads to the contact of its address', () => {
    expect(suggestionAction({ action: 'contact.verify_key', element: 'contact:bob@beta.test' })).toEqual({
      kind: 'contact',
      address: 'bob@beta.test',
      what: 'verify_key',
    });
    expect(suggestionAction({ action: 'contact.resolve_key_conflict', element: 'contact:x@y.z' })?.kind).toBe(
      'contact',
    );
    expect(suggestionAction({ action: 'contact.add_public_key', element: 'contact:unknown' })).toBeNull();
  });
  test('a device action leads to the device', () => {
    expect(suggestionAction({ action: 'device.update_or_revoke', element: 'device:d1' })).toEqual({
      kind: 'device',
      deviceId: 'd1',
    });
  });
  test('what the app cannot do has no button', () => {
    expect(suggestionAction({ action: 'account.use_client_certificate', element: 'account' })).toBeNull();
    expect(suggestionAction({ action: 'something.new', element: 'account' })).toBeNull();
  });
});

describe('ranking', () => {
  const s = (action: string, element: string, gain: number, elementScore = 50) => ({
    action,
    element,
    gain,
    elementScore,
  });
  test('largest gain first, then the weakest element, then the account before others', () => {
    const ranked = rankSuggestions([
      s('contact.verify_key', 'contact:a@x', 5, 40),
      s('account.enable_totp', 'account', 12, 30),
      s('account.create_key', 'account', 5, 30),
      s('device.update_os', 'device:d', 5, 30),
      s('contact.add_public_key', 'contact:b@x', 20, 10),
    ]);
    expect(ranked.map((r) => r.action)).toEqual([
      'contact.add_public_key',
      'account.enable_totp',
      'account.create_key',
      'device.update_os',
      'contact.verify_key',
    ]);
  });
  test('the same action on the same element is shown once, with its larger gain', () => {
    const ranked = rankSuggestions([s('account.enable_totp', 'account', 3), s('account.enable_totp', 'account', 9)]);
    expect(ranked).toHaveLength(1);
    expect(ranked[0]!.gain).toBe(9);
  });
});
