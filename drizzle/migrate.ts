import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

const here = path.dirname(fileURLToPath(import.meta.url));
export const MIGRATIONS_FOLDER = path.resolve(here, '../migrations');
/** Hand-written SQL (idempotent): roles, grants, row-level security; applied when it changed or a migration ran. */
export const SECURITY_SQL = path.resolve(here, 'sql/security.sql');

/**
 * Applies the drizzle-kit migrations in migrations/ (applied ones are recorded in drizzle.__drizzle_migrations),
 * then drizzle/sql/security.sql when it changed or a migration ran (its SHA-256 is recorded in
 * drizzle.__eventra_security): re-running it takes ACCESS EXCLUSIVE locks (ALTER TABLE ... ROW LEVEL SECURITY,
 * policies), which wait for, and deadlock with, a seed or benchmark writing to the same database, so a start over
 * an unchanged schema leaves it alone. Run it as the owner of the schema, never as the application role.
 */
export async function applyMigrations(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const before = await appliedMigrations(client);
    await migrate(drizzle({ client }), { migrationsFolder: MIGRATIONS_FOLDER });
    const migrated = (await appliedMigrations(client)) !== before;
    const security = await readFile(SECURITY_SQL, 'utf8');
    const hash = createHash('sha256').update(security).digest('hex');
    await client.query(
      'create table if not exists drizzle.__eventra_security (hash text not null, applied_at timestamptz not null)',
    );
    const recorded = await client.query<{ hash: string }>('select hash from drizzle.__eventra_security');
    if (migrated || recorded.rows[0]?.hash !== hash) {
      await client.query(security);
      await client.query('begin');
      await client.query('delete from drizzle.__eventra_security');
      await client.query('insert into drizzle.__eventra_security (hash, applied_at) values ($1, now())', [hash]);
      await client.query('commit');
    }
  } finally {
    await client.end();
  }
}

async function appliedMigrations(client: pg.Client): Promise<number> {
  const exists = await client.query<{ present: boolean }>(
    "select to_regclass('drizzle.__drizzle_migrations') is not null as present",
  );
  if (!exists.rows[0]?.present) return 0;
  const counted = await client.query<{ n: string }>('select count(*) as n from drizzle.__drizzle_migrations');
  return Number(counted.rows[0]?.n ?? 0);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error(
      'DATABASE_URL is required, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventra npm run db:migrate',
    );
    process.exit(1);
  }
  await applyMigrations(url);
  console.log('migrations applied');
}
