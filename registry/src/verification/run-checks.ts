import { DEFAULT_CHECK_TIMEOUT_MS, fail, messageOf } from './check.result.ts';
import type { CheckGroup, CheckSpec } from './check.result.ts';
import type { CheckResult, VerificationOptions, VerificationTarget } from './check.types.ts';
import { certificateCheck } from './certificate.check.ts';
import { dnsConfigurationCheck } from './dns-configuration.check.ts';
import { domainControlCheck } from './domain-control.check.ts';
import { federationDescriptorCheck } from './federation-descriptor.check.ts';

/**
 * Runs every automated check against an instance, for real: its DNS through `options.resolver`, its live TLS
 * endpoint and its HTTPS well-known paths (at `options.connectTo` when given). Groups of checks run concurrently,
 * each within `options.timeoutMs` (default 15 s). It never throws: a group that throws or runs out of time yields a
 * `fail` for each of its checks, with the reason as evidence. Results come in a stable order (see README.md), one
 * per check id.
 */
export const CHECK_GROUPS: readonly CheckGroup[] = [
  domainControlCheck,
  certificateCheck,
  dnsConfigurationCheck,
  federationDescriptorCheck,
];

export async function runChecks(target: VerificationTarget, options: VerificationOptions): Promise<CheckResult[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  const grouped = await Promise.all(CHECK_GROUPS.map((group) => runGroup(group, target, options, timeoutMs)));
  return grouped.flat();
}

async function runGroup(
  group: CheckGroup,
  target: VerificationTarget,
  options: VerificationOptions,
  timeoutMs: number,
): Promise<CheckResult[]> {
  const specs: CheckSpec[] = group.specs(target);
  const controller = new AbortController();
  const deadline = Date.now() + timeoutMs;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`the ${group.name} checks did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  const running = (async () => group.run({ target, options, signal: controller.signal, deadline }))();
  // Whatever the group does after its time is up (a late rejection included) must not surface anywhere.
  running.catch(() => {});
  let results: CheckResult[];
  try {
    results = await Promise.race([running, timeout]);
  } catch (error) {
    const evidence = messageOf(error);
    return specs.map((spec) => fail(spec, evidence, options.now));
  } finally {
    clearTimeout(timer);
    // Stop whatever network work the group left behind (a slower second proof, a late probe).
    controller.abort();
  }
  // Exactly one result per declared check, in the declared order.
  return specs.map(
    (spec) =>
      results.find((result) => result.id === spec.id) ??
      fail(spec, `the ${group.name} checks gave no result for ${spec.id}`, options.now),
  );
}
