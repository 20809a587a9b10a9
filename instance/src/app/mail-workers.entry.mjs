// The entry of a mail worker thread (mail-workers.piscina.ts). A worker thread does not inherit the TypeScript
// loader of the process that starts it (docs/adr/0001), so it registers its own, then exposes the tasks.
import { register } from 'tsx/esm/api';

register();
const tasks = await import('./mail-workers.tasks.ts');

export const parse = tasks.parse;
export const authenticate = tasks.authenticate;
