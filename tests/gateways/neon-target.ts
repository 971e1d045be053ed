import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { startEmbeddedPostgres } from '../../dev/gateways/embedded-postgres.ts';
import { startNeonGateway } from '../../dev/gateways/neon.ts';
import type { NeonGateway, NeonGatewayOptions } from '../../dev/gateways/neon.ts';
import { detectServices } from '../setup/services.ts';

/**
 * A database for one test file: a fresh `eventra_gw_<random>` database on the real PostgreSQL, or, when the
 * services are embedded (or the file asks for it), a private in-memory PGlite.
 */
export interface TestDatabase {
  kind: 'postgres' | 'pglite';
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  database: string;
  /** node-postgres URL straight to the database, bypassing the gateway (the oracle). */
  directUrl: string;
  /** Connection string for the Neon driver; the gateway ignores its host. */
  connectionString(params?: Record<string, string>): string;
  close(): Promise<void>;
}

export interface TestGateway {
  gateway: NeonGateway;
  logs: { message: string; fields: Record<string, unknown> | undefined }[];
  close(): Promise<void>;
}

function connectionStringFor(
  user: string,
  password: string | undefined,
  database: string,
  params: Record<string, string> = {},
): string {
  const credentials = encodeURIComponent(user) + (password ? `:${encodeURIComponent(password)}` : '');
  const query = new URLSearchParams(params).toString();
  return `postgresql://${credentials}@localhost/${encodeURIComponent(database)}${query ? `?${query}` : ''}`;
}

export async function createTestDatabase(which: 'services' | 'pglite'): Promise<TestDatabase> {
  const services = which === 'services' ? await detectServices() : undefined;
  if (services?.postgres.kind === 'real') {
    const adminUrl = services.postgres.adminUrl;
    const admin = new URL(adminUrl);
    const database = `eventra_gw_${randomBytes(6).toString('hex')}`;
    const adminClient = new pg.Client({ connectionString: adminUrl });
    await adminClient.connect();
    try {
      await adminClient.query(`CREATE DATABASE ${database}`);
      // Defaults that change text output, so the tests prove the gateway pins its own session settings.
      await adminClient.query(`ALTER DATABASE ${database} SET TimeZone TO 'Asia/Tokyo'`);
      await adminClient.query(`ALTER DATABASE ${database} SET DateStyle TO 'SQL, DMY'`);
      await adminClient.query(`ALTER DATABASE ${database} SET IntervalStyle TO 'iso_8601'`);
      await adminClient.query(`ALTER DATABASE ${database} SET bytea_output TO 'escape'`);
    } finally {
      await adminClient.end();
    }
    const user = decodeURIComponent(admin.username) || 'postgres';
    const password = admin.password ? decodeURIComponent(admin.password) : undefined;
    const host = admin.hostname || '127.0.0.1';
    const port = Number(admin.port || 5432);
    const direct = new URL(adminUrl);
    direct.pathname = `/${database}`;
    return {
      kind: 'postgres',
      host,
      port,
      user,
      password,
      database,
      directUrl: direct.toString(),
      connectionString: (params) => connectionStringFor(user, password, database, params),
      async close() {
        const client = new pg.Client({ connectionString: adminUrl });
        await client.connect();
        try {
          await client.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        } finally {
          await client.end();
        }
      },
    };
  }
  const embedded = await startEmbeddedPostgres({});
  return {
    kind: 'pglite',
    host: embedded.host,
    port: embedded.port,
    user: 'postgres',
    password: undefined,
    database: 'postgres',
    directUrl: embedded.url,
    connectionString: (params) => connectionStringFor('postgres', undefined, 'postgres', params),
    close: () => embedded.close(),
  };
}

export async function startTestGateway(
  db: TestDatabase,
  upstream: { host: string; port: number } = { host: db.host, port: db.port },
  options: Pick<NeonGatewayOptions, 'capture' | 'preparedStatementLimit'> = {},
): Promise<TestGateway> {
  const logs: TestGateway['logs'] = [];
  const gateway = await startNeonGateway({
    upstream,
    maxConnectionsPerDatabase: db.kind === 'pglite' ? 1 : 10,
    log: (message, fields) => logs.push({ message, fields }),
    capture: options.capture ?? false,
    preparedStatementLimit: options.preparedStatementLimit ?? 0,
  });
  return { gateway, logs, close: () => gateway.close() };
}

/** A node-postgres client on the database itself, returning Postgres text exactly like the gateway does. */
export async function directClient(db: TestDatabase): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: db.directUrl,
    options: '-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres -c bytea_output=hex',
  });
  client.on('error', () => {});
  await client.connect();
  return client;
}
