import type { Redis } from '@upstash/redis/cloudflare';
import { createDatabase, type Database } from '../db/client.ts';
import type { Bindings } from '../env.ts';
import { createRedis } from './redis.ts';

/** Per-request clients, built on first use so a request that needs no database builds no database client. */
export interface Services {
  readonly db: Database;
  readonly redis: Redis;
}

export function createServices(bindings: Bindings, requestId: string): Services {
  let db: Database | undefined;
  let redis: Redis | undefined;
  return {
    get db() {
      db ??= createDatabase(bindings, requestId);
      return db;
    },
    get redis() {
      redis ??= createRedis(bindings, requestId);
      return redis;
    },
  };
}
