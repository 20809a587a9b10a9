/** A status as a word with an icon and a colour (colour is never the only signal). */
export function StatusWord({ tone, children }: { tone: 'ok' | 'warn' | 'bad'; children: string }) {
  const icon = tone === 'ok' ? '✓' : tone === 'warn' ? '!' : '✕';
  return (
    <span className={`status-word status-${tone}`}>
      <span aria-hidden="true">{icon}</span>
      {children}
    </span>
  );
}
