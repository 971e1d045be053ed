import { z } from '@hono/zod-openapi';
import { FLAG_SOURCES, MAX_FEATURE_FLAGS } from '../../services/flags/evaluate.ts';
import { FEATURES, MAX_OVERRIDE, PLAN_NAMES, QUOTAS } from '../../services/plans/catalogue.ts';
import { USAGE_METRICS } from '../../services/plans/usage.ts';
import { DayOut, DayRangeQuerySchema, int32, int64, Uuid } from '../fields.ts';

const perMinute = (description: string, example: number) => int32(1, MAX_OVERRIDE).openapi({ description, example });

const quota = (description: string, example: number) => int32(0, MAX_OVERRIDE).openapi({ description, example });

const RateLimitsSchema = z
  .object({
    organizationPerMinute: perMinute(
      'Authenticated requests per minute for all staff of the organization together (callers with at least one ' +
        'permission; policy `api-organization`).',
      1000,
    ),
    customersPerMinute: perMinute(
      'Authenticated requests per minute for all customers of the organization together (callers without any ' +
        'permission, such as self-registered members; policy `api-customers`). A separate budget: customers never ' +
        'use up the staff budget.',
      1000,
    ),
    principalPerMinute: perMinute(
      'Authenticated requests per minute for one caller in the organization (policy `api-principal`).',
      600,
    ),
  })
  .openapi('PlanRateLimits', {
    description:
      'The rate limits of authenticated requests on the organization host: each request takes one unit of its ' +
      "caller's limit and one of the staff or the customers budget.",
  });

const QuotasSchema = z
  .object({
    publishedEvents: quota(QUOTAS.publishedEvents, 100).nullable(),
    members: quota(QUOTAS.members, 50).nullable(),
    webhookEndpoints: quota(QUOTAS.webhookEndpoints, 10).nullable(),
  })
  .openapi('PlanQuotas', { description: 'The quotas; null means unlimited.' });

const FeaturesSchema = z
  .object({
    webhooks: z.boolean().openapi({ description: FEATURES.webhooks, example: true }),
    custom_domains: z.boolean().openapi({ description: FEATURES.custom_domains, example: true }),
    sso: z.boolean().openapi({ description: FEATURES.sso, example: false }),
    custom_roles: z.boolean().openapi({ description: FEATURES.custom_roles, example: true }),
    exports: z.boolean().openapi({ description: FEATURES.exports, example: true }),
  })
  .openapi('PlanFeatures', { description: 'Whether each feature is available.' });

/** The platform's adjustments of one organization's plan: every key optional, unknown keys refused. */
export const PlanOverridesSchema = z
  .object({
    rateLimits: z
      .object({
        organizationPerMinute: perMinute('Overrides the staff limit of the organization per minute.', 5000).optional(),
        customersPerMinute: perMinute('Overrides the customers limit of the organization per minute.', 2000).optional(),
        principalPerMinute: perMinute('Overrides the per-caller limit per minute.', 1200).optional(),
      })
      .strict()
      .optional()
      .openapi({ description: 'Rate limit overrides (1 to 1,000,000 per minute).' }),
    quotas: z
      .object({
        publishedEvents: quota('Overrides the published events quota.', 250).optional(),
        members: quota('Overrides the staff members quota.', 75).optional(),
        webhookEndpoints: quota('Overrides the webhook endpoints quota.', 20).optional(),
      })
      .strict()
      .optional()
      .openapi({ description: 'Quota overrides (0 to 1,000,000; there is no "unlimited" override).' }),
    features: z
      .object({
        webhooks: z.boolean().optional().openapi({ description: 'Overrides webhooks.', example: true }),
        custom_domains: z.boolean().optional().openapi({ description: 'Overrides custom domains.', example: true }),
        sso: z.boolean().optional().openapi({ description: 'Overrides single sign-on.', example: true }),
        custom_roles: z.boolean().optional().openapi({ description: 'Overrides custom roles.', example: true }),
        exports: z.boolean().optional().openapi({ description: 'Overrides exports.', example: false }),
      })
      .catchall(z.boolean())
      .optional()
      .openapi({
        description:
          'Feature flag overrides, by flag key: true grants a feature outside the plan (or switches a flag on), false ' +
          'withholds one. Besides the plan features, any flag of `GET /api/v1/platform/feature-flags`; another key ' +
          'answers 400.',
        example: { sso: true, new_checkout: false },
      }),
  })
  .strict()
  .openapi('PlanOverrides', {
    description: 'Per-organization overrides of the plan. Absent keys follow the plan; `{}` removes every override.',
    example: { rateLimits: { organizationPerMinute: 5000 }, quotas: { publishedEvents: 250 }, features: { sso: true } },
  });

const FlagValueSchema = z
  .object({
    key: z.string().max(64).openapi({ description: 'The flag key.', example: 'new_checkout' }),
    description: z.string().max(500).openapi({ description: 'What the flag switches.', example: 'The new checkout.' }),
    value: z.boolean().openapi({ description: 'Whether the flag is on for the organization.', example: true }),
    source: z.enum(FLAG_SOURCES).openapi({
      description:
        'What decided the value, in evaluation order: `override` (set for this organization by the platform), ' +
        '`rollout` (the flag is rolled out to a percentage of organizations), `plan` (the value for this plan), ' +
        '`default`.',
      example: 'rollout',
    }),
  })
  .openapi('FeatureFlagValue', { description: "A feature flag's value for the organization." });

export const PlanSummarySchema = z
  .object({
    plan: z.enum(PLAN_NAMES).openapi({ description: 'The plan.', example: 'pro' }),
    features: FeaturesSchema,
    quotas: QuotasSchema,
    rateLimits: RateLimitsSchema,
    storageBytes: int64()
      .nullable()
      .openapi({
        description:
          'Bytes of uploaded images (logo, event covers) the organization may keep at once; null: unlimited. An upload ' +
          'past it answers 403 `plan_limit` with `quota: storageBytes`. Set by the plan (no override).',
        example: 1_073_741_824,
      }),
    overrides: PlanOverridesSchema,
    flags: z
      .array(FlagValueSchema)
      .max(MAX_FEATURE_FLAGS)
      .openapi({ description: 'Every feature flag evaluated for the organization, by key.' }),
  })
  .openapi('PlanSummary', {
    description: 'The effective plan: the plan with the platform overrides applied, as enforced.',
  });

export type PlanSummaryResponse = z.infer<typeof PlanSummarySchema>;

export const PlanOverridesResultSchema = PlanSummarySchema.omit({ flags: true })
  .extend({
    organizationId: Uuid.openapi({ description: 'The organization.', example: '0b5e8f0e-7f7e-4c1e-9a0a-3f0f6c1d2b3a' }),
  })
  .openapi('PlanOverridesResult', { description: 'The stored overrides and the effective plan they give.' });

export const MAX_USAGE_DAYS = 92;

export const UsageQuerySchema = DayRangeQuerySchema;

const count = (description: string, example: number) => int64().openapi({ description, example });

export const UsageDaySchema = z
  .object({
    day: DayOut.openapi({ description: 'The UTC day.', example: '2026-05-01' }),
    api_calls: count('Authenticated requests on the organization host and public page requests.', 1520),
    bookings: count('Bookings created (from the booking rows, exact).', 12),
    emails: count('Emails sent for the organization.', 30),
    webhook_deliveries: count('Webhook delivery attempts.', 48),
  })
  .openapi('UsageDay', { description: 'Usage of one UTC day.' });

export const UsageSchema = z
  .object({
    from: DayOut.openapi({ description: 'First day of the range.', example: '2026-05-01' }),
    to: DayOut.openapi({ description: 'Last day of the range.', example: '2026-05-30' }),
    metrics: z
      .array(z.enum(USAGE_METRICS))
      .max(USAGE_METRICS.length)
      .openapi({ description: 'The metrics, in column order.' }),
    days: z
      .array(UsageDaySchema)
      .max(MAX_USAGE_DAYS)
      .openapi({ description: 'Every day of the range, oldest first (zeros included).' }),
    totals: UsageDaySchema.omit({ day: true }).openapi({ description: 'The sums over the range.' }),
  })
  .openapi('Usage', { description: 'Usage per UTC day and metric.' });

export type UsageResponse = z.infer<typeof UsageSchema>;
