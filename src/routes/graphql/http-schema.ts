import { z } from '@hono/zod-openapi';
import { int32 } from '../fields.ts';

/** Longest query text (characters); the body limit (1 MiB) bounds the whole request as for every route. */
export const MAX_QUERY_LENGTH = 100_000;
const MAX_OPERATION_NAME = 200;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

const EXAMPLE_QUERY =
  'query Upcoming { events(first: 50, status: published) { nodes { id title ticketTypes { name remaining } ' +
  'availability { remaining } } pageInfo { hasNextPage endCursor } } }';

const PersistedQuerySchema = z
  .object({
    version: z.literal(1).openapi({ description: 'Always 1.', example: 1 }),
    sha256Hash: z.string().regex(SHA256_HEX).openapi({
      minLength: 64,
      maxLength: 64,
      description: 'The sha256 of the query text, hex.',
      example: 'ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38',
    }),
  })
  .openapi('GraphqlPersistedQuery', {
    description:
      'Automatic persisted query: send the hash with the query once (it is kept for this organization for 30 ' +
      'days), then the hash alone, also over GET. An unknown hash answers `persisted_query_not_found`.',
  });

const ExtensionsSchema = z
  .object({ persistedQuery: PersistedQuerySchema.optional() })
  .openapi('GraphqlRequestExtensions', { description: 'Request extensions: only `persistedQuery` is read.' });

const Query = z.string().min(1).max(MAX_QUERY_LENGTH);
const OperationName = z.string().min(1).max(MAX_OPERATION_NAME);

export const GraphqlRequestSchema = z
  .object({
    query: Query.optional().openapi({
      description: 'The GraphQL document (optional with a persisted query hash).',
      example: EXAMPLE_QUERY,
    }),
    variables: z
      .record(z.string().max(100), z.unknown())
      .nullable()
      .optional()
      .openapi({ description: 'Values of the operation’s variables.', example: {} }),
    operationName: OperationName.nullable()
      .optional()
      .openapi({ description: 'Which operation of the document to run.', example: 'Upcoming' }),
    extensions: ExtensionsSchema.nullable().optional(),
  })
  .strict()
  .openapi('GraphqlRequest', { description: 'A GraphQL-over-HTTP request.' });

/** A JSON-encoded query-string member (GET): `variables` and `extensions`. */
function jsonParameter<T extends z.ZodType>(schema: T, name: string) {
  return z
    .string()
    .max(MAX_QUERY_LENGTH)
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: `${name} is JSON` });
        return z.NEVER;
      }
    })
    .pipe(schema);
}

export const GraphqlGetQuerySchema = z
  .object({
    query: Query.optional().openapi({
      param: { name: 'query', in: 'query' },
      description: 'The GraphQL document (a query; mutations only over POST).',
      example: EXAMPLE_QUERY,
    }),
    variables: jsonParameter(z.record(z.string().max(100), z.unknown()), 'variables')
      .optional()
      .openapi({
        param: { name: 'variables', in: 'query' },
        type: 'string',
        maxLength: MAX_QUERY_LENGTH,
        description: 'The variables as a JSON object.',
        example: '{}',
      }),
    operationName: OperationName.optional().openapi({
      param: { name: 'operationName', in: 'query' },
      description: 'Which operation of the document to run.',
      example: 'Upcoming',
    }),
    extensions: jsonParameter(ExtensionsSchema, 'extensions')
      .optional()
      .openapi({
        param: { name: 'extensions', in: 'query' },
        type: 'string',
        maxLength: MAX_QUERY_LENGTH,
        description: 'Request extensions as JSON, e.g. `{"persistedQuery":{"version":1,"sha256Hash":"…"}}`.',
        example:
          '{"persistedQuery":{"version":1,"sha256Hash":"ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"}}',
      }),
  })
  .strict();

const GraphqlErrorSchema = z
  .object({
    message: z.string().max(2_000).openapi({ description: 'What went wrong.', example: 'No event with this id.' }),
    locations: z
      .array(z.object({ line: int32(1), column: int32(1) }))
      .max(100)
      .optional()
      .openapi({ description: 'Where in the document.' }),
    path: z
      .array(z.union([z.string().max(200), int32()]))
      .max(50)
      .optional()
      .openapi({ description: 'The response field the error belongs to.', example: ['event'] }),
    extensions: z
      .object({
        code: z.string().max(50).openapi({
          description: 'The API error code (the same table as the problem `code` of REST).',
          example: 'forbidden',
        }),
      })
      .catchall(z.unknown())
      .openapi({ description: '`code`, and `errors[]` (JSON pointer + message) for validation failures.' }),
  })
  .openapi('GraphqlError', { description: 'One error of a GraphQL response.' });

export const GraphqlResponseSchema = z
  .object({
    data: z
      .record(z.string().max(100), z.unknown())
      .nullable()
      .optional()
      .openapi({ description: 'The result, shaped like the operation (see schema.graphql).' }),
    errors: z.array(GraphqlErrorSchema).max(100).optional().openapi({ description: 'What failed, if anything.' }),
  })
  .openapi('GraphqlResponse', { description: 'A GraphQL response.' });
