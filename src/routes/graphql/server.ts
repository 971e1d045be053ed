import { createYoga, type Plugin } from 'graphql-yoga';
import { GraphQLError } from 'graphql';
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

/** What the route hands the server for one request. */
interface ServerContext {
  hono: Context<AppEnv>;
  principal: Principal;
  prepared: PreparedOperation;
}

/**
 * The route has already parsed, validated and costed the document before admitting the caller (prepare.ts): yoga
 * runs that document as it is instead of parsing and validating it again.
 */
const prepared: Plugin<ServerContext> = {
  onParse({ context, setParsedDocument }) {
    setParsedDocument(context.prepared.document);
  },
  onValidate({ setResult }) {
    setResult([]);
  },
};

/**
 * A resolver's error as clients see it: an ApiError (a service's refusal) keeps its message and code in
 * `extensions.code` (plus `errors` for field-level validation), anything else becomes the error the REST handler
 * would answer (src/errors/handler.ts `apiErrorOf`: logged, opaque). GraphQL's own errors (variables that do not
 * coerce) pass unchanged with `validation_failed`.
 */
function maskError(hono: Context<AppEnv>) {
  return (error: unknown): GraphQLError => {
    if (error instanceof GraphQLError && error.originalError === undefined) {
      return new GraphQLError(error.message, {
        nodes: error.nodes,
        path: error.path,
        extensions: { code: 'validation_failed', ...error.extensions },
      });
    }
    const original = error instanceof GraphQLError ? error.originalError : error;
    const apiError = original instanceof ApiError ? original : apiErrorOf(original, hono.var.logger);
    return new GraphQLError(apiError.detail ?? apiError.message, {
      ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
      extensions: {
        code: apiError.code,
        ...(apiError.errors === undefined ? {} : { errors: apiError.errors }),
      },
    });
  };
}

/** Every error of an execution result through `maskError`, with the request's logger. */
const errorCodes: Plugin<ServerContext> = {
  onExecute({ args }) {
    const mask = maskError((args.contextValue as ServerContext).hono);
    return {
      onExecuteDone({ result, setResult }) {
        if (Symbol.asyncIterator in result || !result.errors) return;
        setResult({ ...result, errors: result.errors.map(mask) });
      },
    };
  },
};

// The yoga server of this isolate (module scope: built on the first GraphQL request, when this module loads).
export const yoga = createYoga<ServerContext, GraphqlContext>({
  schema: graphqlSchema,
  graphqlEndpoint: '/api/v1/graphql',
  // The app's middleware answers CORS; GraphiQL would load from a CDN, and the landing page is not ours.
  cors: false,
  graphiql: false,
  landingPage: false,
  logging: false,
  batching: false,
  parserAndValidationCache: false,
  plugins: [prepared, errorCodes],
  // Errors are given their codes by `errorCodes`, which sees the request (for the logger).
  maskedErrors: false,
  context: ({ hono, principal }) => {
    const service = serviceContext(hono);
    return { service, principal, loaders: createLoaders(service) };
  },
});
