import { execute, GraphQLError, type ExecutionResult } from 'graphql';
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { ApiError } from '../../errors/api-error.ts';
import { apiErrorOf } from '../../errors/handler.ts';
import { serviceContext } from '../../lib/context.ts';
import type { Principal } from '../../services/auth/tokens.ts';
import type { GraphqlContext } from './builder.ts';
import { createLoaders } from './loaders.ts';
import type { PreparedOperation } from './prepare.ts';
import { graphqlSchema } from './schema.ts';

/**
 * A resolver's error as clients see it: an ApiError (a service's refusal) keeps its message and code in
 * `extensions.code` (plus `errors` for field-level validation), anything else becomes the error the REST handler
 * would answer (src/errors/handler.ts `apiErrorOf`: logged, opaque). GraphQL's own errors (variables that do not
 * coerce) pass unchanged with `validation_failed`.
 */
function maskError(hono: Context<AppEnv>) {
  return (error: GraphQLError): GraphQLError => {
    if (error.originalError === undefined) {
      return new GraphQLError(error.message, {
        nodes: error.nodes,
        path: error.path,
        extensions: { code: 'validation_failed', ...error.extensions },
      });
    }
    const original = error.originalError;
    const apiError = original instanceof ApiError ? original : apiErrorOf(original, hono.var.logger);
    return new GraphQLError(apiError.detail ?? apiError.message, {
      nodes: error.nodes,
      path: error.path,
      extensions: {
        code: apiError.code,
        ...(apiError.errors === undefined ? {} : { errors: apiError.errors }),
      },
    });
  };
}

/**
 * Runs an operation the route has already parsed, validated and costed before admitting the caller (prepare.ts),
 * with graphql-js's own `execute`: the schema has no subscriptions and no incremental delivery, so the result is one
 * `{ errors?, data }` object, every error through `maskError` with the request's logger. (The HTTP side, parsing,
 * validation, limits and persisted queries are the route's; a GraphQL server library on top would only parse the
 * request again and add its own size to the Worker's start-up, see docs/PERFORMANCE.md.)
 */
export async function runOperation(
  hono: Context<AppEnv>,
  principal: Principal,
  prepared: PreparedOperation,
  operationName: string | undefined,
): Promise<ExecutionResult> {
  const service = serviceContext(hono);
  const contextValue: GraphqlContext = { service, principal, loaders: createLoaders(service) };
  const result = await execute({
    schema: graphqlSchema,
    document: prepared.document,
    variableValues: prepared.variables,
    operationName,
    contextValue,
  });
  if (result.errors === undefined) return result;
  return { ...result, errors: result.errors.map(maskError(hono)) };
}
