import { fileURLToPath } from 'node:url';
import pg from 'pg';

/**
 * Demo data for `npm run dev` and `npm run db:seed`. Idempotent: rerunning it changes nothing that exists.
 * Organizations: acme (pro, with the custom domain tickets.acme.test), globex (enterprise), initech (starter),
 * and umbrella (suspended, to show that a suspended host answers 404).
 */
export const DEMO_ORGANIZATIONS = [
  { slug: 'acme', name: 'Acme Events', plan: 'pro', status: 'active' },
  { slug: 'globex', name: 'Globex Conferences', plan: 'enterprise', status: 'active' },
  { slug: 'initech', name: 'Initech Meetups', plan: 'starter', status: 'active' },
  { slug: 'umbrella', name: 'Umbrella Corp', plan: 'starter', status: 'suspended' },
] as const;

export const DEMO_DOMAINS = [{ slug: 'acme', hostname: 'tickets.acme.test' }] as const;

export interface SeedSummary {
  organizations: { slug: string; plan: string; status: string }[];
  domains: { hostname: string; slug: string }[];
}

export async function seed(databaseUrl: string): Promise<SeedSummary> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    for (const org of DEMO_ORGANIZATIONS) {
      await client.query(
        `INSERT INTO organizations (slug, name, plan, status) VALUES ($1, $2, $3, $4) ON CONFLICT (slug) DO NOTHING`,
        [org.slug, org.name, org.plan, org.status],
      );
    }
    for (const domain of DEMO_DOMAINS) {
      await client.query(
        `INSERT INTO organization_domains (organization_id, hostname, verified_at)
         SELECT id, $2, now() FROM organizations WHERE slug = $1
         ON CONFLICT (hostname) DO NOTHING`,
        [domain.slug, domain.hostname],
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    await client.end();
  }
  return {
    organizations: DEMO_ORGANIZATIONS.map(({ slug, plan, status }) => ({ slug, plan, status })),
    domains: DEMO_DOMAINS.map(({ hostname, slug }) => ({ hostname, slug })),
  };
}

/** True when the database has no organizations yet (the dev runner seeds only then). */
export async function isEmpty(databaseUrl: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const result = await client.query<{ count: string }>('SELECT count(*)::text AS count FROM organizations');
    return result.rows[0]?.count === '0';
  } finally {
    await client.end();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error(
      'DATABASE_URL is required, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventra npm run db:seed',
    );
    process.exit(1);
  }
  const summary = await seed(url);
  console.log('Seeded organizations:');
  for (const org of summary.organizations) console.log(`  ${org.slug.padEnd(10)} ${org.plan.padEnd(11)} ${org.status}`);
  for (const domain of summary.domains) console.log(`  custom domain ${domain.hostname} -> ${domain.slug}`);
}
