import type { Problem as PlatformProblem } from '@caliopen/platform/errors/error.catalogue.ts';
import { type ErrorCode, instanceErrors } from '../shared/errors.ts';

/** RFC 9457 problem details, as every error of the API is sent (`application/problem+json`; see docs/errors.md). */
export const ProblemSchema = instanceErrors.ProblemSchema;

export type Problem = PlatformProblem<ErrorCode>;

export const problem = instanceErrors.problem;

/** The problem responses every route may give, for the OpenAPI document. */
export const problemResponses = instanceErrors.problemResponses;
