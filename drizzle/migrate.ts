import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';

const here = path.dirname(fileURLToPath(import.meta.url));
export const MIGRATIONS_FOLDER = path.resolve(here, '../migrations');
/** Hand-written SQL applied after the migrations on every run (idempotent): roles, grants, row-level security. */
export const SECURITY_SQL = path.resolve(here, 'sql/security.sql');

/**
 * Applies the drizzle-kit migrations in migrations/ (applied ones are recorded in drizzle.__drizzle_migrations),
 * then drizzle/sql/security.sql. Run it as the owner of the schema, never as the application role.
 */
export async function applyMigrations(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await migrate(drizzle({ client }), { migrationsFolder: MIGRATIONS_FOLDER });
    await client.query(await readFile(SECURITY_SQL, 'utf8'));
  } finally {
    await client.end();
  }
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
