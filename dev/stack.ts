import { randomBytes } from 'node:crypto';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './gateways/embedded-postgres.ts';
import { startNeonGateway, type NeonGateway } from './gateways/neon.ts';
import { connectRedisBackend, startUpstashGateway, type UpstashGateway } from './gateways/upstash.ts';
import { generateDataEncryptionKey, generateSigningKeysSecret } from './keys.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

/** The role the Worker logs in as (created by drizzle/sql/security.sql; local servers trust loopback logins). */
export const APP_ROLE = 'eventra_app';
const APP_ROLE_LOCAL_PASSWORD = 'local';

export type StackLog = (message: string, fields?: Record<string, unknown>) => void;

export interface StackOptions {
  /** A real PostgreSQL database (its URL names the database to use), or embedded PGlite (persisted in dataDir). */
  postgres: { kind: 'real'; url: string } | { kind: 'embedded'; dataDir?: string };
  /** A real Redis; with allowEmbedded, the in-process stand-in is used when it does not answer. */
  redis: { url?: string; allowEmbedded: boolean };
  neonPort?: number;
  upstashPort?: number;
  upstashToken?: string;
  /** Let the Neon gateway keep traced requests for replay (benchmarks; see NeonGatewayOptions.capture). */
  captureSql?: boolean;
  /** Statements the Neon gateway keeps prepared per connection (the test suite; NeonGatewayOptions). Default 0. */
  preparedStatementLimit?: number;
  /** Put cuttable TCP proxies between the gateways and PostgreSQL/Redis (outage tests). */
  faultProxies?: boolean;
  /** JWT_SIGNING_KEYS for the Worker; a fresh key is generated when absent. */
  jwtSigningKeys?: string;
  /** DATA_ENCRYPTION_KEY for the Worker; a fresh key is generated when absent. */
  dataEncryptionKey?: string;
  log: StackLog;
}

/** The local edge stack: PostgreSQL behind the Neon gateway, Redis behind the Upstash gateway. */
export interface Stack {
  /** node-postgres URL of the database itself (migrations, seeds, test fixtures). */
  directDatabaseUrl: string;
  /** The Worker's DATABASE_URL: the application role on the same database, reached through the Neon gateway. */
  workerDatabaseUrl: string;
  /** The schema owner's credentials through the Neon gateway (bypasses row-level security): test fixtures only. */
  ownerDatabaseUrl: string;
  neon: NeonGateway;
  upstash: UpstashGateway;
  upstashToken: string;
  postgresKind: 'real' | 'embedded';
  redisKind: 'redis' | 'embedded';
  proxies: { postgres?: TcpProxy; redis?: TcpProxy };
  /** The variables the Worker needs to reach this stack (wrangler `--var`s or miniflare bindings). */
  workerVars(): Record<string, string>;
  close(): Promise<void>;
}

export async function startStack(options: StackOptions): Promise<Stack> {
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) {
      await closer().catch((error: unknown) => options.log('error while stopping', { error: String(error) }));
    }
  };
  try {
    let embedded: EmbeddedPostgres | undefined;
    let directDatabaseUrl: string;
    if (options.postgres.kind === 'embedded') {
      embedded = await startEmbeddedPostgres(
        options.postgres.dataDir === undefined ? {} : { dataDir: options.postgres.dataDir },
      );
      const stopEmbedded = embedded;
      closers.push(() => stopEmbedded.close());
      directDatabaseUrl = embedded.url;
    } else {
      directDatabaseUrl = options.postgres.url;
    }
    const direct = new URL(directDatabaseUrl);
    const pgTarget = { host: direct.hostname || '127.0.0.1', port: Number(direct.port || 5432) };

    const proxies: Stack['proxies'] = {};
    let upstream = pgTarget;
    if (options.faultProxies) {
      const proxy = await startTcpProxy(pgTarget);
      closers.push(() => proxy.close());
      proxies.postgres = proxy;
      upstream = { host: proxy.host, port: proxy.port };
    }

    const neon = await startNeonGateway({
      upstream,
      port: options.neonPort ?? 0,
      maxConnectionsPerDatabase: embedded ? 1 : 10,
      ...(embedded ? { sharedSession: { user: direct.username || 'postgres', database: 'postgres' } } : {}),
      log: options.log,
      capture: options.captureSql ?? false,
      preparedStatementLimit: options.preparedStatementLimit ?? 0,
    });
    closers.push(() => neon.close());

    let redisUrl = options.redis.url ?? 'redis://127.0.0.1:6379';
    if (options.faultProxies) {
      const target = new URL(redisUrl);
      const proxy = await startTcpProxy({ host: target.hostname || '127.0.0.1', port: Number(target.port || 6379) });
      closers.push(() => proxy.close());
      proxies.redis = proxy;
      target.hostname = proxy.host;
      target.port = String(proxy.port);
      redisUrl = target.toString();
    }
    const backend = await connectRedisBackend({
      url: redisUrl,
      allowEmbedded: options.redis.allowEmbedded && !options.faultProxies,
      log: options.log,
    });
    closers.push(() => backend.close());
    const upstashToken = options.upstashToken ?? randomBytes(24).toString('base64url');
    const upstash = await startUpstashGateway({
      port: options.upstashPort ?? 0,
      token: upstashToken,
      backend,
      log: options.log,
    });
    closers.push(() => upstash.close());

    // The Neon driver needs a postgres:// URL with a password; the gateway connects with these credentials. The
    // Worker logs in as the application role (row-level security applies); the owner URL is for fixtures only.
    const throughGateway = (user: string, password: string): string => {
      const url = new URL(directDatabaseUrl);
      url.hostname = 'localhost';
      url.port = '';
      url.username = user;
      url.password = password;
      return url.toString();
    };
    const workerDatabaseUrl = throughGateway(APP_ROLE, APP_ROLE_LOCAL_PASSWORD);
    const ownerDatabaseUrl = throughGateway(direct.username || 'postgres', direct.password || 'local');
    const jwtSigningKeys = options.jwtSigningKeys ?? (await generateSigningKeysSecret());
    const dataEncryptionKey = options.dataEncryptionKey ?? generateDataEncryptionKey();

    return {
      directDatabaseUrl,
      workerDatabaseUrl,
      ownerDatabaseUrl,
      neon,
      upstash,
      upstashToken,
      postgresKind: options.postgres.kind,
      redisKind: backend.kind,
      proxies,
      workerVars: () => ({
        DATABASE_URL: workerDatabaseUrl,
        NEON_FETCH_ENDPOINT: neon.url,
        UPSTASH_REDIS_REST_URL: upstash.url,
        UPSTASH_REDIS_REST_TOKEN: upstashToken,
        JWT_SIGNING_KEYS: jwtSigningKeys,
        DATA_ENCRYPTION_KEY: dataEncryptionKey,
      }),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
