import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import {
  getOperationAST,
  getVariableValues,
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
import { ApiError } from '../../errors/api-error.ts';
import { ERROR_CODES, type ErrorCode } from '../../errors/codes.ts';
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

/** Where in the request a refusal points: the query text in a POST body or in a GET query string. */
type Where = '/body' | '/query';

/**
 * A request refused before execution: the REST problem (problem+json, the code's status), its `errors[]` one entry
 * per GraphQL error at the query (the message with its line and column).
 */
function refused(code: ErrorCode, where: Where, errors: readonly GraphQLError[], member = 'query'): ApiError {
  const pointer = `${where}/${member}`;
  return new ApiError(code, {
    detail: errors[0]?.message ?? ERROR_CODES[code].title,
    errors: errors.map((error) => {
      const at = error.locations?.[0];
      return { pointer, message: at ? `${error.message} (line ${at.line}, column ${at.column})` : error.message };
    }),
    ...(code === 'method_not_allowed' ? { headers: { allow: 'POST' } } : {}),
  });
}

const refusal = (code: ErrorCode, where: Where, message: string, member?: string): ApiError =>
  refused(code, where, [new GraphQLError(message)], member);

/** Where persisted queries are kept: by sha256 hex, per organization (see server.ts). */
export interface PersistedQueries {
  get(hash: string): Promise<string | null>;
}

/** What graphql-armor's rules report: refused with `query_too_complex` instead of thrown. */
function armor(rejections: GraphQLError[]) {
  const onReject = [
    (context: ValidationContext | null, error: GraphQLError) => {
      const rejection = new GraphQLError(error.message.replace(/^Syntax Error: /, ''));
      rejections.push(rejection);
      context?.reportError(rejection);
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
function validDocument(schema: GraphQLSchema, query: string, introspection: boolean, where: Where): DocumentNode {
  const key = `${introspection ? 'i' : 'n'}:${query}`;
  const known = validated.get(key);
  if (known) return known;
  let document: DocumentNode;
  try {
    document = parse(query, { maxTokens: GRAPHQL_LIMITS.maxTokens });
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    const tooLong = /contains more th\w+ \d+ tokens/.test(error.message);
    throw refused(tooLong ? 'query_too_complex' : 'validation_failed', where, [error]);
  }
  const rejections: GraphQLError[] = [];
  const rules = [...specifiedRules, ...armor(rejections), ...(introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  const errors = validate(schema, document, rules, { maxErrors: 10 });
  if (errors.length > 0) {
    // A document over a limit is answered with the limits it broke only: the clearest reason, and no more work.
    if (rejections.length > 0) throw refused('query_too_complex', where, rejections);
    throw refused('validation_failed', where, introspection ? errors : errors.map(withoutSuggestions));
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
  const where: Where = options.method === 'GET' ? '/query' : '/body';
  const hash = params.extensions?.persistedQuery?.sha256Hash.toLowerCase();
  let query = params.query;
  let persist: string | null = null;
  if (hash !== undefined && !/^[0-9a-f]{64}$/.test(hash)) {
    throw refusal('validation_failed', where, 'extensions.persistedQuery.sha256Hash is a sha256 in hex.', 'extensions');
  }
  if (query !== undefined && hash !== undefined) {
    if ((await sha256Hex(query)) !== hash) {
      throw refusal(
        'validation_failed',
        where,
        'extensions.persistedQuery.sha256Hash is not the sha256 of the query.',
        'extensions',
      );
    }
    persist = hash;
  } else if (query === undefined && hash !== undefined) {
    query = (await options.persisted.get(hash)) ?? undefined;
    if (query === undefined) {
      throw refusal(
        'persisted_query_not_found',
        where,
        'PersistedQueryNotFound: send the query with its hash once.',
        'extensions',
      );
    }
  }
  if (query === undefined) throw refusal('validation_failed', where, 'Send a `query` (or a persisted query hash).');

  const document = validDocument(options.schema, query, options.introspection, where);
  const operation = getOperationAST(document, params.operationName ?? undefined);
  if (!operation) {
    throw refusal(
      'validation_failed',
      where,
      params.operationName
        ? `No operation named "${params.operationName}".`
        : 'Name the operation to run (operationName).',
    );
  }
  if (options.method === 'GET' && operation.operation !== OperationTypeNode.QUERY) {
    throw refusal('method_not_allowed', where, 'Only queries run over GET; send mutations with POST.');
  }
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const variables = params.variables ?? {};
  // Variables that do not coerce to their declared types are the request's fault, refused here like a document that
  // does not validate (graphql-js's own coercion, the one `execute` runs again).
  const coerced = getVariableValues(options.schema, operation.variableDefinitions ?? [], variables, { maxErrors: 20 });
  if (coerced.errors) throw refused('validation_failed', where, coerced.errors, 'variables');
  const cost = operationCost(options.schema, operation, fragments, variables);
  if (cost > GRAPHQL_LIMITS.maxCost) {
    throw refusal(
      'query_too_complex',
      where,
      `The operation may return ${cost} objects; the limit is ${GRAPHQL_LIMITS.maxCost}. Ask for smaller pages or fewer fields.`,
    );
  }
  return { query, document, operation, variables, cost, units: costUnits(cost), persist };
}
