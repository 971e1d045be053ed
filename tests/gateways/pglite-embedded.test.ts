import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { neon, neonConfig } from '@neondatabase/serverless';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../dev/gateways/embedded-postgres.ts';
import type { EmbeddedPostgres } from '../../dev/gateways/embedded-postgres.ts';
import { startNeonGateway } from '../../dev/gateways/neon.ts';
import type { NeonGateway } from '../../dev/gateways/neon.ts';
import { expectNeonDbError, rejectionOf } from './neon-conformance.ts';

/** The embedded PostgreSQL (PGlite over TCP) as node-postgres and the gateway see it. */

async function connect(url: string, options: pg.ClientConfig = {}): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, ...options });
  client.on('error', () => {});
  await client.connect();
  return client;
}

describe('embedded PostgreSQL with node-postgres', () => {
  let embedded: EmbeddedPostgres | undefined;
  const server = (): EmbeddedPostgres => {
    if (!embedded) throw new Error('embedded PostgreSQL not started');
    return embedded;
  };

  beforeAll(async () => {
    embedded = await startEmbeddedPostgres({});
  });

  afterAll(async () => {
    await embedded?.close();
  });

  it('serves a postgres:// URL on a random local port', () => {
    expect(server().host).toBe('127.0.0.1');
    expect(server().port).toBeGreaterThan(0);
    expect(server().url).toBe(`postgres://postgres@127.0.0.1:${server().port}/postgres`);
  });

  it('accepts user postgres and speaks the extended protocol', async () => {
    const client = await connect(server().url);
    try {
      const result = await client.query({
        text: 'SELECT current_user AS who, current_database() AS db, $1::int + 1 AS n, $2::text AS s',
        values: ['41', 'ü'],
        rowMode: 'array',
        types: { getTypeParser: () => (value: string) => value },
      });
      expect(result.rows).toEqual([['postgres', 'postgres', '42', 'ü']]);
      expect(result.fields.map((field) => field.dataTypeID)).toEqual([19, 19, 23, 25]);
      const extended: pg.QueryConfig & { queryMode: 'extended' } = {
        text: 'SELECT 1; SELECT 2',
        queryMode: 'extended',
      };
      const multi = await rejectionOf(client.query(extended));
      expect(multi).toMatchObject({ code: '42601' });
    } finally {
      await client.end();
    }
  });

  it('commits and rolls back BEGIN ... COMMIT batches', async () => {
    const client = await connect(server().url);
    try {
      await client.query('CREATE TABLE batch_check (n int PRIMARY KEY)');
      await client.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
      await client.query('INSERT INTO batch_check VALUES ($1), ($2)', [1, 2]);
      expect(client.getTransactionStatus()).toBe('T');
      await client.query('COMMIT');
      await client.query('BEGIN');
      await client.query('INSERT INTO batch_check VALUES ($1)', [3]);
      expect(await rejectionOf(client.query('INSERT INTO batch_check VALUES ($1)', [1]))).toMatchObject({
        code: '23505',
      });
      expect(client.getTransactionStatus()).toBe('E');
      await client.query('ROLLBACK');
      expect(client.getTransactionStatus()).toBe('I');
      const { rows } = await client.query('SELECT n FROM batch_check ORDER BY n');
      expect(rows).toEqual([{ n: 1 }, { n: 2 }]);
    } finally {
      await client.end();
    }
  });

  it('applies the session settings the gateway pins', async () => {
    const client = await connect(server().url);
    try {
      await client.query("SET TimeZone TO 'Asia/Tokyo'");
      const tokyo = await client.query("SELECT '2024-01-02 03:04:05+00'::timestamptz::text AS t");
      expect(tokyo.rows).toEqual([{ t: '2024-01-02 12:04:05+09' }]);
      await client.query(
        "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO'; SET IntervalStyle TO 'postgres'; SET bytea_output TO 'hex'",
      );
      const { rows } = await client.query(
        "SELECT '2024-01-02 03:04:05+02'::timestamptz::text AS t, '26 hours'::interval::text AS i, '\\x0aff'::bytea::text AS b",
      );
      expect(rows).toEqual([{ t: '2024-01-02 01:04:05+00', i: '26:00:00', b: '\\x0aff' }]);
    } finally {
      await client.end();
    }
  });

  it('ignores the database name and startup options of the connection (documented limitation)', async () => {
    const client = await connect(server().url.replace(/\/postgres$/, '/eventra'), {
      options: '-c TimeZone=Asia/Tokyo',
    });
    try {
      const { rows } = await client.query('SELECT current_database() AS db');
      expect(rows).toEqual([{ db: 'postgres' }]);
    } finally {
      await client.end();
    }
  });

  it('keeps data in dataDir across restarts, creating the directory', async () => {
    const root = await mkdtemp(path.join(tmpdir(), 'eventra-pglite-'));
    const dataDir = path.join(root, 'nested', 'data');
    try {
      const first = await startEmbeddedPostgres({ dataDir });
      try {
        const client = await connect(first.url);
        await client.query('CREATE TABLE kept (v text)');
        await client.query('INSERT INTO kept VALUES ($1)', ['survives']);
        await client.end();
      } finally {
        await first.close();
      }
      expect((await stat(dataDir)).isDirectory()).toBe(true);
      const second = await startEmbeddedPostgres({ dataDir });
      try {
        const client = await connect(second.url);
        const { rows } = await client.query('SELECT v FROM kept');
        await client.end();
        expect(rows).toEqual([{ v: 'survives' }]);
      } finally {
        await second.close();
      }
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('Neon gateway in front of embedded PostgreSQL', () => {
  let embedded: EmbeddedPostgres | undefined;
  let gateway: NeonGateway | undefined;

  beforeAll(async () => {
    embedded = await startEmbeddedPostgres({});
    // PGlite's single backend keeps session settings across connections: the gateway must override these.
    const client = await connect(embedded.url);
    await client.query(
      "SET TimeZone TO 'Asia/Tokyo'; SET DateStyle TO 'SQL, DMY'; SET IntervalStyle TO 'iso_8601'; SET bytea_output TO 'escape'",
    );
    await client.end();
    gateway = await startNeonGateway({
      upstream: { host: embedded.host, port: embedded.port },
      maxConnectionsPerDatabase: 1,
    });
    neonConfig.fetchEndpoint = gateway.url;
  });

  afterAll(async () => {
    await gateway?.close();
    await embedded?.close();
  });

  it('pins the session settings even though PGlite ignores startup options', async () => {
    const sql = neon('postgresql://postgres@localhost/postgres');
    const [row] = await sql`SELECT current_setting('TimeZone') AS tz, current_setting('IntervalStyle') AS style,
      current_setting('bytea_output') AS bytea, current_setting('DateStyle') AS ds`;
    expect(row).toEqual({ tz: 'UTC', style: 'postgres', bytea: 'hex', ds: 'ISO, MDY' });
  });

  it('serialises concurrent requests over its single connection', async () => {
    const sql = neon('postgresql://postgres@localhost/postgres');
    const results = await Promise.all(Array.from({ length: 20 }, (_, index) => sql`SELECT ${index}::int AS i`));
    expect(results).toEqual(Array.from({ length: 20 }, (_, index) => [{ i: index }]));
  });

  it('reconnects after the gateway had to drop its connection', async () => {
    const sql = neon('postgresql://postgres@localhost/postgres');
    // A lone BEGIN leaves the connection in a transaction: the gateway closes it instead of pooling it.
    expect(await sql.query('BEGIN', [], { fullResults: true })).toMatchObject({ command: 'BEGIN' });
    for (let index = 0; index < 3; index += 1) {
      const error = expectNeonDbError(await rejectionOf(sql`SAVEPOINT s`));
      expect(error.code).toBe('25P01');
    }
    expect(await sql`SELECT 1 AS ok`).toEqual([{ ok: 1 }]);
  });

  it('reaches the one database whatever database the connection string names', async () => {
    const sql = neon('postgresql://postgres@localhost/postgres');
    await sql`CREATE TABLE IF NOT EXISTS gw_shared (v int)`;
    await sql`INSERT INTO gw_shared VALUES (1)`;
    const [row] = await sql`SELECT count(*)::int AS n, current_database() AS db FROM gw_shared`;
    expect(row).toEqual({ n: 1, db: 'postgres' });
  });
});
