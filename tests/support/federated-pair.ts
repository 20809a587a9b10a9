import { loadInstanceIdentity, type InstanceIdentity } from '@caliopen/instance/identity/instance-identity.ts';
import { joinDirectory, type StandInDirectory } from './federation.ts';
import { startTestInstance, type TestInstance } from './instance.ts';

type InstanceOptions = Omit<NonNullable<Parameters<typeof startTestInstance>[0]>, 'domain'>;

/** alpha.test and beta.test in this process, each with its public HTTPS face, both listed in a stand-in directory. */
export interface FederatedPair {
  alpha: TestInstance;
  beta: TestInstance;
  alphaId: InstanceIdentity;
  betaId: InstanceIdentity;
  /** Beta's public face on loopback, as a peer reaches it. */
  betaUrl: string;
  stop(): Promise<void>;
}

/** Starts alpha.test then beta.test (each with its own options), loads their identities and has both join `directory`. */
export async function startFederatedPair(
  directory: StandInDirectory,
  o: { alpha?: InstanceOptions; beta?: InstanceOptions } = {},
): Promise<FederatedPair> {
  const alpha = await startTestInstance({ ...o.alpha, domain: 'alpha.test' });
  let beta: TestInstance;
  try {
    beta = await startTestInstance({ ...o.beta, domain: 'beta.test' });
  } catch (e) {
    await alpha.stop();
    throw e;
  }
  const alphaId = await loadInstanceIdentity(alpha.dataDir, alpha.running.services.box);
  const betaId = await loadInstanceIdentity(beta.dataDir, beta.running.services.box);
  joinDirectory(directory, [
    { instance: alpha, identity: alphaId },
    { instance: beta, identity: betaId },
  ]);
  return {
    alpha,
    beta,
    alphaId,
    betaId,
    betaUrl: `https://127.0.0.1:${new URL(beta.running.publicUrl!).port}`,
    async stop() {
      await alpha.stop();
      await beta.stop();
    },
  };
}
