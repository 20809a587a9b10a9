import { Type } from 'typebox';
import { REGISTRY_ERROR_CODES, type RegistryErrorCode } from '../shared/errors.ts';

/** RFC 9457 problem details, as every error of the registry API is sent (`application/problem+json`). */
export const RegistryProblemSchema = Type.Object(
  {
    type: Type.String({ description: 'A URI naming the problem type: `urn:caliopen:registry:problem:<code>`.' }),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable code (see docs/registry-errors.md).' }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
    requestId: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'RegistryProblem' },
);

export interface RegistryProblem {
  type: string;
  title: string;
  status: number;
  code: RegistryErrorCode;
  detail?: string;
  instance?: string;
  requestId: string;
  errors?: { path: string; message: string }[];
}

export function registryProblem(
  code: RegistryErrorCode,
  requestId: string,
  more: Partial<Omit<RegistryProblem, 'code' | 'requestId'>> = {},
): RegistryProblem {
  const { status, title } = REGISTRY_ERROR_CODES[code];
  return { type: `urn:caliopen:registry:problem:${code}`, title, status, code, requestId, ...more };
}
