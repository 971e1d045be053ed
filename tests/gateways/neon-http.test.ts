import { neon, neonConfig } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_KEEP_ALIVE_TIMEOUT_MS } from '../../dev/gateways/keep-alive.ts';
import { detectServices } from '../setup/services.ts';
import { expectNeonDbError, rejectionOf } from './neon-conformance.ts';
import { createTestDatabase, directClient, startTestGateway } from './neon-target.ts';
import type { TestDatabase, TestGateway } from './neon-target.ts';

/** The gateway's HTTP surface, spoken to with plain fetch (other callers than the driver, and malformed input). */

const realPostgres = (await detectServices()).postgres.kind === 'real';

const ERROR_KEYS = [
  'message',
  'code',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'severity',
  'where',
  'table',
  'column',
  'schema',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
].sort();

interface Reply {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

let db: TestDatabase;
let gw: TestGateway;
const cleanups: (() => Promise<void>)[] = [];

async function call(url: string, init: RequestInit): Promise<Reply> {
  const response = await fetch(url, init);
  const text = await response.text();
  expect(response.headers.get('content-type')).toBe('application/json');
  const body: unknown = JSON.parse(text);
  if (!isRecord(body)) throw new Error(`expected a JSON object, got ${text}`);
  return { status: response.status, headers: response.headers, body };
}

function post(body: unknown, headers: Record<string, string> = {}, connection = db.connectionString()): Promise<Reply> {
  return call(gw.gateway.url, {
    method: 'POST',
    headers: { 'Neon-Connection-String': connection, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function expectErrorBody(reply: Reply, status: number, message: string | RegExp): void {
  expect(reply.status).toBe(status);
  expect(Object.keys(reply.body).sort()).toEqual(ERROR_KEYS);
  if (typeof message === 'string') expect(reply.body.message).toBe(message);
  else expect(reply.body.message).toMatch(message);
  expect(reply.headers.get('access-control-allow-origin')).toBe('*');
}

/** A non-database error: code and severity "", every other field null. */
function expectGatewayError(reply: Reply, status: number, message: string | RegExp): void {
  expectErrorBody(reply, status, message);
  const { message: _message, code, severity, ...rest } = reply.body;
  expect([code, severity]).toEqual(['', '']);
  expect(Object.values(rest).every((value) => value === null)).toBe(true);
}

beforeAll(async () => {
  db = await createTestDatabase('services');
  cleanups.push(() => db.close());
  gw = await startTestGateway(db);
  cleanups.push(() => gw.close());
  neonConfig.fetchEndpoint = gw.gateway.url;
  await post({ query: 'CREATE TABLE gw_items (id int PRIMARY KEY, label text)' });
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('successful responses', () => {
  const QUERY = `SELECT $1::int AS n, $2::text AS s, $3::numeric AS num, $4::timestamptz AS ts, $5::jsonb AS doc,
    $6::bytea AS bytes, $7::int[] AS ints, $8::interval AS iv, $9::uuid AS id, $10::bool AS flag, NULL::text AS nothing`;
  const PARAMS = [
    '7',
    'héllo "world"',
    '1.50',
    '2024-05-06T07:08:09.123+02:00',
    '{"b": [1, 2], "a": "ü"}',
    '\\x00ff10',
    '{1,NULL,3}',
    '1 day 2 hours',
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    'true',
  ];

  it.runIf(realPostgres)('matches node-postgres exactly (fields, text values, command, rowCount)', async () => {
    const oracle = await directClient(db);
    try {
      const expected = await oracle.query({
        text: QUERY,
        values: PARAMS,
        rowMode: 'array',
        types: { getTypeParser: () => (value: string) => value },
      });
      const reply = await post(
        { query: QUERY, params: PARAMS },
        { 'Neon-Array-Mode': 'true', 'Neon-Raw-Text-Output': 'true' },
      );
      expect(reply.status).toBe(200);
      expect(reply.body).toEqual({
        fields: expected.fields.map((field) => ({ ...field })),
        rows: expected.rows,
        command: expected.command,
        rowCount: expected.rowCount,
        rowAsArray: true,
      });
    } finally {
      await oracle.end();
    }
  });

  it('returns Postgres text output and object rows by default', async () => {
    const reply = await post({ query: QUERY, params: PARAMS }, { 'Neon-Raw-Text-Output': 'true' });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('access-control-allow-origin')).toBe('*');
    expect(reply.body.rowAsArray).toBe(false);
    expect(reply.body.command).toBe('SELECT');
    expect(reply.body.rowCount).toBe(1);
    expect(reply.body.rows).toEqual([
      {
        n: '7',
        s: 'héllo "world"',
        num: '1.50',
        ts: '2024-05-06 05:08:09.123+00',
        doc: '{"a": "ü", "b": [1, 2]}',
        bytes: '\\x00ff10',
        ints: '{1,NULL,3}',
        iv: '1 day 02:00:00',
        id: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        flag: 't',
        nothing: null,
      },
    ]);
    expect(reply.body.fields).toContainEqual({
      name: 'n',
      dataTypeID: 23,
      tableID: 0,
      columnID: 0,
      dataTypeSize: 4,
      dataTypeModifier: -1,
      format: 'text',
    });
  });

  it('lets a query override Neon-Array-Mode', async () => {
    const arrays = await post(
      { query: 'SELECT 1 AS a' },
      { 'Neon-Array-Mode': 'true', 'Neon-Raw-Text-Output': 'true' },
    );
    expect([arrays.body.rows, arrays.body.rowAsArray]).toEqual([[['1']], true]);
    const objects = await post(
      { query: 'SELECT 1 AS a', arrayMode: false },
      { 'Neon-Array-Mode': 'true', 'Neon-Raw-Text-Output': 'true' },
    );
    expect([objects.body.rows, objects.body.rowAsArray]).toEqual([[{ a: '1' }], false]);
  });

  it('converts values to JSON types without Neon-Raw-Text-Output', async () => {
    const reply = await post({
      query: `SELECT 1::int2 AS small, 2::int AS i, 3::int8 AS big, 1.5::float8 AS f, 'NaN'::float4 AS nan,
        true AS yes, false AS no, '{"a": [1, null]}'::jsonb AS doc, ARRAY[1, NULL]::int[] AS ints,
        ARRAY[['a', 'b"c'], ['d,e', NULL]]::text[] AS texts, ARRAY[true, false] AS flags, '{}'::int[] AS empty,
        '[0:1]={7,8}'::int[] AS bounded, 'x'::text AS s, NULL::int AS nothing, 1.25::numeric AS num`,
    });
    expect(reply.status).toBe(200);
    expect(reply.body.rows).toEqual([
      {
        small: 1,
        i: 2,
        big: '3',
        f: 1.5,
        nan: 'NaN',
        yes: true,
        no: false,
        doc: { a: [1, null] },
        ints: [1, null],
        texts: [
          ['a', 'b"c'],
          ['d,e', null],
        ],
        flags: [true, false],
        empty: [],
        bounded: [7, 8],
        s: 'x',
        nothing: null,
        num: '1.25',
      },
    ]);
  });

  it('accepts JSON non-string parameters as Neon does', async () => {
    const reply = await post(
      {
        query:
          'SELECT $1::int + 1 AS n, $2::bool AS b, $3::jsonb AS doc, $4::int[] AS ints, $5::text[] AS texts, $6 AS nothing',
        params: [41, true, { k: 'v', n: [1] }, [1, null, 3], ['a"b', 'c,d', { o: 1 }], null],
      },
      { 'Neon-Raw-Text-Output': 'true' },
    );
    expect(reply.status).toBe(200);
    expect(reply.body.rows).toEqual([
      {
        n: '42',
        b: 't',
        doc: '{"k": "v", "n": [1]}',
        ints: '{1,NULL,3}',
        texts: '{"a\\"b","c,d","{\\"o\\":1}"}',
        nothing: null,
      },
    ]);
  });

  it('accepts a JSON content type as well as none', async () => {
    const reply = await post({ query: 'SELECT 1 AS one' }, { 'Content-Type': 'application/json' });
    expect(reply.status).toBe(200);
    expect(reply.body.rows).toEqual([{ one: 1 }]);
  });

  it('runs batches in one transaction and echoes the Neon-Batch headers', async () => {
    const reply = await post(
      {
        queries: [
          { query: 'SHOW transaction_isolation' },
          { query: 'SHOW transaction_read_only' },
          { query: 'SELECT $1::int AS n', params: ['5'], arrayMode: true },
        ],
      },
      {
        'Neon-Raw-Text-Output': 'true',
        'Neon-Batch-Isolation-Level': 'RepeatableRead',
        'Neon-Batch-Read-Only': 'true',
        'Neon-Batch-Deferrable': 'true',
      },
    );
    expect(reply.status).toBe(200);
    expect(reply.headers.get('neon-batch-isolation-level')).toBe('RepeatableRead');
    expect(reply.headers.get('neon-batch-read-only')).toBe('true');
    expect(reply.headers.get('neon-batch-deferrable')).toBe('true');
    const results = reply.body.results;
    expect(Array.isArray(results)).toBe(true);
    expect(results).toMatchObject([
      { rows: [{ transaction_isolation: 'repeatable read' }], command: 'SHOW', rowAsArray: false },
      { rows: [{ transaction_read_only: 'on' }] },
      { rows: [['5']], rowAsArray: true, rowCount: 1 },
    ]);
  });

  it('does not echo batch headers that were not set', async () => {
    const reply = await post({ queries: [{ query: 'SELECT 1' }] }, { 'Neon-Batch-Read-Only': 'false' });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('neon-batch-read-only')).toBeNull();
    expect(reply.headers.get('neon-batch-isolation-level')).toBeNull();
  });

  it('rolls a failing batch back and returns the first error', async () => {
    const reply = await post({
      queries: [
        { query: 'INSERT INTO gw_items VALUES (1, $1)', params: ['one'] },
        { query: 'INSERT INTO gw_items VALUES (1, $1)', params: ['again'] },
        { query: 'SELECT nonsense_function()' },
      ],
    });
    expectErrorBody(reply, 400, 'duplicate key value violates unique constraint "gw_items_pkey"');
    expect(reply.body).toMatchObject({
      code: '23505',
      constraint: 'gw_items_pkey',
      table: 'gw_items',
      severity: 'ERROR',
    });
    const after = await post({ query: 'SELECT count(*)::int AS n FROM gw_items' });
    expect(after.body.rows).toEqual([{ n: 0 }]);
  });

  it('does not reuse a connection left inside a transaction', async () => {
    const begin = await post({ query: 'BEGIN' });
    expect([begin.status, begin.body.command]).toEqual([200, 'BEGIN']);
    // Outside a transaction block SAVEPOINT fails: the next request must not land in the open transaction.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const savepoint = await post({ query: 'SAVEPOINT s' });
      expectErrorBody(savepoint, 400, 'SAVEPOINT can only be used in transaction blocks');
      expect(savepoint.body.code).toBe('25P01');
    }
  });

  it('keeps an idle connection open longer than workerd keeps its own (no close racing a reused connection)', async () => {
    const reply = await post({ query: 'SELECT 1 AS one' });
    expect(reply.status).toBe(200);
    // workerd closes a pooled connection after 5 s idle; the gateway must wait longer, so the Worker always closes first.
    const timeout = Number(/timeout=(\d+)/.exec(reply.headers.get('keep-alive') ?? '')?.[1]);
    expect(timeout).toBeGreaterThan(5);
    expect(timeout * 1000).toBe(GATEWAY_KEEP_ALIVE_TIMEOUT_MS);
  });

  it('serves concurrent requests through the pool', async () => {
    const replies = await Promise.all(
      Array.from({ length: 25 }, (_, index) =>
        post({ query: 'SELECT $1::int AS i, pg_backend_pid() AS pid, pg_sleep(0.02)', params: [String(index)] }),
      ),
    );
    expect(replies.map((reply) => reply.status)).toEqual(Array(25).fill(200));
    expect(replies.map((reply) => (reply.body.rows as { i: number }[])[0]?.i)).toEqual(
      Array.from({ length: 25 }, (_, index) => index),
    );
    const pids = new Set(replies.map((reply) => (reply.body.rows as { pid: number }[])[0]?.pid));
    expect(pids.size).toBeGreaterThanOrEqual(1);
    expect(pids.size).toBeLessThanOrEqual(db.kind === 'pglite' ? 1 : 10);
  });
});

describe('error responses', () => {
  it('answers malformed JSON with 400', async () => {
    const reply = await post('{"query": "SELECT 1"');
    expectGatewayError(reply, 400, /^could not parse the HTTP request body: /);
  });

  it('answers a body without query with 400', async () => {
    expectGatewayError(await post({ params: [] }), 400, 'could not parse the HTTP request body: missing field `query`');
    expectGatewayError(await post('[]'), 400, /^could not parse the HTTP request body/);
    expectGatewayError(await post(''), 400, /^could not parse the HTTP request body/);
  });

  it('answers wrong types with 400', async () => {
    expectGatewayError(await post({ query: 42 }), 400, /`query`.*expected a string/);
    expectGatewayError(await post({ query: 'SELECT 1', params: { a: 1 } }), 400, /`params`.*expected an array/);
    expectGatewayError(await post({ query: 'SELECT 1', arrayMode: 'yes' }), 400, /`arrayMode`.*expected a boolean/);
    expectGatewayError(await post({ queries: 'SELECT 1' }), 400, /`queries`.*expected an array/);
    expectGatewayError(await post({ queries: [{ query: 'SELECT 1' }, { params: [] }] }), 400, /queries\[1\]/);
  });

  it('answers a wrong isolation level with 400', async () => {
    const reply = await post({ queries: [{ query: 'SELECT 1' }] }, { 'Neon-Batch-Isolation-Level': 'Chaos' });
    expectGatewayError(reply, 400, 'invalid isolation level');
  });

  it('answers missing or invalid connection strings with 400', async () => {
    const missing = await call(gw.gateway.url, { method: 'POST', body: '{"query":"SELECT 1"}' });
    expectGatewayError(missing, 400, 'invalid header: neon-connection-string');
    expectGatewayError(await post({ query: 'SELECT 1' }, {}, 'not a url'), 400, /^invalid connection string: /);
    expectGatewayError(await post({ query: 'SELECT 1' }, {}, 'mysql://u@h/db'), 400, 'incorrect scheme');
    expectGatewayError(await post({ query: 'SELECT 1' }, {}, 'postgresql://u@localhost'), 400, 'missing database name');
    expectGatewayError(await post({ query: 'SELECT 1' }, {}, 'postgresql://localhost/db'), 400, 'missing username');
    expectGatewayError(
      await post({ query: 'SELECT 1' }, {}, 'postgresql://u%zz@localhost/db'),
      400,
      /percent-encoding/,
    );
  });

  it.runIf(realPostgres)('maps a connection to an unknown database to 400 with its SQLSTATE', async () => {
    const reply = await post({ query: 'SELECT 1' }, {}, `postgresql://${db.user}@localhost/eventra_gw_does_not_exist`);
    expectErrorBody(reply, 400, 'database "eventra_gw_does_not_exist" does not exist');
    expect(reply.body.code).toBe('3D000');
  });

  it('answers unknown paths with 404 and other methods with 405', async () => {
    const notFound = await call(gw.gateway.url.replace(/\/sql$/, '/nope'), { method: 'POST', body: '{}' });
    expectGatewayError(notFound, 404, 'not found: /nope');
    const wrongMethod = await call(gw.gateway.url, { method: 'GET' });
    expectGatewayError(wrongMethod, 405, 'method not allowed: GET');
    expect(wrongMethod.headers.get('allow')).toBe('OPTIONS, POST');
  });

  it('answers CORS preflight requests', async () => {
    const response = await fetch(gw.gateway.url, {
      method: 'OPTIONS',
      headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'POST' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('*');
    expect(response.headers.get('access-control-allow-headers')).toContain('Neon-Connection-String');
    expect(response.headers.get('allow')).toBe('OPTIONS, POST');
  });

  it('refuses a request body over 10 MiB with 413 and keeps serving', async () => {
    const huge = JSON.stringify({ query: 'SELECT $1::text AS s', params: ['x'.repeat(10 * 1024 * 1024)] });
    expectGatewayError(await post(huge), 413, 'request is too large (max is 10485760 bytes)');
    const fits = await post({ query: 'SELECT length($1::text) AS n', params: ['x'.repeat(9 * 1024 * 1024)] });
    expect(fits.body.rows).toEqual([{ n: 9 * 1024 * 1024 }]);
  });

  it('refuses a response over 10 MiB with 507 and keeps serving', async () => {
    const reply = await post({ query: "SELECT repeat('x', 1048576) AS s FROM generate_series(1, 11)" });
    expectGatewayError(reply, 507, 'response is too large (max is 10485760 bytes)');
    const batch = await post({
      queries: [
        { query: 'INSERT INTO gw_items VALUES (507, $1)', params: ['lost'] },
        { query: "SELECT repeat('x', 1048576) AS s FROM generate_series(1, 6)" },
        { query: "SELECT repeat('y', 1048576) AS s FROM generate_series(1, 6)" },
      ],
    });
    expectGatewayError(batch, 507, 'response is too large (max is 10485760 bytes)');
    const after = await post({ query: 'SELECT count(*)::int AS n FROM gw_items WHERE id = 507' });
    expect(after.body.rows).toEqual([{ n: 0 }]);
  });

  it('logs one line per error without SQL parameters', async () => {
    const before = gw.logs.length;
    const secret = 'sekret-password-4711';
    const reply = await post({ query: 'SELECT $1::int', params: [secret] });
    expect(reply.status).toBe(400);
    const lines = gw.logs.slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.fields).toMatchObject({ status: 400, code: '22P02' });
    expect(JSON.stringify(lines)).not.toContain('sekret');
  });
});

describe('round trips', () => {
  const roundTrips = async (trace?: string): Promise<Record<string, unknown>> => {
    const base = gw.gateway.url.replace(/\/sql$/, '/__eventra/round-trips');
    const reply = await call(trace === undefined ? base : `${base}/${trace}`, { method: 'GET' });
    return reply.body;
  };

  it('counts requests and statements per eventra_trace', async () => {
    const sql = neon(db.connectionString({ eventra_trace: 'abc' }));
    expect(await sql`SELECT 1 AS one`).toEqual([{ one: 1 }]);
    expect(await sql`SELECT 2 AS two`).toEqual([{ two: 2 }]);
    expect(await roundTrips('abc')).toEqual({
      trace: 'abc',
      requests: 2,
      commands: 2,
      databases: { [db.database]: 2 },
    });

    const batched = neon(db.connectionString({ eventra_trace: 'batch-1', sslmode: 'require' }));
    await batched.transaction([batched`SELECT 1`, batched`SELECT 2`, batched`SELECT 3`]);
    expect(await roundTrips('batch-1')).toEqual({
      trace: 'batch-1',
      requests: 1,
      commands: 3,
      databases: { [db.database]: 1 },
    });
  });

  it('counts failed requests too, and untraced ones only in the total', async () => {
    const { total: before } = await roundTrips();
    const sql = neon(db.connectionString({ eventra_trace: 'failing' }));
    expectNeonDbError(await rejectionOf(sql`SELECT * FROM gw_no_such_table`));
    expect(await roundTrips('failing')).toEqual({
      trace: 'failing',
      requests: 1,
      commands: 1,
      databases: { [db.database]: 1 },
    });
    await neon(db.connectionString())`SELECT 1`;
    await neon(db.connectionString({ eventra_trace: 'not a valid trace!' }))`SELECT 1`;
    const { total: after } = await roundTrips();
    expect(after).toEqual({
      requests: (before as { requests: number }).requests + 3,
      commands: (before as { commands: number }).commands + 3,
    });
  });

  it('serves no captures unless capture is on', async () => {
    const sql = neon(db.connectionString({ eventra_trace: 'not-captured' }));
    await sql`SELECT 1`;
    const reply = await call(gw.gateway.url.replace(/\/sql$/, '/__eventra/captures/not-captured'), { method: 'GET' });
    expect(reply.status).toBe(404);
  });

  it('with capture on, keeps each traced request as sent, replayable byte for byte', async () => {
    const capturing = await startTestGateway(db, undefined, { capture: true });
    const previous = neonConfig.fetchEndpoint;
    neonConfig.fetchEndpoint = capturing.gateway.url;
    try {
      const sql = neon(db.connectionString({ eventra_trace: 'captured-1' }));
      await sql.transaction([sql`SELECT ${41}::int + 1 AS answer`, sql`SELECT ${'x'} AS text`]);
      await neon(db.connectionString())`SELECT 'untraced'`;
      const base = capturing.gateway.url.replace(/\/sql$/, '/__eventra/captures');
      const reply = await call(`${base}/captured-1`, { method: 'GET' });
      expect(reply.status).toBe(200);
      expect(reply.body.requests).toHaveLength(1);
      const [request] = reply.body.requests as [{ headers: Record<string, string>; body: string }];
      expect(JSON.parse(request.body)).toEqual({
        queries: [
          { query: 'SELECT $1::int + 1 AS answer', params: ['41'] },
          { query: 'SELECT $1 AS text', params: ['x'] },
        ],
      });
      expect(request.headers['neon-connection-string']).toContain('eventra_trace=captured-1');
      // The capture is a complete request: sent again, it runs again.
      const replay = await fetch(capturing.gateway.url, {
        method: 'POST',
        headers: { ...request.headers, 'content-type': 'application/json' },
        body: request.body,
      });
      expect(replay.status).toBe(200);
      const replayed = (await replay.json()) as { results: { rows: unknown[] }[] };
      expect(replayed.results.map((result) => result.rows)).toEqual([[['42']], [['x']]]);
      expect((await call(`${base}/unknown-trace`, { method: 'GET' })).body).toEqual({
        trace: 'unknown-trace',
        requests: [],
      });
      expect((await call(`${base}/not%20valid`, { method: 'GET' })).status).toBe(400);
    } finally {
      neonConfig.fetchEndpoint = previous;
      await capturing.close();
    }
  });

  it('keeps eventra_trace away from PostgreSQL', async () => {
    const sql = neon(db.connectionString({ eventra_trace: 'hidden', application_name: 'driver' }));
    const [row] = await sql`SELECT current_setting('application_name') AS app, current_database() AS db`;
    expect(row?.db).toBe(db.database);
    // PGlite ignores startup parameters, so only the real server reports the gateway's application_name.
    if (db.kind === 'postgres') expect(row?.app).toBe('eventra-neon-gateway');
  });
});
