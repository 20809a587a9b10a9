import { highlightParts } from './highlight.ts';

/** Text with the search terms marked: each part a text node (a <mark> for matches), never HTML from the server. */
export function Highlight({ text, terms }: { text: string; terms: readonly string[] }) {
  return (
    <>
      {highlightParts(text, terms).map((p, i) =>
        // biome-ignore lint/suspicious/noArrayIndexKey: the parts of one text, in order; they never move.
        p.match ? <mark key={i}>{p.text}</mark> : <span key={i}>{p.text}</span>,
      )}
    </>
  );
}
