import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareDatabases, dumpDatabase, restoreDatabase } from '../../dev/backup.ts';
import { applyMigrations } from '../../drizzle/migrate.ts';
import { seed } from '../../drizzle/seed.ts';
import { createTestDatabase } from '../setup/database.ts';
import { detectServices } from '../setup/services.ts';

// Issue #16 part 9: a logical backup of the seeded database restored into a fresh one, with pg_dump and pg_restore
// against the real PostgreSQL (CI always has it; on the embedded PGlite there is no server to dump, so it is skipped).
const services = await detectServices();
const adminUrl = services.postgres.kind === 'real' ? services.postgres.adminUrl : null;

async function query<T extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

describe.skipIf(adminUrl === null)('db:backup and db:restore', () => {
  const dropped: (() => Promise<void>)[] = [];
  let dir = '';
  let source = '';

  beforeAll(async () => {
    if (adminUrl === null) return;
    dir = await mkdtemp(path.join(os.tmpdir(), 'eventra-backup-'));
    const database = await createTestDatabase(adminUrl, 'eventra_backup_src');
    dropped.push(() => database.drop());
    source = database.url;
    await applyMigrations(source);
    await seed(source);
  }, 120_000);

  afterAll(async () => {
    for (const drop of dropped) await drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function emptyDatabase(prefix: string): Promise<string> {
    if (adminUrl === null) throw new Error('no PostgreSQL');
    const database = await createTestDatabase(adminUrl, prefix);
    dropped.push(() => database.drop());
    return database.url;
  }

  it('restores the seeded database into a fresh one: every row, the policies and the application role grants', async () => {
    const file = path.join(dir, 'eventra.dump');
    await dumpDatabase(source, file);
    const target = await emptyDatabase('eventra_backup_dst');
    await restoreDatabase(file, target);

    const { equal, counts } = await compareDatabases(source, target);
    expect(counts.filter((row) => row.source !== row.target)).toEqual([]);
    expect(equal).toBe(true);
    const restored = new Map(counts.map((row) => [row.table, row.target]));
    for (const table of ['public.organizations', 'public.users', 'public.memberships', 'public.events']) {
      expect(restored.get(table), table).toBeGreaterThan(0);
    }
    expect(restored.get('drizzle.__drizzle_migrations')).toBeGreaterThan(20);

    // Row-level security came back with the tables, and the application role may use them (security.sql re-applied).
    const policies = 'select schemaname, tablename, policyname, qual from pg_policies order by 1, 2, 3';
    expect(await query(target, policies)).toEqual(await query(source, policies));
    const secured = 'select relname from pg_class where relrowsecurity and relnamespace = $1::regnamespace order by 1';
    expect(await query(target, secured, ['public'])).toEqual(await query(source, secured, ['public']));
    const [grant] = await query<{ allowed: boolean }>(
      target,
      "select has_table_privilege('eventra_app', 'public.bookings', 'select, insert, update') as allowed",
    );
    expect(grant?.allowed).toBe(true);
    // The same bytes come back: a hash over every organization row.
    const digest = "select md5(string_agg(o::text, ',' order by o.id)) as d from organizations o";
    expect(await query(target, digest)).toEqual(await query(source, digest));
    // The migrator sees an up-to-date database.
    await applyMigrations(target);
    expect((await compareDatabases(source, target)).equal).toBe(true);
  });

  it('refuses a target that is not empty, and a broken file leaves the target empty', async () => {
    const file = path.join(dir, 'again.dump');
    await dumpDatabase(source, file);
    await expect(restoreDatabase(file, source)).rejects.toThrow(/not empty/);

    const broken = path.join(dir, 'broken.dump');
    await writeFile(broken, 'PGDMP this is not a dump');
    const target = await emptyDatabase('eventra_backup_broken');
    await expect(restoreDatabase(broken, target)).rejects.toThrow(/pg_restore failed/);
    const tables = await query(target, "select tablename from pg_tables where schemaname in ('public', 'drizzle')");
    expect(tables).toEqual([]);
  });
});
