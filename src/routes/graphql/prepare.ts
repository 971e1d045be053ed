import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  getOperationAST,
  GraphQLError,
  Kind,
  NoSchemaIntrospectionCustomRule,
  OperationTypeNode,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type ValidationContext,
  type ValidationRule,
} from 'graphql';
import type { ErrorCode } from '../../errors/codes.ts';
import { costUnits, GRAPHQL_LIMITS, operationCost } from './cost.ts';

/** The GraphQL-over-HTTP request parameters (POST body, or GET query string with JSON-encoded members). */
export interface GraphqlParams {
  query?: string | undefined;
  variables?: Record<string, unknown> | null | undefined;
  operationName?: string | null | undefined;
  extensions?: { persistedQuery?: { version: number; sha256Hash: string } | undefined } | null | undefined;
}

/** An operation that passed parsing, validation and the limits, with what it costs. */
export interface PreparedOperation {
  query: string;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  variables: Record<string, unknown>;
  cost: number;
  units: number;
  /** The sha256 of a query sent with its hash (automatic persisted queries), to remember once the caller is admitted. */
  persist: string | null;
}

/**
 * A request refused before execution (GraphQL-over-HTTP "request error"): answered with `{ errors }`, each with
 * `extensions.code`, and the status of the code (src/errors/codes.ts).
 */
export class GraphqlRequestError extends Error {
  readonly code: ErrorCode;
  readonly errors: readonly GraphQLError[];

  constructor(code: ErrorCode, errors: readonly GraphQLError[]) {
    super(errors[0]?.message ?? code);
    this.name = 'GraphqlRequestError';
    this.code = code;
    this.errors = errors;
  }
}

function refused(code: ErrorCode, message: string): GraphqlRequestError {
  return new GraphqlRequestError(code, [new GraphQLError(message, { extensions: { code } })]);
}

/** Where persisted queries are kept: by sha256 hex, per organization (see server.ts). */
export interface PersistedQueries {
  get(hash: string): Promise<string | null>;
}

/** What graphql-armor's rules report: refused with `query_too_complex` instead of thrown. */
function armor(rejections: GraphQLError[]) {
  const onReject = [
    (context: ValidationContext | null, error: GraphQLError) => {
      const refusal = new GraphQLError(error.message.replace(/^Syntax Error: /, ''), {
        extensions: { code: 'query_too_complex' },
      });
      rejections.push(refusal);
      context?.reportError(refusal);
    },
  ];
  const common = { propagateOnRejection: false, onReject, exposeLimits: true };
  return [
    maxDepthRule({ n: GRAPHQL_LIMITS.maxDepth, ...common }),
    maxAliasesRule({ n: GRAPHQL_LIMITS.maxAliases, ...common }),
    maxDirectivesRule({ n: GRAPHQL_LIMITS.maxDirectives, ...common }),
  ] as ValidationRule[];
}

/** Field suggestions (`Did you mean "title"?`) name fields; without introspection they are hidden (graphql-armor's mask). */
function withoutSuggestions(error: GraphQLError): GraphQLError {
  const message = error.message.replace(/ ?Did you mean .+\?/g, '').trim();
  return message === error.message
    ? error
    : new GraphQLError(message, { nodes: error.nodes, extensions: error.extensions });
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

// Valid documents by introspection setting and query text, for the life of the isolate: a hot query is parsed and
// validated once (the schema is fixed in an isolate). Bounded: the oldest entry goes first.
const validated = new Map<string, DocumentNode>();
const MAX_VALIDATED = 200;

/** The document of `query`, parsed (token limit) and validated (spec rules, armor's limits, introspection): no I/O. */
function validDocument(schema: GraphQLSchema, query: string, introspection: boolean): DocumentNode {
  const key = `${introspection ? 'i' : 'n'}:${query}`;
  const known = validated.get(key);
  if (known) return known;
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: GRAPHQL_LIMITS.maxTokens });
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    const tooLong = /contains more th\w+ \d+ tokens/.test(error.message);
    throw refused(tooLong ? 'query_too_complex' : 'validation_failed', error.message);
  }
  const rejections: GraphQLError[] = [];
  const rules = [...specifiedRules, ...armor(rejections), ...(introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const errors = validate(schema, document, rules, { maxErrors: 10 });
  if (errors.length > 0) {
    const shown = errors.map((error) =>
      error.extensions.code === undefined
        ? new GraphQLError(error.message, {
            nodes: error.nodes,
            extensions: { code: 'validation_failed' },
          })
        : error,
    );
    // A document over a limit is answered with the limits it broke only: the clearest reason, and no more work.
    if (rejections.length > 0) throw new GraphqlRequestError('query_too_complex', rejections);
    throw new GraphqlRequestError('validation_failed', introspection ? shown : shown.map(withoutSuggestions));
  }
  validated.set(key, document);
  if (validated.size > MAX_VALIDATED) validated.delete(validated.keys().next().value as string);
  return document;
}

/**
 * Everything about a GraphQL request that needs no I/O but the persisted-query lookup: the query text (sent, or by
 * its persisted hash), the document (token limit, validation, depth/alias/directive limits), the operation, its
 * cost against the limit, and on GET only queries (a mutation over GET answers 405).
 */
export async function prepareOperation(
  params: GraphqlParams,
  options: { schema: GraphQLSchema; introspection: boolean; method: string; persisted: PersistedQueries },
): Promise<PreparedOperation> {
  const hash = params.extensions?.persistedQuery?.sha256Hash.toLowerCase();
  let query = params.query;
  let persist: string | null = null;
  if (hash !== undefined && !/^[0-9a-f]{64}$/.test(hash)) {
    throw refused('validation_failed', 'extensions.persistedQuery.sha256Hash is a sha256 in hex.');
  }
  if (query !== undefined && hash !== undefined) {
    if ((await sha256Hex(query)) !== hash) {
      throw refused('validation_failed', 'extensions.persistedQuery.sha256Hash is not the sha256 of the query.');
    }
    persist = hash;
  } else if (query === undefined && hash !== undefined) {
    query = (await options.persisted.get(hash)) ?? undefined;
    if (query === undefined) {
      throw refused('persisted_query_not_found', 'PersistedQueryNotFound: send the query with its hash once.');
    }
  }
  if (query === undefined) throw refused('validation_failed', 'Send a `query` (or a persisted query hash).');

  const document = validDocument(options.schema, query, options.introspection);
  const operation = getOperationAST(document, params.operationName ?? undefined);
  if (!operation) {
    throw refused(
      'validation_failed',
      params.operationName
        ? `No operation named "${params.operationName}".`
        : 'Name the operation to run (operationName).',
    );
  }
  if (options.method === 'GET' && operation.operation !== OperationTypeNode.QUERY) {
    throw refused('method_not_allowed', 'Only queries run over GET; send mutations with POST.');
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const variables = params.variables ?? {};
  const cost = operationCost(options.schema, operation, fragments, variables);
  if (cost > GRAPHQL_LIMITS.maxCost) {
    throw refused(
      'query_too_complex',
      `The operation may return ${cost} objects; the limit is ${GRAPHQL_LIMITS.maxCost}. Ask for smaller pages or fewer fields.`,
    );
  }
  return { query, document, operation, variables, cost, units: costUnits(cost), persist };
}
