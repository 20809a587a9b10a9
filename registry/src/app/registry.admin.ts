import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { KeySetDocument } from '@caliopen/federation-protocol';
import { PasswordHasher } from '@caliopen/platform/crypto/password.hasher.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { createMasterKey, loadMasterKey } from '@caliopen/platform/crypto/master-key.store.ts';
import type { Auditor } from '../labels/audit.entity.ts';
import { AuditorService } from '../labels/auditor.service.ts';
import {
  loadRegistryConfig,
  REGISTRY_CONFIG_FILE,
  RegistryConfigError,
  type RegistryConfig,
} from '../config/registry-config.ts';
import { RegistryKeyService } from '../keys/registry-keys.service.ts';
import type { RegistryStorage } from '../database/registry-storage.port.ts';
import { loadRegistryMasterKey, openRegistryStorage } from './registry.services.ts';

/*
 * What an operator does to a registry that is not running: create it, manage its auditors, rotate and read its
 * signing keys. The registry's published operator API: the `caliopen registry ...` commands (the @caliopen/cli
 * package) and the local federation's supervisor call these, and nothing else of the registry's insides. Bad input
 * is a RegistryConfigError (the caller's to fix; `caliopen` exits 2 with its message).
 */

/** Where the registry is and how to read its configuration: flags > environment > config file > defaults. */
export interface RegistryLocation {
  dataDir?: string;
  config?: string;
}

const ORIGIN = /^[\x21-\x7e]{1,200}$/;

/** The registry's configuration, as every operator function loads it. */
export function registryConfigAt(where: RegistryLocation, overrides: Record<string, unknown> = {}): RegistryConfig {
  return loadRegistryConfig({
    ...(where.config ? { configFile: where.config } : {}),
    overrides: { ...(where.dataDir ? { dataDir: where.dataDir } : {}), ...overrides },
  });
}

async function withStorage<T>(
  where: RegistryLocation,
  fn: (ctx: { config: RegistryConfig; storage: RegistryStorage; box: SecretBox }) => Promise<T>,
): Promise<T> {
  const config = registryConfigAt(where);
  const box = new SecretBox(loadRegistryMasterKey(config));
  const storage = await openRegistryStorage(config);
  try {
    return await fn({ config, storage, box });
  } finally {
    await storage.close();
  }
}

export interface RegistryInitOptions extends RegistryLocation {
  origin?: string;
  httpHost?: string;
  httpPort?: string;
  approvals?: string;
}

/** Creates a registry in a data directory: configuration, master key, the first registry signing key, empty store. */
export async function initRegistry(
  opts: RegistryInitOptions,
  print: (line: string) => void = console.log,
): Promise<{ dataDir: string; kid: string }> {
  const origin = opts.origin ?? process.env.CALIOPEN_REGISTRY_ORIGIN ?? 'registry.localhost';
  if (!ORIGIN.test(origin))
    throw new RegistryConfigError(
      `--origin must be a registry name without spaces (e.g. registry.example.org), got "${origin}".`,
    );
  const dataDir = resolve(opts.dataDir ?? process.env.CALIOPEN_REGISTRY_DATA_DIR ?? '.data/registry');
  const configFile = join(dataDir, REGISTRY_CONFIG_FILE);
  if (existsSync(configFile))
    throw new RegistryConfigError(
      `${configFile} exists: this directory already holds a registry. Use another --data-dir.`,
    );
  const port = opts.httpPort === undefined ? 8090 : Number(opts.httpPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new RegistryConfigError(`--http-port must be a port number, got "${opts.httpPort}".`);
  const approvals = opts.approvals === undefined ? undefined : Number(opts.approvals);
  if (approvals !== undefined && (!Number.isInteger(approvals) || approvals < 1 || approvals > 100)) {
    throw new RegistryConfigError(`--approvals must be an integer from 1 to 100, got "${opts.approvals}".`);
  }

  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const fileConfig = {
    origin,
    http: { host: opts.httpHost ?? '127.0.0.1', port },
    ...(approvals ? { audit: { approvalsRequired: approvals } } : {}),
  };
  // Validate before anything is written: a bad environment variable stops init with its name.
  const config = loadRegistryConfig({ overrides: { ...fileConfig, dataDir } });
  const box = new SecretBox(process.env.CALIOPEN_MASTER_KEY ? loadMasterKey(dataDir) : createMasterKey(dataDir));
  writeFileSync(configFile, `${JSON.stringify(fileConfig, null, 2)}\n`, { mode: 0o600 });
  const storage = await openRegistryStorage(config);
  let kid: string;
  try {
    const keys = new RegistryKeyService(storage, box, config.origin);
    kid =
      (await keys.ensureInitialKey(new Date(), config.labels.keyLifetimeDays)) ??
      (await keys.signingKey(new Date())).kid;
  } finally {
    await storage.close();
  }
  print(`Registry ${origin} created in ${dataDir}`);
  print(`  signing key (Ed25519)  ${kid}  (sealed with the master key; valid ${config.labels.keyLifetimeDays} days)`);
  print(
    `  decisions need ${config.audit.approvalsRequired} approvals and no standing objection; labels live ${config.labels.lifetimeDays} days`,
  );
  print('');
  print(`Next: add auditors with \`caliopen registry auditor add <name> --data-dir ${dataDir}\`,`);
  print(`      then start with \`caliopen registry start --data-dir ${dataDir}\`.`);
  print('Peers pin the key set published at GET /v1/keys.');
  return { dataDir, kid };
}

/** Creates an auditor account. */
export async function addAuditor(where: RegistryLocation, name: string, password: string): Promise<Auditor> {
  return withStorage(where, ({ config, storage }) =>
    new AuditorService(storage, new PasswordHasher(), () => new Date(), config.audit.sessionTtlSeconds).create(
      name,
      password,
    ),
  );
}

/** Creates, among `auditors`, those that do not exist yet (an existing auditor keeps its password); resolves their names. */
export async function ensureAuditors(
  where: RegistryLocation,
  auditors: readonly { name: string; password: string }[],
): Promise<string[]> {
  return withStorage(where, async ({ config, storage }) => {
    const service = new AuditorService(storage, new PasswordHasher(), () => new Date(), config.audit.sessionTtlSeconds);
    const created: string[] = [];
    for (const a of auditors) {
      if ((await storage.auditors.getByName(a.name)) !== null) continue;
      await service.create(a.name, a.password);
      created.push(a.name);
    }
    return created;
  });
}

export async function listAuditors(where: RegistryLocation): Promise<Auditor[]> {
  return withStorage(where, ({ storage }) => storage.auditors.list());
}

/**
 * Adds a signing key that starts `activateInHours` from now; the keys valid then retire `overlapDays` after it starts
 * (default twice the label lifetime, at least the label lifetime). Numbers or the operator's text of them.
 */
export async function rotateRegistryKey(
  where: RegistryLocation,
  options: { activateInHours: number | string; overlapDays?: number | string },
): Promise<{ kid: string; document: KeySetDocument }> {
  const hours = Number(options.activateInHours);
  if (!Number.isFinite(hours) || hours < 0 || hours > 24 * 90)
    throw new RegistryConfigError(
      `--activate-in-hours must be a number of hours from 0 to 2160, got "${options.activateInHours}".`,
    );
  return withStorage(where, async ({ config, storage, box }) => {
    const overlapDays =
      options.overlapDays === undefined ? 2 * config.labels.lifetimeDays : Number(options.overlapDays);
    if (!Number.isFinite(overlapDays) || overlapDays < config.labels.lifetimeDays || overlapDays > 365) {
      throw new RegistryConfigError(
        `--overlap-days must be from ${config.labels.lifetimeDays} (the label lifetime) to 365, got "${options.overlapDays}".`,
      );
    }
    return new RegistryKeyService(storage, box, config.origin).rotate(new Date(), {
      activateInSeconds: Math.round(hours * 3600),
      overlapSeconds: Math.round(overlapDays * 86400),
      lifetimeDays: config.labels.keyLifetimeDays,
    });
  });
}

/** The key set the registry publishes at GET /v1/keys, read from its store (the registry need not be running). */
export async function registryKeySet(where: RegistryLocation): Promise<KeySetDocument> {
  return withStorage(where, ({ config, storage, box }) =>
    new RegistryKeyService(storage, box, config.origin).document(),
  );
}
