import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, SECURITY_SQL } from '../../drizzle/migrate.ts';
import { createTestDatabase } from '../setup/database.ts';
import { detectServices } from '../setup/services.ts';

// Issue #13 (dev stack): `npm run dev` (dev/run.ts) calls applyMigrations at every start. drizzle/sql/security.sql takes
// ACCESS EXCLUSIVE locks (ALTER TABLE ... ROW LEVEL SECURITY, policies), which deadlocked with a bench seed writing
// to the same database, so it runs only on a fresh database, after a migration, or when the file changed (its SHA-256
// is recorded in drizzle.__eventra_security). Against the real PostgreSQL (CI always has it); skipped on PGlite.
const services = await detectServices();
const adminUrl = services.postgres.kind === 'real' ? services.postgres.adminUrl : null;

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The recorded hash and when security.sql was last applied. */
async function recorded(url: string): Promise<{ hash: string; applied_at: Date }[]> {
  return withClient(url, async (client) => {
    const result = await client.query<{ hash: string; applied_at: Date }>(
      'select hash, applied_at from drizzle.__eventra_security',
    );
    return result.rows;
  });
}

async function policyExists(url: string, table: string, policy: string): Promise<boolean> {
  return withClient(url, async (client) => {
    const { rows } = await client.query('select 1 from pg_policies where tablename = $1 and policyname = $2', [
      table,
      policy,
    ]);
    return rows.length === 1;
  });
}

/** The URL with a lock timeout: a start that wants a lock held by a writer fails in 2 s instead of waiting. */
function withLockTimeout(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('options', '-c lock_timeout=2000');
  return parsed.toString();
}

describe.skipIf(adminUrl === null)('applyMigrations and drizzle/sql/security.sql', () => {
  let url = '';
  let drop: () => Promise<void> = () => Promise.resolve();
  let fileHash = '';

  beforeAll(async () => {
    if (adminUrl === null) return;
    const database = await createTestDatabase(adminUrl, 'eventra_migrate');
    url = database.url;
    drop = () => database.drop();
    fileHash = createHash('sha256')
      .update(await readFile(SECURITY_SQL, 'utf8'))
      .digest('hex');
  });

  afterAll(() => drop());

  it('applies security.sql on a fresh database and records its hash', async () => {
    await applyMigrations(url);
    const rows = await recorded(url);
    expect(rows.map((row) => row.hash)).toEqual([fileHash]);
    expect(await policyExists(url, 'organizations', 'organizations_tenant')).toBe(true);
    expect(await policyExists(url, 'bookings', 'bookings_tenant')).toBe(true);
    const [secured] = await withClient(
      url,
      async (client) =>
        (
          await client.query<{ rls: boolean; forced: boolean }>(
            "select relrowsecurity as rls, relforcerowsecurity as forced from pg_class where oid = 'public.events'::regclass",
          )
        ).rows,
    );
    expect(secured).toEqual({ rls: true, forced: true });
  }, 60_000);

  it('leaves an unchanged security.sql alone: a start beside a writer holding its tables takes no table lock', async () => {
    const before = await recorded(url);
    // A policy dropped by hand stays dropped: proof that the file did not run again.
    await withClient(url, (client) => client.query('drop policy bookings_tenant on bookings'));
    // A seed in the middle of its transaction: row locks on the tables security.sql alters.
    await withClient(url, async (writer) => {
      await writer.query('begin');
      await writer.query('lock table organizations, bookings, audit_logs in row exclusive mode');
      try {
        await applyMigrations(withLockTimeout(url));
      } finally {
        await writer.query('rollback');
      }
    });
    expect(await recorded(url)).toEqual(before);
    expect(await policyExists(url, 'bookings', 'bookings_tenant')).toBe(false);
  }, 60_000);

  it('applies security.sql again when the file differs from the one recorded', async () => {
    // The database last saw another version of the file (the hash recorded then).
    await withClient(url, (client) => client.query("update drizzle.__eventra_security set hash = 'an older file'"));
    await applyMigrations(url);
    expect((await recorded(url)).map((row) => row.hash)).toEqual([fileHash]);
    expect(await policyExists(url, 'bookings', 'bookings_tenant')).toBe(true);
  }, 60_000);
});
