/**
 * A CLI failure with the exit code that says what kind: 2 = usage or configuration, 1 = the operation failed, 3 = a
 * check found work to do (`caliopen instance migrate --check`: migrations are pending).
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 | 3 = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
