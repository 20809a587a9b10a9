import { Buffer } from 'buffer';

/**
 * federation-protocol encodes base64 with Node's Buffer; in the browser the `buffer` package stands in for it. This
 * module is the first import of the site's entry, so the global exists before the protocol's modules evaluate.
 */
const g = globalThis as { Buffer?: unknown };
if (g.Buffer === undefined) g.Buffer = Buffer;
