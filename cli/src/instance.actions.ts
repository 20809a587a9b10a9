import { startInstance } from '@caliopen/instance/app/instance.app.ts';
import { initInstance, printDns, type InitOptions } from '@caliopen/instance/app/instance.init.ts';
import { SecretBox } from '@caliopen/platform/crypto/secret-box.cipher.ts';
import { loadInstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { loadMasterKey } from '@caliopen/platform/crypto/master-key.store.ts';
import { configFrom, type CommonOptions } from './context.ts';
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
