import { createReadStream } from 'node:fs';

/**
 * Splits an mbox file into messages, streaming (never the whole file in memory): a message starts at a `From ` line
 * at the start of the file or after an empty line (the separator mbox writers add); the empty line before the next
 * `From ` belongs to the format, not to the message. `>From ` quoting is undone the mboxrd way (one `>` removed from
 * a line of `>`s followed by `From `), which also reads mboxo files (Thunderbird, mutt) correctly for the lines they
 * quote. Line endings are kept as they are (LF or CRLF, mixed or not). What comes before the first `From ` line is
 * reported, not filed; a message over `maxBytes` is reported and skipped, its bytes never held.
 */
export interface MboxMessage {
  kind: 'message';
  /** 1-based position of the message in the file. */
  ordinal: number;
  /** Byte offset of its `From ` line. */
  offset: number;
  /** Byte offset where it ends (the next `From ` line, or the end of the file): where a resumed import starts. */
  end: number;
  /** The date of the `From ` line, when it has a readable one. */
  fromLineDate: Date | null;
  raw: Buffer;
}

export interface MboxProblem {
  kind: 'problem';
  ordinal: number;
  offset: number;
  end: number;
  reason: string;
}

export type MboxItem = MboxMessage | MboxProblem;

const FROM = Buffer.from('From ');
/** A line longer than this is passed on in pieces instead of being gathered whole. */
const MAX_LINE = 1024 * 1024;

/** `From sender Sun Nov 22 10:00:00 2026` (asctime, optionally with a zone): the date, or null. */
export function fromLineDate(line: string): Date | null {
  const m =
    /^From \S*\s+(?:\w{3}\s+)?(\w{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s+[A-Z]{2,5}|\s+[+-]\d{4})?\s+(\d{4})/.exec(
      line,
    );
  if (!m) return null;
  const months = 'JanFebMarAprMayJunJulAugSepOctNovDec';
  const month = months.indexOf(m[1]!);
  if (month < 0 || month % 3 !== 0) return null;
  const d = new Date(Date.UTC(Number(m[6]), month / 3, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5] ?? 0)));
  return Number.isNaN(d.getTime()) ? null : d;
}

function isBlank(line: Buffer): boolean {
  return line.length === 0 || (line.length === 1 && line[0] === 0x0d);
}

/** `>From `, `>>From `...: one `>` less (mboxrd). */
function unquote(line: Buffer): Buffer {
  let i = 0;
  while (i < line.length && line[i] === 0x3e) i++;
  if (i > 0 && line.subarray(i, i + 5).equals(FROM)) return line.subarray(1);
  return line;
}

export async function* readMbox(
  path: string,
  options: { startOffset?: number; startOrdinal?: number; maxBytes?: number } = {},
): AsyncGenerator<MboxItem> {
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  const start = options.startOffset ?? 0;
  let ordinal = options.startOrdinal ?? 0;
  let offset = start; // of the next line
  // The message being read: its lines (each with its line ending), or null before the first From line.
  let current: { offset: number; date: Date | null; lines: Buffer[]; size: number; tooBig: boolean } | null = null;
  let preamble = 0; // bytes before the first From line
  let pendingBlank: Buffer | null = null; // an empty line that may be the separator before the next From line
  let atStart = true;
  let sawFrom = false;
  /** The next bytes continue a line already fed on in pieces (a line longer than MAX_LINE). */
  let midLine = false;
  let carry: Buffer | null = null;

  const finish = (end: number): MboxItem | null => {
    if (current === null) return null;
    const c = current;
    current = null;
    if (c.tooBig)
      return { kind: 'problem', ordinal, offset: c.offset, end, reason: `larger than ${maxBytes} bytes: skipped` };
    const raw = Buffer.concat(c.lines);
    if (raw.every((b) => b === 0x0d || b === 0x0a || b === 0x20 || b === 0x09))
      return { kind: 'problem', ordinal, offset: c.offset, end, reason: 'empty message' };
    return { kind: 'message', ordinal, offset: c.offset, end, fromLineDate: c.date, raw };
  };
  const append = (line: Buffer) => {
    if (current === null) {
      preamble += line.length;
      return;
    }
    if (current.tooBig) return;
    current.size += line.length;
    if (current.size > maxBytes) {
      current.tooBig = true;
      current.lines = [];
      return;
    }
    current.lines.push(line);
  };

  function* onLine(line: Buffer, lineOffset: number): Generator<MboxItem> {
    // `line` includes its '\n' when it has one.
    const continued = midLine;
    midLine = false;
    if (continued) {
      append(line);
      return;
    }
    const body = line[line.length - 1] === 0x0a ? line.subarray(0, -1) : line;
    const separator = body.subarray(0, 5).equals(FROM) && (atStart || pendingBlank !== null);
    atStart = false;
    if (separator) {
      pendingBlank = null;
      const done = finish(lineOffset);
      if (done) yield done;
      if (!sawFrom && preamble > 0)
        yield {
          kind: 'problem',
          ordinal: 0,
          offset: start,
          end: lineOffset,
          reason: `${preamble} bytes before the first "From " line: not a message, skipped`,
        };
      sawFrom = true;
      ordinal++;
      current = { offset: lineOffset, date: fromLineDate(body.toString('latin1')), lines: [], size: 0, tooBig: false };
      return;
    }
    if (pendingBlank !== null) {
      append(pendingBlank);
      pendingBlank = null;
    }
    if (isBlank(body)) pendingBlank = line;
    else append(unquote(line));
  }

  /** The start of a line too long to hold until its end: fed on as it is, the rest follows as pieces. */
  function onLongPiece(piece: Buffer): void {
    if (!midLine) {
      atStart = false;
      if (pendingBlank !== null) {
        append(pendingBlank);
        pendingBlank = null;
      }
    }
    append(piece);
    midLine = true;
  }

  const stream = createReadStream(path, { start, highWaterMark: 256 * 1024 });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const data: Buffer = carry ? Buffer.concat([carry, chunk]) : chunk;
    carry = null;
    let from = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, from);
      if (nl < 0) break;
      const line = data.subarray(from, nl + 1);
      yield* onLine(line, offset);
      offset += line.length;
      from = nl + 1;
    }
    if (from < data.length) {
      const rest = data.subarray(from);
      // A very long line (no newline in sight): fed on as pieces, never held whole.
      if (rest.length > MAX_LINE) {
        onLongPiece(Buffer.from(rest));
        offset += rest.length;
      } else carry = Buffer.from(rest);
    }
  }
  if (carry) {
    // The last line, without a newline (a truncated file): kept as it is.
    yield* onLine(carry, offset);
    offset += carry.length;
  }
  const last = finish(offset);
  if (last) yield last;
  if (!sawFrom && preamble > 0)
    yield { kind: 'problem', ordinal: 0, offset: start, end: offset, reason: 'no "From " line: not an mbox file' };
}
