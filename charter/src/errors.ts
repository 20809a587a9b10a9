/**
 * Errors of the charter package. Callers (the registry) map them to their own problem codes; the codes here are
 * stable and never reused.
 */
export const CHARTER_ERROR_CODES = {
  /** A declaration, or a call, names a charter version that was never published. */
  charter_version_unknown: 'The charter version is not one the association published.',
  /** A published charter version has no compliance rules (a packaging mistake, caught by the tests). */
  charter_rules_missing: 'The charter version has no compliance rules.',
  /** A published charter text no longer matches the hash recorded when it was published, or is missing. */
  charter_text_changed: 'A published charter text was changed or removed after publication.',
  /** The list of published versions is malformed. */
  charter_index_invalid: 'The list of published charter versions is malformed.',
  /** A data file (jurisdictions, data-exploiting providers) does not validate. */
  charter_data_invalid: 'An association data file does not validate.',
  /** Publishing a charter version was refused (exists already, out of order, no text). */
  charter_publish_refused: 'The charter version cannot be published.',
} as const;

export type CharterErrorCode = keyof typeof CHARTER_ERROR_CODES;

export class CharterError extends Error {
  readonly code: CharterErrorCode;

  constructor(code: CharterErrorCode, detail: string) {
    super(detail);
    this.name = 'CharterError';
    this.code = code;
  }
}

export function isCharterError(value: unknown): value is CharterError {
  return value instanceof CharterError;
}
