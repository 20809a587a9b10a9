/**
 * The registry's storage port lives a floor down, in database/registry-storage.port.ts, where each domain's
 * repositories add themselves to it (issue 11); they are re-exported here, beside the adapters.
 */
export type { RegistryStorage } from '../database/registry-storage.port.ts';
export type {
  ApplicationRepository,
  CheckRunRepository,
  CreateApplicationOutcome,
} from '../labels/application.repository.ts';
export type {
  AuditEventRepository,
  AuditorRepository,
  CreateAuditorOutcome,
  VoteRepository,
} from '../labels/audit.repository.ts';
export type { RegistryKeyRepository } from '../keys/registry-key.repository.ts';
export type { LabelRepository, MemberRepository } from '../labels/label.repository.ts';
export type { FeedRepository, TransparencyLogRepository } from '../log/log.repository.ts';
