/**
 * The instance's storage port lives a floor down, in database/storage.port.ts, where every domain's repository adds
 * itself to it; the repository ports are imported here so that whoever names this module sees the whole interface.
 */
import type {} from '../accounts/account.repository.ts';
import type {} from '../contacts/contact.repository.ts';
import type {} from '../conversations/conversation.repository.ts';
import type {} from '../devices/device.repository.ts';
import type {} from '../identities/remote-identity.repository.ts';
import type {} from '../keys/account-key.repository.ts';
import type {} from '../keys/public-key.repository.ts';
import type {} from '../messages/correspondence.repository.ts';
import type {} from '../messages/message.repository.ts';
import type {} from '../sessions/session.repository.ts';

export type { Storage } from '../database/storage.port.ts';
