import { neon, neonConfig } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeNeonConformance, expectNeonDbError, rejectionOf } from './neon-conformance.ts';
import { createTestDatabase, startTestGateway, type TestDatabase, type TestGateway } from './neon-target.ts';

// The gateway as the Worker test suite runs it (tests/setup/global.ts): statements kept prepared per connection. The
// whole conformance suite again, with a limit of 3 statements per connection, so connections are also replaced all
// the time; then what keeping them changes on the database side, and what it must not change.
describeNeonConformance('statements kept prepared, 3 per connection', () => createTestDatabase('services'), {
  preparedStatementLimit: 3,
});

describe('Neon gateway with preparedStatementLimit', () => {
  let db: TestDatabase;
  let gateway: TestGateway;
  let sql: ReturnType<typeof neon>;

  beforeAll(async () => {
    db = await createTestDatabase('services');
    gateway = await startTestGateway(db, undefined, { preparedStatementLimit: 4 });
    neonConfig.fetchEndpoint = gateway.gateway.url;
    sql = neon(db.connectionString());
  });

  afterAll(async () => {
    await gateway.close();
    await db.close();
  });

  // PGlite (embedded services) keeps one session across connections, so the gateway keeps nothing there: skipped.
  const onPostgres = () => db.kind === 'postgres';

  it('prepares a statement once per connection and runs it again with new parameters', async (context) => {
    if (!onPostgres()) context.skip();
    const text = 'SELECT $1::int * 2 AS doubled, pg_backend_pid() AS pid';
    const first = (await sql.query(text, [21])) as { doubled: number; pid: number }[];
    const second = (await sql.query(text, [5])) as { doubled: number; pid: number }[];
    expect(first[0]?.doubled).toBe(42);
    expect(second[0]?.doubled).toBe(10);
    // One idle connection served both (the pool reuses it), and the statement is there under one name.
    expect(second[0]?.pid).toBe(first[0]?.pid);
    const kept = (await sql.query(
      'SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = $1 AND name LIKE $2',
      [text, 'eventra\\_%'],
    )) as { n: number }[];
    expect(kept).toEqual([{ n: 1 }]);
  });

  it('answers the same error every time for a statement that does not parse or fails as it runs', async () => {
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const syntax = expectNeonDbError(await rejectionOf(sql.query('SELEC 1')));
      expect(syntax.code).toBe('42601');
      const runtime = expectNeonDbError(await rejectionOf(sql.query('SELECT 1 / $1::int AS q', [0])));
      expect(runtime.code).toBe('22012');
    }
    expect(await sql.query('SELECT 1 / $1::int AS q', [1])).toEqual([{ q: 1 }]);
  });

  it('replaces a connection that holds the limit when it is released', async (context) => {
    if (!onPostgres()) context.skip();
    const pid = async (): Promise<number> =>
      ((await sql.query('SELECT pg_backend_pid() AS pid')) as { pid: number }[])[0]?.pid ?? -1;
    const before = await pid();
    // Distinct statements until the connection holds 4 (the limit); it is closed when released, not reused.
    for (let i = 0; i < 4; i += 1) await sql.query(`SELECT ${i} AS n`);
    const after = await pid();
    expect(after).not.toBe(before);
    expect(after).toBeGreaterThan(0);
  });

  it('keeps a transaction batch atomic: a failing statement rolls back the ones before it', async () => {
    await sql.query('CREATE TABLE IF NOT EXISTS gw_prepared (n int PRIMARY KEY)');
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const error = await rejectionOf(
        sql.transaction([sql`INSERT INTO gw_prepared (n) VALUES (${attempt})`, sql`SELECT 1 / ${0}::int`]),
      );
      expectNeonDbError(error);
    }
    expect(await sql.query('SELECT count(*)::int AS n FROM gw_prepared')).toEqual([{ n: 0 }]);
  });
});
