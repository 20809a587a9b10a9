/**
 * Structure-aware generators for the fuzz targets (tests/fuzz/fuzz.targets.ts), built on fast-check so that every
 * input is reproducible from a seed and a finding shrinks to a small one:
 * - `mutatedBytes`: a seed of the corpus with a few byte-level mutations in the style of libFuzzer (flip, insert,
 *   erase, duplicate, splice from another seed, a dictionary token inserted or overwritten, truncate);
 * - `mutatedJson`: a seed JSON value with a few structural mutations (a node replaced by a hostile value, a member
 *   dropped or added, an array emptied or repeated, deep nesting), so the parsers are reached past their first check.
 * Positions are drawn as fractions of the current length, so a mutation stays meaningful whatever the seed's size.
 */
import fc from 'fast-check';

type ByteMutation =
  | { op: 'flip'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'erase'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number; times: number }
  | { op: 'splice'; at: number; seed: number; from: number; length: number }
  | { op: 'token'; at: number; token: number; overwrite: boolean }
  | { op: 'truncate'; at: number };

const fraction = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
const positionIn = (length: number, at: number) => Math.min(length, Math.floor(at * (length + 1)));

function byteMutation(seeds: number, tokens: number): fc.Arbitrary<ByteMutation> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: fraction, value: fc.nat(255) }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('insert' as const),
        at: fraction,
        bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('erase' as const),
        at: fraction,
        length: fc.integer({ min: 1, max: 64 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('duplicate' as const),
        at: fraction,
        length: fc.integer({ min: 1, max: 64 }),
        times: fc.integer({ min: 1, max: 64 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        op: fc.constant('splice' as const),
        at: fraction,
        seed: fc.nat(Math.max(0, seeds - 1)),
        from: fraction,
        length: fc.integer({ min: 1, max: 256 }),
      }),
    },
    {
      weight: tokens > 0 ? 4 : 0,
      arbitrary: fc.record({
        op: fc.constant('token' as const),
        at: fraction,
        token: fc.nat(Math.max(0, tokens - 1)),
        overwrite: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fraction }) },
  );
}

function applyByteMutation(
  input: Buffer,
  m: ByteMutation,
  seeds: readonly Buffer[],
  tokens: readonly Buffer[],
): Buffer {
  const at = positionIn(input.length, m.at);
  switch (m.op) {
    case 'flip': {
      if (input.length === 0) return Buffer.from([m.value]);
      const out = Buffer.from(input);
      out[Math.min(at, out.length - 1)] = m.value;
      return out;
    }
    case 'insert':
      return Buffer.concat([input.subarray(0, at), m.bytes, input.subarray(at)]);
    case 'erase':
      return Buffer.concat([input.subarray(0, at), input.subarray(at + m.length)]);
    case 'duplicate': {
      const chunk = input.subarray(at, at + m.length);
      return Buffer.concat([input.subarray(0, at), ...Array<Buffer>(m.times).fill(chunk), input.subarray(at)]);
    }
    case 'splice': {
      const other = seeds[m.seed] ?? Buffer.alloc(0);
      const from = positionIn(other.length, m.from);
      return Buffer.concat([input.subarray(0, at), other.subarray(from, from + m.length), input.subarray(at)]);
    }
    case 'token': {
      const token = tokens[m.token] ?? Buffer.alloc(0);
      const rest = m.overwrite ? input.subarray(at + token.length) : input.subarray(at);
      return Buffer.concat([input.subarray(0, at), token, rest]);
    }
    case 'truncate':
      return input.subarray(0, at);
  }
}

export interface MutatedBytesOptions {
  /** Seed inputs: valid and hostile examples of the format. */
  seeds: readonly Buffer[];
  /** Tokens of the format (keywords, delimiters) the mutations insert: how a blind fuzzer learns a grammar. */
  dictionary?: readonly (string | Buffer)[];
  /** Mutations applied to one seed, at most (default 8). */
  maxMutations?: number;
  /** Share of purely random inputs, in percent (default 5). */
  randomPercent?: number;
  /** Longest purely random input (default 512). */
  randomMaxLength?: number;
}

/** A seed of the corpus, mutated; or, now and then, random bytes. */
export function mutatedBytes(options: MutatedBytesOptions): fc.Arbitrary<Buffer> {
  const seeds = options.seeds;
  if (seeds.length === 0) throw new Error('mutatedBytes needs at least one seed');
  const tokens = (options.dictionary ?? []).map((t) => (typeof t === 'string' ? Buffer.from(t, 'latin1') : t));
  const mutated = fc
    .tuple(
      fc.nat(seeds.length - 1),
      fc.array(byteMutation(seeds.length, tokens.length), { maxLength: options.maxMutations ?? 8 }),
    )
    .map(([seed, mutations]) =>
      mutations.reduce((input, m) => applyByteMutation(input, m, seeds, tokens), seeds[seed]!),
    );
  const randomPercent = options.randomPercent ?? 5;
  return fc.oneof(
    { weight: 100 - randomPercent, arbitrary: mutated },
    {
      weight: randomPercent,
      arbitrary: fc.uint8Array({ maxLength: options.randomMaxLength ?? 512 }).map((b) => Buffer.from(b)),
    },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// JSON
// ---------------------------------------------------------------------------------------------------------------

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Values that break careless validators: wrong types, edges of numbers, odd strings, prototype keys. */
const hostileScalar: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(
    null,
    true,
    false,
    0,
    -0,
    -1,
    1.5,
    2 ** 31,
    2 ** 53,
    -(2 ** 53),
    1e308,
    -1e308,
    5e-324,
    '',
    ' ',
    '0',
    'null',
    '__proto__',
    'constructor',
    'toString',
    '\u0000',
    '\ud800',
    '\u202e',
    'é',
    'a'.repeat(70_000),
    'x.'.repeat(200),
    '..',
    'EXAMPLE.COM',
    'xn--',
    '-a.b',
    '1.2.3.4',
    '[::1]',
    'AAAA',
    'A'.repeat(43),
    '0'.repeat(64),
  ),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
);

const hostileValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 6, arbitrary: hostileScalar },
  { weight: 1, arbitrary: fc.constantFrom<Json>([], {}, [null], [[]], [{}]) },
  { weight: 1, arbitrary: fc.array(hostileScalar, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 10 }), hostileScalar, { maxKeys: 4 }) },
);

type JsonMutation =
  | { op: 'replace'; node: number; value: Json }
  | { op: 'drop'; node: number; member: number }
  | { op: 'add'; node: number; key: string; value: Json }
  | { op: 'repeat'; node: number; times: number }
  | { op: 'wrap'; node: number }
  | { op: 'nest'; node: number; depth: number }
  | { op: 'swap'; node: number; other: number };

const jsonMutation: fc.Arbitrary<JsonMutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('replace' as const), node: fc.nat(), value: hostileValue }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('drop' as const), node: fc.nat(), member: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('add' as const),
      node: fc.nat(),
      key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'v', 'version')),
      value: hostileValue,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('repeat' as const),
      node: fc.nat(),
      times: fc.integer({ min: 2, max: 100 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('wrap' as const), node: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('nest' as const),
      node: fc.nat(),
      depth: fc.integer({ min: 2, max: 1000 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('swap' as const), node: fc.nat(), other: fc.nat() }) },
);

/** Generated values are shallow (hostileValue): a JSON copy keeps fast-check's own value intact. */
const clone = (v: Json): Json => JSON.parse(JSON.stringify(v)) as Json;

/** Every container and leaf of a value, with a setter that replaces it in its parent (the root has none). */
function nodesOf(root: { value: Json }): { get: () => Json; set: (v: Json) => void }[] {
  const out: { get: () => Json; set: (v: Json) => void }[] = [];
  const walk = (get: () => Json, set: (v: Json) => void, depth: number) => {
    out.push({ get, set });
    const v = get();
    if (depth > 64 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length && i < 256; i++)
        walk(
          () => v[i]!,
          (x) => {
            v[i] = x;
          },
          depth + 1,
        );
    } else {
      for (const k of Object.keys(v).slice(0, 256))
        walk(
          () => v[k]!,
          (x) => {
            Object.defineProperty(v, k, { value: x, enumerable: true, writable: true, configurable: true });
          },
          depth + 1,
        );
    }
  };
  walk(
    () => root.value,
    (x) => {
      root.value = x;
    },
    0,
  );
  return out;
}

function applyJsonMutation(root: { value: Json }, m: JsonMutation): void {
  const nodes = nodesOf(root);
  const node = nodes[m.node % nodes.length]!;
  const v = node.get();
  switch (m.op) {
    case 'replace':
      node.set(clone(m.value));
      return;
    case 'drop':
      if (Array.isArray(v)) v.splice(m.member % Math.max(1, v.length), 1);
      else if (v !== null && typeof v === 'object') {
        const keys = Object.keys(v);
        if (keys.length > 0) delete v[keys[m.member % keys.length]!];
      }
      return;
    case 'add':
      if (Array.isArray(v)) v.push(clone(m.value));
      else if (v !== null && typeof v === 'object')
        // defineProperty: a member literally named __proto__, as JSON.parse makes it.
        Object.defineProperty(v, m.key, {
          value: clone(m.value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      return;
    case 'repeat':
      // The copies share one value: cloning a deep one hundreds of times would cost more than the parse under test.
      node.set(Array.isArray(v) ? Array<Json>(m.times).fill(v[0] ?? null) : [v, v]);
      return;
    case 'wrap':
      node.set([v]);
      return;
    case 'nest': {
      // Deep nesting, built here (not generated) so that no recursive clone ever walks it.
      let nested: Json = null;
      for (let i = 0; i < m.depth; i++) nested = [nested];
      node.set(nested);
      return;
    }
    case 'swap': {
      const other = nodes[m.other % nodes.length]!;
      const w = other.get();
      // Only leaves are swapped: swapping a container into its own child would make a cycle.
      if ((v === null || typeof v !== 'object') && (w === null || typeof w !== 'object')) {
        node.set(w);
        other.set(v);
      }
      return;
    }
  }
}

/** A seed JSON value with a few structural mutations (the seed itself is never modified). */
export function mutatedJson(seeds: readonly Json[], maxMutations = 4): fc.Arbitrary<Json> {
  if (seeds.length === 0) throw new Error('mutatedJson needs at least one seed');
  const texts = seeds.map((s) => JSON.stringify(s));
  return fc.tuple(fc.nat(seeds.length - 1), fc.array(jsonMutation, { maxLength: maxMutations })).map(([i, ms]) => {
    const root = { value: JSON.parse(texts[i]!) as Json };
    for (const m of ms) applyJsonMutation(root, m);
    return root.value;
  });
}

/** A mutated JSON value sent as text, some of the time with byte mutations on top (broken JSON, bad UTF-8). */
export function mutatedJsonText(seeds: readonly Json[], dictionary: readonly string[] = []): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 3, arbitrary: mutatedJson(seeds).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
    {
      weight: 1,
      arbitrary: mutatedBytes({
        seeds: seeds.map((s) => Buffer.from(JSON.stringify(s))),
        dictionary: ['{', '}', '[', ']', '"', ':', ',', 'null', '1e999', '\\u0000', '\\ud800', ...dictionary],
        maxMutations: 4,
      }),
    },
  );
}
