import type { BlobStore } from '../blobs/blob-store.port.ts';
import type { Message } from '../mail/message.entity.ts';
import type { Storage } from '../database/storage.port.ts';
import { withoutHeaders } from '../mail/compose.mime.ts';

/**
 * The stored Sent copy a delivery job sends, and its bytes as they leave the instance (the Bcc header removed).
 * Null when the message or its raw form is gone (deleted by its sender meanwhile): the job is then dropped. Shared by
 * every transport of the delivery worker.
 */
export async function readSentCopy(
  deps: { storage: Pick<Storage, 'messages'>; blobs: BlobStore },
  accountId: string,
  messageId: string,
): Promise<{ message: Message; transmitted: Buffer } | null> {
  const message = await deps.storage.messages.get(accountId, messageId);
  const raw = message?.rawRef ? await deps.blobs.get(message.rawRef) : null;
  if (!message || !raw) return null;
  return { message, transmitted: withoutHeaders(raw, ['bcc']) };
}
