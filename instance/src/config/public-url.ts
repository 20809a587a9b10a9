import type { InstanceConfig } from './config.schema.ts';

/**
 * The URL peers reach the public face by: configured, or https://<domain>[:port]. Read from the configuration alone,
 * so that the registry client (which declares it when applying) need not import http/, whose public server reads
 * the application state it keeps.
 */
export function publicBaseUrl(config: InstanceConfig, port: number): string {
  return config.https.publicUrl ?? `https://${config.domain}${port === 443 ? '' : `:${port}`}`;
}
