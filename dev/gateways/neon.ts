import { createHash } from 'node:crypto';
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { RoundTripCounter, TRACE_PATTERN, boundedEntry, serveRoundTrips } from './round-trips.ts';
import { BodyTooLarge, readBody } from './body.ts';
import { closeServer, keepIdleConnectionsLongerThanClients } from './keep-alive.ts';

/**
 * Local stand-in for Neon's SQL-over-HTTP endpoint (see /work/shared/PROTOCOLS.md, section A), in front of a real
 * PostgreSQL or the embedded PGlite. The production driver (@neondatabase/serverless, drizzle-orm/neon-http) talks to
 * it unchanged once `neonConfig.fetchEndpoint` points here.
 */
export interface NeonGatewayOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0: a random free port. */
  port?: number;
  /** The PostgreSQL to connect to (or the embedded one's socket); credentials come from each request. */
  upstream: { host: string; port: number };
  /** Pool size per (user, password, database); default 10. The embedded PGlite needs 1. */
  maxConnectionsPerDatabase?: number;
  /**
   * PGlite serves every login over one session as its bootstrap superuser. With `sharedSession`, all requests share
   * one pool connected as `sharedSession.user`, and each request first runs `SET ROLE <its user>` (or `RESET ROLE`
   * for that user), so row-level security applies as it would for a real login of that role.
   */
  sharedSession?: { user: string; database: string };
  /** One call per failed request or lost connection; never given SQL text, parameters or database messages. */
  log?: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * Benchmarks only (`npm run bench`): keep each traced request as it arrived (body and Neon headers, the last
   * MAX_CAPTURED_TRACES traces) and serve them at GET /__eventra/captures/<trace>, so the query-plan check and the
   * SQL floor replay exactly what the Worker sent. Off by default: captures hold SQL parameters.
   */
  capture?: boolean;
  /**
   * The test suite only: keep each distinct statement prepared on each connection (a named statement per SQL text),
   * up to this many per connection (one that holds more is closed when released, and replaced), so PostgreSQL
   * parses and analyses a statement once per connection instead of on every call; its plan cache then decides when
   * to plan again. Neon's HTTP endpoint prepares every statement afresh, and `npm run dev` and the benchmarks keep
   * that (the database's CPU per request is part of what they measure): absent or 0, nothing is kept. The suite
   * sends the same few thousand statements tens of thousands of times. Results, errors and round trips are the same
   * either way (tests/gateways/neon-prepared.test.ts runs the conformance suite with a tiny limit). Ignored with
   * `sharedSession` (PGlite).
   */
  preparedStatementLimit?: number;
}

/** One request as the Worker sent it: replayable with the same headers and body. */
export interface CapturedRequest {
  headers: Record<string, string>;
  body: string;
}

export interface NeonGateway {
  /** What `neonConfig.fetchEndpoint` is set to, e.g. http://127.0.0.1:4444/sql. */
  url: string;
  port: number;
  counter: RoundTripCounter;
  close(): Promise<void>;
}

const MAX_CAPTURED_TRACES = 10_000;
const CAPTURED_HEADERS = [
  'neon-connection-string',
  'neon-array-mode',
  'neon-raw-text-output',
  'neon-batch-isolation-level',
  'neon-batch-read-only',
  'neon-batch-deferrable',
];

const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
const MAX_RESPONSE_BYTES = 10 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 5_000;
const CONNECT_ATTEMPTS = 3;
const ACQUIRE_TIMEOUT_MS = 20_000;
const IDLE_TIMEOUT_MS = 30_000;
const END_TIMEOUT_MS = 1_000;

// Pinned because they change the text output the driver parses; Neon computes run with these values. MDY too, as
// a database default of DMY would change how ambiguous date input is read. Startup options also survive RESET ALL.
const SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres -c bytea_output=hex';
// PGlite ignores startup options, so the same settings are also SET once per new connection.
const SESSION_SQL =
  "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, MDY'; SET IntervalStyle TO 'postgres'; SET bytea_output TO 'hex'";

const ISOLATION_LEVELS: Record<string, string> = {
  ReadUncommitted: 'READ UNCOMMITTED',
  ReadCommitted: 'READ COMMITTED',
  RepeatableRead: 'REPEATABLE READ',
  Serializable: 'SERIALIZABLE',
};

const CORS_ALLOW_HEADERS =
  'Authorization, Neon-Connection-String, Neon-Raw-Text-Output, Neon-Array-Mode, Neon-Pool-Opt-In, ' +
  'Neon-Batch-Read-Only, Neon-Batch-Isolation-Level, Neon-Batch-Deferrable';

const IDENTITY_TYPES: pg.CustomTypesConfig = { getTypeParser: () => (value: string) => value };

type Log = (message: string, fields?: Record<string, unknown>) => void;

// ---------------------------------------------------------------------------------------------------------------
// Errors

class GatewayError extends Error {
  readonly status: number;
  readonly database: pg.DatabaseError | undefined;
  /** What may be logged: messages that can quote request content (parameters, body snippets) are replaced. */
  readonly logMessage: string;

  constructor(status: number, message: string, database?: pg.DatabaseError, logMessage?: string) {
    super(message);
    this.name = 'GatewayError';
    this.status = status;
    this.database = database;
    // Database messages quote offending values ('invalid input syntax for type integer: "<param>"').
    this.logMessage = logMessage ?? (database ? 'database error' : message);
  }
}

const badRequest = (message: string): GatewayError => new GatewayError(400, message);

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function toGatewayError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  if (error instanceof pg.DatabaseError) return new GatewayError(400, error.message, error);
  return new GatewayError(500, `internal gateway error: ${messageOf(error)}`);
}

/** Neon's error body: every field present, missing ones null, `code`/`severity` "" for non-database errors. */
function errorBody(error: GatewayError): Record<string, string | null> {
  const db = error.database;
  return {
    message: error.message,
    code: db?.code ?? '',
    detail: db?.detail ?? null,
    hint: db?.hint ?? null,
    position: db?.position ?? null,
    internalPosition: db?.internalPosition ?? null,
    internalQuery: db?.internalQuery ?? null,
    severity: db?.severity ?? '',
    where: db?.where ?? null,
    table: db?.table ?? null,
    column: db?.column ?? null,
    schema: db?.schema ?? null,
    dataType: db?.dataType ?? null,
    constraint: db?.constraint ?? null,
    file: db?.file ?? null,
    line: db?.line ?? null,
    routine: db?.routine ?? null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Request parsing

interface Credentials {
  user: string;
  password: string | undefined;
  database: string;
}

interface QueryData {
  query: string;
  params: (string | null)[];
  arrayMode: boolean | undefined;
}

type Payload = { kind: 'single'; query: QueryData } | { kind: 'batch'; queries: QueryData[] };

interface NeonHeaders {
  arrayMode: boolean;
  rawTextOutput: boolean;
  isolationLevel: string | undefined;
  readOnly: boolean;
  deferrable: boolean;
}

function decodeComponent(value: string, what: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw badRequest(`invalid connection string: ${what} is not valid percent-encoding`);
  }
}

/** Only user, password and database are used: host, port and every query parameter (sslmode, ...) are ignored. */
function parseConnectionString(header: string | string[] | undefined): {
  credentials: () => Credentials;
  trace?: string;
} {
  if (typeof header !== 'string' || header.length === 0) throw badRequest('invalid header: neon-connection-string');
  let url: URL;
  try {
    url = new URL(header);
  } catch (error) {
    throw badRequest(`invalid connection string: ${messageOf(error)}`);
  }
  const traceParam = url.searchParams.get('eventra_trace');
  const trace = traceParam !== null && TRACE_PATTERN.test(traceParam) ? traceParam : undefined;
  // Credentials are validated lazily so that a request with a bad one is still counted under its trace.
  const credentials = (): Credentials => {
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw badRequest('incorrect scheme');
    const database = decodeComponent(url.pathname.split('/')[1] ?? '', 'database name');
    if (database.length === 0) throw badRequest('missing database name');
    const user = decodeComponent(url.username, 'user name');
    if (user.length === 0) throw badRequest('missing username');
    const password = url.password.length > 0 ? decodeComponent(url.password, 'password') : undefined;
    return { user, password, database };
  };
  return trace === undefined ? { credentials } : { credentials, trace };
}

function parseHeaders(headers: IncomingHttpHeaders): NeonHeaders {
  const isTrue = (name: string): boolean => headers[name] === 'true';
  const level = headers['neon-batch-isolation-level'];
  if (level !== undefined && (typeof level !== 'string' || !Object.hasOwn(ISOLATION_LEVELS, level))) {
    throw badRequest('invalid isolation level');
  }
  return {
    arrayMode: isTrue('neon-array-mode'),
    rawTextOutput: isTrue('neon-raw-text-output'),
    isolationLevel: level,
    readOnly: isTrue('neon-batch-read-only'),
    deferrable: isTrue('neon-batch-deferrable'),
  };
}

async function readText(req: IncomingMessage): Promise<string> {
  try {
    return (await readBody(req, MAX_REQUEST_BYTES)).toString('utf8');
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      throw new GatewayError(413, `request is too large (max is ${MAX_REQUEST_BYTES} bytes)`);
    }
    throw badRequest(`could not read the HTTP request body: ${messageOf(error)}`);
  }
}

const parseError = (reason: string): GatewayError => badRequest(`could not parse the HTTP request body: ${reason}`);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Neon's json_to_pg_text: strings pass through, other scalars and objects become JSON text, arrays array literals. */
function paramToText(value: unknown): string | null {
  if (value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return arrayToLiteral(value);
  return JSON.stringify(value);
}

function arrayToLiteral(values: unknown[]): string {
  const items = values.map((value): string => {
    if (value === null) return 'NULL';
    if (Array.isArray(value)) return arrayToLiteral(value);
    if (isRecord(value)) return JSON.stringify(JSON.stringify(value));
    return JSON.stringify(value);
  });
  return `{${items.join(',')}}`;
}

function parseQueryData(value: unknown, where: string): QueryData {
  if (!isRecord(value)) throw parseError(`${where} must be an object`);
  const { query, params, arrayMode } = value;
  if (query === undefined) throw parseError(`missing field \`query\`${where === 'body' ? '' : ` in ${where}`}`);
  if (typeof query !== 'string') throw parseError(`invalid type for \`query\` in ${where}: expected a string`);
  if (params !== undefined && !Array.isArray(params)) {
    throw parseError(`invalid type for \`params\` in ${where}: expected an array`);
  }
  if (arrayMode !== undefined && arrayMode !== null && typeof arrayMode !== 'boolean') {
    throw parseError(`invalid type for \`arrayMode\` in ${where}: expected a boolean`);
  }
  return {
    query,
    params: (params ?? []).map(paramToText),
    arrayMode: typeof arrayMode === 'boolean' ? arrayMode : undefined,
  };
}

function parsePayload(text: string): Payload {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    // JSON.parse quotes a snippet of the body, which may hold parameters: not for the log.
    const message = `could not parse the HTTP request body: ${messageOf(error)}`;
    throw new GatewayError(400, message, undefined, 'could not parse the HTTP request body: invalid JSON');
  }
  if (!isRecord(json)) throw parseError('expected a JSON object with `query` or `queries`');
  if (json.query === undefined && json.queries !== undefined) {
    const { queries } = json;
    if (!Array.isArray(queries)) throw parseError('invalid type for `queries`: expected an array');
    return { kind: 'batch', queries: queries.map((entry, index) => parseQueryData(entry, `queries[${index}]`)) };
  }
  return { kind: 'single', query: parseQueryData(json, 'body') };
}

// ---------------------------------------------------------------------------------------------------------------
// Text output -> JSON values, for callers that do not send `Neon-Raw-Text-Output: true` (the driver always does).

const OID = { bool: 16, int2: 21, int4: 23, float4: 700, float8: 701, json: 114, jsonb: 3802, text: 25 } as const;

// Array type OID -> element OID. Elements that are not bool/int/float/json stay strings, so only the OID matters.
const ARRAY_ELEMENTS = new Map<number, number>([
  [1000, OID.bool],
  [1005, OID.int2],
  [1007, OID.int4],
  [1021, OID.float4],
  [1022, OID.float8],
  [199, OID.json],
  [3807, OID.jsonb],
  ...[
    1001, 1002, 1003, 1009, 1014, 1015, 1016, 1028, 1040, 1041, 651, 1115, 1182, 1183, 1185, 1187, 1231, 1270, 2951,
  ].map((oid): [number, number] => [oid, OID.text]),
]);

function scalarToJson(value: string, oid: number): string {
  switch (oid) {
    case OID.bool:
      return value === 't' ? 'true' : 'false';
    case OID.int2:
    case OID.int4:
      return String(Number.parseInt(value, 10));
    case OID.float4:
    case OID.float8: {
      const number = Number(value);
      // NaN and infinities have no JSON number: Neon passes them as strings.
      return Number.isFinite(number) ? JSON.stringify(number) : JSON.stringify(value);
    }
    case OID.json:
    case OID.jsonb:
      return value;
    default:
      return JSON.stringify(value);
  }
}

function textToJson(value: string, oid: number): string {
  const element = ARRAY_ELEMENTS.get(oid);
  if (element === undefined) return scalarToJson(value, oid);
  let text = value;
  // Bounds decoration (`[0:1]={...}`) cannot be represented in JSON: dropped, as Neon does.
  if (text.startsWith('[')) {
    const equals = text.indexOf('=');
    if (equals < 0) throw new Error('unbalanced array');
    text = text.slice(equals + 1);
  }
  const cursor = { text: text.trimStart(), index: 0 };
  const json = parseArrayLiteral(cursor, element);
  if (cursor.index !== cursor.text.length) throw new Error('unbalanced array');
  return json;
}

function skipSpaces(cursor: { text: string; index: number }): void {
  while (/\s/.test(cursor.text[cursor.index] ?? '')) cursor.index += 1;
}

function parseArrayLiteral(cursor: { text: string; index: number }, element: number): string {
  const { text } = cursor;
  if (text[cursor.index] !== '{') throw new Error('unbalanced array');
  cursor.index += 1;
  skipSpaces(cursor);
  const items: string[] = [];
  if (text[cursor.index] !== '}') {
    for (;;) {
      skipSpaces(cursor);
      const first = text[cursor.index];
      if (first === '{') {
        items.push(parseArrayLiteral(cursor, element));
      } else if (first === '"') {
        cursor.index += 1;
        let item = '';
        for (;;) {
          const char = text[cursor.index];
          if (char === undefined) throw new Error('unbalanced quoted string');
          cursor.index += 1;
          if (char === '"') break;
          if (char === '\\') {
            const escaped = text[cursor.index];
            if (escaped === undefined) throw new Error('unbalanced quoted string');
            item += escaped;
            cursor.index += 1;
          } else {
            item += char;
          }
        }
        skipSpaces(cursor);
        items.push(scalarToJson(item, element));
      } else {
        let end = cursor.index;
        while (end < text.length && text[end] !== ',' && text[end] !== '}') end += 1;
        if (end >= text.length) throw new Error('unbalanced array');
        const item = text.slice(cursor.index, end).trimEnd();
        cursor.index = end;
        items.push(item === 'NULL' ? 'null' : scalarToJson(item, element));
      }
      if (text[cursor.index] !== ',') break;
      cursor.index += 1;
    }
  }
  if (text[cursor.index] !== '}') throw new Error('unbalanced array');
  cursor.index += 1;
  skipSpaces(cursor);
  return `[${items.join(',')}]`;
}

// ---------------------------------------------------------------------------------------------------------------
// Connection pool, one per (user, password, database)

interface Lease {
  client: pg.Client;
  broken: boolean;
  idleTimer: NodeJS.Timeout | undefined;
  /** Names of the statements this connection keeps prepared (`preparedStatementLimit`), or null when it keeps none. */
  prepared: Set<string> | null;
}

interface Waiter {
  resolve: (lease: Lease) => void;
  reject: (error: GatewayError) => void;
  timer: NodeJS.Timeout;
  settled: boolean;
}

function isConnectionFailure(error: unknown): boolean {
  return !(error instanceof pg.DatabaseError);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class ConnectionPool {
  private readonly config: pg.ClientConfig;
  private readonly max: number;
  private readonly log: Log;
  private readonly preparedLimit: number;
  private readonly leases = new Set<Lease>();
  private readonly idle: Lease[] = [];
  private readonly waiters: Waiter[] = [];
  private opening = 0;
  private closing = 0;
  private closed = false;

  constructor(config: pg.ClientConfig, max: number, log: Log, preparedLimit: number) {
    this.config = config;
    this.max = max;
    this.log = log;
    this.preparedLimit = preparedLimit;
  }

  /** Connections that exist, are being opened, or are still shutting down (they hold a server slot until closed). */
  private get size(): number {
    return this.leases.size + this.opening + this.closing;
  }

  acquire(): Promise<Lease> {
    if (this.closed) return Promise.reject(new GatewayError(503, 'gateway is shutting down'));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        settled: false,
        timer: setTimeout(() => {
          waiter.settled = true;
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(new GatewayError(503, 'timed out waiting for a free database connection'));
        }, ACQUIRE_TIMEOUT_MS),
      };
      this.waiters.push(waiter);
      this.dispatch();
    });
  }

  /** Returns a connection: reused only when it is healthy and outside any transaction. */
  release(lease: Lease, reusable: boolean): void {
    const full = lease.prepared !== null && lease.prepared.size >= this.preparedLimit;
    if (!reusable || full || lease.broken || this.closed || lease.client.getTransactionStatus() !== 'I') {
      void this.discard(lease);
      return;
    }
    const waiter = this.nextWaiter();
    if (waiter) {
      this.hand(waiter, lease);
      return;
    }
    lease.idleTimer = setTimeout(() => void this.discard(lease), IDLE_TIMEOUT_MS);
    lease.idleTimer.unref();
    this.idle.push(lease);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) {
      waiter.settled = true;
      clearTimeout(waiter.timer);
      waiter.reject(new GatewayError(503, 'gateway is shutting down'));
    }
    await Promise.all([...this.leases].map((lease) => this.discard(lease)));
  }

  private nextWaiter(): Waiter | undefined {
    for (let waiter = this.waiters.shift(); waiter; waiter = this.waiters.shift()) {
      if (!waiter.settled) return waiter;
    }
    return undefined;
  }

  private hand(waiter: Waiter, lease: Lease): void {
    waiter.settled = true;
    clearTimeout(waiter.timer);
    waiter.resolve(lease);
  }

  private dispatch(): void {
    while (this.waiters.length > 0) {
      const lease = this.idle.pop();
      if (lease) {
        clearTimeout(lease.idleTimer);
        lease.idleTimer = undefined;
        // Its socket may have closed in this very tick, before the 'end' event reached onFailure.
        const stream = lease.client.connection.stream;
        if (lease.broken || stream.destroyed || !stream.writable || stream.readableEnded) {
          void this.discard(lease);
          continue;
        }
        const waiter = this.nextWaiter();
        if (waiter) this.hand(waiter, lease);
        else this.release(lease, true);
        continue;
      }
      if (this.size >= this.max) return;
      const waiter = this.nextWaiter();
      if (!waiter) return;
      this.opening += 1;
      this.open().then(
        (opened) => {
          this.opening -= 1;
          this.leases.add(opened);
          if (waiter.settled) this.release(opened, true);
          else this.hand(waiter, opened);
        },
        (error: unknown) => {
          this.opening -= 1;
          if (!waiter.settled) {
            waiter.settled = true;
            clearTimeout(waiter.timer);
            waiter.reject(toConnectError(error));
          }
          this.dispatch();
        },
      );
    }
  }

  private async open(): Promise<Lease> {
    const started = Date.now();
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.connectOnce();
      } catch (error) {
        // A refused or reset connection is retried briefly: PGlite's single slot is freed a tick after a close.
        const retry =
          isConnectionFailure(error) &&
          attempt < CONNECT_ATTEMPTS &&
          !this.closed &&
          Date.now() - started < CONNECT_TIMEOUT_MS / 2;
        if (!retry) throw error;
        await delay(100 * attempt);
      }
    }
  }

  private async connectOnce(): Promise<Lease> {
    const client = new pg.Client({ ...this.config, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    const lease: Lease = {
      client,
      broken: false,
      idleTimer: undefined,
      prepared: this.preparedLimit > 0 ? new Set() : null,
    };
    const onFailure = (error?: Error): void => {
      if (lease.broken) return;
      lease.broken = true;
      const index = this.idle.indexOf(lease);
      if (index >= 0) {
        // An idle connection died (server restart, network): drop it; the next request opens a new one.
        this.idle.splice(index, 1);
        this.log('neon gateway: idle database connection lost', { error: error?.message ?? 'connection ended' });
        void this.discard(lease);
      }
    };
    // Without an 'error' listener a connection dying while idle would crash the process.
    client.on('error', onFailure);
    client.on('end', () => onFailure());
    try {
      await client.connect();
      await client.query(SESSION_SQL);
    } catch (error) {
      lease.broken = true;
      client.connection.stream.destroy();
      throw error;
    }
    return lease;
  }

  private async discard(lease: Lease): Promise<void> {
    if (!this.leases.delete(lease)) return;
    clearTimeout(lease.idleTimer);
    const index = this.idle.indexOf(lease);
    if (index >= 0) this.idle.splice(index, 1);
    lease.broken = true;
    this.closing += 1;
    try {
      await endClient(lease.client);
    } finally {
      this.closing -= 1;
      this.dispatch();
    }
  }
}

function endClient(client: pg.Client): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.connection.stream.destroy();
      resolve();
    }, END_TIMEOUT_MS);
    client.end().then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        client.connection.stream.destroy();
        resolve();
      },
    );
  });
}

function toConnectError(error: unknown): GatewayError {
  if (error instanceof GatewayError) return error;
  // Authentication failures, unknown databases and the like: the caller's fault, answered as Neon does (400).
  if (error instanceof pg.DatabaseError) return new GatewayError(400, error.message, error);
  return new GatewayError(503, `Error connecting to database: ${messageOf(error)}`);
}

// ---------------------------------------------------------------------------------------------------------------
// Query execution

interface Budget {
  remaining: number;
}

const responseTooLarge = (): GatewayError =>
  new GatewayError(507, `response is too large (max is ${MAX_RESPONSE_BYTES} bytes)`);

/** The name a connection keeps a statement under (`preparedStatementLimit`): one per SQL text, within NAMEDATALEN. */
function statementName(text: string): string {
  return `eventra_${createHash('sha1').update(text).digest('hex')}`;
}

/**
 * Runs one statement with the extended protocol (an unnamed statement, or a named one kept on the connection under
 * `preparedStatementLimit`; untyped text parameters, text results) and returns the JSON text of its Neon result object.
 * Rows are serialised as they arrive so the response limit is enforced without holding an oversized result in memory.
 */
function runQuery(lease: Lease, data: QueryData, headers: NeonHeaders, budget: Budget): Promise<string> {
  const arrayMode = data.arrayMode ?? headers.arrayMode;
  return new Promise((resolve, reject) => {
    let name: string | undefined;
    if (lease.prepared !== null) {
      name = statementName(data.query);
      lease.prepared.add(name);
    }
    const config: pg.QueryConfig & { rowMode: 'array'; queryMode: 'extended' } = {
      ...(name === undefined ? {} : { name }),
      text: data.query,
      values: data.params,
      rowMode: 'array',
      queryMode: 'extended',
      types: IDENTITY_TYPES,
    };
    const query = new pg.Query(config);
    const rows: string[] = [];
    let names: string[] | undefined;
    let oids: number[] = [];
    let tooLarge = false;
    let failed: GatewayError | undefined;

    query.on('row', (row: unknown, result) => {
      if (tooLarge || failed) return;
      if (!Array.isArray(row)) return;
      if (names === undefined) {
        const fields = result?.fields ?? [];
        names = fields.map((field) => field.name);
        oids = fields.map((field) => field.dataTypeID);
      }
      let json: string;
      try {
        json = rowToJson(row, names, oids, arrayMode, headers.rawTextOutput);
      } catch (error) {
        failed = new GatewayError(500, `could not parse postgres response: ${messageOf(error)}`);
        return;
      }
      budget.remaining -= json.length + 1;
      if (budget.remaining < 0) {
        // Stop the query right away; the connection is dropped rather than drained.
        tooLarge = true;
        rows.length = 0;
        lease.broken = true;
        lease.client.connection.stream.destroy();
        return;
      }
      rows.push(json);
    });
    query.on('error', (error: Error) => {
      if (tooLarge) reject(responseTooLarge());
      else if (error instanceof pg.DatabaseError) reject(new GatewayError(400, error.message, error));
      else {
        lease.broken = true;
        reject(new GatewayError(503, `database connection lost: ${error.message}`));
      }
    });
    query.on('end', (result) => {
      if (tooLarge || failed) {
        reject(failed ?? responseTooLarge());
        return;
      }
      const fields = result.fields.map((field) => ({
        name: field.name,
        dataTypeID: field.dataTypeID,
        tableID: field.tableID,
        columnID: field.columnID,
        dataTypeSize: field.dataTypeSize,
        dataTypeModifier: field.dataTypeModifier,
        format: 'text',
      }));
      // pg's command is the first word of the tag and its rowCount the tag's last number: Neon's parse_command_tag.
      // Both are null at runtime for an empty query, whatever the typings say.
      const command: unknown = result.command;
      const rowCount: unknown = result.rowCount;
      const head = JSON.stringify({
        fields,
        command: typeof command === 'string' ? command : '',
        rowCount: typeof rowCount === 'number' ? rowCount : null,
        rowAsArray: arrayMode,
      });
      budget.remaining -= head.length;
      if (budget.remaining < 0) {
        reject(responseTooLarge());
        return;
      }
      resolve(`${head.slice(0, -1)},"rows":[${rows.join(',')}]}`);
    });
    lease.client.query(query);
  });
}

function rowToJson(row: unknown[], names: string[], oids: number[], arrayMode: boolean, raw: boolean): string {
  const values = row.map((value, index): string => {
    if (typeof value !== 'string') return 'null';
    return raw ? JSON.stringify(value) : textToJson(value, oids[index] ?? OID.text);
  });
  if (arrayMode) return `[${values.join(',')}]`;
  // Built by hand: duplicate column names behave as in Neon, and a column named __proto__ stays a plain key.
  return `{${values.map((value, index) => `${JSON.stringify(names[index] ?? '')}:${value}`).join(',')}}`;
}

async function runSimple(lease: Lease, text: string): Promise<void> {
  try {
    await lease.client.query(text);
  } catch (error) {
    if (error instanceof pg.DatabaseError) throw new GatewayError(400, error.message, error);
    lease.broken = true;
    throw new GatewayError(503, `database connection lost: ${messageOf(error)}`);
  }
}

function beginStatement(headers: NeonHeaders): string {
  let statement = 'BEGIN';
  if (headers.isolationLevel !== undefined) statement += ` ISOLATION LEVEL ${ISOLATION_LEVELS[headers.isolationLevel]}`;
  if (headers.readOnly) statement += ' READ ONLY';
  if (headers.deferrable) statement += ' DEFERRABLE';
  return statement;
}

async function runSingle(
  pool: ConnectionPool,
  data: QueryData,
  headers: NeonHeaders,
  roleStatement: string | undefined,
): Promise<string> {
  const lease = await pool.acquire();
  let reusable = false;
  try {
    if (roleStatement !== undefined) await runSimple(lease, roleStatement);
    const json = await runQuery(lease, data, headers, { remaining: MAX_RESPONSE_BYTES });
    reusable = true;
    return json;
  } catch (error) {
    // A SQL error leaves the connection usable; anything else may not.
    reusable = error instanceof GatewayError && error.database !== undefined;
    throw error;
  } finally {
    pool.release(lease, reusable);
  }
}

async function runBatch(
  pool: ConnectionPool,
  queries: QueryData[],
  headers: NeonHeaders,
  roleStatement: string | undefined,
): Promise<string> {
  const lease = await pool.acquire();
  let reusable = false;
  try {
    if (roleStatement !== undefined) await runSimple(lease, roleStatement);
    await runSimple(lease, beginStatement(headers));
    const budget = { remaining: MAX_RESPONSE_BYTES };
    const results: string[] = [];
    try {
      for (const data of queries) results.push(await runQuery(lease, data, headers, budget));
      await runSimple(lease, 'COMMIT');
    } catch (error) {
      if (!lease.broken) {
        try {
          await runSimple(lease, 'ROLLBACK');
        } catch {
          lease.broken = true;
        }
      }
      throw error;
    }
    reusable = true;
    return `{"results":[${results.join(',')}]}`;
  } catch (error) {
    reusable = error instanceof GatewayError && error.database !== undefined;
    throw error;
  } finally {
    // release() also refuses a connection that is not idle (a failed ROLLBACK leaves it in a transaction).
    pool.release(lease, reusable);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP server

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
    'access-control-allow-origin': '*',
    ...headers,
  });
  res.end(body);
}

export async function startNeonGateway(options: NeonGatewayOptions): Promise<NeonGateway> {
  const host = options.host ?? '127.0.0.1';
  const maxConnections = options.maxConnectionsPerDatabase ?? 10;
  const log: Log = options.log ?? (() => {});
  const counter = new RoundTripCounter();
  const pools = new Map<string, ConnectionPool>();
  const captures = new Map<string, CapturedRequest[]>();
  let closing = false;

  const capture = (trace: string | undefined, req: IncomingMessage, body: string): void => {
    if (!options.capture || trace === undefined) return;
    const list = boundedEntry(captures, trace, MAX_CAPTURED_TRACES, (): CapturedRequest[] => []);
    const headers: Record<string, string> = {};
    for (const name of CAPTURED_HEADERS) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    list.push({ headers, body });
  };
  const serveCaptures = (req: IncomingMessage, res: ServerResponse): boolean => {
    const match = /^\/__eventra\/captures\/([^/]+)$/.exec(new URL(req.url ?? '/', 'http://gateway.local').pathname);
    if (!options.capture || !match?.[1]) return false;
    const trace = decodeURIComponent(match[1]);
    if (req.method !== 'GET' || !TRACE_PATTERN.test(trace)) {
      send(res, 400, JSON.stringify({ error: 'GET /__eventra/captures/<trace>' }));
    } else {
      send(res, 200, JSON.stringify({ trace, requests: captures.get(trace) ?? [] }));
    }
    return true;
  };

  const shared = options.sharedSession;
  const roleStatementFor = (credentials: Credentials): string | undefined => {
    if (!shared) return undefined;
    return credentials.user === shared.user ? 'RESET ROLE' : `SET ROLE ${pg.escapeIdentifier(credentials.user)}`;
  };
  const poolFor = (requested: Credentials): ConnectionPool => {
    const credentials: Credentials = shared
      ? { user: shared.user, password: undefined, database: shared.database }
      : requested;
    const key = JSON.stringify([credentials.user, credentials.password ?? null, credentials.database]);
    let pool = pools.get(key);
    if (!pool) {
      pool = new ConnectionPool(
        {
          host: options.upstream.host,
          port: options.upstream.port,
          user: credentials.user,
          password: credentials.password,
          database: credentials.database,
          application_name: 'eventra-neon-gateway',
          options: SESSION_OPTIONS,
        },
        maxConnections,
        log,
        // PGlite's one session outlives the gateway's connection to it: a statement kept there would be prepared again
        // on the next connection (an error). Statements are kept on real PostgreSQL only.
        shared ? 0 : (options.preparedStatementLimit ?? 0),
      );
      pools.set(key, pool);
    }
    return pool;
  };

  const handleSql = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let trace: string | undefined;
    let statements = 0;
    let database: string | undefined;
    const respond = (status: number, body: string, headers?: Record<string, string>): void => {
      // Counted before answering, so a caller reading the counter after the response always sees this request.
      counter.record(trace, statements, database);
      send(res, status, body, headers);
    };
    try {
      const connection = parseConnectionString(req.headers['neon-connection-string']);
      trace = connection.trace;
      const credentials = connection.credentials();
      database = credentials.database;
      const headers = parseHeaders(req.headers);
      const text = await readText(req);
      capture(trace, req, text);
      const payload = parsePayload(text);
      if (closing) throw new GatewayError(503, 'gateway is shutting down');
      const pool = poolFor(credentials);
      if (payload.kind === 'single') {
        statements = 1;
        respond(200, await runSingle(pool, payload.query, headers, roleStatementFor(credentials)));
      } else {
        statements = payload.queries.length;
        const json = await runBatch(pool, payload.queries, headers, roleStatementFor(credentials));
        const echoed: Record<string, string> = {};
        if (headers.isolationLevel !== undefined) echoed['Neon-Batch-Isolation-Level'] = headers.isolationLevel;
        if (headers.readOnly) echoed['Neon-Batch-Read-Only'] = 'true';
        if (headers.deferrable) echoed['Neon-Batch-Deferrable'] = 'true';
        respond(200, json, echoed);
      }
    } catch (caught) {
      const error = toGatewayError(caught);
      // No SQL text, parameters or database messages/details: all of them may carry secrets.
      const db = error.database;
      log('neon gateway: request failed', {
        status: error.status,
        message: error.logMessage,
        code: db?.code ?? null,
        severity: db?.severity ?? null,
        constraint: db?.constraint ?? null,
        table: db?.table ?? null,
        column: db?.column ?? null,
        routine: db?.routine ?? null,
        database: database ?? null,
        trace: trace ?? null,
        statements,
      });
      respond(error.status, JSON.stringify(errorBody(error)));
    }
  };

  const server = http.createServer((req, res) => {
    const fail = (error: unknown): void => {
      log('neon gateway: internal error', { message: messageOf(error) });
      send(res, 500, JSON.stringify(errorBody(toGatewayError(error))));
    };
    try {
      if (serveRoundTrips(req, res, counter)) return;
      if (serveCaptures(req, res)) return;
      const path = new URL(req.url ?? '/', 'http://gateway.local').pathname;
      if (req.method === 'OPTIONS') {
        res.writeHead(200, {
          allow: 'OPTIONS, POST',
          'access-control-allow-origin': '*',
          'access-control-allow-methods': 'POST, OPTIONS',
          'access-control-allow-headers': CORS_ALLOW_HEADERS,
          'access-control-max-age': '86400',
        });
        res.end();
        return;
      }
      if (path !== '/sql') {
        send(res, 404, JSON.stringify(errorBody(new GatewayError(404, `not found: ${path}`))));
        return;
      }
      if (req.method !== 'POST') {
        send(res, 405, JSON.stringify(errorBody(new GatewayError(405, `method not allowed: ${req.method ?? ''}`))), {
          allow: 'OPTIONS, POST',
        });
        return;
      }
      handleSql(req, res).catch(fail);
    } catch (error) {
      fail(error);
    }
  });

  keepIdleConnectionsLongerThanClients(server);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (error) => log('neon gateway: server error', { message: error.message }));
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${urlHost}:${port}/sql`,
    port,
    counter,
    async close() {
      if (closing) return;
      closing = true;
      await Promise.all([closeServer(server), ...[...pools.values()].map((pool) => pool.close())]);
    },
  };
}
