// Moves an organization to another database (sharding, issue #16 part 5; docs/OPERATIONS.md "Sharding: moving an
// organization"):
//
//   DATABASE_URL=<control owner URL> DATABASE_URLS='{"dedicated-1":"<owner URL>"}' \
//     npm run db:move-org -- <organization id or slug> <target key>   # mark, copy, verify, switch, lift, clean up
//   npm run db:move-org -- <organization id or slug> --cleanup <source key>   # after --keep-source or a failed cleanup
//
// The steps, each safe to run again after a failure at any point (run the same command again):
//   1. read-only: the directory row gets `read_only_since`; the Worker answers writes with 503 organization_read_only
//      (Retry-After) and keeps serving reads. Then wait until no tenant cache can still say "writable" (30 s TTL).
//   2. copy: the target's rows of the organization are deleted (a previous partial copy), then every tenant table is
//      copied in foreign-key order, in pages, plus the rows of global tables they reference (the organization's own
//      row, the users of its memberships) when the target lacks them.
//   3. verify: per table, row count and a checksum of the rows' text on both sides; any difference refuses the move
//      (the organization stays read-only; run again).
//   4. switch: the directory names the target. 5. lift read-only. Requests use the target within 30 s (tenant cache),
//      and stale cache entries still say read-only until then, so no write can reach the source after the copy.
//   6. cleanup: once no tenant cache can point at the source any more (a second wait), the organization's rows there
//      are deleted. With --keep-source they stay (a quiet copy to compare with) until `--cleanup <source>`.
//
// It speaks Neon's SQL-over-HTTP (the Worker's driver): in production the owners' Neon connection strings, locally
// the Neon gateway (NEON_FETCH_ENDPOINT). Every transaction sets `app.platform` (row-level security) and
// `app.move_organization` (the one DELETE the audit log's append-only trigger allows, for this organization only).
import { neon, neonConfig } from '@neondatabase/serverless';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TENANT_CACHE_TTL_MS } from '../src/services/tenants/ttl.ts';

/** SQL against one database: statements run in one transaction per call (one HTTP round trip). */
export interface MoveSql {
  transaction(statements: readonly Statement[]): Promise<Record<string, unknown>[][]>;
}

export interface Statement {
  text: string;
  params?: unknown[];
}

/** A MoveSql over @neondatabase/serverless for one connection string (an owner's: the copy sees every row). */
export function neonSql(connectionString: string): MoveSql {
  const sql = neon(connectionString);
  return {
    async transaction(statements) {
      const results = await sql.transaction(statements.map((statement) => sql.query(statement.text, statement.params)));
      return results as Record<string, unknown>[][];
    },
  };
}

/**
 * Tables that carry organization_id but stay on the control database: two route hosts to databases, and the dead
 * letters are the platform's record of its queues.
 */
export const CONTROL_TABLES: readonly string[] = ['organization_domains', 'tenant_directory', 'dead_letters'];

/** Rows per page read: far under Neon's 10 MiB response limit for this schema's rows, TABLES_PER_READ at a time. */
const PAGE_ROWS = 250;
const TABLES_PER_READ = 8;
/** JSON text written per target transaction (Neon's request limit is 10 MiB). */
const INSERT_BYTES = 4 * 1024 * 1024;

export interface TablePlan {
  name: string;
  columns: string[];
  primaryKey: string[];
  /**
   * Serial and identity columns (audit_logs.id): numbered by each database's own sequence, so they are not copied
   * (the target numbers the rows anew, in the source's order) and not compared. Copying them would collide with ids
   * the target's sequence already gave to another organization's rows.
   */
  generated: string[];
}

export interface ForeignKey {
  child: string;
  parent: string;
  columns: string[];
  parentColumns: string[];
}

export interface TableCheck {
  table: string;
  source: { rows: number; checksum: string };
  target: { rows: number; checksum: string };
}

export type MoveStep = 'read-only' | 'copied' | 'verified' | 'switched' | 'writable' | 'cleaned';

export interface MoveOptions {
  /** The control database (owner): organizations, their domains, the tenant directory. Also `shared`'s rows. */
  control: MoveSql;
  /** The SQL of a database key (`shared` is the control database). */
  database: (key: string) => MoveSql;
  organization: string;
  target: string;
  /**
   * Waits until no tenant cache can hold the organization as writable (tenant cache TTL; the CLI sleeps
   * TENANT_CACHE_TTL_MS + 5 s). Called once, after the organization is marked read-only.
   */
  settle: () => Promise<void>;
  /**
   * Keep the organization's rows on the source after the move (clean up later with `cleanUpSource`). By default they
   * are deleted once the tenant caches can no longer point at the source (a second `settle`): stale rows there would
   * otherwise be swept by the source's scheduled jobs (holds expired, outbox rows published a second time).
   */
  keepSource?: boolean;
  /** Called after each step (tests: requests between the steps). */
  onStep?: (step: MoveStep) => Promise<void> | void;
  log?: (message: string, fields?: Record<string, unknown>) => void;
}

export interface MoveResult {
  organizationId: string;
  source: string;
  target: string;
  /** False when the directory already named the target (a finished move run again: only read-only is lifted). */
  moved: boolean;
  checks: TableCheck[];
}

/** A text column of a result row (json_agg(...)::text, md5(...)), or `fallback` when null. */
function text(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}

const quote = (identifier: string): string => `"${identifier.replaceAll('"', '""')}"`;

function scope(organizationId: string): Statement[] {
  return [
    {
      text: `select set_config('app.platform', 'on', true), set_config('app.move_organization', $1, true),
                    set_config('TimeZone', 'UTC', true), set_config('DateStyle', 'ISO', true),
                    set_config('IntervalStyle', 'postgres', true), set_config('bytea_output', 'hex', true)`,
      params: [organizationId],
    },
  ];
}

async function run(
  sql: MoveSql,
  organizationId: string,
  statements: Statement[],
): Promise<Record<string, unknown>[][]> {
  const results = await sql.transaction([...scope(organizationId), ...statements]);
  return results.slice(1);
}

async function first(sql: MoveSql, organizationId: string, statement: Statement): Promise<Record<string, unknown>[]> {
  const [rows] = await run(sql, organizationId, [statement]);
  return rows ?? [];
}

/** The tables of the public schema that carry organization_id, with their columns and primary keys. */
export async function tenantTables(sql: MoveSql): Promise<TablePlan[]> {
  const rows = await first(sql, '', {
    text: `select c.relname::text as name,
                  (select array_agg(a.attname::text order by a.attnum) from pg_attribute a
                    where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped) as columns,
                  (select array_agg(a.attname::text order by array_position(i.indkey::int2[], a.attnum))
                     from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
                    where i.indrelid = c.oid and i.indisprimary) as primary_key,
                  (select array_agg(a.attname::text order by a.attnum) from pg_attribute a
                    where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
                      and (a.attidentity <> ''
                           or pg_get_serial_sequence(format('public.%I', c.relname), a.attname) is not null)) as generated
             from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname = 'public' and c.relkind = 'r'
              and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'organization_id'
                            and not a.attisdropped)
            order by 1`,
  });
  return rows.map((row) => ({
    name: String(row.name),
    columns: row.columns as string[],
    primaryKey: (row.primary_key as string[] | null) ?? [],
    generated: (row.generated as string[] | null) ?? [],
  }));
}

/** Every foreign key of the public schema, child -> parent, with its columns in order. */
export async function foreignKeys(sql: MoveSql): Promise<ForeignKey[]> {
  const rows = await first(sql, '', {
    text: `select cl.relname::text as child, pa.relname::text as parent,
                  (select array_agg(a.attname::text order by k.ord) from unnest(c.conkey) with ordinality k(num, ord)
                     join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.num) as columns,
                  (select array_agg(a.attname::text order by k.ord) from unnest(c.confkey) with ordinality k(num, ord)
                     join pg_attribute a on a.attrelid = c.confrelid and a.attnum = k.num) as parent_columns
             from pg_constraint c
             join pg_class cl on cl.oid = c.conrelid
             join pg_class pa on pa.oid = c.confrelid
            where c.contype = 'f' and c.connamespace = 'public'::regnamespace
            order by 1, 2`,
  });
  return rows.map((row) => ({
    child: String(row.child),
    parent: String(row.parent),
    columns: row.columns as string[],
    parentColumns: row.parent_columns as string[],
  }));
}

/** The tenant tables that move, parents before children (the copy's order; the cleanup runs it backwards). */
export function copyOrder(tables: readonly TablePlan[], keys: readonly ForeignKey[]): TablePlan[] {
  const moving = new Map(tables.filter((table) => !CONTROL_TABLES.includes(table.name)).map((t) => [t.name, t]));
  const ordered: TablePlan[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`foreign keys form a cycle through ${name}`);
    state.set(name, 'visiting');
    for (const key of keys) {
      if (key.child === name && key.parent !== name && moving.has(key.parent)) visit(key.parent);
    }
    state.set(name, 'done');
    const table = moving.get(name);
    if (table) ordered.push(table);
  };
  for (const name of [...moving.keys()].sort()) visit(name);
  return ordered;
}

/**
 * The global rows the moving rows reference (foreign keys from a moving table to a table without organization_id,
 * or to `organizations`): which parent rows, selected by the children's columns. Copied first, kept when present.
 */
function globalReferences(moving: readonly TablePlan[], keys: readonly ForeignKey[]): Map<string, ForeignKey[]> {
  const names = new Set(moving.map((table) => table.name));
  const references = new Map<string, ForeignKey[]>();
  for (const key of keys) {
    if (!names.has(key.child) || names.has(key.parent)) continue;
    references.set(key.parent, [...(references.get(key.parent) ?? []), key]);
  }
  return references;
}

function globalRowsPredicate(references: readonly ForeignKey[]): string {
  return references
    .map(
      (key) =>
        `(${key.parentColumns.map((column) => `p.${quote(column)}`).join(', ')}) in ` +
        `(select ${key.columns.map(quote).join(', ')} from ${quote(key.child)} where organization_id = $1::uuid)`,
    )
    .join(' or ');
}

async function copyGlobals(
  source: MoveSql,
  target: MoveSql,
  organizationId: string,
  references: Map<string, ForeignKey[]>,
): Promise<void> {
  // Organizations first; neither it nor users references another global table.
  const parents = [...references.entries()].sort(
    ([a], [b]) => Number(b === 'organizations') - Number(a === 'organizations') || a.localeCompare(b),
  );
  for (const [parent, keys] of parents) {
    const [rows] = await run(source, organizationId, [
      {
        text: `select coalesce(json_agg(p), '[]')::text as rows from ${quote(parent)} p where ${globalRowsPredicate(keys)}`,
        params: [organizationId],
      },
    ]);
    await run(target, organizationId, [
      {
        text: `insert into ${quote(parent)} overriding system value
               select * from json_populate_recordset(null::${quote(parent)}, $1::json) on conflict do nothing`,
        params: [text(rows?.[0]?.rows, '[]')],
      },
    ]);
  }
}

async function deleteRows(sql: MoveSql, organizationId: string, tables: readonly TablePlan[]): Promise<void> {
  // One transaction: children first, so every foreign key holds at each statement.
  await run(
    sql,
    organizationId,
    [...tables].reverse().map((table) => ({
      text: `delete from ${quote(table.name)} where organization_id = $1::uuid`,
      params: [organizationId],
    })),
  );
}

function pageStatement(organizationId: string, table: TablePlan, cursor: string | null): Statement {
  if (table.primaryKey.length === 0) throw new Error(`${table.name} has no primary key: cannot page its copy`);
  const columns = (alias: string): string => table.primaryKey.map((column) => `${alias}.${quote(column)}`).join(', ');
  const after =
    cursor === null
      ? ''
      : `and (${columns('t')}) > (select ${columns('c')} from json_populate_record(null::${quote(table.name)}, $2::json) c)`;
  return {
    text: `select coalesce(json_agg(page order by ${columns('page')}), '[]')::text as rows, count(*)::int as n,
                  (array_agg(row_to_json(page)::text order by ${columns('page')} desc))[1] as last
             from (select t.* from ${quote(table.name)} t where t.organization_id = $1::uuid ${after}
                    order by ${columns('t')} limit ${String(PAGE_ROWS)}) page`,
    params: cursor === null ? [organizationId] : [organizationId, cursor],
  };
}

function insertStatement(table: TablePlan, rows: string): Statement {
  const columns = table.columns
    .filter((column) => !table.generated.includes(column))
    .map(quote)
    .join(', ');
  return {
    text: `insert into ${quote(table.name)} (${columns})
           select ${columns} from json_populate_recordset(null::${quote(table.name)}, $1::json)`,
    params: [rows],
  };
}

interface Page {
  table: TablePlan;
  rows: string;
  count: number;
  last: string;
}

/**
 * Copies the moving tables in order, in few round trips: the first page of several tables per source transaction,
 * and the pages written in target transactions of at most INSERT_BYTES (Neon takes 10 MiB per request); a table
 * with more rows than a page continues page by page. Returns the rows copied per table.
 */
async function copyTables(
  source: MoveSql,
  target: MoveSql,
  organizationId: string,
  tables: readonly TablePlan[],
): Promise<Map<string, number>> {
  const copied = new Map<string, number>(tables.map((table) => [table.name, 0]));
  let pending: Page[] = [];
  let pendingBytes = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    await run(
      target,
      organizationId,
      pending.map((page) => insertStatement(page.table, page.rows)),
    );
    for (const page of pending) copied.set(page.table.name, (copied.get(page.table.name) ?? 0) + page.count);
    pending = [];
    pendingBytes = 0;
  };
  const read = async (pages: { table: TablePlan; cursor: string | null }[]): Promise<Page[]> => {
    const results = await run(
      source,
      organizationId,
      pages.map((page) => pageStatement(organizationId, page.table, page.cursor)),
    );
    return pages.map((page, index) => {
      const row = results[index]?.[0];
      return {
        table: page.table,
        rows: text(row?.rows, '[]'),
        count: Number(row?.n ?? 0),
        last: text(row?.last, ''),
      };
    });
  };
  const add = async (page: Page): Promise<void> => {
    if (page.count === 0) return;
    if (pendingBytes + page.rows.length > INSERT_BYTES) await flush();
    pending.push(page);
    pendingBytes += page.rows.length;
  };
  for (let start = 0; start < tables.length; start += TABLES_PER_READ) {
    const group = tables.slice(start, start + TABLES_PER_READ);
    for (let page of await read(group.map((table) => ({ table, cursor: null })))) {
      await add(page);
      while (page.count === PAGE_ROWS) {
        // A large table: the rest page by page (its parents' pages are written first, in order).
        [page] = (await read([{ table: page.table, cursor: page.last }])) as [Page];
        await add(page);
      }
    }
  }
  await flush();
  return copied;
}

async function checksums(
  sql: MoveSql,
  organizationId: string,
  tables: readonly TablePlan[],
): Promise<Map<string, { rows: number; checksum: string }>> {
  const results = await run(
    sql,
    organizationId,
    tables.map((table) => ({
      // jsonb's text is canonical (key order, numbers, time stamps in UTC), so equal rows hash equally on both sides.
      text: `select count(*)::int as n,
                    coalesce(md5(string_agg(h, '' order by h)), '') as checksum
               from (select md5((to_jsonb(t) - $2::text[])::text) as h
                       from ${quote(table.name)} t where t.organization_id = $1::uuid) rows`,
      params: [organizationId, table.generated],
    })),
  );
  return new Map(
    tables.map((table, index) => {
      const row = results[index]?.[0];
      return [table.name, { rows: Number(row?.n ?? 0), checksum: text(row?.checksum, '') }];
    }),
  );
}

/** Row count and checksum of every moving table on both sides. */
export async function compare(
  source: MoveSql,
  target: MoveSql,
  organizationId: string,
  tables: readonly TablePlan[],
): Promise<TableCheck[]> {
  const [left, right] = await Promise.all([
    checksums(source, organizationId, tables),
    checksums(target, organizationId, tables),
  ]);
  return tables.map((table) => ({
    table: table.name,
    source: left.get(table.name) ?? { rows: 0, checksum: '' },
    target: right.get(table.name) ?? { rows: 0, checksum: '' },
  }));
}

function differences(checks: readonly TableCheck[]): TableCheck[] {
  return checks.filter(
    (check) => check.source.rows !== check.target.rows || check.source.checksum !== check.target.checksum,
  );
}

/** The moving tables, checked to have the same columns in the same order on both databases. */
async function movingTables(source: MoveSql, target: MoveSql): Promise<TablePlan[]> {
  const [sourceTables, targetTables, keys] = await Promise.all([
    tenantTables(source),
    tenantTables(target),
    foreignKeys(source),
  ]);
  const onTarget = new Map(targetTables.map((table) => [table.name, table]));
  for (const table of sourceTables) {
    const other = onTarget.get(table.name);
    if (!other || other.columns.join(',') !== table.columns.join(',')) {
      throw new Error(
        `the target's ${table.name} differs from the source's: migrate the target first (npm run db:migrate)`,
      );
    }
  }
  return copyOrder(sourceTables, keys);
}

interface DirectoryEntry {
  organizationId: string;
  database: string;
  readOnly: boolean;
}

async function directoryEntry(control: MoveSql, organization: string): Promise<DirectoryEntry> {
  const [found] = await run(control, '', [
    {
      text: `select o.id::text as id from organizations o where o.id::text = $1 or o.slug = $1 limit 1`,
      params: [organization],
    },
  ]);
  const id = found?.[0]?.id;
  if (typeof id !== 'string') throw new Error(`no organization ${organization}`);
  const [, rows] = await run(control, id, [
    { text: `insert into tenant_directory (organization_id) values ($1::uuid) on conflict do nothing`, params: [id] },
    {
      text: `select database, read_only_since is not null as read_only from tenant_directory where organization_id = $1::uuid`,
      params: [id],
    },
  ]);
  const row = rows?.[0];
  return { organizationId: id, database: String(row?.database), readOnly: row?.read_only === true };
}

async function setReadOnly(control: MoveSql, organizationId: string, readOnly: boolean): Promise<void> {
  await run(control, organizationId, [
    {
      text: readOnly
        ? `update tenant_directory set read_only_since = coalesce(read_only_since, now()), updated_at = now()
            where organization_id = $1::uuid`
        : `update tenant_directory set read_only_since = null, updated_at = now() where organization_id = $1::uuid`,
      params: [organizationId],
    },
  ]);
}

/** Steps 1 to 5 (see the top of this file). Throws, leaving the organization read-only, when anything differs. */
export async function moveOrganization(options: MoveOptions): Promise<MoveResult> {
  const log = options.log ?? (() => undefined);
  const entry = await directoryEntry(options.control, options.organization);
  const { organizationId } = entry;
  if (entry.database === options.target) {
    if (entry.readOnly) {
      await setReadOnly(options.control, organizationId, false);
      await options.onStep?.('writable');
    }
    log('already on the target', { organizationId, target: options.target });
    return { organizationId, source: options.target, target: options.target, moved: false, checks: [] };
  }
  const source = options.database(entry.database);
  const target = options.database(options.target);
  const tables = await movingTables(source, target);

  await setReadOnly(options.control, organizationId, true);
  log('read-only; waiting for the tenant caches', { organizationId });
  await options.settle();
  await options.onStep?.('read-only');

  await deleteRows(target, organizationId, tables);
  const keys = await foreignKeys(source);
  await copyGlobals(source, target, organizationId, globalReferences(tables, keys));
  const copied = await copyTables(source, target, organizationId, tables);
  log('copied', Object.fromEntries([...copied].filter(([, rows]) => rows > 0)));
  await options.onStep?.('copied');

  const checks = await compare(source, target, organizationId, tables);
  const different = differences(checks);
  if (different.length > 0) {
    throw new Error(
      `verification failed, the organization stays read-only (run again): ${different
        .map((check) => `${check.table} ${String(check.source.rows)} -> ${String(check.target.rows)} rows`)
        .join('; ')}`,
    );
  }
  await options.onStep?.('verified');

  await run(options.control, organizationId, [
    {
      text: `update tenant_directory set database = $2, updated_at = now()
              where organization_id = $1::uuid and database = $3`,
      params: [organizationId, options.target, entry.database],
    },
  ]);
  await options.onStep?.('switched');
  await setReadOnly(options.control, organizationId, false);
  await options.onStep?.('writable');
  log('moved', { organizationId, source: entry.database, target: options.target });
  if (options.keepSource !== true) {
    log('waiting for the tenant caches before deleting the source rows', { organizationId });
    await options.settle();
    await deleteRows(source, organizationId, tables);
    await options.onStep?.('cleaned');
    log('source rows deleted', { organizationId, source: entry.database });
  }
  return { organizationId, source: entry.database, target: options.target, moved: true, checks };
}

/**
 * Step 6 on its own (after `keepSource`, or a run that failed after the switch): deletes the organization's tenant
 * rows from `sourceKey` once the move has finished (the directory names another database and the organization is
 * writable again). They are not compared with the new database: it has taken writes since. The global rows (the
 * organization's own row, users) stay: the control database owns them, or other organizations share them. Returns
 * the rows deleted per table.
 */
export async function cleanUpSource(options: {
  control: MoveSql;
  database: (key: string) => MoveSql;
  organization: string;
  sourceKey: string;
}): Promise<{ organizationId: string; deleted: Map<string, number> }> {
  const entry = await directoryEntry(options.control, options.organization);
  if (entry.database === options.sourceKey || entry.readOnly) {
    throw new Error(
      `the move of this organization off ${options.sourceKey} has not finished (the directory names ` +
        `${entry.database}${entry.readOnly ? ', read-only' : ''}): run the move first`,
    );
  }
  const source = options.database(options.sourceKey);
  const tables = await movingTables(source, options.database(entry.database));
  const counts = await checksums(source, entry.organizationId, tables);
  await deleteRows(source, entry.organizationId, tables);
  return {
    organizationId: entry.organizationId,
    deleted: new Map([...counts].map(([table, count]) => [table, count.rows])),
  };
}

/** Owner connection strings from the environment: DATABASE_URL (shared/control) and DATABASE_URLS (JSON). */
function databasesFromEnvironment(environment: NodeJS.ProcessEnv): (key: string) => MoveSql {
  const control = environment.DATABASE_URL;
  if (!control) throw new Error('DATABASE_URL (the control database, owner credentials) is required');
  const urls = JSON.parse(environment.DATABASE_URLS ?? '{}') as Record<string, string>;
  const clients = new Map<string, MoveSql>();
  return (key) => {
    const url = key === 'shared' ? control : urls[key];
    if (url === undefined) throw new Error(`DATABASE_URLS has no database "${key}"`);
    let client = clients.get(key);
    if (client === undefined) {
      client = neonSql(url);
      clients.set(key, client);
    }
    return client;
  };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      cleanup: { type: 'string' },
      'keep-source': { type: 'boolean', default: false },
      'settle-seconds': { type: 'string' },
    },
  });
  const [organization, target] = positionals;
  if (organization === undefined || (target === undefined) === (values.cleanup === undefined)) {
    throw new Error(
      'usage: npm run db:move-org -- <organization id or slug> <target key> [--keep-source] [--settle-seconds 35]\n' +
        '       npm run db:move-org -- <organization id or slug> --cleanup <source key>',
    );
  }
  if (process.env.NEON_FETCH_ENDPOINT) neonConfig.fetchEndpoint = process.env.NEON_FETCH_ENDPOINT;
  const database = databasesFromEnvironment(process.env);
  const control = database('shared');
  const log = (message: string, fields?: Record<string, unknown>): void => {
    console.log(`[move] ${message}`, fields ? JSON.stringify(fields) : '');
  };
  if (values.cleanup !== undefined) {
    const result = await cleanUpSource({ control, database, organization, sourceKey: values.cleanup });
    log('source cleaned up', { organizationId: result.organizationId, deleted: Object.fromEntries(result.deleted) });
    return;
  }
  // The tenant cache's TTL (src/services/tenants/resolve.ts TENANT_CACHE_TTL_MS) plus a margin for clock and flight.
  const settleSeconds = Number(values['settle-seconds'] ?? (TENANT_CACHE_TTL_MS + 5_000) / 1000);
  const result = await moveOrganization({
    control,
    database,
    organization,
    target: target ?? '',
    keepSource: values['keep-source'],
    settle: () => new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000)),
    log,
  });
  for (const check of result.checks) {
    log('verified', { table: check.table, rows: check.target.rows, checksum: check.target.checksum });
  }
}

// Only as a command: the tests import the functions (in workerd, where there is no script path).
const entry = typeof process === 'undefined' ? undefined : process.argv[1];
if (entry !== undefined && import.meta.url.startsWith('file:') && entry === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
