/**
 * @caliopen/charter — the association's charter (versioned texts with their content hashes), the machine-readable
 * declaration an instance signs, the compliance rules that evaluate it clause by clause, and the data the
 * association maintains (jurisdiction table, data-exploiting mail providers). Texts and data are read from the
 * package's own `charter/` and `data/` folders and validated when the package is first imported.
 */
export { charterVersion, charterVersions, currentCharter } from './charter.catalog.ts';
export type { CharterVersion } from './charter.versions.ts';

export { DeclarationSchema, MAX_REPORTED_ERRORS, parseDeclaration } from './declaration.schema.ts';
export type { Declaration, DeclarationError, ParseDeclarationResult } from './declaration.schema.ts';

export { INCIDENT_DISCLOSURE_LIMIT_V1, RETENTION_LIMITS_V1, charterClauses, evaluateCompliance } from './rules.ts';
export type { CheckResultLike, ClauseDefinition, ClauseResult, ComplianceResult } from './rules.ts';

export {
  JURISDICTION_CODES,
  isAssessedJurisdiction,
  jurisdiction,
  jurisdictionDefault,
  jurisdictions,
} from './jurisdictions.data.ts';
export type { Jurisdiction, JurisdictionTable } from './jurisdictions.data.ts';

export { dataExploitingProviderNamed, dataExploitingProviders, isDataExploitingDomain } from './providers.data.ts';
export type { DataExploitingProvider, ProviderTable } from './providers.data.ts';

export { CHARTER_ERROR_CODES, CharterError, isCharterError } from './errors.ts';
export type { CharterErrorCode } from './errors.ts';
