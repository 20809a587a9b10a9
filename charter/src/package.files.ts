import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * Where the package's own files are: the charter texts (`charter/`) and the association's data (`data/`), found
 * relative to this module so that the package works from any working directory.
 */
export const CHARTER_DIR = fileURLToPath(new URL('../charter/', import.meta.url));
export const DATA_DIR = fileURLToPath(new URL('../data/', import.meta.url));

/** Reads and parses a JSON data file of the package; a read or parse failure names the file. */
export function readJsonFile(path: string, onError: (detail: string) => Error): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw onError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw onError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
