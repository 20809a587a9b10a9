import { type ReactNode, useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { AttachmentList } from '../attachments/AttachmentList.tsx';
import type { ApiClient } from '../api/client.ts';
import type { MessageDetail } from '../api/types.ts';
import { onLinkClick } from '../app/router.ts';
import { useSession } from '../app/session.tsx';
import { clientKeyProblem, UnlockForm } from './ClientKeyPanel.tsx';
import { loadPgp, useStoredKeys, useUnlocked } from './client-keys.session.ts';
import type { OpenedMail } from './pgp.ts';

/** Whether the instance kept this message encrypted (a client-mode account): only this browser can open it. */
export function encryptedForBrowser(m: MessageDetail): boolean {
  const o = m.facts.openpgp;
  return o !== null && o.encrypted && o.decrypted !== true && o.pendingDecryption !== true;
}

/** The armoured public keys the instance knows for the sender (to verify the signature inside), or one's own. */
async function senderKeys(api: ApiClient, m: MessageDetail): Promise<string[]> {
  // A message of one's own (the Sent copy): signed with one's own key.
  if (m.direction === 'outbound')
    return api.keys().then(
      (k) => k.items.map((i) => i.armored),
      () => [],
    );
  if (!m.from.contactId) return [];
  try {
    const { items } = await api.contactKeys(m.from.contactId);
    const address = m.from.address.toLowerCase();
    return (
      items
        // A key known only by its fingerprint (source 'signature') comes with no armour: nothing to verify with.
        .filter((k) => k.status !== 'rejected' && k.address.toLowerCase() === address && k.armored !== '')
        .map((k) => k.armored)
    );
  } catch {
    return [];
  }
}

/**
 * An encrypted message in a client-mode account: "encrypted — unlock to read" until this tab holds the keys, then
 * the raw message is fetched, decrypted and its signature checked here, and the content shown (text as text, HTML
 * through `renderHtml`, i.e. the mail-html sanitiser in its frame). The decrypted content stays in this component's
 * memory: never sent, never stored.
 */
export function EncryptedBody({
  message: m,
  renderHtml,
}: {
  message: MessageDetail;
  renderHtml: (html: string) => ReactNode;
}) {
  const { t } = useTranslation();
  const { api, session } = useSession();
  const account = session?.username ?? '';
  const { stored } = useStoredKeys(account);
  const keys = useUnlocked(account);
  const [opened, setOpened] = useState<OpenedMail | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    setOpened(null);
    setError(null);
    if (keys === null) return;
    let cancelled = false;
    (async () => {
      const [raw, verify, pgp] = await Promise.all([api.messageRaw(m.id), senderKeys(api, m), loadPgp()]);
      return pgp.openMail(raw, keys, verify);
    })().then(
      (o) => !cancelled && setOpened(o),
      (e) => !cancelled && setError(e),
    );
    return () => {
      cancelled = true;
    };
  }, [api, m, keys]);

  if (keys === null) {
    return (
      <div className="encrypted-body">
        <p className="encrypted-note">
          <strong>{t('clientKeys.encryptedLocked')}</strong>
        </p>
        {stored === undefined ? null : stored === null ? (
          <p>
            {t('clientKeys.missingHere')}{' '}
            <a href="/privacy" onClick={onLinkClick('/privacy')}>
              {t('clientKeys.importLink')}
            </a>
          </p>
        ) : (
          <UnlockForm />
        )}
      </div>
    );
  }
  if (error !== null)
    return (
      <p className="problem" role="alert">
        {clientKeyProblem(t, error)}
      </p>
    );
  if (opened === null) return <p className="muted small">{t('clientKeys.decrypting')}</p>;
  return (
    <div className="encrypted-body decrypted">
      <p className={`signature-check signature-${opened.signature}`}>
        {t('clientKeys.decryptedHere')} {t(`clientKeys.signature.${opened.signature}`)}
      </p>
      {opened.subject && opened.subject !== m.subject && (
        <p className="muted small">{t('clientKeys.protectedSubject', { subject: opened.subject })}</p>
      )}
      {opened.html ? (
        renderHtml(opened.html)
      ) : (
        <div className="message-body">{opened.text.trim() === '' ? t('discussion.noBody') : opened.text}</div>
      )}
      {opened.attachments.length > 0 && (
        <AttachmentList
          items={opened.attachments}
          load={async (index) => opened.attachments[index]?.content ?? new Uint8Array()}
        />
      )}
    </div>
  );
}
