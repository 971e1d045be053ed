import {
  getNamedType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  valueFromASTUntyped,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/** The limits of a GraphQL operation (docs/API.md, "GraphQL"). */
export const GRAPHQL_LIMITS = {
  /** Field nesting (graphql-armor max-depth; `__typename` and introspection excepted). */
  maxDepth: 8,
  /** Aliases per operation (graphql-armor max-aliases). */
  maxAliases: 15,
  /** Directives per operation (graphql-armor max-directives). */
  maxDirectives: 10,
  /** Lexical tokens per document (graphql-js `parse` `maxTokens`): refused before the document is built. */
  maxTokens: 2_000,
  /** Objects an operation may ask for (its cost, below). */
  maxCost: 10_000,
  /** Cost per rate-limit unit: an operation takes ceil(cost / 100) units (at least one) from the plan's buckets. */
  costPerUnit: 100,
  /** What a list that is not a connection (an event's ticket types, a booking's attendees) is assumed to hold. */
  listEstimate: 10,
} as const;

/**
 * The cost of an operation: how many objects it can return, as an upper bound. Every field that returns an object
 * counts once per parent object it is resolved for, a list of objects once per element: a connection's `nodes` hold
 * its page size (`first`, read with the request's variables, so `first: $n` counts as the n it is, else the
 * argument's default), any other list GRAPHQL_LIMITS.listEstimate. Scalars are free.
 *
 * graphql-armor's cost rule reads page sizes only from literals and cannot say what it computed, so a `first: $n`
 * would pass as 1 and the rate limiter could not charge the cost: hence this walk, after validation (the document is
 * known to be valid against the schema, so every field resolves).
 */
export function operationCost(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  variables: Readonly<Record<string, unknown>>,
): number {
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  return selectionCost(root, operation.selectionSet, fragments, variables, new Set(), GRAPHQL_LIMITS.listEstimate);
}

function selectionCost(
  parent: GraphQLObjectType,
  selectionSet: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  variables: Readonly<Record<string, unknown>>,
  visiting: ReadonlySet<string>,
  listSize: number,
): number {
  const walk = (
    type: GraphQLObjectType,
    set: SelectionSetNode,
    seen: ReadonlySet<string> = visiting,
    size: number = GRAPHQL_LIMITS.listEstimate,
  ) => selectionCost(type, set, fragments, variables, seen, size);
  let cost = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      cost += walk(parent, selection.selectionSet, visiting, listSize);
      continue;
    }
    if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const fragment = fragments.get(selection.name.value);
      // Validation refuses unknown and cyclic fragments; the set only guards the walk.
      if (!fragment || visiting.has(fragment.name.value)) continue;
      cost += walk(parent, fragment.selectionSet, new Set([...visiting, fragment.name.value]), listSize);
      continue;
    }
    if (!selection.selectionSet) continue;
    const field: GraphQLField<unknown, unknown> | undefined = parent.getFields()[selection.name.value];
    if (!field) continue;
    const child = getNamedType(field.type);
    if (!isObjectType(child)) continue;
    const pageSize = field.args.find((argument) => argument.name === 'first');
    if (pageSize) {
      // A connection: the page's list (`nodes`) holds `first` objects (the argument's default when not given).
      const first = selection.arguments?.find((argument) => argument.name.value === 'first');
      const given = first ? valueFromASTUntyped(first.value, variables) : pageSize.defaultValue;
      const size = typeof given === 'number' && given > 0 ? given : GRAPHQL_LIMITS.listEstimate;
      cost += 1 + walk(child, selection.selectionSet, visiting, size);
    } else if (isList(field.type)) {
      cost += listSize * Math.max(1, walk(child, selection.selectionSet));
    } else {
      cost += 1 + walk(child, selection.selectionSet);
    }
  }
  return cost;
}

function isList(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

/** The rate-limit units an operation of this cost takes. */
export function costUnits(cost: number): number {
  return Math.max(1, Math.ceil(cost / GRAPHQL_LIMITS.costPerUnit));
}
