import { type CatalogueError, createErrorCatalogue } from '@caliopen/platform/errors/error.catalogue.ts';

/**
 * The one place where the instance's error codes live.
 *
 * Every error a client can see is an `AppError` carrying one of these codes. The HTTP layer turns it into an
 * RFC 9457 `application/problem+json` document; the CLI prints `title` and `hint`. Codes are stable: they are part
 * of the API contract (documented in docs/errors.md, generated from this table by a test that keeps both in step).
 */
export const ERROR_CODES = {
  // generic request problems
  malformed_json: { status: 400, title: 'The request body is not valid JSON.' },
  validation_failed: { status: 400, title: 'The request does not match the schema of this route.' },
  unsupported_media_type: { status: 415, title: 'This route accepts application/json only.' },
  payload_too_large: { status: 413, title: 'The request body is larger than this route accepts.' },
  route_not_found: { status: 404, title: 'No such route.' },
  uri_too_long: { status: 414, title: 'A path parameter is longer than this route accepts.' },
  bad_url: { status: 400, title: 'The URL is malformed (bad percent-encoding).' },
  method_not_allowed: { status: 405, title: 'This method is not allowed on this route.' },
  rate_limited: { status: 429, title: 'Too many requests; slow down and retry later.' },
  internal_error: { status: 500, title: 'Something went wrong on our side; the request id identifies it in our logs.' },
  service_unavailable: { status: 503, title: 'A backing service is unavailable; retry later.' },

  // authentication and authorization
  unauthenticated: { status: 401, title: 'A valid bearer token is required.' },
  token_invalid: { status: 401, title: 'The bearer token is unknown, malformed or forged.' },
  token_expired: { status: 401, title: 'The bearer token has expired; log in again.' },
  token_revoked: { status: 401, title: 'The bearer token was revoked; log in again.' },
  invalid_credentials: { status: 401, title: 'Wrong username or password.' },
  totp_required: {
    status: 401,
    title: 'This account uses two-factor authentication; send the current code as `totp`.',
  },
  totp_invalid: { status: 401, title: 'The two-factor code is wrong or expired.' },
  totp_not_pending: { status: 409, title: 'There is no two-factor enrolment waiting for confirmation.' },
  totp_already_enabled: { status: 409, title: 'Two-factor authentication is already enabled on this account.' },
  sender_not_owned: {
    status: 403,
    title: 'The sender address (From, Sender or MAIL FROM) is not one of your addresses.',
  },
  app_password_limit: {
    status: 409,
    title: 'This account has as many app passwords as allowed (20); revoke one you no longer use first.',
  },
  account_disabled: { status: 403, title: 'This account is disabled; contact your instance administrator.' },
  forbidden: { status: 403, title: 'You are not allowed to do this.' },

  // resources
  account_deletion_pending: {
    status: 409,
    title: 'The deletion of this account is already scheduled; cancel it first to ask again.',
  },
  account_deletion_not_pending: { status: 409, title: 'No deletion of this account is scheduled.' },
  not_found: { status: 404, title: 'No such resource (or it is not yours).' },
  username_taken: { status: 409, title: 'This username is already taken on this instance.' },
  username_invalid: {
    status: 400,
    title: 'Usernames are 1–64 characters: lowercase letters, digits, dot, dash, underscore.',
  },
  password_too_weak: { status: 400, title: 'Passwords must be at least 10 characters long.' },
  quota_exceeded: { status: 507, title: 'The account storage quota is exhausted.' },
  conflict: { status: 409, title: 'The resource changed meanwhile; reload and retry.' },
  live_streams_exceeded: {
    status: 429,
    title: 'This account has as many live-update streams open as allowed; close another tab or device first.',
  },
  search_query_invalid: {
    status: 400,
    title: 'The search query has a term that cannot be understood (the detail names it).',
  },

  // contacts
  identity_address_invalid: {
    status: 400,
    title: 'An identity address is not valid on its protocol (the detail names it).',
  },
  contact_identity_taken: {
    status: 409,
    title: 'An address already belongs to another of your contacts; merge the two contacts instead.',
  },
  contact_merge_invalid: {
    status: 400,
    title: 'This merge cannot be done (the target is also a source, or the result would be too large).',
  },
  vcard_invalid: { status: 400, title: 'The vCard file cannot be read (the detail names the line and the problem).' },

  // linked XMPP accounts (chat in the same person-conversations)
  xmpp_auth_failed: {
    status: 422,
    title: 'The XMPP server refused the login: check the address (JID) and the password.',
  },
  xmpp_unreachable: {
    status: 502,
    title: 'The XMPP server could not be reached: check the address, the host and the port.',
  },
  xmpp_tls_failed: {
    status: 502,
    title:
      "No trusted TLS connection to the XMPP server: it offered no TLS, or its certificate is not valid for the JID's domain. The password was not sent.",
  },
  xmpp_host_forbidden: {
    status: 400,
    title:
      'This XMPP host resolves to a loopback, private or otherwise non-public address, which this instance does not connect to.',
  },
  xmpp_account_exists: { status: 409, title: 'This XMPP account is already linked to your account.' },
  xmpp_not_linked: {
    status: 409,
    title: 'No XMPP account of yours can send this: link one in the settings first.',
  },
  xmpp_offline: {
    status: 503,
    title: 'Your XMPP account is not connected right now (the instance is reconnecting); try again in a moment.',
  },

  // remote identities and IMAP import
  send_as_auth_failed: {
    status: 422,
    title:
      "The provider's SMTP submission server refused the sign-in: check the username and password (some providers want an app password).",
  },
  send_as_failed: {
    status: 502,
    title:
      "The provider's SMTP submission server could not be reached, its TLS certificate is not trusted, or it refused the message (the detail says which).",
  },
  send_as_invalid: {
    status: 400,
    title: 'This address cannot be sent as through a provider (the detail says why).',
  },
  imap_auth_failed: {
    status: 422,
    title:
      'The remote IMAP server refused the login: check the username and password (some providers want an app password).',
  },
  imap_unreachable: {
    status: 502,
    title: 'The remote IMAP server could not be reached: check the host, the port and the TLS mode.',
  },
  imap_tls_failed: {
    status: 502,
    title:
      'The TLS connection to the remote IMAP server failed: its certificate is not trusted or not valid for that host.',
  },
  imap_host_forbidden: {
    status: 400,
    title:
      'This host resolves to a loopback, private or otherwise non-public address, which this instance does not import from.',
  },

  // remote images of mails, fetched by the instance for the reader
  remote_image_url_invalid: {
    status: 400,
    title: 'The image URL is not an absolute http(s) URL without credentials (file:, data: and others are refused).',
  },
  remote_image_not_in_message: { status: 404, title: 'This URL does not appear in the HTML of this message.' },
  remote_image_host_forbidden: {
    status: 403,
    title:
      'The image host (or a redirect) resolves to a loopback, private or otherwise non-public address, which this instance does not fetch from.',
  },
  remote_image_unreachable: {
    status: 502,
    title: 'The image host could not be reached, or did not answer with the image (the detail says why).',
  },
  remote_image_timeout: { status: 504, title: 'The image host did not send the image in time.' },
  remote_image_not_image: {
    status: 502,
    title: 'The image host answered something that is not a raster image (SVG and other types are refused).',
  },
  remote_image_too_large: { status: 502, title: 'The image is larger than this instance fetches.' },
  identity_exists: {
    status: 409,
    title: 'This account already has a remote identity for this username on this server.',
  },

  // sending mail
  no_recipients: { status: 400, title: 'A message needs at least one recipient (to, cc or bcc).' },
  too_many_recipients: {
    status: 400,
    title: 'The message has more recipients than this instance allows (the detail says how many).',
  },
  recipient_invalid: {
    status: 400,
    title:
      'A recipient is not a valid email address, or gives both or neither of `address` and `contactId` (the detail names it).',
  },
  recipient_unknown: {
    status: 404,
    title:
      'A recipient names no contact of yours, a contact without an email address, no account of this instance, or a user its member instance says it does not have (the recipient check, asked before sending).',
  },
  header_invalid: {
    status: 400,
    title: 'A subject, name or filename contains a control character (CR, LF, NUL...), which could forge headers.',
  },
  attachment_invalid: {
    status: 400,
    title:
      'An attachment is not valid base64, or has an unacceptable filename or content type (the detail says which).',
  },
  attachment_not_found: {
    status: 404,
    title: 'The message has no attachment at this index (the index counts from 0 in the message’s `attachments`).',
  },
  attachments_too_large: {
    status: 413,
    title: 'The attachments together are larger than this instance accepts in one message.',
  },

  // correspondents' OpenPGP keys
  key_malformed: {
    status: 422,
    title:
      'The OpenPGP key cannot be read: bad armour, truncated packets, not a key, or several keys where one is expected.',
  },
  key_too_large: { status: 422, title: 'The OpenPGP key is larger than this instance accepts (64 KiB).' },
  key_private: {
    status: 422,
    title: 'This is a private key: give the public key only (it is refused and never stored).',
  },
  key_expired: { status: 422, title: 'The OpenPGP key has expired.' },
  key_revoked: { status: 422, title: 'The OpenPGP key has been revoked by its owner.' },
  key_address_mismatch: { status: 422, title: 'None of the key’s valid user IDs carries this email address.' },
  key_unusable: { status: 422, title: 'The OpenPGP key has no valid self-signature, or can neither encrypt nor sign.' },
  key_material_unknown: {
    status: 409,
    title:
      'Only this key’s fingerprint is known (it signed a message): it cannot be verified or used until the key itself is added.',
  },
  contact_address_unknown: {
    status: 422,
    title: 'The address is not one of this contact’s email addresses (or the contact has several and none was named).',
  },

  // end-to-end encrypted mail (OpenPGP)
  route_unavailable: {
    status: 422,
    title:
      'Some recipients cannot be reached by the route asked (the detail names them and says why). Send with route "auto" to use the most private route open for each.',
  },
  encryption_unavailable: {
    status: 422,
    title:
      'The message cannot be encrypted end to end: no OpenPGP key is known for some recipients, or you have none (the detail names them). Send with encryption "auto" or "none", or add their keys.',
  },
  encrypted_body_invalid: {
    status: 422,
    title:
      'The `encrypted` body is not an armoured OpenPGP message encrypted to at least one key, or comes with `text`, `html`, `attachments`, `sign` or `encryption` (an encrypted body is sent as it is).',
  },
  signing_key_unavailable: {
    status: 422,
    title:
      'The message cannot be signed: you have no OpenPGP key, or the server cannot use it (kept on your devices, or locked until you sign in again).',
  },

  // the account's own OpenPGP keys
  key_request_invalid: {
    status: 400,
    title:
      'The request does not fit the mode: server mode takes your password (and the private key to import, if any); client mode takes the public key made on your device.',
  },
  key_not_private: {
    status: 422,
    title:
      'This is a public key: keeping the key on the server needs the private key (-----BEGIN PGP PRIVATE KEY BLOCK-----).',
  },
  key_passphrase_wrong: {
    status: 422,
    title: 'The private key is protected by a passphrase, and the one given (or none) does not open it.',
  },
  key_not_yours: { status: 422, title: 'This private key is not one of your account’s keys.' },
  key_revocation_missing: {
    status: 422,
    title:
      'The instance holds no revocation certificate for this key: send one (`revocationCertificate`), made where the private key is.',
  },
  key_revocation_invalid: {
    status: 422,
    title: 'The revocation certificate cannot be read or does not revoke this key.',
  },
  key_none: { status: 409, title: 'The account has no key yet: generate or import one first.' },
  key_exists: { status: 409, title: 'This key is already one of your account’s keys.' },
  key_mode_mismatch: {
    status: 409,
    title:
      'Your key is kept the other way (on the server or on your devices): switch with POST /api/v1/keys/mode first.',
  },
  journal_filter_invalid: {
    status: 400,
    title: 'The journal filters contradict each other (e.g. `since` after `until`).',
  },
  key_mode_unchanged: { status: 409, title: 'Your private key is already kept this way.' },
  key_locked: {
    status: 409,
    title: 'The server-held private key does not open with this password (it was protected under an earlier one).',
  },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The instance's catalogue, built by the platform's factory: error class, problem documents and schema, docs page. */
export const instanceErrors = createErrorCatalogue({
  errorName: 'AppError',
  codes: ERROR_CODES,
  problemType: 'urn:caliopen:problem:',
  problemSchemaId: 'Problem',
  docsPath: 'docs/errors.md',
});

export const AppError = instanceErrors.Error;
export type AppError = CatalogueError<ErrorCode>;
export const isAppError = instanceErrors.isError;
