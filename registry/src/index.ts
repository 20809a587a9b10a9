/**
 * @caliopen/registry — the association's registry: applications, automated checks, audits by consensus, signed
 * short-lived labels, instance Privacy Indices, a transparency log and a signed feed. See docs/registry.md.
 */
export { startRegistry, MAINTENANCE_QUEUE } from './app/registry.app.ts';
export type { RunningRegistry } from './app/registry.app.ts';
export { buildRegistryServices, openRegistryStorage } from './app/registry.services.ts';
export type { RegistryServiceOptions, RegistryServices } from './app/registry.services.ts';
export { createRegistryLogger } from './app/registry.logger.ts';
export {
  addAuditor,
  ensureAuditors,
  initRegistry,
  listAuditors,
  registryConfigAt,
  registryKeySet,
  rotateRegistryKey,
} from './app/registry.admin.ts';
export type { RegistryInitOptions, RegistryLocation } from './app/registry.admin.ts';
export {
  loadRegistryConfig,
  RegistryConfigError,
  REGISTRY_CONFIG_FILE,
  REGISTRY_ENV_KEYS,
} from './config/registry-config.ts';
export type { RegistryConfig } from './config/registry-config.ts';
export { DECLARATION_JWS_TYPE, DECLARATION_MAX_SKEW_SECONDS } from './labels/declaration-jws.ts';
export type { Application, CheckRun } from './labels/application.entity.ts';
export type { ApplicationInput, ChallengeInstructions } from './labels/application.service.ts';
export type { RunChecks } from './labels/check.service.ts';
export { computeInstancePi, INSTANCE_PI_MODEL_VERSION, PI_WEIGHTS, FRESHNESS_DAYS } from './pi/instance-pi.ts';
export type { InstancePiInput } from './pi/instance-pi.ts';
export { decide } from './labels/consensus.ts';
export { REGISTRY_ERROR_CODES, RegistryError, isRegistryError } from './shared/errors.ts';
export type { RegistryErrorCode } from './shared/errors.ts';
export { SqliteRegistryStorage } from './storage/registry-storage.sqlite.ts';
export type { RegistryStorage } from './database/registry-storage.port.ts';
export { FEED_MEDIA_TYPE, FEED_DELTA_MEDIA_TYPE } from './feed/feed.routes.ts';
export type { Member, LabelRecord } from './labels/label.entity.ts';
