import { sql } from 'drizzle-orm';
import { boolean, check, jsonb, pgTable, smallint, text } from 'drizzle-orm/pg-core';
import { timestamps } from './columns.ts';

/** A flag's value per plan; a plan left out follows the flag's default. */
export type FlagPlanValues = Partial<Record<'starter' | 'pro' | 'enterprise', boolean>>;

/**
 * Feature flags (issue #16 part 7): defined by platform administrators, global (no organization). An organization's
 * value is its override (`organizations.plan_overrides.features[key]`), else its rollout bucket when a rollout is
 * set, else its plan's value, else the default (src/services/flags/evaluate.ts). The plan features (webhooks,
 * custom_domains, sso, custom_roles, exports) are rows here, seeded by the migration that created the table.
 * Read whole (a few rows) into each isolate's cache with the tenant lookup; no index beyond the key.
 */
export const featureFlags = pgTable(
  'feature_flags',
  {
    key: text().primaryKey(),
    description: text().notNull(),
    defaultValue: boolean().notNull().default(false),
    planValues: jsonb().$type<FlagPlanValues>().notNull().default({}),
    /** 0..100, or null: no rollout. */
    rolloutPercentage: smallint(),
    ...timestamps,
  },
  (table) => [
    check('feature_flags_key_format', sql`${table.key} ~ '^[a-z][a-z0-9_]{1,62}[a-z0-9]$'`),
    check('feature_flags_description_length', sql`char_length(${table.description}) between 1 and 500`),
    check(
      'feature_flags_rollout_range',
      sql`${table.rolloutPercentage} is null or ${table.rolloutPercentage} between 0 and 100`,
    ),
  ],
);

export type FeatureFlag = typeof featureFlags.$inferSelect;
