import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Creates a uniquely named database on the server of `adminUrl` and returns its URL and a way to drop it. With
 * `template` (a database nobody is connected to), a copy of it: a file copy, much cheaper than migrating again.
 */
export async function createTestDatabase(
  adminUrl: string,
  prefix = 'eventra_test',
  template?: string,
): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const create = `CREATE DATABASE ${name}${template === undefined ? '' : ` TEMPLATE ${template}`}`;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await admin.query(create);
        break;
      } catch (error) {
        // 55006: the template's last session (the migrator's, just closed) is still ending.
        if ((error as { code?: string }).code !== '55006' || attempt === 20) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
