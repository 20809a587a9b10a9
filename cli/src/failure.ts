import { ConfigError } from '@caliopen/instance/config/config.loader.ts';
import { isAppError } from '@caliopen/instance/shared/errors.ts';
import { CliError } from './cli-error.ts';

/**
 * How `caliopen` reports a failed command: the message on standard error and the exit code, 2 when the fix is on
 * the caller's side (usage, configuration), 1 when the operation failed. Loaded only when a command failed.
 */
export function exitCodeOf(e: unknown): number {
  if (e instanceof CliError) {
    console.error(`caliopen: ${e.message}`);
    return e.exitCode;
  }
  if (e instanceof ConfigError) {
    console.error(`caliopen: ${e.message}`);
    return 2;
  }
  if (isAppError(e)) {
    console.error(`caliopen: ${e.detail ?? e.message}`);
    return e.status >= 500 ? 1 : 2;
  }
  console.error(`caliopen: ${(e as Error).message}`);
  return 1;
}
