import type { RankedSuggestion } from '../api/types.ts';

/**
 * What the app can do about a Privacy Index suggestion (pi-model/*.ts name the actions). `null`: nothing the app can
 * act on by itself (e.g. update your operating system), the suggestion is shown with its gain only.
 */
export type SuggestionAction =
  | { kind: 'enable_totp' }
  | { kind: 'create_key' }
  | { kind: 'keep_keys_on_devices' }
  | { kind: 'contact'; address: string; what: 'add_key' | 'verify_key' | 'resolve_conflict' }
  | { kind: 'device'; deviceId: string }
  | null;

/** The element of a suggestion: `account`, `contact:<address or id>` or `device:<id>`. */
function elementOf(element: string): { kind: string; ref: string } {
  const i = element.indexOf(':');
  return i < 0 ? { kind: element, ref: '' } : { kind: element.slice(0, i), ref: element.slice(i + 1) };
}

/**
 * `keyMode`: where the account's key lives now. Moving a key to the devices needs a server-held key to move (making
 * a key on the device, openpgp.js in the browser, is not in the app yet): without one, that suggestion has no button.
 */
export function suggestionAction(
  s: { action: string; element: string },
  context: { keyMode?: 'none' | 'server' | 'client' } = {},
): SuggestionAction {
  const el = elementOf(s.element);
  switch (s.action) {
    case 'account.enable_totp':
      return { kind: 'enable_totp' };
    case 'account.create_key':
      return { kind: 'create_key' };
    case 'account.keep_keys_on_devices':
      return context.keyMode === undefined || context.keyMode === 'server' ? { kind: 'keep_keys_on_devices' } : null;
    case 'contact.add_public_key':
    case 'contact.verify_key':
    case 'contact.resolve_key_conflict': {
      if (el.kind !== 'contact' || el.ref === '' || el.ref === 'unknown') return null;
      const what =
        s.action === 'contact.add_public_key'
          ? 'add_key'
          : s.action === 'contact.verify_key'
            ? 'verify_key'
            : 'resolve_conflict';
      return { kind: 'contact', address: el.ref, what };
    }
    case 'device.update_or_revoke':
    case 'device.update_os':
    case 'device.update_browser':
      return el.kind === 'device' && el.ref !== '' ? { kind: 'device', deviceId: el.ref } : null;
    default:
      return null;
  }
}

/**
 * The suggestions in the order shown: largest gain first; on a tie, the weakest element first (it gains most from
 * attention), then the account's own before a contact's or a device's, then by action name so the order is stable.
 * The same action on the same element is shown once (the larger gain kept).
 */
export function rankSuggestions<S extends RankedSuggestion>(suggestions: readonly S[]): S[] {
  const best = new Map<string, S>();
  for (const s of suggestions) {
    const key = `${s.action}\u0000${s.element}`;
    const held = best.get(key);
    if (!held || s.gain > held.gain) best.set(key, s);
  }
  const accountFirst = (s: S) => (s.element === 'account' ? 0 : 1);
  return [...best.values()].sort(
    (a, b) =>
      b.gain - a.gain ||
      a.elementScore - b.elementScore ||
      accountFirst(a) - accountFirst(b) ||
      a.action.localeCompare(b.action) ||
      a.element.localeCompare(b.element),
  );
}
