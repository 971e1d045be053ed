import { neon, neonConfig } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/neon-http';
import type { Bindings } from '../env.ts';
import { currentTrace } from '../lib/trace.ts';

export type Database = ReturnType<typeof createDatabase>;

/**
 * Drizzle over Neon's SQL-over-HTTP driver: every query or `db.batch([...])` is one round trip, there are no
 * interactive transactions. No `schema` option, whose relational-query config drizzle would build from every table
 * (the Worker never uses `db.query`). A client of its own: for work off the request path (queue consumers, scheduled
 * jobs, work after the response); requests use `sharedDatabase`.
 *
 * Locally NEON_FETCH_ENDPOINT points the unchanged driver at the dev gateway, and a given trace travels as the
 * `eventra_trace` connection parameter so the gateway can count its round trips.
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

const shared = new WeakMap<Bindings, Database>();

/**
 * The isolate's database client for `bindings` (the same validated bindings object serves every request of an
 * isolate), shared by every request. Safe to share: the Neon HTTP driver keeps no session (each query is its own
 * stateless HTTP request) and drizzle keeps only a memo of column names (it fills once per isolate instead of once
 * per request).
 *
 * Locally each query carries the trace of the request it serves (`currentTrace`) as the `eventra_trace` connection
 * parameter, as `createDatabase` does: the driver resolves a connection string given as a function per query.
 */
export function sharedDatabase(bindings: Bindings): Database {
  let db = shared.get(bindings);
  if (db === undefined) {
    // Global to the driver, as in createDatabase (every bindings object of an isolate names the same endpoint).
    if (bindings.NEON_FETCH_ENDPOINT !== undefined) neonConfig.fetchEndpoint = bindings.NEON_FETCH_ENDPOINT;
    const connectionString = bindings.DATABASE_URL;
    const client =
      bindings.ENVIRONMENT === 'local'
        ? neon({
            connectionString: () => {
              const trace = currentTrace();
              return trace === undefined ? connectionString : withTrace(connectionString, trace);
            },
          })
        : neon(connectionString);
    db = drizzle({ client, casing: 'snake_case' });
    shared.set(bindings, db);
  }
  return db;
}
