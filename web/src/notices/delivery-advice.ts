/**
 * Why a delivery failed and what to do, from the recipient's RFC 3463 status (the remote server's own words are shown
 * beside it): the keys of notices.why.* and notices.todo.* in the catalogues.
 */
export type DeliveryAdvice = 'noMailbox' | 'mailboxFull' | 'refusedPolicy' | 'refused' | 'unreachable';

export function deliveryAdvice(status: string): DeliveryAdvice {
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})$/.exec(status.trim());
  if (!m) return 'refused';
  const [cls, subject, detail] = [m[1], m[2], m[3]];
  if (cls === '4') return 'unreachable';
  if (subject === '1' && (detail === '1' || detail === '2' || detail === '0' || detail === '6')) return 'noMailbox';
  if (subject === '2' && detail === '2') return 'mailboxFull';
  if (subject === '7') return 'refusedPolicy';
  return 'refused';
}
