import type { Problem } from './types.ts';

/**
 * Problem codes (instance/src/shared/errors.ts) -> the translation key of the sentence the app shows. The user never
 * sees raw JSON: a code without its own sentence gets the one of its HTTP status class, and a network failure its own.
 */
const BY_CODE: Readonly<Record<string, string>> = {
  invalid_credentials: 'problem.invalid_credentials',
  totp_required: 'problem.totp_required',
  totp_invalid: 'problem.totp_invalid',
  app_password_limit: 'problem.app_password_limit',
  sender_not_owned: 'problem.sender_not_owned',
  send_as_invalid: 'problem.send_as_invalid',
  send_as_auth_failed: 'problem.send_as_auth_failed',
  send_as_failed: 'problem.send_as_failed',
  account_disabled: 'problem.account_disabled',
  account_deletion_pending: 'problem.account_deletion_pending',
  account_deletion_not_pending: 'problem.account_deletion_not_pending',
  rate_limited: 'problem.rate_limited',
  unauthenticated: 'problem.session_ended',
  token_invalid: 'problem.session_ended',
  token_expired: 'problem.session_ended',
  token_revoked: 'problem.session_ended',
  not_found: 'problem.not_found',
  forbidden: 'problem.forbidden',
  remote_image_url_invalid: 'problem.remote_image',
  remote_image_not_in_message: 'problem.remote_image',
  remote_image_host_forbidden: 'problem.remote_image',
  remote_image_unreachable: 'problem.remote_image',
  remote_image_timeout: 'problem.remote_image',
  remote_image_not_image: 'problem.remote_image',
  remote_image_too_large: 'problem.remote_image',
  validation_failed: 'problem.validation_failed',
  service_unavailable: 'problem.service_unavailable',
  internal_error: 'problem.internal_error',
  no_recipients: 'problem.no_recipients',
  too_many_recipients: 'problem.too_many_recipients',
  recipient_invalid: 'problem.recipient_invalid',
  recipient_unknown: 'problem.recipient_unknown',
  header_invalid: 'problem.header_invalid',
  attachment_not_found: 'problem.attachment_not_found',
  attachment_invalid: 'problem.attachment_invalid',
  attachments_too_large: 'problem.attachments_too_large',
  route_unavailable: 'problem.route_unavailable',
  xmpp_auth_failed: 'problem.xmpp_auth_failed',
  imap_auth_failed: 'problem.imap_auth_failed',
  imap_unreachable: 'problem.imap_unreachable',
  imap_tls_failed: 'problem.imap_tls_failed',
  imap_host_forbidden: 'problem.imap_host_forbidden',
  identity_exists: 'problem.identity_exists',
  xmpp_unreachable: 'problem.xmpp_unreachable',
  xmpp_tls_failed: 'problem.xmpp_tls_failed',
  xmpp_host_forbidden: 'problem.xmpp_host_forbidden',
  xmpp_account_exists: 'problem.xmpp_account_exists',
  xmpp_not_linked: 'problem.xmpp_not_linked',
  xmpp_offline: 'problem.xmpp_offline',
  encryption_unavailable: 'problem.encryption_unavailable',
  signing_key_unavailable: 'problem.signing_key_unavailable',
  encrypted_body_invalid: 'problem.encrypted_body_invalid',
  quota_exceeded: 'problem.quota_exceeded',
  contact_address_unknown: 'problem.contact_address_unknown',
  identity_address_invalid: 'problem.identity_address_invalid',
  contact_identity_taken: 'problem.contact_identity_taken',
  contact_merge_invalid: 'problem.contact_merge_invalid',
  conflict: 'problem.conflict',
  key_exists: 'problem.key_exists',
  key_malformed: 'problem.key_malformed',
  key_not_private: 'problem.key_not_private',
  key_passphrase_wrong: 'problem.key_passphrase_wrong',
  key_unusable: 'problem.key_unusable',
  key_material_unknown: 'problem.key_material_unknown',
  key_too_large: 'problem.key_too_large',
  key_revoked: 'problem.key_revoked',
  key_none: 'problem.key_none',
  key_mode_unchanged: 'problem.key_mode_unchanged',
  key_request_invalid: 'problem.key_request_invalid',
  totp_already_enabled: 'problem.totp_already_enabled',
  totp_not_pending: 'problem.totp_not_pending',
  live_streams_exceeded: 'problem.live_streams_exceeded',
  search_query_invalid: 'problem.search_query_invalid',
};

/** Codes that mean the session is over: the app forgets the token and returns to sign-in. */
export const SESSION_ENDED_CODES: ReadonlySet<string> = new Set([
  'unauthenticated',
  'token_invalid',
  'token_expired',
  'token_revoked',
]);

/** The translation key for a problem (or for `network` when the instance could not be reached at all). */
export function problemMessageKey(problem: Pick<Problem, 'code' | 'status'> | 'network'): string {
  if (problem === 'network') return 'problem.network';
  const byCode = BY_CODE[problem.code];
  if (byCode) return byCode;
  if (problem.status === 401) return 'problem.session_ended';
  if (problem.status === 429) return 'problem.rate_limited';
  if (problem.status >= 500) return 'problem.internal_error';
  return 'problem.unexpected';
}
