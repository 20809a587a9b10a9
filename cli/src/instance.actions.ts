import { startInstance } from '@caliopen/instance/app/instance.app.ts';
import { initInstance, printDns, type InitOptions } from '@caliopen/instance/app/instance.init.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { loadInstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { loadMasterKey } from '@caliopen/platform/crypto/master-key.store.ts';
import { migrateDataDir, schemaStatus, type SchemaStatus } from '@caliopen/instance/app/instance.migrate.ts';
import { CliError } from './cli-error.ts';
import { configFrom, withServices, type CommonOptions } from './context.ts';
import { untilSignal } from './until-signal.ts';

/** What `caliopen instance init | start | dns` do (declared in instance.commands.ts). */

export async function init(opts: InitOptions): Promise<void> {
  await initInstance(opts);
}

export async function start(opts: CommonOptions): Promise<void> {
  const running = await startInstance(configFrom(opts));
  console.log(
    `Caliopen instance ${running.services.config.domain} listening on ${running.url} (API docs: ${running.url}/api/docs)`,
  );
  await untilSignal();
  await running.stop();
}

export async function dns(opts: CommonOptions): Promise<void> {
  const config = configFrom(opts);
  printDns(await loadInstanceIdentity(config.dataDir, new SecretBox(loadMasterKey(config.dataDir))), console.log);
}

/** `caliopen instance migrate [--check]`: the data directory's databases, their versions and pending migrations. */
export async function migrate(opts: CommonOptions & { check?: boolean }): Promise<void> {
  const config = configFrom(opts);
  const print = (s: SchemaStatus, verb: string) => {
    if (s.state === 'absent') console.log(`${s.file.padEnd(18)} absent (made at version ${s.latest} when first used)`);
    else if (s.state === 'current') console.log(`${s.file.padEnd(18)} version ${s.version}, current`);
    else {
      console.log(`${s.file.padEnd(18)} version ${s.version} -> ${s.latest}: ${s.pending.length} ${verb}`);
      for (const m of s.pending) console.log(`  ${String(m.version).padStart(4)}  ${m.name}`);
    }
  };
  if (opts.check) {
    const status = schemaStatus(config);
    for (const s of status) print(s, 'pending');
    if (config.storage.engine === 'cassandra')
      console.log('cassandra keyspace: not checked here; `caliopen instance migrate` applies its migrations too');
    const pending = status.reduce((n, s) => n + s.pending.length, 0);
    if (pending > 0)
      throw new CliError(
        `${pending} migration(s) pending: back the data directory up, then run \`caliopen instance migrate\`.`,
        3,
      );
    console.log('Nothing to migrate.');
    return;
  }
  const applied = await migrateDataDir(config);
  for (const s of applied) print(s, 'applied');
  console.log(applied.length === 0 ? 'Nothing to migrate.' : 'Migrated.');
}

/** RFC 5280 reason codes an operator may give (RFC 8555 §7.6). */
const REVOCATION_REASONS: Record<string, number> = {
  unspecified: 0,
  keyCompromise: 1,
  superseded: 4,
  cessationOfOperation: 5,
};

/** `caliopen instance certificate-revoke`: the current certificate, at the CA that issued it. */
export async function revokeCertificate(opts: CommonOptions & { reason: string }): Promise<void> {
  const reason = REVOCATION_REASONS[opts.reason];
  if (reason === undefined)
    throw new CliError(
      `--reason must be one of ${Object.keys(REVOCATION_REASONS).join(', ')}, got "${opts.reason}".`,
      2,
    );
  await withServices(opts, async (services) => {
    if (!services.certificates)
      throw new CliError('ACME is off for this instance (acme.enabled): there is no ACME certificate to revoke.', 2);
    const { tls } = await services.identity();
    await services.certificates.revoke(tls.certPem, reason);
    console.log(
      `Certificate ${tls.fingerprintSha256} revoked (${opts.reason}); the instance orders a new one at its next check.`,
    );
  });
}
