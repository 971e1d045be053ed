import { fileURLToPath } from 'node:url';
import { eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import * as schema from '../src/db/schema/index.ts';
import { BUILT_IN_ROLE_KEYS, builtInRoleRows, type BuiltInRoleKey } from '../src/services/auth/permissions.ts';
import { hashPassword } from '../src/services/auth/passwords.ts';

/**
 * Demo data for `npm run dev` and `npm run db:seed`. Idempotent: rerunning it changes nothing that exists.
 * A starter, a pro and an enterprise organization, each with a user in every built-in role; a suspended organization
 * (its host answers 404); a custom domain for acme; and a platform administrator.
 */
export const DEMO_PASSWORD = 'eventra-demo-password';

export const DEMO_ORGANIZATIONS = [
  { slug: 'acme', name: 'Acme Events', plan: 'pro', status: 'active' },
  { slug: 'globex', name: 'Globex Conferences', plan: 'enterprise', status: 'active' },
  { slug: 'initech', name: 'Initech Meetups', plan: 'starter', status: 'active' },
  { slug: 'umbrella', name: 'Umbrella Corp', plan: 'starter', status: 'suspended' },
] as const;

export const DEMO_DOMAINS = [{ slug: 'acme', hostname: 'tickets.acme.test' }] as const;
export const PLATFORM_ADMIN_EMAIL = 'platform-admin@eventra.test';

export function demoEmail(role: BuiltInRoleKey, slug: string): string {
  return `${role}@${slug}.test`;
}

/** Published demo events with ticket types, so checkout can be tried at once (`npm run dev` prints the slugs). */
export const DEMO_EVENTS = [
  {
    organization: 'acme',
    slug: 'acme-summit',
    title: 'Acme Summit',
    days: 30,
    capacity: 300,
    ticketTypes: [
      { name: 'Community', price: 0, quantity: 100 },
      { name: 'Standard', price: 4900, quantity: 150 },
      { name: 'Supporter', price: 9900, quantity: 50, hidden: true, accessCode: 'SUPPORT' },
    ],
  },
  {
    organization: 'acme',
    slug: 'acme-workshop',
    title: 'Acme Hands-on Workshop',
    days: 45,
    capacity: 20,
    ticketTypes: [{ name: 'Seat', price: 15000, quantity: 20, maxPerOrder: 2 }],
  },
  {
    organization: 'globex',
    slug: 'globex-keynote',
    title: 'Globex Keynote',
    days: 14,
    capacity: null,
    ticketTypes: [{ name: 'Free entry', price: 0, quantity: 500 }],
  },
] as const;

type DemoEvent = (typeof DEMO_EVENTS)[number];
type Transaction = Parameters<Parameters<ReturnType<typeof drizzle<typeof schema>>['transaction']>[0]>[0];

async function seedEvent(tx: Transaction, demo: DemoEvent): Promise<void> {
  const [organization] = await tx
    .select({ id: schema.organizations.id })
    .from(schema.organizations)
    .where(eq(schema.organizations.slug, demo.organization));
  if (!organization) throw new Error(`organization ${demo.organization} not found`);
  const startsAt = new Date(Date.now() + demo.days * 86_400_000);
  startsAt.setUTCHours(17, 0, 0, 0);
  const [event] = await tx
    .insert(schema.events)
    .values({
      organizationId: organization.id,
      slug: demo.slug,
      title: demo.title,
      description: `${demo.title}: a demo event.`,
      status: 'published',
      visibility: 'public',
      timezone: 'Europe/Berlin',
      startsAt,
      endsAt: new Date(startsAt.getTime() + 4 * 3_600_000),
      venue: { name: 'Kulturhaus Nord', city: 'Hamburg', country: 'DE' },
      categories: ['demo'],
      capacity: demo.capacity,
      publishedAt: new Date(),
    })
    .onConflictDoNothing()
    .returning({ id: schema.events.id });
  // Already seeded: leave it (and whatever was sold) as it is.
  if (!event) return;
  await tx.insert(schema.ticketTypes).values(
    demo.ticketTypes.map((ticketType, sortOrder) => ({
      organizationId: organization.id,
      eventId: event.id,
      currency: 'EUR',
      sortOrder,
      ...ticketType,
    })),
  );
}

export interface SeedSummary {
  organizations: { slug: string; plan: string; status: string }[];
  users: { email: string; organization: string; role: string }[];
  domains: { hostname: string; slug: string }[];
  events: { slug: string; organization: string }[];
  platformAdmin: string;
  password: string;
}

export async function seed(databaseUrl: string): Promise<SeedSummary> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const db = drizzle({ client, schema, casing: 'snake_case' });
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  const users: SeedSummary['users'] = [];
  try {
    await db.transaction(async (tx) => {
      const [admin] = await tx
        .insert(schema.users)
        .values({
          email: PLATFORM_ADMIN_EMAIL,
          name: 'Platform Admin',
          passwordHash,
          emailVerifiedAt: new Date(),
          isPlatformAdmin: true,
        })
        .onConflictDoUpdate({ target: schema.users.email, set: { isPlatformAdmin: true } })
        .returning({ id: schema.users.id });
      if (!admin) throw new Error('platform admin not created');

      for (const org of DEMO_ORGANIZATIONS) {
        await tx.insert(schema.organizations).values(org).onConflictDoNothing();
        const [organization] = await tx
          .select({ id: schema.organizations.id })
          .from(schema.organizations)
          .where(eq(schema.organizations.slug, org.slug));
        if (!organization) throw new Error(`organization ${org.slug} not found`);
        await tx.insert(schema.tenantDirectory).values({ organizationId: organization.id }).onConflictDoNothing();
        await tx.insert(schema.roles).values(builtInRoleRows(organization.id)).onConflictDoNothing();
        if (org.status !== 'active') continue;
        for (const roleKey of BUILT_IN_ROLE_KEYS) {
          const email = demoEmail(roleKey, org.slug);
          await tx
            .insert(schema.users)
            .values({
              email,
              name: `${roleKey[0]?.toUpperCase()}${roleKey.slice(1)} of ${org.name}`,
              passwordHash,
              emailVerifiedAt: new Date(),
            })
            .onConflictDoNothing();
          await tx.execute(sql`
            INSERT INTO memberships (organization_id, user_id, role_id)
            SELECT ${organization.id}, u.id, r.id FROM users u, roles r
            WHERE u.email = ${email} AND r.organization_id = ${organization.id} AND r.key = ${roleKey}
            ON CONFLICT DO NOTHING`);
          users.push({ email, organization: org.slug, role: roleKey });
        }
      }
      for (const demo of DEMO_EVENTS) await seedEvent(tx, demo);
      await tx.execute(sql`
        INSERT INTO payment_settings (organization_id, manual_enabled, manual_instructions)
        SELECT id, true, 'Pay by bank transfer to IBAN DE00 0000 0000 0000 0000 00 with your booking id as reference.'
        FROM organizations WHERE slug = 'acme'
        ON CONFLICT (organization_id) DO NOTHING`);
      for (const domain of DEMO_DOMAINS) {
        await tx.execute(sql`
          INSERT INTO organization_domains (organization_id, hostname, verified_at)
          SELECT id, ${domain.hostname}, now() FROM organizations WHERE slug = ${domain.slug}
          ON CONFLICT (hostname) DO NOTHING`);
      }
    });
  } finally {
    await client.end();
  }
  return {
    organizations: DEMO_ORGANIZATIONS.map(({ slug, plan, status }) => ({ slug, plan, status })),
    users,
    domains: DEMO_DOMAINS.map(({ hostname, slug }) => ({ hostname, slug })),
    events: DEMO_EVENTS.map(({ slug, organization }) => ({ slug, organization })),
    platformAdmin: PLATFORM_ADMIN_EMAIL,
    password: DEMO_PASSWORD,
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

export function printSummary(summary: SeedSummary): void {
  console.log(`Demo credentials (password for every account: ${summary.password})`);
  console.log(`  platform admin   ${summary.platformAdmin}   (log in on the platform host)`);
  for (const org of summary.organizations) {
    const members = summary.users.filter((user) => user.organization === org.slug);
    console.log(`  ${org.slug} (${org.plan}${org.status === 'active' ? '' : `, ${org.status}`})`);
    for (const user of members) console.log(`    ${user.role.padEnd(10)} ${user.email}`);
  }
  for (const domain of summary.domains) console.log(`  custom domain ${domain.hostname} -> ${domain.slug}`);
  for (const event of summary.events) console.log(`  event ${event.organization}/${event.slug}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error(
      'DATABASE_URL is required, e.g. DATABASE_URL=postgres://postgres@127.0.0.1:5432/eventra npm run db:seed',
    );
    process.exit(1);
  }
  printSummary(await seed(url));
}
