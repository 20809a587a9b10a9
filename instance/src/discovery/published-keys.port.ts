/**
 * Port: the public keys this instance publishes for its own users (RFC 7929 OPENPGPKEY records, Web Key Directory).
 * The account-keys domain implements it; discovery only reads through it.
 */
export interface PublishedKeySource {
  /**
   * The binary transferable public key (RFC 9580 §10.1: no armour, no private parts) published for the local user
   * `localPart` (a username, lowercase), or null when nothing is published for it (unknown user, no key, account
   * disabled, the user chose not to publish). It must only return keys whose user IDs carry `<localPart>@<domain>`.
   */
  publicKeyOf(localPart: string): Promise<Uint8Array | null>;
}

/** Publishes nothing: what an instance serves until account keys exist (every lookup is "no such key"). */
export const noPublishedKeys: PublishedKeySource = {
  publicKeyOf: async () => null,
};
