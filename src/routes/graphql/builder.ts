import SchemaBuilder from '@pothos/core';
import type { ZodType } from 'zod';
import { ApiError } from '../../errors/api-error.ts';
import { fieldErrors } from '../../errors/handler.ts';
import type { ServiceContext } from '../../lib/context.ts';
import type { Permission } from '../../services/auth/permissions.ts';
import type { Principal } from '../../services/auth/tokens.ts';
import type { Loaders } from './loaders.ts';

/** What every resolver gets: the same service context REST handlers build, the admitted caller, this request's loaders. */
export interface GraphqlContext {
  service: ServiceContext;
  principal: Principal;
  loaders: Loaders;
}

interface BuilderTypes {
  Context: GraphqlContext;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: string; Output: string };
    JSONObject: { Input: Record<string, unknown>; Output: Record<string, unknown> };
  };
}

/** The schema types of the builder, as Pothos' generic helpers (ObjectRef, ArgBuilder) take them. */
export type SchemaTypes = PothosSchemaTypes.ExtendDefaultTypes<BuilderTypes>;

/** The code-first schema builder (Pothos): fields are non-null unless they say otherwise. */
export const builder = new SchemaBuilder<BuilderTypes>({ defaultFieldNullability: false });

builder.scalarType('DateTime', {
  description: 'An instant, ISO 8601 (responses in UTC with milliseconds; inputs with `Z` or an offset).',
  serialize: (value) => value,
  parseValue: (value) => {
    if (typeof value !== 'string') throw new ApiError('validation_failed', { detail: 'A DateTime is a string.' });
    return value;
  },
});

builder.scalarType('JSONObject', {
  description: 'A JSON object (string keys), e.g. the answers to an event’s questions.',
  serialize: (value) => value,
  parseValue: (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new ApiError('validation_failed', { detail: 'A JSONObject is an object.' });
    }
    return value as Record<string, unknown>;
  },
});

builder.queryType({ description: 'Reads of the organization served on this host.' });
builder.mutationType({ description: 'Writes, through the same services as the REST API (same checks, same audit).' });

/**
 * The REST twin's permission check: a field or mutation refuses callers without `permission` with the same
 * `forbidden` error (extensions.code) as the REST route's guard.
 */
export function need(context: GraphqlContext, permission: Permission): void {
  if (!context.principal.permissions.has(permission)) {
    throw new ApiError('forbidden', { detail: `This needs the ${permission} permission.` });
  }
}

/**
 * Arguments checked by the REST route's own zod schema (same limits, same filters): a failure is the same
 * `validation_failed` error, its pointers under `/args`.
 */
export function parseArgs<S extends ZodType>(schema: S, args: unknown): S['_output'] {
  const result = schema.safeParse(args);
  if (result.success) return result.data;
  throw new ApiError('validation_failed', {
    detail: 'The arguments do not match the schema.',
    errors: fieldErrors('args', result.error),
  });
}

/** A not-found from a service as null: a missing id and another tenant's id both read as null, as REST's 404. */
export async function orNull<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (error) {
    if (error instanceof ApiError && error.code === 'not_found') return null;
    throw error;
  }
}

/** Arguments without those the client left out (GraphQL gives null or undefined; the REST schemas want them absent). */
export function given<T extends Record<string, unknown>>(args: T): { [K in keyof T]?: Exclude<T[K], null> } {
  return Object.fromEntries(Object.entries(args).filter(([, value]) => value !== null && value !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], null>;
  };
}
