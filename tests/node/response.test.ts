import { z } from '@hono/zod-openapi';
import { describe, expect, it } from 'vitest';
import { EventSchema, EXAMPLE_EVENT } from '../../src/routes/events/schema.ts';
import { responseBody } from '../../src/routes/response.ts';

const at = (ENVIRONMENT: 'local' | 'staging' | 'production') => ({ var: { bindings: { ENVIRONMENT } } });

// Production sends the body unchecked; locally (dev, the tests) it is checked, and the check also refuses a body that
// the parse would change, so what production sends is exactly what the tests validated.
describe('responseBody', () => {
  it('sends the same body in every environment when it matches its schema', () => {
    const body = structuredClone(EXAMPLE_EVENT);
    const bodies = (['local', 'staging', 'production'] as const).map((environment) =>
      JSON.stringify(responseBody(at(environment), EventSchema, body)),
    );
    expect(bodies).toEqual([JSON.stringify(body), JSON.stringify(body), JSON.stringify(body)]);
  });

  it('does not parse in staging and production', () => {
    const invalid = { id: 'not a uuid' };
    expect(responseBody(at('production'), EventSchema, invalid)).toBe(invalid);
    expect(responseBody(at('staging'), EventSchema, invalid)).toBe(invalid);
    expect(() => responseBody(at('local'), EventSchema, invalid)).toThrow();
  });

  it('does not parse locally either when RESPONSE_CHECKS is off (the benchmark stack measures the production path)', () => {
    const invalid = { id: 'not a uuid' };
    const local = (RESPONSE_CHECKS: 'on' | 'off') => ({
      var: { bindings: { ENVIRONMENT: 'local' as const, RESPONSE_CHECKS } },
    });
    expect(responseBody(local('off'), EventSchema, invalid)).toBe(invalid);
    expect(() => responseBody(local('on'), EventSchema, invalid)).toThrow();
  });

  it('refuses locally a field the schema does not declare (it would reach clients unchecked in production)', () => {
    const body = { ...structuredClone(EXAMPLE_EVENT), passwordHash: 'secret' };
    expect(() => responseBody(at('local'), EventSchema, body)).toThrow(/\/passwordHash/);
    // Nested too, and the message names the field, never its value.
    const nested = { data: [{ id: 'a', secret: 'hunter2' }] };
    const schema = z.object({ data: z.array(z.object({ id: z.string() })) });
    expect(() => responseBody(at('local'), schema, nested)).toThrow(/\/data\/0\/secret/);
    expect(() => responseBody(at('local'), schema, nested)).not.toThrow(/hunter2/);
  });

  it('refuses locally a value the schema would transform or a default it would fill in', () => {
    const trimmed = z.object({ name: z.string().trim() });
    expect(() => responseBody(at('local'), trimmed, { name: ' padded ' })).toThrow(/\/name/);
    const defaulted = z.object({ name: z.string(), tags: z.array(z.string()).default([]) });
    expect(() => responseBody(at('local'), defaulted, { name: 'x' })).toThrow(/\/tags/);
    expect(responseBody(at('local'), defaulted, { name: 'x', tags: [] })).toEqual({ name: 'x', tags: [] });
  });

  it('compares what clients receive: key order and undefined members do not matter', () => {
    const schema = z.object({ a: z.number(), b: z.string().optional() });
    const body = { b: undefined, a: 1 };
    expect(responseBody(at('local'), schema, body)).toBe(body);
  });
});
