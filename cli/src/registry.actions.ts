import type { RegistryInitOptions, RegistryLocation } from '@caliopen/registry/app/registry.admin.ts';
import { CliError } from './cli-error.ts';

/*
 * What the `caliopen registry ...` commands do (declared in registry.commands.ts): the registry's operator API
 * (@caliopen/registry/app/registry.admin.ts) and its server (registry.app.ts), imported when a command runs, so that
 * `caliopen instance ...` does not pay for loading the registry.
 */

type CommonOptions = RegistryLocation;

/** Registry failures as the `caliopen` program reports them: 2 when the fix is on the caller's side, 1 otherwise. */
async function registryFailures(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const { RegistryConfigError } = await import('@caliopen/registry/config/registry-config.ts');
    const { isRegistryError } = await import('@caliopen/registry/shared/errors.ts');
    if (error instanceof RegistryConfigError) throw new CliError(error.message, 2);
    if (isRegistryError(error)) throw new CliError(error.detail ?? error.message, error.status >= 500 ? 1 : 2);
    throw error;
  }
}

const admin = () => import('@caliopen/registry/app/registry.admin.ts');

export async function init(opts: RegistryInitOptions): Promise<void> {
  return registryFailures(async () => {
    await (await admin()).initRegistry(opts);
  });
}

export async function start(opts: CommonOptions): Promise<void> {
  return registryFailures(async () => {
    const { startRegistry } = await import('@caliopen/registry/app/registry.app.ts');
    const { untilSignal } = await import('./until-signal.ts');
    const running = await startRegistry((await admin()).registryConfigAt(opts));
    console.log(
      `Caliopen registry ${running.services.config.origin} listening on ${running.url} (feed ${running.url}/v1/index, keys ${running.url}/v1/keys, API docs ${running.url}/docs)`,
    );
    await untilSignal();
    await running.stop();
  });
}

export async function addAuditor(
  name: string,
  opts: CommonOptions & { passwordStdin?: boolean; json?: boolean },
): Promise<void> {
  return registryFailures(async () => {
    const { generatePassword, readStdinSecret } = await import('./prompt.ts');
    const password = opts.passwordStdin ? await readStdinSecret() : generatePassword();
    const created = await (await admin()).addAuditor(opts, name, password);
    if (opts.json) {
      console.log(JSON.stringify({ id: created.id, name: created.name, ...(opts.passwordStdin ? {} : { password }) }));
    } else {
      console.log(`Created auditor ${created.name} (id ${created.id}).`);
      if (!opts.passwordStdin) console.log(`Password: ${password}\n(shown once; log in with POST /v1/auth/login)`);
    }
  });
}

export async function listAuditors(opts: CommonOptions): Promise<void> {
  return registryFailures(async () => {
    const auditors = await (await admin()).listAuditors(opts);
    if (auditors.length === 0) console.log('No auditors yet: add one with `caliopen registry auditor add <name>`.');
    for (const a of auditors)
      console.log(`${a.name.padEnd(24)} ${a.disabled ? 'disabled' : 'active'}  since ${a.createdAt.toISOString()}`);
  });
}

export async function rotateKeys(
  opts: CommonOptions & { activateInHours: string; overlapDays?: string },
): Promise<void> {
  return registryFailures(async () => {
    const { kid, document } = await (await admin()).rotateRegistryKey(opts, {
      activateInHours: opts.activateInHours,
      ...(opts.overlapDays !== undefined ? { overlapDays: opts.overlapDays } : {}),
    });
    console.log(`New registry key ${kid}; the key set is now:`);
    for (const k of document.keys) {
      console.log(
        `  ${k.kid}  valid ${new Date(k.notBefore * 1000).toISOString()} .. ${new Date(k.notAfter * 1000).toISOString()}`,
      );
    }
    console.log('Peers refresh it from GET /v1/keys; a running registry signs with the new key once it starts.');
  });
}

export async function listKeys(opts: CommonOptions & { json?: boolean }): Promise<void> {
  return registryFailures(async () => {
    const document = await (await admin()).registryKeySet(opts);
    if (opts.json) return console.log(JSON.stringify(document));
    for (const k of document.keys)
      console.log(
        `${k.kid}  valid ${new Date(k.notBefore * 1000).toISOString()} .. ${new Date(k.notAfter * 1000).toISOString()}`,
      );
  });
}
