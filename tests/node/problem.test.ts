import { describe, expect, it } from 'vitest';
import {
  buildProblem,
  MAX_FIELD_ERROR_MESSAGE,
  MAX_FIELD_ERRORS,
  MAX_POINTER,
  MAX_PROBLEM_DETAIL,
  ProblemSchema,
} from '../../src/errors/problem.ts';

const REQUEST_ID = 'b3f1c2de-8a7b-4c55-9d1e-2f3a4b5c6d7e';

describe('problem bounds (the Problem schema of the OpenAPI document)', () => {
  it('keeps every problem within the schema: long texts cut, pointers to an ancestor, at most 100 errors', () => {
    const errors = Array.from({ length: 150 }, (_, index) => ({
      pointer: `/body/items${'/0'.repeat(400)}/${index}`,
      message: `${'m'.repeat(1500)} ${index}`,
    }));
    const problem = buildProblem('validation_failed', REQUEST_ID, `${'d'.repeat(2500)}😀`, errors);
    expect(ProblemSchema.safeParse(problem).success).toBe(true);
    expect(problem.detail).toHaveLength(MAX_PROBLEM_DETAIL);
    expect(problem.detail?.endsWith('…')).toBe(true);
    expect(problem.errors).toHaveLength(MAX_FIELD_ERRORS);
    const [first] = problem.errors ?? [];
    expect(first?.message).toHaveLength(MAX_FIELD_ERROR_MESSAGE);
    expect(first?.pointer).toBe(`/body/items${'/0'.repeat(244)}`);
    expect(first?.pointer.length).toBeLessThanOrEqual(MAX_POINTER);
  });

  it('leaves problems within the bounds untouched and counts characters, not UTF-16 units', () => {
    const detail = '😀'.repeat(MAX_PROBLEM_DETAIL);
    const problem = buildProblem('not_found', REQUEST_ID, detail, [{ pointer: '/param/id', message: 'Invalid UUID' }]);
    expect(problem.detail).toBe(detail);
    expect(problem.errors).toEqual([{ pointer: '/param/id', message: 'Invalid UUID' }]);
    expect(ProblemSchema.safeParse(buildProblem('internal_error', 'unknown')).success).toBe(true);
  });
});
