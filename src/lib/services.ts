import type { Redis } from '@upstash/redis/cloudflare';
import { sharedDatabase, type Database } from '../db/client.ts';
import type { Bindings } from '../env.ts';
import { sharedRedis } from './redis.ts';

/**
 * The clients a request uses: the isolate's shared ones for its bindings (`sharedDatabase`, `sharedRedis`), built on
 * first use, so an isolate that serves no database request builds no database client.
 */
export interface Services {
  readonly db: Database;
  readonly redis: Redis;
}

const servicesOf = new WeakMap<Bindings, Services>();

/** The services of `bindings`, one object per bindings object (per isolate in production). */
export function servicesFor(bindings: Bindings): Services {
  let services = servicesOf.get(bindings);
  if (services === undefined) {
    let db: Database | undefined;
    let redis: Redis | undefined;
    services = {
      get db() {
        db ??= sharedDatabase(bindings);
        return db;
      },
      get redis() {
        redis ??= sharedRedis(bindings);
        return redis;
      },
    };
    servicesOf.set(bindings, services);
  }
  return services;
}
