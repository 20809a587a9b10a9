import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { problemText } from '../app/ProblemMessage.tsx';
import { formatBytes } from '../app/format-bytes.ts';
import { displayName, safeFilename } from './attachment.format.ts';

export interface AttachmentItem {
  filename: string | null;
  contentType: string;
  size: number;
}

/**
 * A message's attachments: name, type and size each, and a download button. The bytes come through `load` (the API
 * with the bearer token, or a message decrypted in this browser), then a blob: URL typed application/octet-stream is
 * saved under a cleaned name with the `download` attribute, so nothing from a file ever renders in the app's origin.
 */
export function AttachmentList({
  items,
  load,
}: {
  items: AttachmentItem[];
  load: (index: number) => Promise<Blob | Uint8Array>;
}) {
  const { t, i18n } = useTranslation();
  const [busy, setBusy] = useState<number | null>(null);
  const [error, setError] = useState<unknown>(null);
  const urls = useRef<string[]>([]);
  useEffect(
    () => () => {
      for (const u of urls.current) URL.revokeObjectURL(u);
    },
    [],
  );

  const download = async (index: number, name: string) => {
    setError(null);
    setBusy(index);
    try {
      const data = await load(index);
      const url = URL.createObjectURL(new Blob([data as BlobPart], { type: 'application/octet-stream' }));
      urls.current.push(url);
      const a = document.createElement('a');
      a.href = url;
      a.download = name;
      a.rel = 'noopener';
      document.body.append(a);
      a.click();
      a.remove();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(null);
    }
  };

  const unnamed = t('discussion.attachmentUnnamed');
  return (
    <section className="attachments" aria-label={t('discussion.attachmentsTitle')}>
      <h4 className="attachments-title">
        {t('discussion.attachmentsTitle')} <span className="muted small">({items.length})</span>
      </h4>
      <ul className="attachment-list">
        {items.map((a, i) => {
          const name = displayName(a.filename, unnamed);
          const size = formatBytes(a.size, i18n.language);
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: the index is the attachment's identity in the message.
            <li key={i} className="attachment">
              <span className="attachment-name">{name}</span>{' '}
              <span className="attachment-meta muted small">
                <span lang="en">{a.contentType}</span> · {size}
              </span>{' '}
              <button
                type="button"
                className="button-secondary attachment-download"
                aria-label={t('discussion.downloadLabel', { name, size })}
                disabled={busy === i}
                onClick={() => void download(i, safeFilename(a.filename, unnamed))}
              >
                {busy === i ? t('discussion.downloading') : t('discussion.download')}
              </button>
            </li>
          );
        })}
      </ul>
      {error !== null && (
        <p className="problem" role="alert">
          {problemText(t, error)}
        </p>
      )}
    </section>
  );
}
