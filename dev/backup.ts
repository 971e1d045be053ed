// Logical backup and restore of the application's database (issue #16 part 9), with PostgreSQL's own tools:
//
//   DATABASE_URL=postgres://owner@host/eventra npm run db:backup -- --out eventra.dump
//   npm run db:restore -- --in eventra.dump --into postgres://owner@host/eventra_restored [--verify-against <url>]
//
// `db:backup` runs `pg_dump --format=custom` of the application's schemas (`public`: the tables, their row-level
// security policies, indexes and constraints; `drizzle`: the migrations journal), without owners or grants, so the
// file restores into any cluster. `db:restore` refuses a target that has tables already, restores with `pg_restore
// --exit-on-error --single-transaction` (all or nothing), then applies drizzle/sql/security.sql as `npm run
// db:migrate` does (the application role, its grants and the policies it relies on: roles are per cluster and are not
// in a dump), and with `--verify-against` compares the exact row count of every table with the source (exit 1 on any
// difference). Neon's point-in-time restore is the first resort; this is the independent copy (docs/OPERATIONS.md).
//
// Hand-written because it only orders pg_dump, pg_restore and the existing migrator: there is no kept library for
// that, and the tools themselves do the work.
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import pg from 'pg';
import { applyMigrations } from '../drizzle/migrate.ts';

const run = promisify(execFile);

/** The schemas a backup holds: the application's tables and the migrations journal. */
export const BACKUP_SCHEMAS = ['public', 'drizzle'] as const;

/** pg_dump's and pg_restore's own path (PG_BIN_DIR overrides PATH, e.g. /usr/lib/postgresql/16/bin). */
function tool(name: 'pg_dump' | 'pg_restore'): string {
  return process.env.PG_BIN_DIR ? `${process.env.PG_BIN_DIR}/${name}` : name;
}

async function exec(file: string, args: string[]): Promise<string> {
  try {
    return (await run(file, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new Error(`${file} is not installed (Debian: apt-get install postgresql-client), or set PG_BIN_DIR`, {
        cause: error,
      });
    }
    throw new Error(`${file} failed: ${(failure.stderr ?? failure.message).trim()}`, { cause: error });
  }
}

/** Writes a custom-format dump of the application's schemas of `databaseUrl` to `file`. */
export async function dumpDatabase(databaseUrl: string, file: string): Promise<void> {
  await exec(tool('pg_dump'), [
    '--format=custom',
    '--no-owner',
    '--no-privileges',
    ...BACKUP_SCHEMAS.map((schema) => `--schema=${schema}`),
    `--file=${file}`,
    `--dbname=${databaseUrl}`,
  ]);
}

async function withClient<T>(databaseUrl: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** The tables of the application's schemas (`schema.table`), sorted. */
async function tables(client: pg.Client): Promise<string[]> {
  const result = await client.query<{ name: string }>(
    `select format('%I.%I', schemaname, tablename) as name from pg_tables where schemaname = any($1) order by 1`,
    [BACKUP_SCHEMAS],
  );
  return result.rows.map((row) => row.name);
}

/**
 * Restores `file` into the empty database `databaseUrl` (it must exist and hold no table of the application's
 * schemas), in one transaction, then applies the roles, grants and policies of drizzle/sql/security.sql.
 */
export async function restoreDatabase(file: string, databaseUrl: string): Promise<void> {
  const existing = await withClient(databaseUrl, tables);
  if (existing.length > 0) {
    throw new Error(
      `the target database is not empty (${existing.length} tables, e.g. ${existing[0]}): restore into a new one`,
    );
  }
  // Every entry of the dump but `CREATE SCHEMA public`, which a new database has already (pg_restore --use-list).
  const listed = await exec(tool('pg_restore'), ['--list', file]);
  const list = `${file}.list`;
  await writeFile(
    list,
    listed
      .split('\n')
      .filter((line) => !/^\d+; \d+ \d+ SCHEMA - public /.test(line))
      .join('\n'),
  );
  await exec(tool('pg_restore'), [
    `--use-list=${list}`,
    '--exit-on-error',
    '--single-transaction',
    '--no-owner',
    '--no-privileges',
    `--dbname=${databaseUrl}`,
    file,
  ]).finally(() => rm(list, { force: true }));
  // The restored journal says every migration ran; forget security.sql's hash so the migrator applies it again (the
  // role may not exist in this cluster, and grants were left out of the dump).
  await withClient(databaseUrl, (client) => client.query('delete from drizzle.__eventra_security'));
  await applyMigrations(databaseUrl);
}

export interface TableCount {
  table: string;
  source: number;
  target: number;
}

/** Exact row counts of every table of the source beside the target's; `equal` when all match and no table is missing. */
export async function compareDatabases(
  sourceUrl: string,
  targetUrl: string,
): Promise<{ equal: boolean; counts: TableCount[] }> {
  const count = (databaseUrl: string) =>
    withClient(databaseUrl, async (client) => {
      const counts = new Map<string, number>();
      for (const table of await tables(client)) {
        const result = await client.query<{ n: string }>(`select count(*) as n from ${table}`);
        counts.set(table, Number(result.rows[0]?.n ?? 0));
      }
      return counts;
    });
  const [source, target] = await Promise.all([count(sourceUrl), count(targetUrl)]);
  const names = [...new Set([...source.keys(), ...target.keys()])].sort();
  const counts = names.map((table) => ({ table, source: source.get(table) ?? -1, target: target.get(table) ?? -1 }));
  return { equal: counts.every((row) => row.source === row.target && row.source >= 0), counts };
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      out: { type: 'string' },
      in: { type: 'string' },
      into: { type: 'string' },
      'verify-against': { type: 'string' },
    },
  });
  if (command === 'dump') {
    const url = process.env.DATABASE_URL;
    if (!url || !values.out) throw new Error('usage: DATABASE_URL=<owner url> npm run db:backup -- --out <file>');
    await dumpDatabase(url, values.out);
    console.log(`backup written to ${values.out}`);
    return;
  }
  if (command === 'restore') {
    if (!values.in || !values.into) {
      throw new Error('usage: npm run db:restore -- --in <file> --into <empty database url> [--verify-against <url>]');
    }
    await restoreDatabase(values.in, values.into);
    console.log('restored, roles, grants and policies applied');
    const source = values['verify-against'];
    if (source !== undefined) {
      const { equal, counts } = await compareDatabases(source, values.into);
      for (const row of counts) {
        if (row.source !== row.target) console.log(`  ${row.table}: source ${row.source}, restored ${row.target}`);
      }
      const rows = counts.reduce((sum, row) => sum + Math.max(row.target, 0), 0);
      console.log(equal ? `verified: ${counts.length} tables, ${rows} rows, every count equal` : 'verification FAILED');
      if (!equal) process.exitCode = 1;
    }
    return;
  }
  throw new Error('usage: node dev/backup.ts dump|restore ... (see the comment at the top of dev/backup.ts)');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
