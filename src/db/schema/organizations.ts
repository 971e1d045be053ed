import { sql } from 'drizzle-orm';
import { check, index, jsonb, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';

export const organizationPlan = pgEnum('organization_plan', ['starter', 'pro', 'enterprise']);
export const organizationStatus = pgEnum('organization_status', ['active', 'suspended']);

export interface OrganizationBranding {
  displayName?: string;
  logoUrl?: string;
  primaryColor?: string;
  accentColor?: string;
  emailSenderName?: string;
}

export interface OrganizationSettings {
  timezone?: string;
  currency?: string;
  locale?: string;
  /** Browser origins allowed to call this tenant's host (CORS). */
  allowedOrigins?: string[];
  /**
   * Members whose role has any permission must use a second factor: without one, their next sign-in only lets them
   * enrol (issue #14). Members with no permissions stay free to enrol or not.
   */
  requireMfa?: boolean;
}

/**
 * Platform administrators' per-organization overrides of the plan (src/services/plans): rate limits, quotas and
 * feature flags (the plan features and any flag of `feature_flags`, by key). Absent keys follow the plan.
 */
export interface PlanOverrides {
  rateLimits?: { organizationPerMinute?: number; customersPerMinute?: number; principalPerMinute?: number };
  quotas?: { publishedEvents?: number; members?: number; webhookEndpoints?: number };
  features?: BuiltInFeatureOverrides & Partial<Record<string, boolean>>;
}

/** The overrides of the built-in plan features (src/services/plans/catalogue.ts FEATURES). */
export type BuiltInFeatureOverrides = Partial<
  Record<'webhooks' | 'custom_domains' | 'sso' | 'custom_roles' | 'exports', boolean>
>;

/** The tenant. Reached on `{slug}.{ROOT_DOMAIN}` or on a verified custom domain (organization_domains). */
export const organizations = pgTable(
  'organizations',
  {
    id: uuid().primaryKey().defaultRandom(),
    // The unique constraint's index serves tenant resolution by subdomain: WHERE slug = $1.
    slug: text().notNull().unique(),
    name: text().notNull(),
    plan: organizationPlan().notNull().default('starter'),
    status: organizationStatus().notNull().default('active'),
    branding: jsonb().$type<OrganizationBranding>().notNull().default({}),
    settings: jsonb().$type<OrganizationSettings>().notNull().default({}),
    planOverrides: jsonb().$type<PlanOverrides>().notNull().default({}),
    /**
     * A deletion scheduled by a platform administrator (src/services/organizations/deletion.ts): while set, the
     * organization is not served (its hosts answer 404 `organization_deletion_scheduled`); once `deleteAfter` has
     * passed, the scheduled purge deletes it with everything it holds. Cancelling clears both, and `status` (never
     * touched by the schedule) is what it was.
     */
    deletionScheduledAt: timestamp({ withTimezone: true }),
    deleteAfter: timestamp({ withTimezone: true }),
    ...timestamps,
  },
  (table) => [
    check('organizations_slug_format', sql`${table.slug} ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'`),
    check('organizations_name_length', sql`char_length(${table.name}) between 1 and 200`),
    check(
      'organizations_deletion_schedule',
      sql`(${table.deletionScheduledAt} is null) = (${table.deleteAfter} is null) and (${table.deleteAfter} is null or ${table.deleteAfter} > ${table.deletionScheduledAt})`,
    ),
    // The purge's due organizations: WHERE delete_after <= now() ORDER BY delete_after (only scheduled rows).
    index('organizations_delete_after_idx')
      .on(table.deleteAfter)
      .where(sql`${table.deleteAfter} is not null`),
  ],
);

export type Organization = typeof organizations.$inferSelect;
export type NewOrganization = typeof organizations.$inferInsert;
