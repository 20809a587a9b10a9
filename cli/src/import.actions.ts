import { buildServices } from '@caliopen/instance/app/instance.services.ts';
import type { ImapTls, RemoteIdentity, SyncStatus } from '@caliopen/instance/identities/remote-identity.entity.ts';
import { isAppError } from '@caliopen/instance/shared/errors.ts';
import { CliError } from './cli-error.ts';
import { configFrom, withServices, type CommonOptions } from './context.ts';
import { readStdinSecret } from './prompt.ts';

/** What `caliopen import add | list | run` do (declared in import.commands.ts). */

export interface AddOptions extends CommonOptions {
  host: string;
  port?: string;
  tls: string;
  login: string;
  label?: string;
  passwordStdin?: boolean;
  json?: boolean;
}

const TLS_MODES: readonly ImapTls[] = ['implicit', 'starttls', 'none'];

/** One line per progress report: the folder being worked on and the running totals. */
export function progressLine(s: SyncStatus): string {
  // The folders left at the provider (junk, trash) are not counted: nothing of them is imported.
  const folders = s.folders.filter((f) => f.excluded === undefined);
  const sum = (k: 'done' | 'imported' | 'skipped') => folders.reduce((n, f) => n + f[k], 0);
  const total = folders.reduce((n, f) => n + (f.total ?? 0), 0);
  const current = folders.find((f) => f.total === null || f.done < f.total) ?? folders.at(-1);
  const index = current ? folders.indexOf(current) + 1 : 0;
  const where = current
    ? ` folder ${index}/${folders.length} ${JSON.stringify(current.path)} ${current.done}/${current.total ?? '?'}`
    : '';
  return `${s.state}:${where} | all folders ${sum('done')}/${total} done, ${sum('imported')} new${sum('skipped') ? `, ${sum('skipped')} skipped` : ''}`;
}

function summary(identity: RemoteIdentity, s: SyncStatus): string {
  const imported = s.folders.reduce((n, f) => n + f.imported, 0);
  const done = s.folders.reduce((n, f) => n + f.done, 0);
  const skipped = s.folders.reduce((n, f) => n + f.skipped, 0);
  const left = s.folders.filter((f) => f.excluded !== undefined).length;
  const perFolder = s.folders.map((f) =>
    f.excluded !== undefined
      ? `  ${f.path}: not imported (the provider's ${f.excluded === 'junk' ? 'junk folder' : 'trash'}: its mail stays there)`
      : `  ${f.path}: ${f.imported} new of ${f.total ?? 0}${f.skipped ? ` (${f.skipped} over the size limit, skipped)` : ''}`,
  );
  return [
    `Imported ${imported} new message(s) from ${s.folders.length - left} folder(s) of ${identity.label} (${done - imported - skipped} already present, ${skipped} skipped${left ? `; ${left} folder(s) left at the provider` : ''}).`,
    ...perFolder,
  ].join('\n');
}

async function accountId(
  s: { accounts: { getByUsername(u: string): Promise<{ id: string }> } },
  username: string,
): Promise<string> {
  try {
    return (await s.accounts.getByUsername(username)).id;
  } catch (e) {
    if (isAppError(e) && e.code === 'not_found')
      throw new CliError(`No account named ${username}: list them with \`caliopen admin user list\`.`, 2);
    throw e;
  }
}

export async function addImport(username: string, opts: AddOptions): Promise<void> {
  if (!TLS_MODES.includes(opts.tls as ImapTls))
    throw new CliError(`--tls must be one of ${TLS_MODES.join(', ')}, got "${opts.tls}".`, 2);
  const tls = opts.tls as ImapTls;
  const port = opts.port === undefined ? (tls === 'implicit' ? 993 : 143) : Number(opts.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new CliError(`--port must be 1-65535, got "${opts.port}".`, 2);
  if (!opts.passwordStdin)
    throw new CliError(
      'Pass the remote password on standard input with --password-stdin, e.g. `printf %s "$PW" | caliopen import add ...`.',
      2,
    );
  const password = await readStdinSecret();
  const identity = await withServices(opts, async (s) =>
    s.identities.create(await accountId(s, username), {
      kind: 'imap',
      host: opts.host,
      port,
      tls,
      username: opts.login,
      password,
      label: opts.label,
    }),
  );
  if (opts.json)
    console.log(
      JSON.stringify({
        id: identity.id,
        label: identity.label,
        host: identity.host,
        port: identity.port,
        tls: identity.tls,
        username: identity.username,
      }),
    );
  else
    console.log(
      `Added ${identity.label} (id ${identity.id}). Import it now with \`caliopen import run ${username} ${identity.id}\`.`,
    );
}

export async function listImports(username: string, opts: CommonOptions & { json?: boolean }): Promise<void> {
  const identities = await withServices(opts, async (s) => s.identities.list(await accountId(s, username)));
  if (opts.json) {
    for (const i of identities)
      console.log(
        JSON.stringify({
          id: i.id,
          label: i.label,
          host: i.host,
          port: i.port,
          tls: i.tls,
          username: i.username,
          state: i.sync.state,
          lastSuccessAt: i.sync.lastSuccessAt,
        }),
      );
    return;
  }
  if (identities.length === 0) {
    console.log(
      `${username} has no remote mailbox: add one with \`caliopen import add ${username} --host ... --login ... --password-stdin\`.`,
    );
    return;
  }
  for (const i of identities) {
    console.log(
      `${i.id}  ${i.label}  ${i.tls}://${i.host}:${i.port}  last import: ${i.sync.state}${i.sync.lastSuccessAt ? `, last success ${i.sync.lastSuccessAt.toISOString()}` : ''}${i.sync.lastError ? ` (${i.sync.lastError.code}: ${i.sync.lastError.message})` : ''}`,
    );
  }
}

export async function runImport(username: string, identityId: string | undefined, opts: CommonOptions): Promise<void> {
  // Importing stores messages and queues their indexing: the queue and the search index are opened too.
  const s = await buildServices(configFrom(opts));
  let failed = 0;
  try {
    const id = await accountId(s, username);
    const targets = identityId ? [await s.identities.get(id, identityId)] : await s.identities.list(id);
    if (targets.length === 0) throw new CliError(`${username} has no remote mailbox to import.`, 2);
    for (const identity of targets) {
      console.log(`Importing ${identity.label} (${identity.tls}://${identity.host}:${identity.port})...`);
      let last = '';
      const result = await s.imports.runNow(id, identity.id, (status) => {
        const line = progressLine(status);
        if (line !== last) console.log(`  ${line}`);
        last = line;
      });
      if (result.state === 'failed') {
        failed++;
        console.error(
          `caliopen: import of ${identity.label} failed: ${result.lastError?.code}: ${result.lastError?.message}`,
        );
      } else {
        console.log(summary(identity, result));
      }
    }
  } finally {
    await s.close();
  }
  if (failed > 0)
    throw new CliError(
      `${failed} import(s) failed (see above); fix the cause and run again: imports resume where they stopped.`,
      1,
    );
}
