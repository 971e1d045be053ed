import type { z } from '@hono/zod-openapi';
import type { Bindings } from '../env.ts';

/**
 * A route's response body, checked against the route's response schema where the code is developed and tested
 * (ENVIRONMENT `local`: `npm run dev` and the test suite, unless RESPONSE_CHECKS is `off`, as `npm run bench` sets
 * it) and passed through unchecked in staging and production,
 * where re-validating every response would cost CPU on every request for a check the tests already make.
 *
 * The body is returned as it is in every environment, so both paths serialize the same JSON. Checking therefore
 * means more than parsing: the parsed value must equal the body, so a field the schema does not declare (a column,
 * a secret), a value the schema would transform or a default it would fill in fails the request (500) in tests
 * instead of reaching a client unnoticed in production. A response that needs fields picked or values converted
 * does it in the service or presenter, never by relying on the parse. The body is typed `unknown` like `parse`'s
 * input: where a service's type is wider than the schema's (a string for an enum), the check in tests is what
 * narrows it.
 *
 * @example
 * return c.json(responseBody(c, EventSchema, event), 200);
 */
export function responseBody<S extends z.ZodType>(
  c: { var: { bindings: Pick<Bindings, 'ENVIRONMENT' | 'RESPONSE_CHECKS'> } },
  schema: S,
  body: unknown,
): z.output<S> {
  const { ENVIRONMENT: environment, RESPONSE_CHECKS: checks } = c.var.bindings;
  // `RESPONSE_CHECKS=off`: a local stack that measures the production path (npm run bench).
  if (environment === 'production' || environment === 'staging' || checks === 'off') return body as z.output<S>;
  const parsed: unknown = schema.parse(body);
  const difference = firstDifference(asJson(body), asJson(parsed), '');
  if (difference !== undefined) {
    // The path only: the values may be secrets.
    throw new Error(
      `response field ${difference || '/'} is not what its schema makes of it (undeclared, transformed or defaulted)`,
    );
  }
  return body as z.output<S>;
}

/** A value as a client receives it (c.json serializes with JSON.stringify). */
function asJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** The JSON pointer of the first place where two JSON values differ, undefined when they are equal. */
function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (a === b) return undefined;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return path;
  if (Array.isArray(a) !== Array.isArray(b)) return path;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
  for (const key of keys) {
    if (!(key in left) || !(key in right)) return `${path}/${key}`;
    const inner = firstDifference(left[key], right[key], `${path}/${key}`);
    if (inner !== undefined) return inner;
  }
  return undefined;
}
