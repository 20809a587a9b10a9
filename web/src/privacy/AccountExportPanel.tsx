import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { ProblemMessage } from '../app/ProblemMessage.tsx';
import { useSession } from '../app/session.tsx';

/**
 * "Your data": one button that downloads everything the instance keeps about the account (GET
 * /api/v1/account/export), saved under the name the instance gives; progress and the outcome are announced.
 */
export function AccountExportPanel() {
  const { t } = useTranslation();
  const { api } = useSession();
  const [state, setState] = useState<'idle' | 'busy' | 'done'>('idle');
  const [error, setError] = useState<unknown>(null);
  const url = useRef<string | null>(null);
  useEffect(
    () => () => {
      if (url.current) URL.revokeObjectURL(url.current);
    },
    [],
  );

  const download = async () => {
    setError(null);
    setState('busy');
    try {
      const { blob, filename } = await api.accountExport();
      if (url.current) URL.revokeObjectURL(url.current);
      url.current = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = url.current;
      a.download = filename;
      a.rel = 'noopener';
      document.body.append(a);
      a.click();
      a.remove();
      setState('done');
    } catch (e) {
      setError(e);
      setState('idle');
    }
  };

  return (
    <section className="card" aria-labelledby="account-export-h">
      <h2 id="account-export-h">{t('accountExport.title')}</h2>
      <p>{t('accountExport.summary')}</p>
      <button type="button" onClick={() => void download()} disabled={state === 'busy'} aria-busy={state === 'busy'}>
        {t('accountExport.download')}
      </button>
      <p role="status" aria-live="polite">
        {state === 'busy' ? t('accountExport.preparing') : state === 'done' ? t('accountExport.ready') : ''}
      </p>
      {error !== null && <ProblemMessage error={error} />}
    </section>
  );
}
