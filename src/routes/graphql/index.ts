import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { OperationTypeNode } from 'graphql';
import type { Context } from 'hono';
import type { AppEnv } from '../../env.ts';
import { ApiError, type FieldError } from '../../errors/api-error.ts';
import { ERROR_CODES, type ErrorCode } from '../../errors/codes.ts';
import { problemResponse } from '../../errors/handler.ts';
import { errorResponses } from '../../errors/problem.ts';
import { requireTenant } from '../../lib/context.ts';
import { admitOperation } from '../../middleware/auth.ts';
import { idempotent } from '../../middleware/idempotency.ts';
import { IdempotencyHeadersSchema } from '../idempotency.ts';
import { GRAPHQL_LIMITS } from './cost.ts';
import { GraphqlGetQuerySchema, GraphqlRequestSchema, GraphqlResponseSchema } from './http-schema.ts';
import { prepareOperation, type GraphqlParams, type PersistedQueries, type PreparedOperation } from './prepare.ts';
import { graphqlSchema } from './schema.ts';
import { runOperation } from './server.ts';

export const GRAPHQL_PATH = '/api/v1/graphql';

const DESCRIPTION =
  'The GraphQL API of the organization served on this host (organization hosts only; 404 elsewhere). The schema ' +
  'is published as SDL at [/docs/schema.graphql](/docs/schema.graphql) (docs/API.md, "GraphQL"). Resolvers call ' +
  'the same services as REST: same tenancy (another organization’s ids read as null), same permissions per field ' +
  '(a field without its REST twin’s permission is null with `extensions.code: forbidden`), same audit, same error ' +
  'codes in `extensions.code`. A missing or invalid token, a revoked session and a rate limit answer as REST does ' +
  '(401, 429 problems); a document that does not parse or validate, variables that do not match their types, ' +
  `or a document over the limits (depth ${GRAPHQL_LIMITS.maxDepth}, ${GRAPHQL_LIMITS.maxAliases} aliases, ` +
  `${GRAPHQL_LIMITS.maxTokens} tokens, cost ` +
  `${GRAPHQL_LIMITS.maxCost}), answers 400 with \`errors\` (\`validation_failed\`, \`query_too_complex\`). An ` +
  `operation takes ceil(cost / ${GRAPHQL_LIMITS.costPerUnit}) units of the plan’s rate limits (REST requests take ` +
  'one). Each nesting level of a query is at most one database round trip (dataloaders).';

export const postRoute = createRoute({
  method: 'post',
  path: GRAPHQL_PATH,
  operationId: 'graphql',
  tags: ['GraphQL'],
  summary: 'Run a GraphQL operation',
  description:
    `${DESCRIPTION} Mutations accept \`Idempotency-Key\`: a successful mutation's response is replayed; a ` +
    'mutation that failed answers the status of its first error’s code, so it can be retried with the same key.',
  security: [{ bearerAuth: [] }],
  request: {
    headers: IdempotencyHeadersSchema,
    body: { required: true, content: { 'application/json': { schema: GraphqlRequestSchema } } },
  },
  responses: {
    200: {
      description: 'The result (`data`, and `errors` for fields that failed).',
      content: { 'application/json': { schema: GraphqlResponseSchema } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503),
  },
});

export const getRoute = createRoute({
  method: 'get',
  path: GRAPHQL_PATH,
  operationId: 'graphqlQuery',
  tags: ['GraphQL'],
  summary: 'Run a GraphQL query (GET)',
  description: `${DESCRIPTION} Over GET only queries run (a mutation answers 405); use it for persisted queries and HTTP caching (ETag).`,
  security: [{ bearerAuth: [] }],
  request: { query: GraphqlGetQuerySchema },
  responses: {
    200: {
      description: 'The result (`data`, and `errors` for fields that failed).',
      content: { 'application/json': { schema: GraphqlResponseSchema } },
    },
    ...errorResponses(400, 401, 404, 405, 429, 503),
  },
});

const PERSISTED_TTL_SECONDS = 30 * 24 * 60 * 60;
// Persisted queries this isolate has seen, by organization and hash (module scope: lives as long as the isolate).
const persistedInIsolate = new Map<string, string>();
const MAX_PERSISTED_IN_ISOLATE = 500;

function persistedKey(organizationId: string, hash: string): string {
  return `graphql:pq:${organizationId}:${hash}`;
}

/** Persisted queries of the host's organization: this isolate's, else Redis (one round trip on a miss). */
function persistedQueries(c: Context<AppEnv>, organizationId: string): PersistedQueries {
  return {
    async get(hash) {
      const key = persistedKey(organizationId, hash);
      const known = persistedInIsolate.get(key);
      if (known !== undefined) return known;
      const stored = await c.var.services.redis.get<string>(key);
      if (typeof stored === 'string') remember(key, stored);
      return typeof stored === 'string' ? stored : null;
    },
  };
}

function remember(key: string, query: string): void {
  persistedInIsolate.set(key, query);
  if (persistedInIsolate.size > MAX_PERSISTED_IN_ISOLATE) {
    persistedInIsolate.delete(persistedInIsolate.keys().next().value as string);
  }
}

function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** The operation run (server.ts), as the response the client gets. */
async function execute(c: Context<AppEnv>, operation: PreparedOperation, params: GraphqlParams): Promise<Response> {
  const principal = c.var.principal;
  if (!principal) throw new Error('GraphQL executed without an admitted caller');
  const result = await runOperation(c, principal, operation, params.operationName ?? undefined);
  const first = result.errors?.[0];
  if (operation.operation.operation !== OperationTypeNode.MUTATION || first === undefined) return c.json(result, 200);
  // A mutation that failed answers as its REST twin would: the problem of its first error (status, code, detail,
  // field errors), with every GraphQL error in `graphqlErrors`. An Idempotency-Key then keeps nothing, and the client
  // may retry with the same key once the cause is fixed.
  const code = first.extensions['code'];
  const errors = first.extensions['errors'] as FieldError[] | undefined;
  const problem = new ApiError(isErrorCode(code) ? code : 'internal_error', {
    detail: first.message,
    ...(errors === undefined ? {} : { errors }),
    extensions: { graphqlErrors: result.errors?.map((error) => error.toJSON()) },
  });
  return problemResponse(c, problem);
}

/**
 * One GraphQL request: the verified caller first (401 before any parsing), then the operation prepared (persisted
 * query, parse, validation, limits, cost: prepare.ts), then the session admitted with the cost charged (one Redis
 * round trip), then a mutation's Idempotency-Key claimed (the REST middleware, as is), then the operation run.
 */
async function handle(c: Context<AppEnv>, params: GraphqlParams): Promise<Response> {
  let operation: PreparedOperation | undefined;
  // admitOperation answers 404 on the platform host before this runs: the host's organization is known here.
  await admitOperation(c, async () => {
    operation = await prepareOperation(params, {
      schema: graphqlSchema,
      introspection: introspectionAllowed(c),
      method: c.req.method,
      persisted: persistedQueries(c, requireTenant(c.var).id),
    });
    return operation.units;
  });
  const tenant = requireTenant(c.var);
  const prepared = operation as PreparedOperation;
  if (prepared.persist !== null) {
    const key = persistedKey(tenant.id, prepared.persist);
    if (!persistedInIsolate.has(key)) {
      remember(key, prepared.query);
      c.executionCtx.waitUntil(
        c.var.services.redis.set(key, prepared.query, { ex: PERSISTED_TTL_SECONDS }).catch((error: unknown) => {
          c.var.logger.warn('persisted query not stored', { error });
        }),
      );
    }
  }
  if (prepared.operation.operation !== OperationTypeNode.MUTATION) return execute(c, prepared, params);
  const replay = await idempotent()(c as Context<AppEnv, string>, async () => {
    c.res = await execute(c, prepared, params);
  });
  return replay ?? c.res;
}

/** Introspection: on in local and staging, off in production unless GRAPHQL_INTROSPECTION is `on`. */
function introspectionAllowed(c: Context<AppEnv>): boolean {
  const { ENVIRONMENT, GRAPHQL_INTROSPECTION } = c.var.bindings;
  if (GRAPHQL_INTROSPECTION !== undefined) return GRAPHQL_INTROSPECTION === 'on';
  return ENVIRONMENT !== 'production';
}

export function registerGraphqlRoutes(app: OpenAPIHono<AppEnv>): void {
  app.openapi(postRoute, (c) => handle(c, c.req.valid('json')) as never);
  app.openapi(getRoute, (c) => handle(c, c.req.valid('query')) as never);
}
