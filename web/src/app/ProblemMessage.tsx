import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/client.ts';
import { problemMessageKey } from '../api/problem-messages.ts';

/** An error as a sentence in the user's language (never the raw problem+json). */
export function problemText(t: (key: string) => string, error: unknown): string {
  if (error instanceof ApiError) return t(problemMessageKey(error.problem));
  return t('problem.unexpected');
}

export function ProblemMessage({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { t } = useTranslation();
  return (
    <div className="problem" role="alert">
      <p>{problemText(t, error)}</p>
      {onRetry && (
        <button type="button" className="button-secondary" onClick={onRetry}>
          {t('app.retry')}
        </button>
      )}
    </div>
  );
}
