/**
 * The registry's signing keys moved to keys/registry-keys.service.ts (issue 11: the log and the feed sign with them,
 * and labels use both). This path stays for the instance CLI's federation supervisor, left untouched here.
 */
export { RegistryKeyService } from '../keys/registry-keys.service.ts';
