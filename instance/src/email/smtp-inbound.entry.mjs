// The entry of the SMTP thread (smtp-inbound.threaded.ts). A worker thread does not inherit the TypeScript loader of
// the process that starts it (docs/adr/0001), so it registers its own, then runs the thread's module.
import { register } from 'tsx/esm/api';

register();
await import('./smtp-inbound.thread.ts');
