import { INBOX_PATH } from './envelope.ts';
import { KEY_DIRECTORY_PATH_PREFIX } from './key-directory.ts';
import { PREKEYS_PATH } from './prekeys.ts';
import { RECIPIENT_CHECK_PATH_PREFIX } from './recipient-check.ts';
import { TRUST_PATH_PREFIX } from './trust.ts';
import { DESCRIPTOR_WELL_KNOWN_PATH } from './descriptor.ts';

/** The version of the inter-instance protocol this library implements (SPEC.md). */
export const FEDERATION_PROTOCOL_VERSION = 'caliopen-federation/1';

/**
 * Every federation endpoint: the descriptor relative to the instance's HTTPS base URL (`endpoints.https`), the others
 * relative to its federation base URL (the feed's `endpoints.federation`, by default the same), e.g.
 * `https://mail.example.org/fed` + `/federation/v1/inbox`.
 */
export const FEDERATION_PATHS = {
  descriptor: DESCRIPTOR_WELL_KNOWN_PATH,
  prekeys: PREKEYS_PATH,
  inbox: INBOX_PATH,
  keys: `${KEY_DIRECTORY_PATH_PREFIX}:local`,
  trust: `${TRUST_PATH_PREFIX}:local`,
  recipients: `${RECIPIENT_CHECK_PATH_PREFIX}:local`,
} as const;
