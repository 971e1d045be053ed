import net from 'node:net';

/**
 * Which PostgreSQL and Redis the tests run against.
 *
 * Real services are used when `TEST_DATABASE_URL` / `TEST_REDIS_URL` are set or the default local ports answer;
 * otherwise the embedded stand-ins (PGlite, the in-process Redis stand-in). With `CI=true` the real services are
 * mandatory: CI fails instead of silently testing against the stand-ins.
 */
export type PostgresService = { kind: 'real'; adminUrl: string } | { kind: 'embedded' };
export type RedisService = { kind: 'real'; url: string } | { kind: 'embedded' };
export interface TestServices {
  postgres: PostgresService;
  redis: RedisService;
}

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export function portAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function urlAnswers(url: string, defaultPort: number): Promise<boolean> {
  const parsed = new URL(url);
  return portAnswers(parsed.hostname || '127.0.0.1', Number(parsed.port || defaultPort));
}

export async function detectServices(env: NodeJS.ProcessEnv = process.env): Promise<TestServices> {
  const ci = env.CI === 'true' || env.CI === '1';
  const databaseUrl = env.TEST_DATABASE_URL ?? DEFAULT_DATABASE_URL;
  const redisUrl = env.TEST_REDIS_URL ?? DEFAULT_REDIS_URL;
  const [pgUp, redisUp] = await Promise.all([urlAnswers(databaseUrl, 5432), urlAnswers(redisUrl, 6379)]);
  const missing: string[] = [];
  if (!pgUp && (ci || env.TEST_DATABASE_URL)) missing.push(`PostgreSQL at ${redact(databaseUrl)}`);
  if (!redisUp && (ci || env.TEST_REDIS_URL)) missing.push(`Redis at ${redact(redisUrl)}`);
  if (missing.length > 0) {
    throw new Error(
      `Cannot reach ${missing.join(' and ')}. ${ci ? 'CI always tests against the real services.' : 'Unset TEST_DATABASE_URL / TEST_REDIS_URL to use the embedded stand-ins.'}`,
    );
  }
  return {
    postgres: pgUp ? { kind: 'real', adminUrl: databaseUrl } : { kind: 'embedded' },
    redis: redisUp ? { kind: 'real', url: redisUrl } : { kind: 'embedded' },
  };
}

export function describeServices(services: TestServices): string {
  const pg = services.postgres.kind === 'real' ? `PostgreSQL ${redact(services.postgres.adminUrl)}` : 'embedded PGlite';
  const redis = services.redis.kind === 'real' ? `Redis ${redact(services.redis.url)}` : 'embedded Redis stand-in';
  return `${pg} + ${redis}`;
}

/** Hides the password of a connection URL for logs. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<invalid url>';
  }
}
