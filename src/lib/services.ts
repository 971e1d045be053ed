import type { Redis } from '@upstash/redis/cloudflare';
import { databaseFor, SHARED_DATABASE, type Database, type DatabaseKey } from '../db/client.ts';
import type { Bindings } from '../env.ts';
import { sharedRedis } from './redis.ts';

/**
 * The clients a request uses: the isolate's shared ones for its bindings (`databaseFor`, `sharedRedis`), built on
 * first use, so an isolate that serves no database request builds no database client. `db` is the database that
 * serves the request's organization (the tenant directory's key, carried in the cached tenant: the shared database
 * until the tenant middleware has resolved a tenant on a dedicated one).
 */
export interface Services {
  readonly db: Database;
  readonly redis: Redis;
}

// One services object per bindings object (per isolate in production) and database key.
const servicesOf = new WeakMap<Bindings, Map<DatabaseKey, Services>>();

/** The services of `bindings` whose `db` is the database `databaseKey` (default: the shared one). No I/O. */
export function servicesFor(bindings: Bindings, databaseKey: DatabaseKey = SHARED_DATABASE): Services {
  let byKey = servicesOf.get(bindings);
  if (byKey === undefined) {
    byKey = new Map();
    servicesOf.set(bindings, byKey);
  }
  let services = byKey.get(databaseKey);
  if (services === undefined) {
    let db: Database | undefined;
    let redis: Redis | undefined;
    services = {
      get db() {
        db ??= databaseFor(bindings, databaseKey);
        return db;
      },
      get redis() {
        // One Redis client per bindings whatever the database.
        redis ??= sharedRedis(bindings);
        return redis;
      },
    };
    byKey.set(databaseKey, services);
  }
  return services;
}
