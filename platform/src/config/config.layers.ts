import { existsSync, readFileSync } from 'node:fs';

/**
 * The pieces every Caliopen configuration loader (the instance's, the registry's) layers its sources with:
 * defaults < file < environment < flags, each environment variable mapped onto a dotted config path.
 */
export type Json = Record<string, unknown>;

export type EnvKind = 'string' | 'integer' | 'number' | 'boolean' | 'list' | 'map';

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Objects merge key by key; anything else in `over` replaces what `base` had. */
export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over))
    out[k] = isObject(v) && isObject(out[k]) ? deepMerge(out[k] as Json, v) : v;
  return out;
}

export function setPath(target: Json, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const k of keys.slice(0, -1)) {
    if (!isObject(node[k])) node[k] = {};
    node = node[k] as Json;
  }
  node[keys.at(-1)!] = value;
}

/**
 * Reads the environment variables of `keys` into a config object, typed by kind, and remembers where each value came
 * from (for error messages). `fail` builds the loader's own error from a message naming the variable and the key.
 */
export function valuesFromEnv(
  env: NodeJS.ProcessEnv,
  keys: Record<string, { path: string; kind: EnvKind }>,
  fail: (message: string) => Error,
): { values: Json; sources: Map<string, string> } {
  const values: Json = {};
  const sources = new Map<string, string>();
  for (const [name, { path, kind }] of Object.entries(keys)) {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') continue;
    let value: unknown = raw;
    if (kind === 'integer' || kind === 'number') {
      const pattern = kind === 'integer' ? /^-?\d+$/ : /^-?\d+(\.\d+)?$/;
      if (!pattern.test(raw))
        throw fail(`${name} (${path}) must be ${kind === 'integer' ? 'an integer' : 'a number'}, got "${raw}".`);
      value = Number(raw);
    } else if (kind === 'boolean') {
      if (!/^(true|false|1|0)$/i.test(raw)) throw fail(`${name} (${path}) must be true or false, got "${raw}".`);
      value = /^(true|1)$/i.test(raw);
    } else if (kind === 'list') {
      value = raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    } else if (kind === 'map') {
      const map: Record<string, string> = {};
      for (const pair of raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw fail(`${name} must be a list of domain=host:port, got "${pair}".`);
        map[pair.slice(0, eq).trim().toLowerCase()] = pair.slice(eq + 1).trim();
      }
      value = map;
    }
    setPath(values, path, value);
    sources.set(path, `environment variable ${name}`);
  }
  return { values, sources };
}

/**
 * Reads the optional JSON config file: absent is fine (no values) unless it was named explicitly (flag or
 * environment variable); present, it must be a JSON object. `hint` ends the message of a file that does not parse.
 */
export function readConfigFile(
  path: string,
  options: { explicit: boolean; fail: (message: string) => Error; hint?: string },
): { values: Json; exists: boolean } {
  if (!existsSync(path)) {
    if (options.explicit) throw options.fail(`The config file ${path} does not exist.`);
    return { values: {}, exists: false };
  }
  try {
    const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
    if (!isObject(parsed)) throw new Error('the top level must be an object');
    return { values: parsed, exists: true };
  } catch (e) {
    throw options.fail(
      `The config file ${path} is not valid JSON: ${(e as Error).message}.${options.hint ? ` ${options.hint}` : ''}`,
    );
  }
}

/** defaults < file < environment < overrides, then the values no layer may change (the resolved data directory). */
export function layerConfig(layers: { defaults: Json; file: Json; env: Json; overrides: Json; fixed: Json }): Json {
  return deepMerge(
    deepMerge(deepMerge(deepMerge(layers.defaults, layers.file), layers.env), layers.overrides),
    layers.fixed,
  );
}
