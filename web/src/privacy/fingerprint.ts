/**
 * A fingerprint as people compare it aloud: uppercase hex in groups of four (the API's `fingerprintGrouped` has the
 * same shape; the app computes it too, so that whatever it is given reads the same). Anything but hex digits is
 * dropped first, so a fingerprint pasted with spaces or colons groups the same way.
 */
export function fingerprintGroups(fingerprint: string): string[] {
  const hex = fingerprint.replace(/[^0-9a-fA-F]/g, '').toUpperCase();
  const groups: string[] = [];
  for (let i = 0; i < hex.length; i += 4) groups.push(hex.slice(i, i + 4));
  return groups;
}

export function groupFingerprint(fingerprint: string): string {
  return fingerprintGroups(fingerprint).join(' ');
}

/** Whether what the person read out matches the key: case, spaces and separators do not count. */
export function sameFingerprint(a: string, b: string): boolean {
  const norm = (s: string) => s.replace(/[^0-9a-fA-F]/g, '').toLowerCase();
  return norm(a).length > 0 && norm(a) === norm(b);
}
