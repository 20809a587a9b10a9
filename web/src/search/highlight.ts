/** A piece of text, matched by a search term or not. */
export interface TextPart {
  text: string;
  match: boolean;
}

/** Case and diacritics folded, one folded unit per character of the original, so that offsets map back. */
function fold(text: string): { folded: string; map: number[] } {
  let folded = '';
  const map: number[] = [];
  let i = 0;
  for (const ch of text) {
    const f = ch.normalize('NFD').replace(/\p{M}/gu, '').toLocaleLowerCase('und');
    for (let k = 0; k < f.length; k++) map.push(i);
    folded += f;
    i += ch.length;
  }
  map.push(i);
  return { folded, map };
}

const foldTerm = (t: string) => t.normalize('NFD').replace(/\p{M}/gu, '').toLocaleLowerCase('und');

/**
 * Splits `text` into the parts that match one of `terms` and those that do not, ignoring case and diacritics (as the
 * instance's search does: "ecole" finds "École"). Longest terms first where matches overlap. Plain text in, plain
 * text out: the caller renders each part as a text node (a <mark> for matches), never as HTML.
 */
export function highlightParts(text: string, terms: readonly string[]): TextPart[] {
  const wanted = [...new Set(terms.map(foldTerm).filter((t) => t.trim() !== ''))].sort((a, b) => b.length - a.length);
  if (text === '' || wanted.length === 0) return text === '' ? [] : [{ text, match: false }];
  const { folded, map } = fold(text);
  const ranges: [number, number][] = [];
  let at = 0;
  while (at < folded.length) {
    let hit: string | undefined;
    for (const w of wanted) {
      if (folded.startsWith(w, at)) {
        hit = w;
        break;
      }
    }
    if (hit === undefined) {
      at++;
      continue;
    }
    ranges.push([map[at]!, map[at + hit.length]!]);
    at += hit.length;
  }
  const parts: TextPart[] = [];
  let pos = 0;
  for (const [s, e] of ranges) {
    if (s < pos || e <= s) continue;
    if (s > pos) parts.push({ text: text.slice(pos, s), match: false });
    parts.push({ text: text.slice(s, e), match: true });
    pos = e;
  }
  if (pos < text.length) parts.push({ text: text.slice(pos), match: false });
  return parts;
}
