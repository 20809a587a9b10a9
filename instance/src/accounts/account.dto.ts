import { Type, type Static } from 'typebox';
import type { Account } from './account.entity.ts';

/** The wire form of an account: never its password hash nor its TOTP secret. */
export const AccountDto = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    username: Type.String(),
    displayName: Type.String(),
    role: Type.Union([Type.Literal('user'), Type.Literal('admin')]),
    totpEnabled: Type.Boolean(),
    quotaBytes: Type.Integer(),
    usedBytes: Type.Integer(),
    disabled: Type.Boolean(),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export function toAccountDto(a: Account): Static<typeof AccountDto> {
  return {
    id: a.id,
    username: a.username,
    displayName: a.displayName,
    role: a.role,
    totpEnabled: a.totpSecretSealed !== null,
    quotaBytes: a.quotaBytes,
    usedBytes: a.usedBytes,
    disabled: a.disabled,
    createdAt: a.createdAt.toISOString(),
  };
}
