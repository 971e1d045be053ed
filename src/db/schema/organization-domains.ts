import { sql } from 'drizzle-orm';
import { check, foreignKey, pgTable, text, timestamp, unique, uuid } from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';
import { organizations } from './organizations.ts';

/** Custom domains routed to the Worker (Cloudflare for SaaS); only verified ones are served. */
export const organizationDomains = pgTable(
  'organization_domains',
  {
    id: uuid().primaryKey().defaultRandom(),
    organizationId: uuid().notNull(),
    // Lowercase host name without port. The unique constraint's index serves tenant resolution by custom domain:
    // WHERE hostname = $1 AND verified_at IS NOT NULL.
    hostname: text().notNull().unique(),
    verifiedAt: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    foreignKey({ columns: [table.organizationId], foreignColumns: [organizations.id] }).onDelete('cascade'),
    // Serves the organization's domain list: WHERE organization_id = $1; also the target of composite foreign keys.
    unique('organization_domains_organization_id_id_key').on(table.organizationId, table.id),
    check('organization_domains_hostname_format', sql`${table.hostname} ~ '^[a-z0-9.-]{1,253}$'`),
  ],
);

export type OrganizationDomain = typeof organizationDomains.$inferSelect;
