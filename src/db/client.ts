import { neon, neonConfig } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/neon-http';
import type { Bindings } from '../env.ts';
import { ApiError } from '../errors/api-error.ts';
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
export function createDatabase(bindings: Bindings, requestId?: string, databaseKey: DatabaseKey = SHARED_DATABASE) {
  if (bindings.NEON_FETCH_ENDPOINT !== undefined) neonConfig.fetchEndpoint = bindings.NEON_FETCH_ENDPOINT;
  const url = databaseUrl(bindings, databaseKey);
  const connectionString =
    bindings.ENVIRONMENT === 'local' && requestId !== undefined ? withTrace(url, requestId) : url;
  return drizzle({ client: neon(connectionString), casing: 'snake_case' });
}

/** A key of the tenant directory: `shared` (DATABASE_URL, the control database) or a key of DATABASE_URLS. */
export type DatabaseKey = string;

export const SHARED_DATABASE: DatabaseKey = 'shared';

/**
 * The connection string of a database key. A key the directory names but DATABASE_URLS does not list is a
 * deployment mistake (a secret not updated before the switch): 503 with Retry-After rather than a 500, logged by the
 * error handler, and never a fallback to the shared database, which no longer holds the organization's rows.
 */
export function databaseUrl(bindings: Bindings, databaseKey: DatabaseKey): string {
  if (databaseKey === SHARED_DATABASE) return bindings.DATABASE_URL;
  const url = bindings.DATABASE_URLS?.[databaseKey];
  if (url === undefined) {
    throw new ApiError('service_unavailable', {
      detail: 'The database of this organization is not reachable right now.',
      headers: { 'Retry-After': '30' },
      cause: new Error(`DATABASE_URLS has no database "${databaseKey}"`),
    });
  }
  return url;
}

/** Every database key this Worker can reach: the shared one first, then DATABASE_URLS' (the scheduled sweeps). */
export function databaseKeys(bindings: Bindings): DatabaseKey[] {
  return [SHARED_DATABASE, ...Object.keys(bindings.DATABASE_URLS ?? {})];
}

function withTrace(connectionString: string, requestId: string): string {
  const url = new URL(connectionString);
  url.searchParams.set('eventra_trace', requestId);
  return url.toString();
}

const shared = new WeakMap<Bindings, Database>();
// A dedicated database's client per connection string, for the life of the isolate (as `shared` is per bindings).
const dedicated = new Map<string, Database>();

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
    db = requestDatabase(bindings, bindings.DATABASE_URL);
    shared.set(bindings, db);
  }
  return db;
}

/**
 * The isolate's client of the database `databaseKey` serves (the tenant directory's key, carried in the cached
 * tenant): `sharedDatabase` for `shared`, else one client per connection string, built on first use and kept for
 * the life of the isolate like the shared one. Costs no I/O.
 */
export function databaseFor(bindings: Bindings, databaseKey: DatabaseKey): Database {
  if (databaseKey === SHARED_DATABASE) return sharedDatabase(bindings);
  const connectionString = databaseUrl(bindings, databaseKey);
  const key = `${bindings.ENVIRONMENT}:${connectionString}`;
  let db = dedicated.get(key);
  if (db === undefined) {
    db = requestDatabase(bindings, connectionString);
    dedicated.set(key, db);
  }
  return db;
}

function requestDatabase(bindings: Bindings, connectionString: string): Database {
  // Global to the driver, as in createDatabase (every bindings object of an isolate names the same endpoint).
  if (bindings.NEON_FETCH_ENDPOINT !== undefined) neonConfig.fetchEndpoint = bindings.NEON_FETCH_ENDPOINT;
  const client =
    bindings.ENVIRONMENT === 'local'
      ? neon({
          connectionString: () => {
            const trace = currentTrace();
            return trace === undefined ? connectionString : withTrace(connectionString, trace);
          },
        })
      : neon(connectionString);
  return drizzle({ client, casing: 'snake_case' });
}
