/** How a connection to a provider's SMTP submission server is protected (RFC 8314: implicit TLS on 465, STARTTLS on 587). */
export type SubmissionTls = 'implicit' | 'starttls';

/**
 * Sending as an imported address: the provider's SMTP submission server and credentials for one remote identity.
 * Mail whose From is `address` is relayed through that provider (which signs it for its own domain), never sent from
 * this instance's name. The password is sealed with the instance SecretBox for the purpose `send-as:<identityId>`,
 * like the identity's IMAP password.
 */
export interface SendAsRelay {
  accountId: string;
  identityId: string;
  /** The From address (lowercase): the address of the imported mailbox. */
  address: string;
  host: string;
  port: number;
  tls: SubmissionTls;
  username: string;
  credentialSealed: string;
  createdAt: Date;
  updatedAt: Date;
}

/** The SecretBox purpose a relay password is sealed for. */
export const sendAsPurpose = (identityId: string) => `send-as:${identityId}`;
