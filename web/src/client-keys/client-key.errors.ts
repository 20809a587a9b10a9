/**
 * What can go wrong with a key kept in this browser, as a stable code the screens map to a sentence
 * (i18n `clientKeys.problem.<code>`). Kept apart from pgp.ts so that the main bundle can test for it without loading
 * openpgp.js.
 */
export type ClientKeyProblem =
  /** The passphrase does not open the key. */
  | 'wrong_passphrase'
  /** The text is not an armoured OpenPGP private key. */
  | 'not_a_private_key'
  /** The key is not one of the account's keys. */
  | 'not_yours'
  /** The message is not OpenPGP-encrypted in a form this app reads. */
  | 'not_encrypted'
  /** None of the keys here opens the message. */
  | 'not_for_you'
  /** The message could not be read (damaged, altered or too large). */
  | 'unreadable'
  /** This browser cannot store keys (IndexedDB unavailable, e.g. a private window). */
  | 'no_storage';

export class ClientKeyError extends Error {
  constructor(readonly problem: ClientKeyProblem) {
    super(problem);
    this.name = 'ClientKeyError';
  }
}

/** A passphrase that protects a key kept in the browser: at least this long (as the instance's passwords). */
export const MIN_PASSPHRASE_LENGTH = 10;

/** An error whose message is a sentence already written for the user, in their language (e.g. a passphrase check). */
export class Sentence extends Error {}
