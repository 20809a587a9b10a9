import { type TObject, Type } from 'typebox';

/**
 * The factory of a server's error catalogue: each Caliopen server (the instance, the registry) keeps its own table of
 * stable codes (its API contract) and builds from it, here, the same things: its error class, the guard that
 * recognises it, RFC 9457 problem documents with its `type` namespace, their JSON schema (for OpenAPI), the problem
 * catalogue the shared problem handling uses, and the Markdown page that documents the codes (kept in step with the
 * table by a test in each product).
 */

export interface ErrorEntry {
  readonly status: number;
  readonly title: string;
}

export type ErrorTable = Readonly<Record<string, ErrorEntry>>;

export interface ErrorCatalogueSpec<Table extends ErrorTable> {
  /** The error class's name (`AppError`, `RegistryError`): what logs and stack traces show. */
  errorName: string;
  codes: Table;
  /** Prefix of a problem's `type` URI, followed by the code: `urn:caliopen:problem:`. */
  problemType: string;
  /** `$id` of the problem schema (`Problem`), for `$ref: '<id>#'` in route responses. */
  problemSchemaId: string;
  /** Where the codes are documented (`docs/errors.md`), as the schema's description says. */
  docsPath: string;
}

/** An error a client can see: a stable code of the catalogue, its HTTP status, a detail, extra problem members. */
export interface CatalogueError<Code extends string> extends Error {
  readonly code: Code;
  readonly status: number;
  readonly detail: string | undefined;
  /** Extra problem members (e.g. `errors` for a validation problem). */
  readonly extra: Record<string, unknown> | undefined;
}

export type CatalogueErrorClass<Code extends string> = new (
  code: Code,
  detail?: string,
  extra?: Record<string, unknown>,
) => CatalogueError<Code>;

/** RFC 9457 problem details, as every error of a Caliopen API is sent (`application/problem+json`). */
export interface Problem<Code extends string = string> {
  type: string;
  title: string;
  status: number;
  code: Code;
  detail?: string;
  instance?: string;
  requestId: string;
  errors?: { path: string; message: string }[];
}

/** The parts of a code page around the generated table. */
export interface ErrorDocText {
  title: string;
  /** The sentence before the example. */
  intro: string;
  /** The example problem document, line by line (inside a json code block). */
  example: readonly string[];
  /** What the members mean, line by line. */
  notes: readonly string[];
  /** Where the page comes from, line by line. */
  footer: readonly string[];
}

export interface ErrorCatalogue<Table extends ErrorTable> {
  codes: Table;
  /** The catalogue's error class: `new Error(code, detail?, extra?)`, `instanceof` works. */
  Error: CatalogueErrorClass<keyof Table & string>;
  isError(e: unknown): e is CatalogueError<keyof Table & string>;
  problem(
    code: keyof Table & string,
    requestId: string,
    more?: Partial<Omit<Problem, 'code' | 'requestId'>>,
  ): Problem<keyof Table & string>;
  ProblemSchema: TObject;
  /** The problem responses a route may give, for the OpenAPI document. */
  problemResponses(...statuses: number[]): Record<number, unknown>;
  /** The Markdown page of the codes: the given text around one table row per code, in table order. */
  renderDoc(text: ErrorDocText): string;
}

export function createErrorCatalogue<const Table extends ErrorTable>(
  spec: ErrorCatalogueSpec<Table>,
): ErrorCatalogue<Table> {
  type Code = keyof Table & string;
  const { codes } = spec;

  class CodedError extends Error implements CatalogueError<Code> {
    readonly code: Code;
    readonly status: number;
    readonly detail: string | undefined;
    readonly extra: Record<string, unknown> | undefined;

    constructor(code: Code, detail?: string, extra?: Record<string, unknown>) {
      super(detail ?? codes[code]!.title);
      this.name = spec.errorName;
      this.code = code;
      this.status = codes[code]!.status;
      this.detail = detail;
      this.extra = extra;
    }
  }
  Object.defineProperty(CodedError, 'name', { value: spec.errorName });

  const ProblemSchema = Type.Object(
    {
      type: Type.String({ description: `A URI naming the problem type: \`${spec.problemType}<code>\`.` }),
      title: Type.String(),
      status: Type.Integer(),
      code: Type.String({ description: `Stable machine-readable code (see ${spec.docsPath}).` }),
      detail: Type.Optional(Type.String()),
      instance: Type.Optional(Type.String()),
      requestId: Type.String(),
      errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
    },
    { $id: spec.problemSchemaId },
  );

  return {
    codes,
    Error: CodedError,
    isError: (e: unknown): e is CodedError => e instanceof CodedError,
    problem: (code, requestId, more = {}) => {
      const { status, title } = codes[code]!;
      return { type: `${spec.problemType}${code}`, title, status, code, requestId, ...more };
    },
    ProblemSchema,
    problemResponses: (...statuses) =>
      Object.fromEntries(
        statuses.map((s) => [s, { $ref: `${spec.problemSchemaId}#`, description: 'application/problem+json' }]),
      ),
    renderDoc: (text) =>
      [
        `# ${text.title}`,
        '',
        text.intro,
        '',
        '```json',
        ...text.example,
        '```',
        '',
        ...text.notes,
        '',
        '| code | HTTP status | meaning |',
        '| --- | --- | --- |',
        ...Object.entries(codes).map(([code, { status, title }]) => `| \`${code}\` | ${status} | ${title} |`),
        '',
        ...text.footer,
        '',
      ].join('\n'),
  };
}
