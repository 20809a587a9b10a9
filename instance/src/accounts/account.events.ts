/**
 * Who did an operator action: an administrator through the API (their account), or the operator at the machine
 * through the `caliopen` CLI (no account: whoever runs the command on the server).
 */
export type Operator = { kind: 'admin'; accountId: string; username: string } | { kind: 'cli' };

/**
 * What an operator changed on an account. Never a secret: a password reset says that it happened, not the password.
 * `from`/`to` are the values before and after.
 */
export type AccountChange =
  | { kind: 'created'; role: 'user' | 'admin'; quotaBytes: number }
  | { kind: 'disabled' }
  | { kind: 'enabled' }
  | { kind: 'password_reset' }
  | { kind: 'quota_changed'; from: number; to: number }
  | { kind: 'role_changed'; from: 'user' | 'admin'; to: 'user' | 'admin' }
  | { kind: 'display_name_changed' };

/** What the accounts domain tells the others (published on the instance's event bus, shared/event-bus.ts). */
export type AccountEvents = {
  /**
   * An operator changed an account (one event per change: a PATCH that disables and changes the quota publishes
   * two). Published, and awaited, after the change is stored; the admin journal records it.
   */
  'account.administered': {
    at: Date;
    by: Operator;
    account: { id: string; username: string };
    change: AccountChange;
  };
};
