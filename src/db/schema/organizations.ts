import { sql } from 'drizzle-orm';
import { check, jsonb, pgEnum, pgTable, text, uuid } from 'drizzle-orm/pg-core';
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
    ...timestamps,
  },
  (table) => [
    check('organizations_slug_format', sql`${table.slug} ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$'`),
    check('organizations_name_length', sql`char_length(${table.name}) between 1 and 200`),
  ],
);

export type Organization = typeof organizations.$inferSelect;
export type NewOrganization = typeof organizations.$inferInsert;
