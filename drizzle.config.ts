import { defineConfig } from 'drizzle-kit';

// drizzle-kit reads the schema and writes SQL migrations to migrations/ (committed, never hand-edited).
// `npm run db:migrate` applies them (drizzle/migrate.ts); DATABASE_URL is only needed for drizzle-kit's
// database commands (studio, push), not for `generate`.
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema/index.ts',
  out: './migrations',
  casing: 'snake_case',
  strict: true,
  verbose: true,
  dbCredentials: { url: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/eventra' },
});
