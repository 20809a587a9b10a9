import type { Role } from '@caliopen/instance/accounts/account.entity.ts';
import { CliError } from './cli-error.ts';
import { withServices, type CommonOptions } from './context.ts';
import { generatePassword, readStdinSecret } from './prompt.ts';

/** What `caliopen admin user add | list | passwd` do (declared in admin.commands.ts). */

export interface AddOptions extends CommonOptions {
  admin?: boolean;
  displayName?: string;
  quota?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

function parseQuota(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+)\s*([kmgt]i?b?|b)?$/i.exec(text.trim());
  if (!m) throw new CliError(`--quota must be a size like 500MB, 5GiB or 1048576, got "${text}".`, 2);
  const unit = (m[2] ?? 'b').toLowerCase()[0]!;
  const power = { b: 0, k: 1, m: 2, g: 3, t: 4 }[unit] ?? 0;
  return Number(m[1]) * 1024 ** power;
}

const human = (bytes: number) => {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
};

export async function addUser(username: string, opts: AddOptions): Promise<void> {
  const quotaBytes = parseQuota(opts.quota);
  const password = opts.passwordStdin ? await readStdinSecret() : generatePassword();
  const role: Role = opts.admin ? 'admin' : 'user';
  const { account, domain } = await withServices(opts, async (s) => ({
    domain: s.config.domain,
    account: await s.accounts.create(
      {
        username,
        password,
        role,
        ...(opts.displayName ? { displayName: opts.displayName } : {}),
        ...(quotaBytes !== undefined ? { quotaBytes } : {}),
      },
      { kind: 'cli' },
    ),
  }));
  if (opts.json) {
    console.log(
      JSON.stringify({
        id: account.id,
        username: account.username,
        role,
        ...(opts.passwordStdin ? {} : { password }),
      }),
    );
  } else {
    console.log(`Created ${role} ${account.username}@${domain} (id ${account.id}).`);
    if (!opts.passwordStdin)
      console.log(`Password: ${password}\n(shown once; the user can change it after logging in)`);
  }
}

export async function listUsers(opts: CommonOptions & { limit: string; json?: boolean }): Promise<void> {
  const limit = Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw new CliError('--limit must be a positive integer.', 2);
  const accounts = await withServices(opts, (s) => s.accounts.list({ limit }));
  if (opts.json) {
    for (const a of accounts)
      console.log(
        JSON.stringify({
          id: a.id,
          username: a.username,
          role: a.role,
          disabled: a.disabled,
          quotaBytes: a.quotaBytes,
          usedBytes: a.usedBytes,
        }),
      );
    return;
  }
  if (accounts.length === 0) {
    console.log('No accounts yet: create one with `caliopen admin user add <username>`.');
    return;
  }
  console.log(`${'USERNAME'.padEnd(24)} ${'ROLE'.padEnd(6)} ${'2FA'.padEnd(4)} ${'USED / QUOTA'.padEnd(24)} STATUS`);
  for (const a of accounts) {
    console.log(
      `${a.username.padEnd(24)} ${a.role.padEnd(6)} ${(a.totpSecretSealed ? 'on' : 'off').padEnd(4)} ${`${human(a.usedBytes)} / ${human(a.quotaBytes)}`.padEnd(24)} ${a.disabled ? 'disabled' : 'active'}`,
    );
  }
}

export async function changePassword(
  username: string,
  opts: CommonOptions & { passwordStdin?: boolean },
): Promise<void> {
  const password = opts.passwordStdin ? await readStdinSecret() : generatePassword();
  await withServices(opts, async (s) => {
    const account = await s.accounts.getByUsername(username);
    // The admin journal records that the operator reset it (never the password).
    await s.accounts.setPassword(account.id, password, undefined, { kind: 'cli' });
  });
  console.log(`Password of ${username} changed; its sessions have ended.`);
  if (!opts.passwordStdin) console.log(`New password: ${password}`);
}
