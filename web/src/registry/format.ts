export function formatDate(iso: string | number | null, lng: string): string {
  if (iso === null) return '';
  const d = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso);
  return new Intl.DateTimeFormat(lng, { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }).format(d);
}

export function formatDay(iso: string | null, lng: string): string {
  if (iso === null) return '';
  return new Intl.DateTimeFormat(lng, { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(iso));
}
