/**
 * Resolves on the first SIGINT or SIGTERM (Ctrl-C, systemd stop) — or, for a process started by a supervisor with
 * an IPC channel (`caliopen federation`), when that channel closes: the supervisor is gone, so we stop too rather
 * than live on as an orphan.
 */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      process.off('disconnect', orphaned);
      resolve(sig);
    };
    const orphaned = () => on('SIGTERM');
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
    if (process.channel) {
      process.channel.unref();
      process.once('disconnect', orphaned);
    }
  });
}
