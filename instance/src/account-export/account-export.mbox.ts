/*
 * The mboxrd format (the variant of mbox every common mail client imports without loss): each message is a
 * "From <sender> <asctime>" line, its lines with LF endings, any line starting with ">*From " quoted with one more
 * ">", and an empty line. Reading it back undoes exactly that quoting (see `splitMboxrd`).
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** asctime(3) in UTC: "Sun Dec  6 09:05:00 2026". */
export function asctime(d: Date): string {
  const p2 = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

/** The envelope sender on the separator line: an address without spaces or controls, else MAILER-DAEMON. */
function envelopeSender(address: string): string {
  const a = address.trim();
  return a !== '' && a.length <= 320 && /^[^\s\x00-\x1f\x7f]+$/.test(a) ? a : 'MAILER-DAEMON';
}

/** One message as mboxrd: separator line, quoted body with LF line ends, one empty line after. */
export function mboxrdEntry(raw: Uint8Array, from: string, receivedAt: Date): Buffer {
  // Bytes as latin1 so that any 8-bit content passes through unchanged.
  let text = Buffer.from(raw).toString('latin1').replace(/\r\n/g, '\n');
  text = text.replace(/^(>*From )/gm, '>$1');
  if (!text.endsWith('\n')) text += '\n';
  return Buffer.from(`From ${envelopeSender(from)} ${asctime(receivedAt)}\n${text}\n`, 'latin1');
}

/** The messages of an mboxrd file (LF line ends), quoting undone: for tests and for reading an export back. */
export function splitMboxrd(mbox: Buffer): Buffer[] {
  const text = mbox.toString('latin1');
  if (text === '') return [];
  if (!text.startsWith('From ')) throw new Error('not an mbox file (it does not start with "From ")');
  const parts = text.split(/\n\n(?=From )/);
  return parts.map((p, i) => {
    const body = p.slice(p.indexOf('\n') + 1);
    const whole = i === parts.length - 1 ? body.replace(/\n\n$/, '\n') : `${body}\n`;
    return Buffer.from(whole.replace(/^>(>*From )/gm, '$1'), 'latin1');
  });
}
