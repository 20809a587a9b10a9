import type { Application, ApplicationStatus } from '../labels/application.entity.ts';
import type { Member } from '../labels/label.entity.ts';

/**
 * JSON forms of the entities stored whole (applications, members), shared by the adapters: dates as epoch
 * milliseconds. The mutable status columns of an application live beside the JSON, in the adapter's own columns.
 */

type ApplicationJson = Omit<Application, 'status' | 'updatedAt' | 'closedReason' | 'createdAt'> & { createdAt: number };

export function applicationToJson(a: Application): string {
  const { status: _s, updatedAt: _u, closedReason: _c, createdAt, ...rest } = a;
  const json: ApplicationJson = { ...rest, createdAt: createdAt.getTime() };
  return JSON.stringify(json);
}

export function applicationFromJson(
  text: string,
  mutable: { status: ApplicationStatus; updatedAt: Date; closedReason: string | null },
): Application {
  const json = JSON.parse(text) as ApplicationJson;
  return { ...json, createdAt: new Date(json.createdAt), ...mutable };
}

const MEMBER_DATES = [
  'labelIssuedAt',
  'labelExpiresAt',
  'lastCheckAt',
  'lastPassingCheckAt',
  'decidedAt',
  'updatedAt',
  'revokedAt',
] as const;

export function memberToJson(m: Member): string {
  const json: Record<string, unknown> = { ...m };
  for (const key of MEMBER_DATES) json[key] = m[key] === null ? null : (m[key] as Date).getTime();
  return JSON.stringify(json);
}

export function memberFromJson(text: string): Member {
  const json = JSON.parse(text) as Record<string, unknown>;
  for (const key of MEMBER_DATES)
    json[key] = json[key] === null || json[key] === undefined ? null : new Date(json[key] as number);
  return json as unknown as Member;
}
