import { createHash } from 'node:crypto';
import { NeonDbError, neon, neonConfig } from '@neondatabase/serverless';
import type { NeonQueryFunction } from '@neondatabase/serverless';
import { DrizzleQueryError, eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/neon-http';
import type { NeonHttpDatabase } from 'drizzle-orm/neon-http';
import {
  bigint,
  boolean,
  customType,
  integer,
  jsonb,
  numeric,
  pgTable,
  text,
  timestamp,
  uuid,
} from 'drizzle-orm/pg-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NeonGatewayOptions } from '../../dev/gateways/neon.ts';
import { startTestGateway } from './neon-target.ts';
import type { TestDatabase, TestGateway } from './neon-target.ts';

/**
 * Conformance of the local Neon gateway, with the production drivers as the oracle: whatever
 * @neondatabase/serverless and drizzle-orm/neon-http accept from real Neon they must accept from the gateway.
 * Shared by the real-PostgreSQL and the embedded-PGlite test files.
 */

export async function rejectionOf(promise: PromiseLike<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject');
}

export function expectNeonDbError(error: unknown): NeonDbError {
  expect(error).toBeInstanceOf(NeonDbError);
  if (!(error instanceof NeonDbError)) throw new Error('unreachable');
  return error;
}

const bytea = customType<{ data: Uint8Array; driverData: Buffer }>({
  dataType: () => 'bytea',
  toDriver: (value) => Buffer.from(value),
  fromDriver: (value) => new Uint8Array(value),
});

const things = pgTable('gw_things', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique('gw_things_name_unique'),
  count: integer('count'),
  big: bigint('big', { mode: 'bigint' }),
  bigNumber: bigint('big_number', { mode: 'number' }),
  amount: numeric('amount'),
  active: boolean('active'),
  doc: jsonb('doc'),
  at: timestamp('at', { withTimezone: true, mode: 'date' }),
  // Postgres arrays may hold NULL elements; drizzle's default element type does not say so.
  tags: text('tags').array().$type<(string | null)[]>(),
  scores: integer('scores').array().$type<(number | null)[]>(),
  bytes: bytea('bytes'),
});

const CREATE_THINGS = `CREATE TABLE gw_things (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL CONSTRAINT gw_things_name_unique UNIQUE,
  count integer,
  big bigint,
  big_number bigint,
  amount numeric,
  active boolean,
  doc jsonb,
  at timestamp with time zone,
  tags text[],
  scores integer[],
  bytes bytea
)`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
// Asymmetric matchers are typed `any`.
const anyUuid: unknown = expect.stringMatching(UUID);

export function describeNeonConformance(
  label: string,
  createDatabase: () => Promise<TestDatabase>,
  gatewayOptions: Pick<NeonGatewayOptions, 'preparedStatementLimit'> = {},
): void {
  describe(`Neon gateway conformance (${label})`, () => {
    let db: TestDatabase | undefined;
    let gateway: TestGateway | undefined;
    let sql: NeonQueryFunction<false, false>;

    beforeAll(async () => {
      db = await createDatabase();
      gateway = await startTestGateway(db, undefined, gatewayOptions);
      // A global of the driver: set once per test file (vitest isolates files).
      neonConfig.fetchEndpoint = gateway.gateway.url;
      sql = neon(db.connectionString());
      await sql.query(CREATE_THINGS);
      await sql.query('CREATE TABLE gw_log (id serial PRIMARY KEY, label text NOT NULL UNIQUE)');
    });

    afterAll(async () => {
      await gateway?.close();
      await db?.close();
    });

    describe('@neondatabase/serverless', () => {
      it('runs tagged-template queries with typed parameters', async () => {
        const rows = await sql`SELECT ${41}::int + 1 AS answer, ${'héllo 🌍 "q"'}::text AS greeting,
          ${true}::boolean AS yes, ${null}::text AS nothing, ${12345678901234n}::bigint AS big, ${1.5}::float8 AS half`;
        expect(rows).toEqual([
          { answer: 42, greeting: 'héllo 🌍 "q"', yes: true, nothing: null, big: '12345678901234', half: 1.5 },
        ]);
      });

      it('runs sql.query with placeholders', async () => {
        const rows = await sql.query('SELECT $1::int + $2::int AS sum, $3::text AS label', [2, 3, 'x']);
        expect(rows).toEqual([{ sum: 5, label: 'x' }]);
      });

      it('returns full results with real field metadata', async () => {
        const result = await sql.query('SELECT n, n::text AS s FROM generate_series(1, 3) AS n', [], {
          fullResults: true,
        });
        expect(result.command).toBe('SELECT');
        expect(result.rowCount).toBe(3);
        expect(result.rows).toEqual([
          { n: 1, s: '1' },
          { n: 2, s: '2' },
          { n: 3, s: '3' },
        ]);
        expect(result.fields.map((field) => [field.name, field.dataTypeID, field.dataTypeSize, field.format])).toEqual([
          ['n', 23, 4, 'text'],
          ['s', 25, -1, 'text'],
        ]);
      });

      it('reports table and column ids of table columns', async () => {
        const [expected] = await sql`SELECT 'gw_log'::regclass::oid::int AS oid`;
        const result = await sql.query('SELECT id, label FROM gw_log', [], { fullResults: true });
        expect(result.fields.map((field) => [field.name, field.tableID, field.columnID])).toEqual([
          ['id', expected?.oid, 1],
          ['label', expected?.oid, 2],
        ]);
      });

      it('returns rows as arrays in arrayMode, keeping duplicate column names', async () => {
        const rows = await sql.query('SELECT 1 AS a, 2 AS a, NULL::int AS b', [], { arrayMode: true });
        expect(rows).toEqual([[1, 2, null]]);
        const objects = await sql.query('SELECT 1 AS a, 2 AS b');
        expect(objects).toEqual([{ a: 1, b: 2 }]);
      });

      it('reports command and rowCount like node-postgres', async () => {
        const create = await sql.query('CREATE TABLE gw_counts (n int)', [], { fullResults: true });
        expect([create.command, create.rowCount]).toEqual(['CREATE', null]);
        const insert = await sql.query('INSERT INTO gw_counts SELECT generate_series(1, 5)', [], { fullResults: true });
        expect([insert.command, insert.rowCount, insert.fields]).toEqual(['INSERT', 5, []]);
        const update = await sql.query('UPDATE gw_counts SET n = n + 1 WHERE n > $1', [2], { fullResults: true });
        expect([update.command, update.rowCount]).toEqual(['UPDATE', 3]);
        const del = await sql.query('DELETE FROM gw_counts WHERE n < $1 RETURNING n', [4], { fullResults: true });
        expect([del.command, del.rowCount, del.rows]).toEqual(['DELETE', 2, [{ n: 1 }, { n: 2 }]]);
        const drop = await sql.query('DROP TABLE gw_counts', [], { fullResults: true });
        expect([drop.command, drop.rowCount]).toEqual(['DROP', null]);
      });

      it('round-trips dates, JSON, bytes and arrays as parameters', async () => {
        const at = new Date('2024-02-29T23:59:59.123Z');
        const doc = { nested: { list: [1, 'two', null, { ü: '€😀' }] }, quote: 'say "hi"', slash: 'c:\\dir' };
        const bytes = Buffer.from(Array.from({ length: 256 }, (_, index) => index));
        const [row] = await sql`SELECT ${at}::timestamptz AS at, ${doc}::jsonb AS doc, ${bytes} AS bytes,
          ${[1, null, 3]}::int[] AS ints, ${['a,b', 'c"d', null, 'NULL', '']}::text[] AS texts`;
        // drizzle (in this file) may switch timestamptz parsing to strings globally: compare instants.
        const received: unknown = row?.at;
        if (!(received instanceof Date) && typeof received !== 'string') throw new Error('timestamptz not parsed');
        expect(new Date(received).getTime()).toBe(at.getTime());
        expect(row?.doc).toEqual(doc);
        expect(row?.bytes).toEqual(bytes);
        expect(row?.ints).toEqual([1, null, 3]);
        expect(row?.texts).toEqual(['a,b', 'c"d', null, 'NULL', '']);
      });

      it('pins the session settings that shape text output', async () => {
        const [row] = await sql`SELECT current_setting('TimeZone') AS tz, current_setting('DateStyle') AS ds,
          current_setting('IntervalStyle') AS style, current_setting('bytea_output') AS bytea,
          '2024-01-02 03:04:05.5+02'::timestamptz::text AS ts, '1 day 2 hours'::interval::text AS iv,
          '\\x00ff'::bytea::text AS hex, '01/02/2024'::date::text AS mdy`;
        expect(row).toEqual({
          tz: 'UTC',
          ds: 'ISO, MDY',
          style: 'postgres',
          bytea: 'hex',
          ts: '2024-01-02 01:04:05.5+00',
          iv: '1 day 02:00:00',
          hex: '\\x00ff',
          mdy: '2024-01-02',
        });
      });

      it('returns large results intact', async () => {
        const rows = await sql`SELECT n, md5(n::text) AS h FROM generate_series(1, 20000) AS n`;
        expect(rows).toHaveLength(20000);
        expect(rows[0]).toEqual({ n: 1, h: createHash('md5').update('1').digest('hex') });
        expect(rows[19999]).toEqual({ n: 20000, h: createHash('md5').update('20000').digest('hex') });
      });

      it('commits a transaction as a whole', async () => {
        const results = await sql.transaction([
          sql`INSERT INTO gw_log (label) VALUES ('tx-1'), ('tx-2') RETURNING label`,
          sql`SELECT count(*)::int AS n FROM gw_log WHERE label LIKE 'tx-%'`,
        ]);
        expect(results).toEqual([[{ label: 'tx-1' }, { label: 'tx-2' }], [{ n: 2 }]]);
        const [after] = await sql`SELECT count(*)::int AS n FROM gw_log WHERE label LIKE 'tx-%'`;
        expect(after?.n).toBe(2);
      });

      it('accepts a function building the transaction, and per-query options', async () => {
        const results = await sql.transaction((tx) => [
          tx`SELECT ${7}::int AS seven`,
          tx.query('SELECT $1 AS s', ['x']),
        ]);
        expect(results).toEqual([[{ seven: 7 }], [{ s: 'x' }]]);
        const arrays = await sql.transaction([sql`SELECT 1 AS one`, sql`SELECT 2 AS two`], { arrayMode: true });
        expect(arrays).toEqual([[[1]], [[2]]]);
        const full = await sql.transaction([sql`SELECT 1 AS one`], { fullResults: true });
        expect(full[0]?.command).toBe('SELECT');
        expect(full[0]?.rows).toEqual([{ one: 1 }]);
      });

      it('applies isolation level, read only and deferrable', async () => {
        const results = await sql.transaction(
          [sql`SHOW transaction_isolation`, sql`SHOW transaction_read_only`, sql`SHOW transaction_deferrable`],
          { isolationLevel: 'Serializable', readOnly: true, deferrable: true },
        );
        expect(results).toEqual([
          [{ transaction_isolation: 'serializable' }],
          [{ transaction_read_only: 'on' }],
          [{ transaction_deferrable: 'on' }],
        ]);
        const repeatable = await sql.transaction([sql`SHOW transaction_isolation`], {
          isolationLevel: 'RepeatableRead',
        });
        expect(repeatable).toEqual([[{ transaction_isolation: 'repeatable read' }]]);
        const defaults = await sql.transaction([sql`SHOW transaction_read_only`]);
        expect(defaults).toEqual([[{ transaction_read_only: 'off' }]]);
      });

      it('refuses writes in a read-only transaction', async () => {
        const error = expectNeonDbError(
          await rejectionOf(sql.transaction([sql`INSERT INTO gw_log (label) VALUES ('ro')`], { readOnly: true })),
        );
        expect(error.code).toBe('25006');
        const rows = await sql`SELECT label FROM gw_log WHERE label = 'ro'`;
        expect(rows).toEqual([]);
      });

      it('rolls the whole transaction back on an error', async () => {
        const error = expectNeonDbError(
          await rejectionOf(
            sql.transaction([
              sql`INSERT INTO gw_log (label) VALUES ('rollback-1')`,
              sql`INSERT INTO gw_log (label) VALUES ('rollback-2')`,
              sql`INSERT INTO gw_log (label) VALUES ('rollback-1')`,
            ]),
          ),
        );
        expect(error.code).toBe('23505');
        expect(error.constraint).toBe('gw_log_label_key');
        const rows = await sql`SELECT label FROM gw_log WHERE label LIKE 'rollback-%'`;
        expect(rows).toEqual([]);
        // The connection that ran the failed transaction is usable again.
        const [row] = await sql`SELECT 1 AS ok`;
        expect(row).toEqual({ ok: 1 });
      });
    });

    describe('drizzle-orm neon-http', () => {
      let orm: NeonHttpDatabase;
      const fullRow = {
        name: 'full',
        count: -2147483648,
        big: 9223372036854775807n,
        bigNumber: Number.MAX_SAFE_INTEGER,
        amount: '12345678901234567890.123456789',
        active: true,
        doc: { a: { b: [1, 'two', null, { c: 'ü€😀' }] }, quote: 'he said "hi"', slash: 'c:\\path', empty: {} },
        at: new Date('2023-10-29T01:30:00.456Z'),
        tags: ['plain', 'with,comma', 'with "quotes"', 'back\\slash', null, '', 'NULL', ' spaced ', '{braces}'],
        scores: [1, null, -3],
        bytes: Uint8Array.from({ length: 256 }, (_, index) => index),
      };

      beforeAll(() => {
        if (!db) throw new Error('database not started');
        orm = drizzle({ client: neon(db.connectionString()) });
      });

      it('inserts and selects every column type', async () => {
        const [inserted] = await orm.insert(things).values(fullRow).returning();
        expect(inserted?.id).toMatch(UUID);
        expect(inserted).toEqual({ id: inserted?.id, ...fullRow });
        const selected = await orm.select().from(things).where(eq(things.name, 'full'));
        expect(selected).toEqual([inserted]);
        expect(selected[0]?.at?.getTime()).toBe(fullRow.at.getTime());
        expect(selected[0]?.big).toBe(9223372036854775807n);
        expect(Array.from(selected[0]?.bytes ?? [])).toEqual(Array.from(fullRow.bytes));
      });

      it('stores nulls in every nullable column', async () => {
        const [inserted] = await orm.insert(things).values({ name: 'nulls' }).returning();
        expect(inserted).toEqual({
          id: anyUuid,
          name: 'nulls',
          count: null,
          big: null,
          bigNumber: null,
          amount: null,
          active: null,
          doc: null,
          at: null,
          tags: null,
          scores: null,
          bytes: null,
        });
      });

      it('updates and deletes with returning', async () => {
        await orm.insert(things).values({ name: 'mutable', count: 1, tags: ['a'] });
        const updated = await orm
          .update(things)
          .set({ count: 2, active: false, tags: ['b', null], at: new Date(0) })
          .where(eq(things.name, 'mutable'))
          .returning({ count: things.count, active: things.active, tags: things.tags, at: things.at });
        expect(updated).toEqual([{ count: 2, active: false, tags: ['b', null], at: new Date(0) }]);
        const deleted = await orm.delete(things).where(eq(things.name, 'mutable')).returning({ name: things.name });
        expect(deleted).toEqual([{ name: 'mutable' }]);
        expect(await orm.select().from(things).where(eq(things.name, 'mutable'))).toEqual([]);
      });

      it('commits a batch together', async () => {
        const [first, second, count] = await orm.batch([
          orm.insert(things).values({ name: 'batch-1', count: 1 }).returning({ name: things.name }),
          orm.insert(things).values({ name: 'batch-2', count: 2 }).returning({ name: things.name }),
          orm.select({ name: things.name }).from(things).where(eq(things.count, 2)),
        ]);
        expect(first).toEqual([{ name: 'batch-1' }]);
        expect(second).toEqual([{ name: 'batch-2' }]);
        expect(count).toEqual([{ name: 'batch-2' }]);
      });

      it('rolls a failing batch back together', async () => {
        const error = await rejectionOf(
          orm.batch([
            orm.insert(things).values({ name: 'batch-rollback' }),
            orm.insert(things).values({ name: 'batch-1' }),
          ]),
        );
        expect(expectNeonDbError(error).code).toBe('23505');
        expect(await orm.select().from(things).where(eq(things.name, 'batch-rollback'))).toEqual([]);
      });

      it('surfaces a unique violation as NeonDbError inside DrizzleQueryError', async () => {
        const error = await rejectionOf(orm.insert(things).values({ name: 'full' }));
        expect(error).toBeInstanceOf(DrizzleQueryError);
        const cause = expectNeonDbError(error instanceof DrizzleQueryError ? error.cause : undefined);
        expect(cause).toMatchObject({
          code: '23505',
          constraint: 'gw_things_name_unique',
          table: 'gw_things',
          schema: 'public',
          severity: 'ERROR',
          detail: 'Key (name)=(full) already exists.',
        });
        expect(cause.message).toBe('duplicate key value violates unique constraint "gw_things_name_unique"');
      });
    });

    describe('errors', () => {
      it('maps a syntax error with its position', async () => {
        const error = expectNeonDbError(await rejectionOf(sql.query('SELECT 1 FROM WHERE')));
        expect(error.code).toBe('42601');
        expect(error.message).toBe('syntax error at or near "WHERE"');
        expect(error.position).toBe('15');
        expect(error.severity).toBe('ERROR');
        expect(error.line).toMatch(/^\d+$/);
        expect(typeof error.file).toBe('string');
        expect(typeof error.routine).toBe('string');
        expect(error.detail).toBeUndefined();
      });

      it('refuses more than one statement per query', async () => {
        const error = expectNeonDbError(await rejectionOf(sql.query('SELECT 1; SELECT 2')));
        expect(error.code).toBe('42601');
        expect(error.message).toBe('cannot insert multiple commands into a prepared statement');
      });

      it('maps errors raised in functions, with internal position and query', async () => {
        const error = expectNeonDbError(
          await rejectionOf(sql.query(`DO $$ BEGIN EXECUTE 'SELECT * FROM gw_missing_table'; END $$`)),
        );
        expect(error.code).toBe('42P01');
        expect(error.internalPosition).toBe('15');
        expect(error.internalQuery).toBe('SELECT * FROM gw_missing_table');
        expect(error.where).toMatch(/PL\/pgSQL function/);
        expect(error.position).toBeUndefined();
      });

      it('maps data errors with their data type', async () => {
        const error = expectNeonDbError(await rejectionOf(sql`SELECT ${'not a number'}::int`));
        expect(error.code).toBe('22P02');
        expect(error.message).toBe('invalid input syntax for type integer: "not a number"');
      });
    });
  });
}
