import { GraphQLClient } from 'graphql-request';
import { request, type TestTenant } from './harness.ts';

export const GRAPHQL_PATH = '/api/v1/graphql';

/** One error of a GraphQL response. */
export interface GraphqlError {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; errors?: { pointer: string; message: string }[] };
}

/**
 * graphql-request's client against the Worker under test (through the runtime, like `request`), on the tenant's
 * host, with the bearer token and any extra headers (`x-request-id` for round-trip counts). `errorPolicy: 'all'`:
 * `rawRequest` returns partial data with its errors instead of throwing.
 */
export function graphqlClient(
  tenant: TestTenant,
  token: string | null,
  headers: Record<string, string> = {},
): GraphQLClient {
  return new GraphQLClient(tenant.url(GRAPHQL_PATH), {
    fetch: (url: RequestInfo | URL, init?: RequestInit) =>
      request(url instanceof Request ? url.url : url.toString(), init),
    headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...headers },
    errorPolicy: 'all',
  });
}

/** A raw GraphQL POST (for what a client library will not send: bombs, malformed bodies, persisted hashes). */
export function postGraphql(
  tenant: TestTenant,
  token: string | null,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return request(tenant.url(GRAPHQL_PATH), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    body: JSON.stringify(body),
  });
}
