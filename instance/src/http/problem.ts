import { Type } from 'typebox';
import { ERROR_CODES, type ErrorCode } from '../shared/errors.ts';

/** RFC 9457 problem details, as every error of the API is sent (`application/problem+json`). */
export const ProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'A URI naming the problem type: `urn:caliopen:problem:<code>`.' }),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable code (see docs/errors.md).' }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'Problem' },
);

export interface Problem {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  detail?: string;
  instance?: string;
  requestId: string;
  errors?: { path: string; message: string }[];
}

export function problem(
  code: ErrorCode,
  requestId: string,
  more: Partial<Omit<Problem, 'code' | 'requestId'>> = {},
): Problem {
  const { status, title } = ERROR_CODES[code];
  return { type: `urn:caliopen:problem:${code}`, title, status, code, requestId, ...more };
}

/** The problem responses every route may give, for the OpenAPI document. */
export function problemResponses(...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries(statuses.map((s) => [s, { $ref: 'Problem#', description: 'application/problem+json' }]));
}
