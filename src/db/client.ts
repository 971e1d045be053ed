import { neon, neonConfig } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/neon-http';
import type { Bindings } from '../env.ts';

export type Database = ReturnType<typeof createDatabase>;

/**
 * Drizzle over Neon's SQL-over-HTTP driver: every query or `db.batch([...])` is one round trip, there are no
 * interactive transactions. Built per request, so it stays a cheap closure over the connection string: no `schema`
 * option, whose relational-query config drizzle would rebuild from every table on each call (the Worker never uses
 * `db.query`; it was ~5% of a public read's CPU in `npm run bench` profiles).
 *
 * Locally NEON_FETCH_ENDPOINT points the unchanged driver at the dev gateway, and the request id travels as the
 * `eventra_trace` connection parameter so the gateway can count this request's round trips.
 */
export function createDatabase(bindings: Bindings, requestId?: string) {
  if (bindings.NEON_FETCH_ENDPOINT !== undefined) neonConfig.fetchEndpoint = bindings.NEON_FETCH_ENDPOINT;
  const connectionString =
    bindings.ENVIRONMENT === 'local' && requestId !== undefined
      ? withTrace(bindings.DATABASE_URL, requestId)
      : bindings.DATABASE_URL;
  return drizzle({ client: neon(connectionString), casing: 'snake_case' });
}

function withTrace(connectionString: string, requestId: string): string {
  const url = new URL(connectionString);
  url.searchParams.set('eventra_trace', requestId);
  return url.toString();
}
